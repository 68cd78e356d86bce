"""The small pattern language of the lexicon files, expanded to plain strings at load time.

A clinician writes one readable line instead of dozens of variants:

* ``(a|b|c)`` — alternatives; ``(a|)`` makes a part optional; groups may nest;
* ``{NAME}`` — every entry of the named set in the same file (e.g. ``{AGENT}`` for "he",
  "my husband", "my ex"...);
* ``*`` at the start or end — the word may continue on that side ("suicid*" matches
  "suicidal", "suicidio"); without it a pattern only matches whole words.

Everything is expanded and normalised once when the detector is built; matching itself is a
single Aho-Corasick pass over the message, whatever the number of variants.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from moderation.risk.normalise import normalise_pattern

MAX_VARIANTS_PER_PATTERN: Final = 100_000
_SET_REFERENCE: Final = re.compile(r"\{([A-Z][A-Z0-9_]*)\}")


class PatternError(ValueError):
    """A pattern that cannot be expanded (unknown set, unbalanced group, too many variants)."""


@dataclass(frozen=True, slots=True)
class Variant:
    """One concrete, normalised string to put in the automaton."""

    text: str
    open_left: bool
    open_right: bool


def _substitute_sets(pattern: str, sets: Mapping[str, Sequence[str]]) -> str:
    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in sets:
            raise PatternError(f"unknown set {{{name}}} in pattern {pattern!r}")
        return "(" + "|".join(sets[name]) + ")"

    # Sets may refer to other sets; a few rounds settle any sane nesting.
    for _ in range(5):
        substituted = _SET_REFERENCE.sub(replace, pattern)
        if substituted == pattern:
            return substituted
        pattern = substituted
    raise PatternError(f"sets nested too deeply in pattern {pattern!r}")


def _expand_groups(pattern: str) -> list[str]:
    """All strings a pattern with (nested) ``(a|b)`` groups stands for."""

    def fail() -> PatternError:
        return PatternError(f"unbalanced group or stray '|' in pattern {pattern!r}")

    def alternatives(position: int, top: bool) -> tuple[list[str], int]:
        options: list[str] = []
        current = [""]
        while position < len(pattern):
            char = pattern[position]
            if char == "(":
                inner, position = alternatives(position + 1, top=False)
                current = [head + tail for head in current for tail in inner]
                if len(current) > MAX_VARIANTS_PER_PATTERN:
                    raise PatternError(
                        f"pattern {pattern[:60]!r} expands to more than "
                        f"{MAX_VARIANTS_PER_PATTERN} variants: split it"
                    )
                continue
            if char == ")":
                if top:
                    raise fail()
                options.extend(current)
                return options, position + 1
            if char == "|":
                if top:
                    raise fail()
                options.extend(current)
                current = [""]
            else:
                current = [head + char for head in current]
            position += 1
        if not top:
            raise fail()
        options.extend(current)
        return options, position

    return alternatives(0, top=True)[0]


def expand(pattern: str, sets: Mapping[str, Sequence[str]]) -> list[Variant]:
    """All normalised variants of ``pattern`` (duplicates removed, order stable)."""
    frozen = tuple(sorted((name, tuple(items)) for name, items in sets.items()))
    return list(_expand_cached(pattern, frozen))


@functools.lru_cache(maxsize=4096)
def _expand_cached(
    pattern: str, sets_key: tuple[tuple[str, tuple[str, ...]], ...]
) -> tuple[Variant, ...]:
    """Expansion is cached: validation and the automaton build expand the same patterns."""
    sets = dict(sets_key)
    if not pattern.strip():
        raise PatternError("empty pattern")
    seen: dict[tuple[str, bool, bool], None] = {}
    for raw in _expand_groups(_substitute_sets(pattern, sets)):
        text = " ".join(raw.split())
        open_left = text.startswith("*")
        open_right = text.endswith("*")
        text = normalise_pattern(text.strip("*"))
        if not text:
            continue
        seen.setdefault((text, open_left, open_right), None)
    if not seen:
        raise PatternError(f"pattern {pattern!r} normalises to nothing")
    return tuple(Variant(text, left, right) for text, left, right in seen)
