"""The multi-pattern engine: one Aho-Corasick automaton holds every cue, marker and idiom
of every language, so a message is scanned once whatever the size of the lexicon.

Matches are then filtered for word boundaries. Scripts written without spaces (Chinese,
Japanese, Thai) have no word boundaries to check, which is exactly why substring matching over
normalised text is the right engine for them.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from enum import IntEnum
from typing import Final

import ahocorasick

from moderation.risk.patterns import Variant

# Single-letter Arabic-script proclitics ("and", "so", "with", "for", "like") that attach to
# the next word: "وبدي اموت" still contains the word "بدي".
_ARABIC_PROCLITICS: Final = frozenset("وفبلک")


class Kind(IntEnum):
    CUE = 0
    PART = 1
    MARKER = 2
    IDIOM = 3


@dataclass(frozen=True, slots=True)
class Entry:
    """What one automaton key stands for (a key can stand for several things)."""

    kind: Kind
    ref: str | int | tuple[int, int]
    open_left: bool
    open_right: bool


@dataclass(frozen=True, slots=True)
class Hit:
    """A boundary-checked match in the normalised text."""

    kind: Kind
    ref: str | int | tuple[int, int]
    start: int
    end: int
    text: str


def is_unspaced_script(char: str) -> bool:
    """Characters of scripts written without spaces between words."""
    code = ord(char)
    return (
        0x3040 <= code <= 0x30FF  # kana
        or 0x3400 <= code <= 0x9FFF  # CJK unified ideographs (+ extension A)
        or 0xF900 <= code <= 0xFAFF
        or 0x0E00 <= code <= 0x0EFF  # Thai, Lao
        or 0x20000 <= code <= 0x3FFFF
    )


def _joined(left: str, right: str) -> bool:
    """Whether two adjacent characters belong to the same word."""
    # Characters below U+0E00 are never of an unspaced script: skip the range checks for
    # them (nearly every character of a message), the scan calls this for every match.
    return (
        left.isalnum()
        and right.isalnum()
        and (left < "\u0e00" or not is_unspaced_script(left))
        and (right < "\u0e00" or not is_unspaced_script(right))
    )


def _left_ok(text: str, start: int) -> bool:
    if start == 0 or not _joined(text[start - 1], text[start]):
        return True
    previous = text[start - 1]
    return previous in _ARABIC_PROCLITICS and (start == 1 or not text[start - 2].isalnum())


def _right_ok(text: str, end: int) -> bool:
    return end >= len(text) or not _joined(text[end - 1], text[end])


class Matcher:
    """Build once from (variant, entry) pairs, then scan any number of messages."""

    def __init__(self) -> None:
        self._pending: dict[str, list[Entry]] = {}
        self._automaton: ahocorasick.Automaton | None = None

    def add(self, variant: Variant, kind: Kind, ref: str | int | tuple[int, int]) -> None:
        if self._automaton is not None:
            raise RuntimeError("matcher already built")
        entry = Entry(kind, ref, variant.open_left, variant.open_right)
        entries = self._pending.setdefault(variant.text, [])
        if entry not in entries:
            entries.append(entry)

    def build(self) -> None:
        automaton = ahocorasick.Automaton()
        for key, entries in self._pending.items():
            automaton.add_word(key, (len(key), tuple(entries)))
        automaton.make_automaton()
        self._automaton = automaton
        self._pending = {}

    @property
    def size(self) -> int:
        return len(self._automaton) if self._automaton is not None else len(self._pending)

    def scan(self, text: str) -> Iterator[Hit]:
        """Every boundary-respecting occurrence of every key in ``text``."""
        if self._automaton is None:
            raise RuntimeError("matcher not built")
        if not text:
            return
        for last, (length, entries) in self._automaton.iter(text):
            end = last + 1
            start = end - length
            left = _left_ok(text, start)
            right = _right_ok(text, end)
            for entry in entries:
                if (left or entry.open_left) and (right or entry.open_right):
                    yield Hit(entry.kind, entry.ref, start, end, text[start:end])
