"""Context rules: deciding whether a matched cue is CURRENT risk of the writer.

In a survivor peer-support room most mentions of suicide, self-harm or violence are
disclosures of the past, supportive replies, reported speech, idioms or talk about the news.
Those must not alert. Each rule below is a small, separately testable question about the text
around one cue; all of them work on the normalised text and the marker hits found by the same
automaton pass as the cue, so no rule rescans the message.

Scopes:

* a *sentence* ends at ``.`` (any script's full stop, ``?``, ``!``, a newline);
* a *clause* also ends at ``,`` and at ``clause_break`` markers ("but", "and now");
* negation reaches at most a few tokens forward and stops at a first-person ``subject``
  ("I'm not ok I want to die" is not a negated wish).
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass, field
from typing import Final

from moderation.risk.matching import Hit
from moderation.risk.normalise import CLAUSE_MARK, SENTENCE_MARK

# A token is a word of a spaced script or a single character of an unspaced one.
_UNSPACED: Final = "\u3040-\u30ff\u3400-\u9fff\uf900-\ufaff\u0e00-\u0eff"
_TOKEN: Final = re.compile(rf"[{_UNSPACED}]|[^\W_{_UNSPACED}]+")


def count_tokens(segment: str) -> int:
    return len(_TOKEN.findall(segment))


@dataclass(slots=True)
class Scene:
    """The normalised message with its sentence/clause boundaries and marker hits by type."""

    text: str
    markers: dict[str, list[Hit]] = field(default_factory=dict)
    sentence_breaks: list[int] = field(default_factory=list)
    clause_breaks: list[int] = field(default_factory=list)
    blocked: list[tuple[int, int]] = field(default_factory=list)

    @classmethod
    def build(cls, text: str, markers: dict[str, list[Hit]], cue_spans: list[tuple[int, int]]) -> Scene:
        sentence_breaks = [i for i, c in enumerate(text) if c == SENTENCE_MARK]
        clause_breaks = [i for i, c in enumerate(text) if c in (SENTENCE_MARK, CLAUSE_MARK)]
        for hit in markers.get("clause_break", ()):
            clause_breaks.append(hit.start)
            clause_breaks.append(hit.end - 1)
        clause_breaks.sort()
        # Negation words inside an exception ("can't stop") or inside a cue ("don't want to
        # live") negate nothing else.
        blocked = [(h.start, h.end) for h in markers.get("negation_exception", ())]
        blocked.extend(cue_spans)
        return cls(text, markers, sentence_breaks, clause_breaks, blocked)

    @staticmethod
    def _span(breaks: list[int], start: int, end: int, length: int) -> tuple[int, int]:
        before = bisect.bisect_left(breaks, start)
        left = breaks[before - 1] + 1 if before > 0 else 0
        after = bisect.bisect_left(breaks, end)
        right = breaks[after] if after < len(breaks) else length
        return left, right

    def sentence(self, start: int, end: int) -> tuple[int, int]:
        return self._span(self.sentence_breaks, start, end, len(self.text))

    def clause(self, start: int, end: int) -> tuple[int, int]:
        return self._span(self.clause_breaks, start, end, len(self.text))

    def hits(self, kind: str) -> list[Hit]:
        return self.markers.get(kind, [])

    def _is_blocked(self, hit: Hit) -> bool:
        return any(hit.start < end and start < hit.end for start, end in self.blocked)


def _within(hit: Hit, span: tuple[int, int]) -> bool:
    return span[0] <= hit.start and hit.end <= span[1]


def negated(scene: Scene, start: int, end: int, window: int, after_window: int) -> Hit | None:
    """A negation governing the cue at ``[start, end)``: "not going to kill myself"."""
    clause = scene.clause(start, end)
    subjects = scene.hits("subject")
    for marker in scene.hits("negation"):
        if marker.end > start or not _within(marker, clause) or scene._is_blocked(marker):
            continue
        if count_tokens(scene.text[marker.end : start]) > window:
            continue
        if any(marker.end <= s.start and s.end <= start for s in subjects):
            continue
        return marker
    for marker in scene.hits("negation_after"):
        if marker.start < end or not _within(marker, clause) or scene._is_blocked(marker):
            continue
        if count_tokens(scene.text[end : marker.start]) <= after_window:
            return marker
    return None


def in_past(scene: Scene, start: int, end: int) -> Hit | None:
    """A past-time marker in the sentence with nothing placing the cue's clause in the present.

    "When I was 12 I tried to kill myself" is a disclosure; "I was raped years ago and now I
    want to die" is not, because "now" (or "I want") sits in the cue's own clause.
    """
    sentence = scene.sentence(start, end)
    past = [m for m in scene.hits("past") if _within(m, sentence) and not (m.start >= start and m.end <= end)]
    if not past:
        return None
    clause = scene.clause(start, end)
    if any(_within(m, clause) for m in scene.hits("present")):
        return None
    return past[0]


def preceded_in_clause(scene: Scene, kind: str, start: int, end: int) -> Hit | None:
    """A marker of ``kind`` earlier in the same clause ("she told me to ...", "if you ...")."""
    clause = scene.clause(start, end)
    for marker in scene.hits(kind):
        if marker.end <= start and _within(marker, clause):
            return marker
    return None


def in_sentence(scene: Scene, kind: str, start: int, end: int) -> Hit | None:
    """A marker of ``kind`` anywhere in the same sentence ("... in the film", "... lol")."""
    sentence = scene.sentence(start, end)
    for marker in scene.hits(kind):
        if _within(marker, sentence) and (marker.end <= start or marker.start >= end):
            return marker
    return None


def urgent(scene: Scene) -> Hit | None:
    """An imminence marker anywhere in the message ("tonight", "right now", "goodbye")."""
    found = scene.hits("urgency")
    return found[0] if found else None


def overlaps_any(start: int, end: int, spans: list[Hit]) -> Hit | None:
    for other in spans:
        if other.start < end and start < other.end:
            return other
    return None
