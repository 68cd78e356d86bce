"""Train the learned second opinion (moderation/risk/model.py) from labelled JSONL files.

    pip install -e '.[train]'
    python -m moderation.risk.train tests/data/risk/*.jsonl --version 1.0.0 \\
        --out moderation/risk/data/model.json

Prints leave-one-file-out precision and recall (each file scored by a model trained on the
others: the honest estimate of how the model does on lines nobody trained it on), then
trains on every file and writes the model. The written model is scored again by the plain
Python scorer and must agree with scikit-learn to 1e-9 on every training line, or nothing is
written. scikit-learn is needed here only, never by the server.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from moderation.risk.model import FORMAT, RiskModel

CHAR_RANGE = (4, 4)
WORD_RANGE = (1, 2)
C = 8.0
THRESHOLD = 0.6
HIGH_THRESHOLD = 0.85
DIGITS = 6


def _rows(paths: list[Path]) -> dict[str, list[dict[str, Any]]]:
    files = {}
    for path in paths:
        rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
        files[path.name] = [r for r in rows if isinstance(r.get("text"), str)]
    return files


def _vectorizers() -> Any:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.pipeline import make_union

    return make_union(
        TfidfVectorizer(analyzer="char_wb", ngram_range=CHAR_RANGE, min_df=2, sublinear_tf=True),
        TfidfVectorizer(analyzer="word", ngram_range=WORD_RANGE, sublinear_tf=True),
    )


def _fit(rows: list[dict[str, Any]]) -> tuple[Any, Any, Any]:
    from sklearn.linear_model import LogisticRegression

    texts = [r["text"] for r in rows]
    union = _vectorizers().fit(texts)
    x = union.transform(texts)
    risky = LogisticRegression(C=C, class_weight="balanced", max_iter=5000)
    risky.fit(x, [int(bool(r["risk"])) for r in rows])
    indices = [i for i, r in enumerate(rows) if r["risk"]]
    category = LogisticRegression(C=C, max_iter=5000)
    category.fit(x[indices], [rows[i]["category"] for i in indices])
    return union, risky, category


def leave_one_file_out(files: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    tp = fp = fn = tn = 0
    for held in files:
        training = [r for name, rows in files.items() if name != held for r in rows]
        union, risky, _ = _fit(training)
        texts = [r["text"] for r in files[held]]
        for p, row in zip(
            risky.predict_proba(union.transform(texts))[:, 1], files[held], strict=True
        ):
            flagged, truth = bool(p >= THRESHOLD), bool(row["risk"])
            tp += int(flagged and truth)
            fp += int(flagged and not truth)
            fn += int(not flagged and truth)
            tn += int(not flagged and not truth)
    return {
        "precision": round(tp / max(tp + fp, 1), 3),
        "recall": round(tp / max(tp + fn, 1), 3),
        "false_positive_rate": round(fp / max(fp + tn, 1), 3),
        "lines": tp + fp + fn + tn,
    }


def export(union: Any, risky: Any, category: Any, *, version: str, trained_on: list[str]) -> dict:
    classes = [str(c) for c in category.classes_]
    vectorizers = []
    offset = 0
    for _, vectorizer in union.transformer_list:
        vocabulary = vectorizer.vocabulary_
        features = {}
        for gram, index in vocabulary.items():
            column = offset + index
            row = [round(float(vectorizer.idf_[index]), DIGITS), float(risky.coef_[0][column])]
            row += [float(category.coef_[k][column]) for k in range(len(classes))]
            features[gram] = row
        vectorizers.append(
            {
                "analyzer": vectorizer.analyzer,
                "ngram_range": list(vectorizer.ngram_range),
                "features": features,
            }
        )
        offset += len(vocabulary)
    return {
        "format": FORMAT,
        "version": version,
        "trained_on": trained_on,
        "threshold": THRESHOLD,
        "high_threshold": HIGH_THRESHOLD,
        "intercept": float(risky.intercept_[0]),
        "categories": classes,
        "category_intercepts": [float(v) for v in category.intercept_],
        "vectorizers": vectorizers,
    }


def _check_parity(model: RiskModel, union: Any, risky: Any, texts: list[str]) -> float:
    """The largest difference between scikit-learn's probabilities (with the exported,
    rounded idf) and the plain Python scorer's."""
    for (_, vectorizer), exported in zip(union.transformer_list, model._vectorizers, strict=True):
        for gram, index in vectorizer.vocabulary_.items():
            vectorizer.idf_[index] = exported.features[gram][0]
    expected = risky.predict_proba(union.transform(texts))[:, 1]
    return max(abs(model.probability(t) - float(p)) for t, p in zip(texts, expected, strict=True))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--version", required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    files = _rows(args.files)
    print("leave one file out:", json.dumps(leave_one_file_out(files)))
    rows = [r for rows in files.values() for r in rows]
    union, risky, category = _fit(rows)
    data = export(union, risky, category, version=args.version, trained_on=sorted(files))
    model = RiskModel(data)
    texts = [r["text"] for r in rows]
    drift = _check_parity(model, union, risky, texts)
    if drift > 1e-9:
        print(f"the plain scorer differs from scikit-learn by {drift}: not written")
        return 1
    samples = texts[:: max(len(texts) // 12, 1)][:12]
    data["checks"] = [{"text": t, "probability": model.probability(t)} for t in samples]
    args.out.write_text(json.dumps(data, ensure_ascii=False, separators=(",", ":")) + "\n")
    size = args.out.stat().st_size // 1024
    print(f"wrote {args.out} ({model.feature_count} features, {size} KiB), parity {drift:.1e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
