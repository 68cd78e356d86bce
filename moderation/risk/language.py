"""Which language a message is in, so that one the detector cannot read is never passed as safe.

The detector reads seven languages (``COVERED``). A message in any other language (Portuguese,
Romanian, Turkish, Somali, Punjabi, Bengali, Hindi, Farsi...) is still assessed, but the
answer means little, so the assessment says so (``Assessment.coverage == "outside"``) and the
send path tells the room's facilitators that a person must read it.

Two steps, both cheap:

1. The script of the letters. Han is Chinese (kana makes it Japanese); a script no covered
   language is written in (Cyrillic, Devanagari, Bengali, Gurmukhi, Ethiopic, Tamil,
   Hangul...) is outside coverage at once.
2. For Latin and Arabic script, where covered and uncovered languages share letters (Welsh,
   Polish, Spanish, English, romanised Urdu and Arabizi against Portuguese, Turkish,
   Romanian, Somali; Urdu and Arabic against Farsi, Pashto, Sorani, Shahmukhi Punjabi), a
   naive Bayes over the words, their endings and the letters outside ASCII of the
   lowercased text (:func:`grams`), trained by ``risk-train`` from the corpus and
   ``data/langid/other.jsonl``.

A line too short to tell (fewer than three words or twelve letters: "same", "ok", "💜") is
``und`` and counts as covered: short replies are read through their context.
"""

from __future__ import annotations

import io
import json
import unicodedata
from dataclasses import dataclass
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any, Final

import numpy as np

from moderation.risk.types import Coverage

COVERED: Final = frozenset({"en", "cy", "pl", "ur", "ar", "zh", "es"})
# Romanised Hindi is written with the words of romanised Urdu (one spoken language, two
# scripts): the detector reads it as it reads Roman Urdu, so it counts as covered.
READ_AS: Final = {"hi-latn": "ur"}
LANGID_NAME: Final = "langid.json"
LANGID_WEIGHTS: Final = "langid.npz"
MIN_LETTERS: Final = 12
MIN_WORDS: Final = 3
READ_CHARS: Final = 240
# Scripts no covered language is written in: the language is outside coverage whatever it is.
_OTHER_SCRIPTS: Final = {
    "CYRILLIC": "ru",
    "DEVANAGARI": "hi",
    "BENGALI": "bn",
    "GURMUKHI": "pa",
    "GUJARATI": "gu",
    "TAMIL": "ta",
    "TELUGU": "te",
    "MALAYALAM": "ml",
    "KANNADA": "kn",
    "SINHALA": "si",
    "ETHIOPIC": "am",
    "HANGUL": "ko",
    "HIRAGANA": "ja",
    "KATAKANA": "ja",
    "THAI": "th",
    "GREEK": "el",
    "HEBREW": "he",
    "ARMENIAN": "hy",
    "GEORGIAN": "ka",
    "KHMER": "km",
    "MYANMAR": "my",
    "TIBETAN": "bo",
    "LAO": "lo",
}


@dataclass(frozen=True, slots=True)
class Language:
    code: str  # a covered language, another language's code, or "und"
    coverage: Coverage


UNDETERMINED: Final = Language("und", "covered")


def script_of(char: str) -> str:
    """The first word of the character's Unicode name: LATIN, ARABIC, CJK, CYRILLIC..."""
    if char.isascii():
        return "LATIN"
    name = unicodedata.name(char, "")
    first = name.split(" ", 1)[0]
    if first in ("CJK", "IDEOGRAPHIC"):
        return "HAN"
    return first


_SCRIPTS: dict[str, str] = {}  # a cache: the characters people type are few


def main_script(text: str) -> tuple[str, int]:
    """The script of most of the letters, and how many letters there are."""
    if text.isascii():
        letters = sum(c.isalpha() for c in text)
        return ("LATIN" if letters else ""), letters
    counts: dict[str, int] = {}
    letters = 0
    scripts = _SCRIPTS
    for char in text:
        if char.isalpha():
            letters += 1
            script = scripts.get(char)
            if script is None:
                script = scripts[char] = script_of(char)
            counts[script] = counts.get(script, 0) + 1
    if not counts:
        return "", 0
    return max(counts, key=counts.__getitem__), letters


