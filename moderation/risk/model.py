"""The learned second opinion: a linear model over character and word n-grams.

The lexicon catches what its cues describe, and explains itself; on phrasing nobody wrote a
cue for it is blind (its recall on files written after it was tuned was 0.29 to 0.57, see
docs/risk-detection.md). A logistic regression over character n-grams (within words, so
misspellings and other scripts share features) and word n-grams generalises much better
from the same labelled lines. It is trained offline (``python -m moderation.risk.train``,
scikit-learn, a development dependency only) and shipped as a data file, ``model.json``,
that this module scores in plain Python: no numerical library at run time, nothing
downloaded, and the file is reviewable and versioned with the lexicon.

The features reproduce scikit-learn's ``TfidfVectorizer`` (lowercase, ``char_wb`` n-grams,
``\\b\\w\\w+\\b`` word tokens, sublinear term frequency, idf, L2 norm per vectorizer), and the
trainer refuses to write a model this module does not score identically.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from dataclasses import dataclass
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any, Final

MODEL_NAME: Final = "model.json"
FORMAT: Final = 1

_WORD = re.compile(r"(?u)\b\w\w+\b")


def char_wb_ngrams(text: str, low: int, high: int) -> list[str]:
    """scikit-learn's ``char_wb`` analyzer: n-grams inside space-padded words. A padded
    word no longer than n is one gram, and longer n-grams of it are not counted."""
    grams: list[str] = []
    for word in text.split():
        padded = f" {word} "
        length = len(padded)
        for n in range(low, high + 1):
            if length <= n:
                grams.append(padded)
                break
            grams.extend([padded[i : i + n] for i in range(length - n + 1)])
    return grams


def word_ngrams(text: str, low: int, high: int) -> list[str]:
    tokens = _WORD.findall(text)
    grams: list[str] = []
    for n in range(low, high + 1):
        if n == 1:
            grams.extend(tokens)
        else:
            grams.extend([" ".join(tokens[i : i + n]) for i in range(len(tokens) - n + 1)])
    return grams


@dataclass(frozen=True, slots=True)
class _Vectorizer:
    analyzer: str  # "char_wb" or "word"
    low: int
    high: int
    # feature -> (idf, weight for "risky", weights per category)
    features: dict[str, tuple[float, float, tuple[float, ...]]]

    def grams(self, text: str) -> list[str]:
        if self.analyzer == "char_wb":
            return char_wb_ngrams(text, self.low, self.high)
        return word_ngrams(text, self.low, self.high)

    def weigh(self, text: str) -> tuple[float, float, list[tuple[float, tuple[float, ...]]]]:
        """This vectorizer's share of ``text``: the "risky" dot product and the L2 scale
        of its tf-idf vector, and the matched features (value, weights per category) for
        the category, which is worked out only when needed."""
        features = self.features
        dot = norm = 0.0
        matched = []
        for gram, count in Counter(self.grams(text)).items():
            row = features.get(gram)
            if row is None:
                continue
            idf, weight, per_category = row
            value = idf if count == 1 else (1.0 + math.log(count)) * idf
            dot += value * weight
            norm += value * value
            matched.append((value, per_category))
        return dot, (1.0 / math.sqrt(norm) if norm else 0.0), matched


@dataclass(frozen=True, slots=True)
class Score:
    probability: float  # that the message shows current risk
    category: str  # the most likely category, were it risky
    severity: str  # "none", "concern" or "high", by the model's thresholds


class RiskModel:
    def __init__(self, data: dict[str, Any], *, source: str = MODEL_NAME) -> None:
        if data.get("format") != FORMAT:
            raise ValueError(f"{source}: unsupported model format {data.get('format')!r}")
        self.version: str = data["version"]
        self.threshold: float = float(data["threshold"])
        self.high_threshold: float = float(data["high_threshold"])
        self.intercept: float = float(data["intercept"])
        self.categories: tuple[str, ...] = tuple(data["categories"])
        self.category_intercepts: tuple[float, ...] = tuple(data["category_intercepts"])
        self.trained_on: tuple[str, ...] = tuple(data.get("trained_on", ()))
        self._vectorizers = tuple(
            _Vectorizer(
                analyzer=v["analyzer"],
                low=v["ngram_range"][0],
                high=v["ngram_range"][1],
                features={
                    gram: (row[0], row[1], tuple(row[2:])) for gram, row in v["features"].items()
                },
            )
            for v in data["vectorizers"]
        )
        self.checks: tuple[tuple[str, float], ...] = tuple(
            (c["text"], float(c["probability"])) for c in data.get("checks", ())
        )

    @classmethod
    def load(cls, path: Traversable | Path) -> RiskModel:
        return cls(json.loads(path.read_text(encoding="utf-8")), source=str(path))

    @property
    def feature_count(self) -> int:
        return sum(len(v.features) for v in self._vectorizers)

    def _weigh(self, text: str) -> tuple[float, list]:
        lowered = text.lower()
        z = self.intercept
        parts = []
        for vectorizer in self._vectorizers:
            dot, scale, matched = vectorizer.weigh(lowered)
            z += dot * scale
            parts.append((scale, matched))
        return _sigmoid(z), parts

    def probability(self, text: str) -> float:
        return self._weigh(text)[0]

    def score(self, text: str) -> Score:
        """The category is worked out only for a message the model flags (most are not)."""
        probability, parts = self._weigh(text)
        if probability < self.threshold:
            return Score(probability=probability, category="none", severity="none")
        totals = list(self.category_intercepts)
        for scale, matched in parts:
            for value, per_category in matched:
                for i, w in enumerate(per_category):
                    totals[i] += value * scale * w
        best = max(range(len(totals)), key=totals.__getitem__)
        severity = "high" if probability >= self.high_threshold else "concern"
        return Score(probability=probability, category=self.categories[best], severity=severity)


def _sigmoid(z: float) -> float:
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)
