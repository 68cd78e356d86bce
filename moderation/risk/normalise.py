# ruff: noqa: RUF001 - this module lists look-alike characters on purpose, to fold them.
"""Text normalisation: one canonical form for messages AND for lexicon patterns.

People in distress type fast, on phones, in many scripts, and some disguise words on purpose
("s u i c i d e", "k1ll", "$uicide", "sooooo"). The lexicon is run through the very same
function, so a clinician writes "myśli samobójcze" or "quiero morir" naturally and it matches
"mysli samobojcze" or "QUIERO MORIIIR". Every normalised character remembers which character
of the original it came from, so evidence spans point at what the writer actually typed.

The canonical form:

* case-folded, compatibility-decomposed with combining marks removed (accents, Arabic harakat,
  Urdu diacritics), zero-width and bidirectional control characters dropped;
* a few letters that do not decompose folded (``ł``→``l``, ``ø``→``o``), Arabic/Urdu letter
  variants unified (alef forms, yeh/kaf/heh forms, tatweel removed), native digits to ASCII;
* apostrophes removed (``I'm``→``im``, ``don't``→``dont``, curly quotes alike);
* sentence punctuation becomes ``.`` and clause punctuation ``,`` (in every script), other
  punctuation a space; emoji and other symbols are kept;
* leetspeak inside words undone (``k1ll``→``kill``, ``$uicide``→``suicide``) and spaced-out
  letters joined (``k y s``, ``s.u.i.c.i.d.e``);
* any run of one repeated letter collapsed to a single letter (``sooo``→``so``, and also
  ``kill``→``kil``: the same happens to patterns, so matching is unaffected);
* runs of spaces collapsed, no space before ``.``/``,``.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Final

SENTENCE_MARK: Final = "."
CLAUSE_MARK: Final = ","
_MARKS: Final = frozenset((SENTENCE_MARK, CLAUSE_MARK))

_APOSTROPHES: Final = frozenset("'’‘ʼ`´ʹ′")
_SENTENCE_PUNCT: Final = frozenset(".!?…。！？؟۔\n\r\u2028\u2029｡")
_CLAUSE_PUNCT: Final = frozenset(",;:，；：、،؛⸴")
# Letters that survive NFKD with no combining mark to strip, plus Arabic-script unification.
_EXTRA_FOLDS: Final[dict[int, str]] = str.maketrans(
    {
        "ł": "l",
        "ø": "o",
        "đ": "d",
        "ð": "d",
        "ħ": "h",
        "ı": "i",
        "ŧ": "t",
        "æ": "ae",
        "œ": "oe",
        "þ": "th",
        # Arabic and Urdu: hamza seats, alef variants, yeh, kaf and heh forms, tatweel.
        "أ": "ا",
        "إ": "ا",
        "آ": "ا",
        "ٱ": "ا",
        "ى": "ي",
        "ی": "ي",
        "ې": "ي",
        "ك": "ک",
        "ة": "ه",
        "ہ": "ه",
        "ۀ": "ه",
        "ۃ": "ه",
        "ھ": "ه",
        "ـ": "",
    }
)
# Leetspeak: only mapped inside a word (see _undo_leet), never in "12" or "3am".
_LEET: Final[dict[str, str]] = {
    "0": "o",
    "1": "i",
    "3": "e",
    "4": "a",
    "5": "s",
    "$": "s",
    "@": "a",
    "!": "i",
}
_LEET_CANDIDATE: Final = re.compile(r"[^\W\d_][013459$@!]|[$@][^\W\d_]")
_TOKEN: Final = re.compile(r"\S+")
# Three or more single letters separated by spaces or light punctuation: "k y s", "s.u.i.c.i.d.e".
_SPACED_LETTERS: Final = re.compile(
    r"(?<![^\W_])[^\W\d_](?:[ \t.\-_*/·+~]{1,3}[^\W\d_]){2,}(?![^\W_])"
)
_SPACED_SEPARATORS: Final = frozenset(" \t.-_*/·+~")

_fold_cache: dict[str, str] = {}


@dataclass(frozen=True, slots=True)
class NormalisedText:
    """The canonical text and, for each of its characters, the span of source characters it
    stands for (a collapsed "llll" maps back to all four letters)."""

    text: str
    offsets: tuple[int, ...]
    ends: tuple[int, ...]
    original_length: int

    def original_span(self, start: int, end: int) -> tuple[int, int]:
        """Map a normalised ``[start, end)`` span to the original span it came from."""
        if not self.offsets or start >= end:
            return (0, 0)
        return (self.offsets[start], self.ends[end - 1])


def _fold_char(char: str) -> str:
    """The canonical form of a single character (cached: the set of characters is small)."""
    if char in _APOSTROPHES:
        return ""
    if char in _SENTENCE_PUNCT:
        return SENTENCE_MARK
    if char in _CLAUSE_PUNCT:
        return CLAUSE_MARK
    if char.isspace():
        return " "
    category = unicodedata.category(char)
    if category in ("Mn", "Me", "Cf", "Cs", "Co", "Cn"):
        return ""
    if category == "Cc":
        return " "
    if category[0] == "P" or category in ("Sm", "Sc", "Sk"):
        return " "
    stripped = "".join(
        part for part in unicodedata.normalize("NFKD", char) if not unicodedata.combining(part)
    )
    folded = unicodedata.normalize("NFC", stripped).casefold().translate(_EXTRA_FOLDS)
    if category == "Nd" and not folded.isascii():
        return str(unicodedata.digit(char, 0))
    # A compatibility decomposition may yield punctuation ("…" is caught above, a fraction
    # slash is not).
    return "".join(_fold_simple(part) for part in folded)


def _fold_simple(char: str) -> str:
    if char in _SENTENCE_PUNCT:
        return SENTENCE_MARK
    if char in _CLAUSE_PUNCT:
        return CLAUSE_MARK
    if char.isspace():
        return " "
    category = unicodedata.category(char)
    if category[0] == "P" or category in ("Sm", "Sc", "Sk"):
        return " "
    if category in ("Mn", "Me", "Cf", "Cc"):
        return ""
    return char


def _join_spaced_letters(text: str, offsets: list[int]) -> tuple[str, list[int]]:
    """Join runs like "s u i c i d e" into "suicide" (their separators are dropped)."""
    keep: list[bool] = [True] * len(text)
    for match in _SPACED_LETTERS.finditer(text):
        for index in range(match.start(), match.end()):
            if text[index] in _SPACED_SEPARATORS:
                keep[index] = False
    chars = [c for c, k in zip(text, keep, strict=True) if k]
    kept_offsets = [o for o, k in zip(offsets, keep, strict=True) if k]
    return "".join(chars), kept_offsets


def _undo_leet(text: str) -> str:
    """Replace leet characters inside words ("k1ll", "d13", "$uicide", "h@ng", "k!ll").

    A digit is only read as a letter when a letter (or an already-read leet letter) stands
    right before it in the same word, so "12", "3am" and "24/7" keep their digits; "!" only
    between two letters so "help!" keeps its exclamation mark.
    """
    chars = list(text)
    for token in _TOKEN.finditer(text):
        if not _LEET_CANDIDATE.search(token.group()):
            continue
        for index in range(token.start(), token.end()):
            char = chars[index]
            replacement = _LEET.get(char)
            if replacement is None:
                continue
            left = chars[index - 1] if index > token.start() else ""
            right = text[index + 1] if index + 1 < token.end() else ""
            left_letter = left.isalpha()
            right_letter = right.isalpha()
            if char == "!":
                mapped = left_letter and right_letter
            elif char in "$@":
                mapped = left_letter or right_letter
            else:
                mapped = left_letter
            if mapped:
                chars[index] = replacement
    return "".join(chars)


def normalise(text: str) -> NormalisedText:
    """Return the canonical form of ``text`` with an offset map back to the original."""
    source = text
    offsets: list[int] | None = None
    if _SPACED_LETTERS.search(source):
        source, offsets = _join_spaced_letters(source, list(range(len(source))))
    if _LEET_CANDIDATE.search(source):
        source = _undo_leet(source)

    out: list[str] = []
    positions: list[int] = []
    ends: list[int] = []
    prev = " "
    cache = _fold_cache
    for index, char in enumerate(source):
        folded = cache.get(char)
        if folded is None:
            folded = _fold_char(char)
            cache[char] = folded
        origin = offsets[index] if offsets is not None else index
        for piece in folded:
            if piece == " ":
                if prev == " ":
                    continue
            elif piece in _MARKS:
                if prev == " " and out:
                    out.pop()
                    positions.pop()
                    ends.pop()
                    prev = out[-1] if out else " "
                if not out:
                    continue
                if prev in _MARKS:
                    if piece == SENTENCE_MARK and prev == CLAUSE_MARK:
                        out[-1] = SENTENCE_MARK
                        positions[-1] = origin
                        ends[-1] = origin + 1
                        prev = SENTENCE_MARK
                    continue
            elif piece == prev and piece.isalpha():
                ends[-1] = origin + 1
                continue
            out.append(piece)
            positions.append(origin)
            ends.append(origin + 1)
            prev = piece
    while out and out[-1] == " ":
        out.pop()
        positions.pop()
        ends.pop()
    return NormalisedText("".join(out), tuple(positions), tuple(ends), len(text))


_PLAIN_ASCII: Final = re.compile(r"[a-z ]+")
_REPEATED_LETTER: Final = re.compile(r"([a-z])\1+")
_SPACES: Final = re.compile(r" {2,}")


def normalise_pattern(pattern: str) -> str:
    """The canonical form of a lexicon pattern (identical rules to messages).

    Plain lower-case ASCII, the bulk of expanded variants, takes a shortcut that produces
    exactly what :func:`normalise` would (a test checks the two agree), so building the
    detector stays fast.
    """
    if _PLAIN_ASCII.fullmatch(pattern) and not _SPACED_LETTERS.search(pattern):
        return _SPACES.sub(" ", _REPEATED_LETTER.sub(r"\1", pattern)).strip(" ")
    return normalise(pattern).text.strip(" .,")
