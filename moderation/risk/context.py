"""Context rules: deciding whether a matched cue is CURRENT risk of the writer.

In a survivor peer-support room most mentions of suicide, self-harm or violence are
disclosures of the past, supportive replies, reported speech, idioms or talk about the news.
Those must not alert. Each rule below is a small, separately testable question about the text
around one cue; all of them work on the normalised text and the marker hits found by the same
automaton pass as the cue, so no rule rescans the message.

Scopes:

* a *sentence* ends at ``.`` (any script's full stop, ``?``, ``!``, a newline);
* a *clause* also ends at ``,`` and at ``clause_break`` markers ("but", "and");
* the *past scope* of a cue runs over commas but stops at sentence ends and ``clause_break``
  markers: "When I was 12, I tried to kill myself" is one disclosure, while in "I was raped
  years ago and I want to die" the wish is present;
* negation reaches at most a few tokens forward and stops at a first-person ``subject``
  ("I'm not ok I want to die" is not a negated wish).

Markers apply to cues of their own language and English markers to every cue (chat mixes
English into Roman Urdu or Arabizi), so Polish "i" ("and") never splits an English clause.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Final

from moderation.risk.matching import Hit
from moderation.risk.normalise import CLAUSE_MARK, SENTENCE_MARK

SHARED_LANGUAGE: Final = "en"
# A token is a word of a spaced script or a single character of an unspaced one.
_UNSPACED: Final = "\u3040-\u30ff\u3400-\u9fff\uf900-\ufaff\u0e00-\u0eff"
_TOKEN: Final = re.compile(rf"[{_UNSPACED}]|[^\W_{_UNSPACED}]+")

Span = tuple[int, int]


def count_tokens(segment: str) -> int:
    return len(_TOKEN.findall(segment))


@dataclass(frozen=True, slots=True)
class Marker:
    hit: Hit
    language: str

    @property
    def start(self) -> int:
        return self.hit.start

    @property
    def end(self) -> int:
        return self.hit.end


def _boundaries(text: str, marks: Iterable[str], extra: Iterable[Marker]) -> list[int]:
    wanted = set(marks)
    breaks = [i for i, c in enumerate(text) if c in wanted]
    for marker in extra:
        breaks.append(marker.start)
        breaks.append(marker.end - 1)
    breaks.sort()
    return breaks


def _enclosing(breaks: list[int], start: int, end: int, length: int) -> Span:
    before = bisect.bisect_left(breaks, start)
    left = breaks[before - 1] + 1 if before > 0 else 0
    after = bisect.bisect_left(breaks, end)
    right = breaks[after] if after < len(breaks) else length
    return left, right


@dataclass(slots=True)
class Scene:
    """The normalised message, its marker hits by type, and the spans cues occupy."""

    text: str
    markers: dict[str, list[Marker]]
    blocked: list[Span]
    _sentence_breaks: list[int] = field(default_factory=list)
    _clause_breaks: dict[str, list[int]] = field(default_factory=dict)
    _past_breaks: dict[str, list[int]] = field(default_factory=dict)

    @classmethod
    def build(cls, text: str, markers: dict[str, list[Marker]], cue_spans: list[Span]) -> Scene:
        # Negation words inside an exception ("can't stop") or inside a cue ("don't want to
        # live") negate nothing else.
        blocked = [(m.start, m.end) for m in markers.get("negation_exception", ())]
        blocked.extend(cue_spans)
        scene = cls(text, markers, blocked)
        scene._sentence_breaks = _boundaries(text, SENTENCE_MARK, ())
        return scene

    def hits(self, kind: str, language: str) -> list[Marker]:
        return [
            m
            for m in self.markers.get(kind, ())
            if m.language == language or m.language == SHARED_LANGUAGE
        ]

    def sentence(self, start: int, end: int) -> Span:
        return _enclosing(self._sentence_breaks, start, end, len(self.text))

    def clause(self, start: int, end: int, language: str) -> Span:
        breaks = self._clause_breaks.get(language)
        if breaks is None:
            conjunctions = self.hits("clause_break", language)
            breaks = _boundaries(self.text, (SENTENCE_MARK, CLAUSE_MARK), conjunctions)
            self._clause_breaks[language] = breaks
        return _enclosing(breaks, start, end, len(self.text))

    def past_scope(self, start: int, end: int, language: str) -> Span:
        breaks = self._past_breaks.get(language)
        if breaks is None:
            conjunctions = self.hits("clause_break", language)
            breaks = _boundaries(self.text, SENTENCE_MARK, conjunctions)
            self._past_breaks[language] = breaks
        return _enclosing(breaks, start, end, len(self.text))

    def exceptions(self) -> list[Marker]:
        return self.markers.get("negation_exception", [])

    def is_blocked(self, marker: Marker) -> bool:
        return any(marker.start < end and start < marker.end for start, end in self.blocked)


def _within(marker: Marker, span: Span) -> bool:
    return span[0] <= marker.start and marker.end <= span[1]


def _overlaps(marker: Marker, spans: Iterable[Span]) -> bool:
    return any(marker.start < end and start < marker.end for start, end in spans)


def negated(
    scene: Scene, start: int, end: int, language: str, window: int, after_window: int
) -> Marker | None:
    """A negation governing the cue at ``[start, end)``: "not going to kill myself"."""
    clause = scene.clause(start, end, language)
    subjects = scene.hits("subject", language)
    for marker in scene.hits("negation", language):
        if marker.start < start < marker.end and _within(marker, clause):
            # A negation that begins before the cue and runs into it ("no thoughts of" +
            # "thoughts of ending it") governs it, unless an exception covers it.
            if not any(_overlaps(marker, [(e.start, e.end)]) for e in scene.exceptions()):
                return marker
            continue
        if marker.end > start or not _within(marker, clause) or scene.is_blocked(marker):
            continue
        if count_tokens(scene.text[marker.end : start]) > window:
            continue
        if any(marker.end <= s.start and s.end <= start for s in subjects):
            continue
        return marker
    for marker in scene.hits("negation_after", language):
        if marker.start < end or not _within(marker, clause) or scene.is_blocked(marker):
            continue
        if count_tokens(scene.text[end : marker.start]) <= after_window:
            return marker
    return None


def in_past(scene: Scene, start: int, end: int, language: str, parts: list[Span]) -> Marker | None:
    """A past-time marker in the cue's past scope, with nothing placing the cue's clause in
    the present ("now", "again", "I want", "last night").

    Markers inside the cue's own words ("wish I WAS dead") do not count.
    """
    scope = scene.past_scope(start, end, language)
    past = [
        m
        for m in scene.hits("past", language)
        if scope[0] <= m.start < scope[1] and not _overlaps(m, parts)
    ]
    if not past:
        return None
    clause = scene.clause(start, end, language)
    if any(_within(m, clause) for m in scene.hits("present", language)):
        return None
    return past[0]


def preceded_in_clause(
    scene: Scene, kind: str, start: int, end: int, language: str
) -> Marker | None:
    """A marker of ``kind`` earlier in the same clause ("she told me to ...", "if you ...").

    A marker that begins before the cue and runs into it counts too ("if he's" + "he's
    outside your door").

    A condition ends where the main clause starts: a first-person ``subject`` between a
    ``hypothetical`` marker and the cue ("if he shows up tomorrow I'll kill him") puts the
    cue in the writer's own voice again, so the condition no longer discounts it. Supportive
    conditionals ("if you ever want to die, ring...") have no first-person subject there.
    """
    clause = scene.clause(start, end, language)
    subjects = scene.hits("subject", language) if kind == "hypothetical" else []
    for marker in scene.hits(kind, language):
        if marker.start >= start or not _within(marker, clause):
            continue
        if any(marker.end <= s.start <= start for s in subjects):
            continue
        return marker
    return None


def in_sentence(scene: Scene, kind: str, start: int, end: int, language: str) -> Marker | None:
    """A marker of ``kind`` anywhere in the same sentence ("... in the film", "... lol")."""
    sentence = scene.sentence(start, end)
    for marker in scene.hits(kind, language):
        if _within(marker, sentence) and (marker.end <= start or marker.start >= end):
            return marker
    return None


def urgent(scene: Scene) -> Marker | None:
    """An imminence marker anywhere in the message ("tonight", "right now", "goodbye")."""
    found = scene.markers.get("urgency")
    return found[0] if found else None


def overlaps_any(start: int, end: int, hits: list[Hit]) -> Hit | None:
    for other in hits:
        if other.start < end and start < other.end:
            return other
    return None
