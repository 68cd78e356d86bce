"""Train the learned classifier (moderation/risk/model.py) from the labelled corpus.

    pip install -e '.[train]'
    chatserver risk-train            # or: python -m moderation.risk.train

Reads every ``moderation/risk/data/corpus/<writer>/<lang>.jsonl`` file and the older files
in ``tests/data/risk``. ``corpus/splits.json`` names the writers whose lines are test-only:
the model is trained on the other writers, scored on the held-out ones, and then written.
The held-out writers are never trained on, so the printed figures are what the model does
on phrasing nobody here fitted it to.

The model is a logistic regression over character n-grams within words (script-agnostic:
Chinese needs no segmenter, misspellings and algospeak share grams with the plain word) and
word n-grams, with two context blocks: the same features again, multiplied by the risk of
the riskiest preceding message by another member and by the writer (so "same" after a
risky message, or a goodbye after the writer's own, can be learned without learning that
"same" is risky). A multinomial head over the text features names the category.

Deterministic: the same files give the same weights (lbfgs, fixed order, no sampling). The
written model is re-scored by the plain Python scorer and must agree to 1e-9 with the
exported weights on every training line, or nothing is written. scikit-learn and numpy are
needed here only, never by the server.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from moderation.risk.model import FORMAT, RiskModel

ROOT = Path(__file__).resolve().parent
CORPUS = ROOT / "data" / "corpus"
LEGACY = ROOT.parent.parent / "tests" / "data" / "risk"
OUT = ROOT / "data" / "model.json"
CHAR_RANGE = (3, 5)
WORD_RANGE = (1, 2)
MIN_DF = 2
C = 6.0
THRESHOLD = 0.5
HIGH_THRESHOLD = 0.8
TARGET_FPR = 0.10
DIGITS = 5
ROUNDS = 2


def corpus_rows(corpus: Path = CORPUS, legacy: Path | None = LEGACY) -> list[dict[str, Any]]:
    """Every labelled line, with the writer (its folder) and file it came from."""
    rows = []
    paths = sorted(corpus.glob("*/*.jsonl"))
    if legacy is not None and legacy.is_dir():
        paths += sorted(legacy.glob("*.jsonl"))
    for path in paths:
        writer = path.parent.name if path.parent.parent == corpus else "legacy"
        for raw in path.read_text(encoding="utf-8").splitlines():
            if raw.strip():
                row = json.loads(raw)
                row["writer"] = writer
                row["file"] = f"{path.parent.name}/{path.name}"
                rows.append(row)
    return rows


def held_out_writers(corpus: Path = CORPUS) -> set[str]:
    return set(json.loads((corpus / "splits.json").read_text(encoding="utf-8"))["test"])


def split(rows: list[dict[str, Any]], held: set[str]) -> tuple[list, list]:
    return [r for r in rows if r["writer"] not in held], [r for r in rows if r["writer"] in held]


def _context(row: dict[str, Any]) -> tuple[tuple[str, bool], ...]:
    return tuple((c["text"], bool(c.get("same_author"))) for c in row.get("context") or ())[-4:]


def _vectorizers() -> list[Any]:
    from sklearn.feature_extraction.text import TfidfVectorizer

    return [
        TfidfVectorizer(
            analyzer="char_wb", ngram_range=CHAR_RANGE, min_df=MIN_DF, sublinear_tf=True
        ),
        TfidfVectorizer(analyzer="word", ngram_range=WORD_RANGE, min_df=MIN_DF, sublinear_tf=True),
    ]


class _Fitted:
    """The trained pieces, before export: vectorizers, weights and the category head."""

    def __init__(self, vectorizers: list[Any], coef: Any, intercept: float, category: Any):
        self.vectorizers = vectorizers
        self.coef = coef
        self.intercept = intercept
        self.category = category

    @property
    def width(self) -> int:
        return sum(len(v.vocabulary_) for v in self.vectorizers)


def _text_matrix(vectorizers: list[Any], texts: Sequence[str]) -> Any:
    from scipy.sparse import hstack

    return hstack([v.transform(texts) for v in vectorizers]).tocsr()


def _design(x: Any, p_other: Any, p_own: Any) -> Any:
    from scipy.sparse import csr_matrix, diags, hstack

    return hstack(
        [
            x,
            diags(p_other) @ x,
            diags(p_own) @ x,
            csr_matrix(p_other[:, None]),
            csr_matrix(p_own[:, None]),
        ]
    ).tocsr()


def _alone_probability(fitted: _Fitted, texts: Sequence[str]) -> Any:
    import numpy as np

    if not texts:
        return np.zeros(0)
    x = _text_matrix(fitted.vectorizers, texts)
    z = x @ fitted.coef[: fitted.width] + fitted.intercept
    return 1.0 / (1.0 + np.exp(-z))


def _context_risk(fitted: _Fitted | None, rows: list[dict[str, Any]]) -> tuple[Any, Any]:
    import numpy as np

    p_other, p_own = np.zeros(len(rows)), np.zeros(len(rows))
    if fitted is None:
        return p_other, p_own
    texts = sorted({t for r in rows for t, _ in _context(r)})
    known = dict(zip(texts, _alone_probability(fitted, texts), strict=True))
    for i, row in enumerate(rows):
        for text, same in _context(row):
            if same:
                p_own[i] = max(p_own[i], known[text])
            else:
                p_other[i] = max(p_other[i], known[text])
    return p_other, p_own


def fit(rows: list[dict[str, Any]]) -> _Fitted:
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    texts = [r["text"] for r in rows]
    labels = np.array([int(bool(r["risk"])) for r in rows])
    vectorizers = [v.fit(texts) for v in _vectorizers()]
    x = _text_matrix(vectorizers, texts)
    risky_rows = [i for i, r in enumerate(rows) if r["risk"]]
    category = LogisticRegression(C=C, max_iter=5000)
    category.fit(x[risky_rows], [rows[i]["category"] for i in risky_rows])
    fitted: _Fitted | None = None
    for _ in range(ROUNDS):
        p_other, p_own = _context_risk(fitted, rows)
        risky = LogisticRegression(C=C, class_weight="balanced", max_iter=10000)
        risky.fit(_design(x, p_other, p_own), labels)
        fitted = _Fitted(vectorizers, risky.coef_[0], float(risky.intercept_[0]), category)
    assert fitted is not None
    return fitted


def export(fitted: _Fitted, *, version: str, trained_on: list[str]) -> dict[str, Any]:
    width = fitted.width
    coef = fitted.coef
    category = fitted.category
    classes = [str(c) for c in category.classes_]
    vectorizers = []
    offset = 0
    for vectorizer in fitted.vectorizers:
        features = {}
        for gram, index in sorted(vectorizer.vocabulary_.items()):
            column = offset + index
            row = [round(float(vectorizer.idf_[index]), DIGITS)]
            row += [round(float(coef[column + k * width]), DIGITS) for k in range(3)]
            row += [round(float(category.coef_[k][column]), DIGITS) for k in range(len(classes))]
            features[gram] = row
        vectorizers.append(
            {
                "analyzer": vectorizer.analyzer,
                "ngram_range": list(vectorizer.ngram_range),
                "features": features,
            }
        )
        offset += len(vectorizer.vocabulary_)
    return {
        "format": FORMAT,
        "version": version,
        "trained_on": trained_on,
        "threshold": THRESHOLD,
        "high_threshold": HIGH_THRESHOLD,
        "intercept": round(fitted.intercept, DIGITS),
        "context_weights": [
            round(float(coef[3 * width]), DIGITS),
            round(float(coef[3 * width + 1]), DIGITS),
        ],
        "categories": classes,
        "category_intercepts": [round(float(v), DIGITS) for v in category.intercept_],
        "vectorizers": vectorizers,
    }


def _reference_probability(data: dict[str, Any], fitted: _Fitted, rows: list) -> Any:
    """scikit-learn's matrices with the exported (rounded) numbers: what the plain scorer
    must reproduce."""
    import numpy as np

    for vectorizer, exported in zip(fitted.vectorizers, data["vectorizers"], strict=True):
        for gram, index in vectorizer.vocabulary_.items():
            vectorizer.idf_[index] = exported["features"][gram][0]
    width = fitted.width
    weights = np.zeros(3 * width + 2)
    offset = 0
    for vectorizer, exported in zip(fitted.vectorizers, data["vectorizers"], strict=True):
        for gram, index in vectorizer.vocabulary_.items():
            for k in range(3):
                weights[offset + index + k * width] = exported["features"][gram][1 + k]
        offset += len(vectorizer.vocabulary_)
    weights[3 * width :] = data["context_weights"]
    rounded = _Fitted(fitted.vectorizers, weights, data["intercept"], fitted.category)
    x = _text_matrix(fitted.vectorizers, [r["text"] for r in rows])
    p_other, p_own = _context_risk(rounded, rows)
    z = _design(x, p_other, p_own) @ weights + data["intercept"]
    return 1.0 / (1.0 + np.exp(-z))


def _parity(model: RiskModel, data: dict[str, Any], fitted: _Fitted, rows: list) -> float:
    expected = _reference_probability(data, fitted, rows)
    return max(
        abs(model.probability(r["text"], _context(r)) - float(p))
        for r, p in zip(rows, expected, strict=True)
    )


def _held_out_figures(model: RiskModel, rows: list[dict[str, Any]]) -> dict[str, Any]:
    tp = fp = fn = tn = right = 0
    for row in rows:
        score = model.score(row["text"], _context(row))
        flagged, truth = score.severity != "none", bool(row["risk"])
        tp += int(flagged and truth)
        fp += int(flagged and not truth)
        fn += int(not flagged and truth)
        tn += int(not flagged and not truth)
        right += int(truth and flagged and score.category == row["category"])
    return {
        "lines": len(rows),
        "precision": round(tp / max(tp + fp, 1), 3),
        "recall": round(tp / max(tp + fn, 1), 3),
        "right_category": round(right / max(tp + fn, 1), 3),
        "false_positive_rate": round(fp / max(fp + tn, 1), 3),
    }


def choose_threshold(training: list[dict[str, Any]]) -> tuple[float, dict[str, Any]]:
    """Leave one training writer out at a time (the held-out writers are not used), and
    take the lowest threshold whose false-positive rate on those unseen writers is at most
    ``TARGET_FPR``: as much recall as the safe lines allow, chosen without the test split."""
    import numpy as np

    probabilities, truth = [], []
    for writer in sorted({r["writer"] for r in training} - {"legacy"}):
        fitted = fit([r for r in training if r["writer"] != writer])
        rows = [r for r in training if r["writer"] == writer]
        model = RiskModel(export(fitted, version="cv", trained_on=[]))
        probabilities += [model.probability(r["text"], _context(r)) for r in rows]
        truth += [bool(r["risk"]) for r in rows]
    p, t = np.array(probabilities), np.array(truth)
    table = {}
    chosen = 0.9
    for threshold in np.arange(0.30, 0.91, 0.05):
        flagged = p >= threshold
        fpr = float((flagged & ~t).sum() / max((~t).sum(), 1))
        recall = float((flagged & t).sum() / max(t.sum(), 1))
        table[f"{threshold:.2f}"] = {"recall": round(recall, 3), "fpr": round(fpr, 3)}
        if fpr <= TARGET_FPR and threshold < chosen:
            chosen = round(float(threshold), 2)
    return chosen, table


def train(version: str, out: Path = OUT, corpus: Path = CORPUS) -> dict[str, Any]:
    rows = corpus_rows(corpus)
    held = held_out_writers(corpus)
    training, testing = split(rows, held)
    threshold, table = choose_threshold(training)
    fitted = fit(training)
    trained_on = sorted({r["file"] for r in training})
    data = export(fitted, version=version, trained_on=trained_on)
    data["threshold"] = threshold
    data["high_threshold"] = max(HIGH_THRESHOLD, round(threshold + 0.2, 2))
    model = RiskModel(data)
    drift = _parity(model, data, fitted, training)
    if drift > 1e-9:
        raise SystemExit(f"the plain scorer differs from the exported weights by {drift}")
    samples = [r for r in training if r.get("context")][:4] + training[:: len(training) // 10]
    data["checks"] = [
        {
            "text": r["text"],
            "context": [list(c) for c in _context(r)],
            "probability": model.probability(r["text"], _context(r)),
        }
        for r in samples
    ]
    out.write_text(json.dumps(data, ensure_ascii=False, separators=(",", ":")) + "\n")
    return {
        "written": str(out),
        "features": model.feature_count,
        "kib": out.stat().st_size // 1024,
        "parity": drift,
        "trained_lines": len(training),
        "threshold": threshold,
        "leave_one_writer_out": table,
        "held_out_writers": sorted(held),
        "held_out_model_only": _held_out_figures(model, testing),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--version", default="2.0.0")
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    args = parser.parse_args(argv)
    print(json.dumps(train(args.version, args.out, args.corpus), ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
