"""The learned classifier: logistic heads over n-grams, the rules' findings and the context.

The lexicon catches what its cues describe and explains itself, but on phrasing nobody
wrote a cue for it is blind (recall 0.29 to 0.57 on files written after it was tuned, see
docs/risk-detection.md). This model carries recall; the rules stay the survivor-aware guard
(their findings and the guards that discounted a cue are features the model weighs) and the
explanation.

Heads, all over the same features (moderation/risk/features.py):

* **risk**: is there a current risk to someone? Each feature has three weights: alone,
  multiplied by the risk of the riskiest earlier message by *another* member, and by the
  risk of the writer's own earlier messages. So "same" after another member's risky message
  or a goodbye after the writer's own hopeless ones can be learned without learning that
  "same" or "thank you all" is risky.
* **category**: which of the six, were it risky (multinomial; who is at risk and whether
  an act is already done decide it, as the corpus labels do).
* **severity**: whether a risky line is ``high`` or worse rather than a ``concern``.

Probabilities are calibrated on writers the model did not see (leave one writer out, in
training), and the thresholds are chosen there too (moderation/risk/train.py). Trained
offline with scikit-learn (the ``train`` extra); scored here with numpy: the vocabulary and
thresholds in ``model.json``, the weights in ``model.npz``. Nothing is downloaded.
"""

from __future__ import annotations

import io
import json
import math
from dataclasses import dataclass
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any, Final

import numpy as np

from moderation.risk.features import RULE_FEATURES, Document, document_grams, grams

MODEL_NAME: Final = "model.json"
WEIGHTS_NAME: Final = "model.npz"
FORMAT: Final = 3
# Columns of the weight matrices.
RISK_ALONE, RISK_OTHER, RISK_OWN, SEVERE, CRITICAL = 0, 1, 2, 3, 4
CATEGORY_FROM: Final = 5
# Context: the preceding messages, oldest first, as (text, same_author) pairs.
Context = tuple[tuple[str, bool], ...]


@dataclass(frozen=True, slots=True)
class Score:
    probability: float  # that the message shows current risk, read in its context
    alone: float  # the same, without the context
    category: str  # the most likely category, were it risky
    severe: float  # probability that a risky line is high or critical, not a concern
    critical: float  # probability that a risky line is critical
    from_context: bool = False  # risky only because of the messages before it

    @property
    def flagged(self) -> bool:
        return self.category != "none"


