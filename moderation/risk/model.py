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
FORMAT: Final = 2
# Context: the preceding messages, oldest first, as (text, same_author) pairs.
Context = tuple[tuple[str, bool], ...]

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
    # feature -> (idf, (weights for "risky": alone, after another's risk, after own risk),
    # weights per category)
    features: dict[str, tuple[float, tuple[float, float, float], tuple[float, ...]]]

    def grams(self, text: str) -> list[str]:
        if self.analyzer == "char_wb":
            return char_wb_ngrams(text, self.low, self.high)
        return word_ngrams(text, self.low, self.high)

    def weigh(
        self, text: str
    ) -> tuple[tuple[float, float, float], float, list[tuple[float, tuple[float, ...]]]]:
        """This vectorizer's share of ``text``: the three "risky" dot products (the text
        alone, and its interaction with another member's and the writer's own risky
        context), the L2 scale of its tf-idf vector, and the matched features (value,
        weights per category) for the category, which is worked out only when needed."""
        features = self.features
        alone = other = own = norm = 0.0
        matched = []
        for gram, count in Counter(self.grams(text)).items():
            row = features.get(gram)
            if row is None:
                continue
            idf, (w_alone, w_other, w_own), per_category = row
            value = idf if count == 1 else (1.0 + math.log(count)) * idf
            alone += value * w_alone
            other += value * w_other
            own += value * w_own
            norm += value * value
            matched.append((value, per_category))
        return (alone, other, own), (1.0 / math.sqrt(norm) if norm else 0.0), matched


@dataclass(frozen=True, slots=True)
class Score:
    probability: float  # that the message shows current risk
    category: str  # the most likely category, were it risky
    severity: str  # "none", "concern" or "high", by the model's thresholds
    from_context: bool = False  # flagged only because of the messages before it


class RiskModel:
    def __init__(self, data: dict[str, Any], *, source: str = MODEL_NAME) -> None:
        if data.get("format") != FORMAT:
            raise ValueError(f"{source}: unsupported model format {data.get('format')!r}")
        self.version: str = data["version"]
        self.threshold: float = float(data["threshold"])
        self.high_threshold: float = float(data["high_threshold"])
        self.intercept: float = float(data["intercept"])
        # Weights of the context's own risk: max probability of another member's and of the
        # writer's own preceding messages.
        self.context_weights: tuple[float, float] = (
            float(data["context_weights"][0]),
            float(data["context_weights"][1]),
        )
        self.categories: tuple[str, ...] = tuple(data["categories"])
        self.category_intercepts: tuple[float, ...] = tuple(data["category_intercepts"])
        self.trained_on: tuple[str, ...] = tuple(data.get("trained_on", ()))
        self._vectorizers = tuple(
            _Vectorizer(
                analyzer=v["analyzer"],
                low=v["ngram_range"][0],
                high=v["ngram_range"][1],
                features={
                    gram: (row[0], (row[1], row[2], row[3]), tuple(row[4:]))
                    for gram, row in v["features"].items()
                },
            )
            for v in data["vectorizers"]
        )
        self.checks: tuple[tuple[str, Context, float], ...] = tuple(
            (
                c["text"],
                tuple((t, bool(same)) for t, same in c.get("context", ())),
                float(c["probability"]),
            )
            for c in data.get("checks", ())
        )
        self._memo: dict[str, tuple[float, str]] = {}

    @classmethod
    def load(cls, path: Traversable | Path) -> RiskModel:
        return cls(json.loads(path.read_text(encoding="utf-8")), source=str(path))

    @property
    def feature_count(self) -> int:
        return sum(len(v.features) for v in self._vectorizers)

    def _parts(self, text: str) -> tuple[tuple[float, float, float], list]:
        lowered = text.lower()
        alone = other = own = 0.0
        parts = []
        for vectorizer in self._vectorizers:
            (a, o, w), scale, matched = vectorizer.weigh(lowered)
            alone += a * scale
            other += o * scale
            own += w * scale
            parts.append((scale, matched))
        return (alone, other, own), parts

    def _category(self, parts: list) -> str:
        totals = list(self.category_intercepts)
        for scale, matched in parts:
            for value, per_category in matched:
                for i, w in enumerate(per_category):
                    totals[i] += value * scale * w
        return self.categories[max(range(len(totals)), key=totals.__getitem__)]

    def _alone(self, text: str) -> tuple[float, str]:
        """A context message's own probability and category, remembered by text: in a room
        the same message is context for the next four, so each is weighed once."""
        known = self._memo.get(text)
        if known is None:
            (alone, _, _), parts = self._parts(text)
            probability = _sigmoid(self.intercept + alone)
            category = self._category(parts) if probability >= self.threshold else "none"
            if len(self._memo) >= 4096:
                self._memo.clear()
            known = self._memo[text] = (probability, category)
        return known

    def _context_risk(self, context: Context) -> tuple[float, float, str]:
        """The riskiest preceding message by another member and by the writer, and the
        category of the riskiest of all."""
        other = own = 0.0
        category, best = "none", 0.0
        for text, same_author in context:
            probability, found = self._alone(text)
            if same_author:
                own = max(own, probability)
            else:
                other = max(other, probability)
            if probability > best:
                best, category = probability, found
        return other, own, category

    def probability(self, text: str, context: Context = ()) -> float:
        return self._score(text, context)[0]

    def _score(self, text: str, context: Context) -> tuple[float, float, list, str]:
        (alone, other, own), parts = self._parts(text)
        p_other, p_own, context_category = (
            self._context_risk(context) if context else (0.0, 0.0, "none")
        )
        z = self.intercept + alone + p_other * other + p_own * own
        z += self.context_weights[0] * p_other + self.context_weights[1] * p_own
        return _sigmoid(z), _sigmoid(self.intercept + alone), parts, context_category

    def score(self, text: str, context: Context = ()) -> Score:
        """The category is worked out only for a message the model flags (most are not).
        A message flagged only because of its context (a short "same" after another
        member's risky message, a goodbye after the writer's own) takes the category of
        the riskiest message before it."""
        probability, alone, parts, context_category = self._score(text, context)
        if probability < self.threshold:
            return Score(probability=probability, category="none", severity="none")
        severity = "high" if probability >= self.high_threshold else "concern"
        if alone < self.threshold and context_category != "none":
            return Score(probability, context_category, severity, from_context=True)
        return Score(probability=probability, category=self._category(parts), severity=severity)


def _sigmoid(z: float) -> float:
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)
