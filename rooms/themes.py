"""Content themes a member can ask to have blurred, and the labels a facilitator gives when
hiding a message. Both are closed lists: the server stores and sends labels, never content.

A message's themes are the author's own content warning plus what the risk detector saw in
it, including mentions it did not alert on (a past disclosure, a supportive reply): a member
who asked to blur "suicide" wants that blurred whether or not anyone is at risk now.
"""

from __future__ import annotations

import functools
import json
import unicodedata
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Final, get_args

import ahocorasick

from moderation.risk import Assessment
from rooms.policies import Draft, MessagePolicy
from rooms.protocol import HideReason, Theme

# The wire protocol names the themes and reasons; these are the same lists, for the server.
THEMES: Final[tuple[Theme, ...]] = get_args(Theme)
HIDE_REASONS: Final[tuple[HideReason, ...]] = get_args(HideReason)

# The detector's categories, as the themes a reader may want blurred.
_FROM_CATEGORY: Final[dict[str, Theme]] = {
    "suicide": "suicide",
    "self_harm": "self_harm",
    "immediate_danger": "violence",
    "harm_to_others": "violence",
    "child_at_risk": "child_abuse",
    "medical_emergency": "substances",
}
# Suppressed cues that say nothing about the message's theme ("this commute is killing me").
_NOT_A_THEME: Final = frozenset({"idiom"})


THEME_DATA: Final = Path(__file__).parent / "data" / "themes.json"


def fold(text: str) -> str:
    """Case- and accent-insensitive form of ``text``, for matching terms against it."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def _unspaced(term: str) -> bool:
    """Terms in scripts written without spaces (Chinese) match anywhere in a word."""
    return all(ord(ch) > 0x2E80 for ch in term if not ch.isspace())


@functools.cache
def _automaton() -> Any:
    """One Aho-Corasick automaton over every theme's terms, built once per process, so a
    message is scanned once whatever the size of the list. Values: (theme, open_right,
    unspaced, length) per term; a trailing ``*`` leaves the term's end open ("rape*")."""
    data = json.loads(THEME_DATA.read_text(encoding="utf-8"))
    automaton = ahocorasick.Automaton()
    for theme, terms in data["themes"].items():
        if theme not in THEMES:
            raise ValueError(f"{THEME_DATA.name}: unknown theme {theme!r}")
        for term in terms:
            stem = " ".join(fold(term.removesuffix("*")).split())
            entries = automaton.get(stem, [])
            entries.append((theme, term.endswith("*"), _unspaced(stem), len(stem)))
            automaton.add_word(stem, entries)
    automaton.make_automaton()
    return automaton


def lexicon_themes(text: str) -> set[Theme]:
    folded = " ".join(fold(text).split())
    found: set[Theme] = set()
    for end, entries in _automaton().iter(folded):
        for theme, open_right, unspaced, length in entries:
            if theme in found:
                continue
            whole = _is_boundary(folded, end + 1 - length - 1) and (
                open_right or _is_boundary(folded, end + 1)
            )
            if unspaced or whole:
                found.add(theme)
    return found


def _is_boundary(text: str, index: int) -> bool:
    """Whether ``text[index]`` is outside a word (the edge of the text counts)."""
    return index < 0 or index >= len(text) or not text[index].isalnum()


def classified_themes(assessment: Assessment, text: str = "") -> set[Theme]:
    found = lexicon_themes(text) if text else set()
    found.update(_FROM_CATEGORY[f.category] for f in assessment.findings)
    found.update(
        _FROM_CATEGORY[s.category]
        for s in assessment.suppressed
        if s.category in _FROM_CATEGORY and s.reason not in _NOT_A_THEME
    )
    return found


def encode_themes(themes: Iterable[str]) -> str:
    return ",".join(t for t in THEMES if t in set(themes))


def decode_themes(stored: str) -> list[str]:
    return [t for t in stored.split(",") if t] if stored else []


class ThemesPolicy(MessagePolicy):
    """The send path's first step: what the detector saw in a message (and the lexicon of
    themes) becomes the themes a reader may blur it by."""

    name = "themes"

    def themes(self, draft: Draft) -> Iterable[str]:
        return classified_themes(draft.assessment, draft.body)