def grams(text: str) -> list[str]:
    """What the identifier reads: the words of the first ``READ_CHARS`` characters, their
    three-letter endings, and each distinct letter outside ASCII (``ł``, ``ŵ``, ``ñ``, ``ے``,
    ``پ`` are the best evidence there is). Words and endings carry the function words and
    inflections that tell languages apart; all of it costs a few dictionary lookups."""
    head = text[:READ_CHARS].lower()
    words = head.split()
    out = [f"w:{w}" for w in words]
    out.extend([f"e:{w[-3:]}" for w in words if len(w) > 3])
    out.extend([f"c:{c}" for c in set(head) if not c.isascii() and c.isalpha()])
    return out


class LanguageIdentifier:
    def __init__(self, meta: dict[str, Any], arrays: dict[str, Any]) -> None:
        self.labels: tuple[str, ...] = tuple(meta["labels"])
        self.margin: float = float(meta["margin"])
        self._index = {g: i for i, g in enumerate(meta["vocabulary"])}
        self._log = np.asarray(arrays["log"], dtype=np.float64)  # (vocabulary, labels)
        self._prior = np.asarray(arrays["prior"], dtype=np.float64)
        self._unknown = np.asarray(arrays["unknown"], dtype=np.float64)
        # Which labels may be chosen for text in each script.
        self._allowed: dict[str, Any] = {
            script: np.asarray([label in labels for label in self.labels])
            for script, labels in meta["scripts"].items()
        }

    @classmethod
    def load(cls, directory: Traversable | Path) -> LanguageIdentifier:
        meta = json.loads((directory / LANGID_NAME).read_text(encoding="utf-8"))
        with np.load(io.BytesIO((directory / LANGID_WEIGHTS).read_bytes())) as npz:
            arrays = {name: npz[name] for name in npz.files}
        return cls(meta, arrays)

    def scores(self, text: str, script: str) -> Any:
        index = self._index
        total = self._prior.copy()
        unknown = 0
        rows = []
        for gram in grams(text):
            i = index.get(gram)
            if i is None:
                unknown += 1
            else:
                rows.append(i)
        if rows:
            total += self._log[rows].sum(axis=0)
        total += unknown * self._unknown
        allowed = self._allowed.get(script)
        if allowed is not None:
            total = np.where(allowed, total, -np.inf)
        return total

    def identify(self, text: str) -> Language:
        text = text[:READ_CHARS]
        script, letters = main_script(text)
        if letters < MIN_LETTERS:
            return UNDETERMINED
        if script in ("LATIN", "ARABIC") and len(text.split()) < MIN_WORDS:
            return UNDETERMINED
        if script == "HAN":
            if any(script_of(c) in ("HIRAGANA", "KATAKANA") for c in text):
                return Language("ja", "outside")
            return Language("zh", "covered")
        if script in _OTHER_SCRIPTS:
            return Language(_OTHER_SCRIPTS[script], "outside")
        if script not in ("LATIN", "ARABIC"):
            return Language(script.lower(), "outside")
        scores = self.scores(text, script)
        best = int(np.argmax(scores))
        code = self.labels[best]
        if code in COVERED:
            return Language(code, "covered")
        if code in READ_AS:
            return Language(READ_AS[code], "covered")
        # Outside coverage only when clearly so: a covered language close behind wins, as
        # the model then still reads the message as what it probably is.
        covered = max(
            (float(scores[i]), label) for i, label in enumerate(self.labels) if label in COVERED
        )
        if float(scores[best]) - covered[0] < self.margin:
            return Language(covered[1], "covered")
        return Language(code, "outside")


def save(directory: Path, meta: dict[str, Any], arrays: dict[str, Any]) -> None:
    (directory / LANGID_NAME).write_text(
        json.dumps(meta, ensure_ascii=False, separators=(",", ":")) + "\n", encoding="utf-8"
    )
    np.savez_compressed(directory / LANGID_WEIGHTS, **arrays)
