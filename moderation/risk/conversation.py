"""Reading a message in its conversation: what a short reply or a farewell means depends on
the messages before it.

* A short reply that identifies with another member's risky message ("same", "me too",
  "我也是", "ja też") is a concern for the replier, in that message's category.
* A farewell after the writer's own risky messages ("thank you all for everything") is a
  high suicide risk (critical when the earlier message was).
* Anything else short raises nothing on its own, and a supportive reply after a risky
  message raises nothing for the replier (it is neither an identification nor a farewell).

The phrases are data (``data/conversation.json``), per language, matched on whole words
(and inside unspaced scripts); they never count without the context.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Final

CONVERSATION_NAME: Final = "conversation.json"
SHORT_WORDS: Final = 6
_STRIP = re.compile(r"[^\w\s^+']+")
_UNSPACED = re.compile(r"[\u3400-\u9fff]")


def _clean(text: str) -> str:
    return " ".join(_STRIP.sub(" ", text.lower().replace("\u2019", "'")).split())


@dataclass(frozen=True)
class Phrases:
    identify: tuple[str, ...]
    farewell: tuple[str, ...]

    @classmethod
    def load(cls, path: Traversable | Path) -> Phrases:
        data = json.loads(path.read_text(encoding="utf-8"))
        return cls(
            identify=tuple(
                sorted({_clean(p) or p for ps in data["identify"].values() for p in ps})
            ),
            farewell=tuple(sorted({_clean(p) for ps in data["farewell"].values() for p in ps})),
        )

    def identifies(self, text: str) -> bool:
        """A short line (at most six words, or an unspaced line of at most twelve
        characters) that contains an identifying phrase."""
        cleaned = _clean(text) or text.strip()
        if _UNSPACED.search(cleaned):
            if len(cleaned.replace(" ", "")) > 12:
                return False
            return any(p in cleaned for p in self.identify)
        if len(cleaned.split()) > SHORT_WORDS:
            return False
        padded = f" {cleaned} "
        return any(f" {p} " in padded for p in self.identify)

    def farewells(self, text: str) -> bool:
        cleaned = _clean(text)
        if _UNSPACED.search(cleaned):
            return any(p in cleaned for p in self.farewell)
        return self._farewell_words.search(f" {cleaned} ") is not None

    @functools.cached_property
    def _farewell_words(self) -> re.Pattern[str]:
        """Every farewell as a whole-word phrase, in one pattern: checked on every message."""
        phrases = sorted(self.farewell, key=len, reverse=True)
        return re.compile(" (?:" + "|".join(re.escape(p) for p in phrases) + ") ")
