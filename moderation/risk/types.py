"""The detector's result types: what the chat server stores, routes and shows to staff.

They are frozen so an assessment can be shared between the consumer, the moderation queue and
the alerting code without anyone changing it on the way.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal, get_args

Category = Literal[
    "suicide",
    "self_harm",
    "immediate_danger",
    "child_at_risk",
    "harm_to_others",
    "medical_emergency",
]
Severity = Literal["concern", "high", "critical"]
Action = Literal["none", "review", "alert"]
Coverage = Literal["covered", "outside"]

CATEGORIES: Final[tuple[Category, ...]] = get_args(Category)
SEVERITIES: Final[tuple[Severity, ...]] = get_args(Severity)
SEVERITY_RANK: Final[dict[str, int]] = {name: rank for rank, name in enumerate(SEVERITIES)}


@dataclass(frozen=True, slots=True)
class Evidence:
    """One cue that counted towards a finding.

    ``start``/``end`` index the ORIGINAL message (``text[start:end]`` is what the writer typed),
    so a moderator sees the words that triggered the finding, not their normalised form.
    """

    cue: str
    category: str
    start: int
    end: int
    weight: float
    rule: str = ""


@dataclass(frozen=True, slots=True)
class Finding:
    """The detector's judgement for one category of risk in one message."""

    category: Category
    severity: Severity
    score: float
    evidence: tuple[Evidence, ...]


@dataclass(frozen=True, slots=True)
class Suppressed:
    """A cue that matched but was discounted by its context (kept so lexicon reviewers can see
    why a message did not alert: negation, a past disclosure, reported speech, an idiom...)."""

    cue: str
    category: str
    start: int
    end: int
    rule: str
    reason: str


@dataclass(frozen=True, slots=True)
class Assessment:
    """All findings for one message; at most one per category, highest severity first."""

    findings: tuple[Finding, ...]
    suppressed: tuple[Suppressed, ...] = ()
    # The language the message was read as ("und" when too short to tell), and whether the
    # detector covers it: "outside" means no finding says little, and a person must read it.
    language: str = "und"
    coverage: Coverage = "covered"

    @property
    def flagged(self) -> bool:
        """Whether the message goes anywhere: a moderator's review queue or a staff alert."""
        return bool(self.findings)

    @property
    def assessed(self) -> bool:
        """False for a message in a language the detector does not read."""
        return self.coverage == "covered"

    @property
    def top(self) -> Finding | None:
        return self.findings[0] if self.findings else None

    @property
    def action(self) -> Action:
        """``concern`` asks a moderator to look; ``high``/``critical`` alert professional staff.

        Detection never bans, mutes or hides the writer: it only brings help to them.
        """
        top = self.top
        if top is None:
            return "none"
        return "review" if top.severity == "concern" else "alert"


NO_RISK: Final[Assessment] = Assessment(findings=())