class RiskModel:
    def __init__(self, meta: dict[str, Any], arrays: dict[str, Any], *, source: str = "") -> None:
        if meta.get("format") != FORMAT:
            raise ValueError(f"{source}: unsupported model format {meta.get('format')!r}")
        if tuple(meta["rule_features"]) != RULE_FEATURES:
            raise ValueError(f"{source}: trained with other rule features; retrain the model")
        self.version: str = meta["version"]
        self.threshold: float = float(meta["threshold"])
        self.severe_threshold: float = float(meta["severe_threshold"])
        self.categories: tuple[str, ...] = tuple(meta["categories"])
        self.trained_on: tuple[str, ...] = tuple(meta.get("trained_on", ()))
        self.intercepts = np.asarray(meta["intercepts"], dtype=np.float64)
        self.context_weights: tuple[float, float] = tuple(meta["context_weights"])  # type: ignore[assignment]
        self._index: dict[str, int] = {g: i for i, g in enumerate(meta["vocabulary"])}
        self._idf = np.asarray(arrays["idf"], dtype=np.float64)
        self._text = np.asarray(arrays["text"], dtype=np.float64)
        self._dense = np.asarray(arrays["dense"], dtype=np.float64)
        # Each n-gram's own push on the risk, as plain floats (for explaining a finding).
        self._push: list[float] = (self._idf * self._text[:, RISK_ALONE]).tolist()
        self.checks: tuple[dict[str, Any], ...] = tuple(meta.get("checks", ()))
        self._memo: dict[str, tuple[float, str, float]] = {}

    @classmethod
    def load(cls, directory: Traversable | Path) -> RiskModel:
        meta = json.loads((directory / MODEL_NAME).read_text(encoding="utf-8"))
        with np.load(io.BytesIO((directory / WEIGHTS_NAME).read_bytes())) as npz:
            arrays = {name: npz[name] for name in npz.files}
        return cls(meta, arrays, source=str(directory / MODEL_NAME))

    @property
    def feature_count(self) -> int:
        return len(self._index) + len(RULE_FEATURES)

    def _linear(self, doc: Document, dense: list[float]) -> Any:
        """Every head's linear score for the text alone."""
        index = self._index
        found = {i for g in document_grams(doc) if (i := index.get(g)) is not None}
        totals = self.intercepts.copy()
        if found:
            rows = np.fromiter(found, dtype=np.intp, count=len(found))
            values = self._idf[rows]
            values = values / math.sqrt(float(values @ values))
            totals += values @ self._text[rows]
        totals += np.asarray(dense) @ self._dense
        return totals

    def _alone(self, doc: Document, dense: list[float]) -> tuple[float, str, float]:
        totals = self._linear(doc, dense)
        probability = _sigmoid(float(totals[RISK_ALONE]))
        return probability, self._category(totals), _sigmoid(float(totals[SEVERE]))

    def _category(self, totals: Any) -> str:
        """The category head's choice (the largest logit; no softmax is needed to pick)."""
        logits = totals[CATEGORY_FROM : CATEGORY_FROM + len(self.categories)]
        return self.categories[int(np.argmax(logits))]

    def recall(self, text: str) -> tuple[float, str, float] | None:
        return self._memo.get(text)

    def remembered(self, text: str, doc: Document, dense: list[float]) -> tuple[float, str, float]:
        """A context message's own risk, category and severity, remembered by text: in a
        room each message is context for the next four, so each is weighed once."""
        known = self._memo.get(text)
        if known is None:
            if len(self._memo) >= 4096:
                self._memo.clear()
            known = self._memo[text] = self._alone(doc, dense)
        return known

    def score(
        self,
        doc: Document,
        dense: list[float],
        *,
        other: tuple[float, str, float] = (0.0, "none", 0.0),
        own: tuple[float, str, float] = (0.0, "none", 0.0),
    ) -> Score:
        """``other`` and ``own`` are the riskiest earlier message by another member and by
        the writer, as (probability, category, severity) from :meth:`remembered`."""
        totals = self._linear(doc, dense)
        p_other, p_own = other[0], own[0]
        z_alone = float(totals[RISK_ALONE])
        z = z_alone + p_other * float(totals[RISK_OTHER]) + p_own * float(totals[RISK_OWN])
        z += self.context_weights[0] * p_other + self.context_weights[1] * p_own
        probability, alone = _sigmoid(z), _sigmoid(z_alone)
        category = self._category(totals)
        severe = _sigmoid(float(totals[SEVERE]))
        critical = _sigmoid(float(totals[CRITICAL]))
        from_context = False
        if probability < self.threshold:
            category = "none"
        elif alone < self.threshold and max(p_other, p_own) >= self.threshold:
            # Risky only in the light of what came before: the earlier message's category
            # ("same" after a plan to overdose is a plan to overdose); a goodbye after the
            # writer's own hopeless messages is as severe as they were.
            earlier = own if p_own > p_other else other
            category, from_context = earlier[1], True
            if earlier is own:
                severe = max(severe, earlier[2])
        return Score(
            probability=probability,
            alone=alone,
            category=category,
            severe=severe,
            critical=critical,
            from_context=from_context,
        )

    def word_push(self, normalised_word: str) -> float:
        """How far one word's own n-grams push the risk up (for pointing at the words
        behind a model-only finding; scale-free, so only the ranking means anything)."""
        index, push = self._index, self._push
        return sum(push[i] for g in grams(normalised_word) if (i := index.get(g)) is not None)


def save(directory: Path, meta: dict[str, Any], arrays: dict[str, Any]) -> None:
    (directory / MODEL_NAME).write_text(
        json.dumps(meta, ensure_ascii=False, separators=(",", ":")) + "\n", encoding="utf-8"
    )
    np.savez_compressed(directory / WEIGHTS_NAME, **arrays)


def _sigmoid(z: float) -> float:
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)
