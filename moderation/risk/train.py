"""Train the learned classifier (moderation/risk/model.py) from the labelled corpus.

    pip install -e '.[train]'
    chatserver risk-train            # or: python -m moderation.risk.train

Reads every ``moderation/risk/data/corpus/<writer>/<lang>.jsonl`` file. ``corpus/splits.json``
names the writers whose lines are test-only: they are never trained on and nothing here is
chosen by looking at them; the command scores them once at the end, for the record.

Everything that is tuned (the risk threshold, the severity threshold) is chosen on
*training* writers the model has not seen: the writers are dealt into six groups, and each
group is scored by a model fitted on the other five, so each choice is made on phrasing the
model has never seen, as it will meet in a room. Those out-of-writer scores are also what the
thresholds are calibrated on.

Deterministic: the same files give the same weights (lbfgs, fixed order, no sampling).
The written model is re-scored by the numpy scorer and must agree with scikit-learn's own
probabilities to 1e-6 on every training line, or nothing is written. scikit-learn is needed
here only, never by the server.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from moderation.risk.conversation import CONVERSATION_NAME, Phrases
from moderation.risk.features import RULE_FEATURES, Document, document_grams
from moderation.risk.language import COVERED, READ_AS, LanguageIdentifier, main_script
from moderation.risk.language import grams as language_grams
from moderation.risk.language import save as language_save
from moderation.risk.lexicon import load_lexicon
from moderation.risk.model import FORMAT, RiskModel, save
from moderation.risk.types import CATEGORIES

ROOT = Path(__file__).resolve().parent
DATA = ROOT / "data"
CORPUS = DATA / "corpus"
MIN_DF = 2
C_RISK = 10.0
C_HEADS = 10.0
TARGET_FPR = 0.08
CRITICAL_ALERTED = 0.98
ROUNDS = 2
FOLDS = 6
DIGITS = 6
# float32 weights: the numpy scorer agrees with scikit-learn to about 1e-6.
PARITY = 1e-4
HEADS = 5 + len(CATEGORIES)
LANGID_MARGIN = 6.0


def corpus_rows(corpus: Path = CORPUS) -> list[dict[str, Any]]:
    """Every labelled line, with the writer (its folder) and file it came from."""
    rows = []
    for path in sorted(corpus.glob("*/*.jsonl")):
        for raw in path.read_text(encoding="utf-8").splitlines():
            if raw.strip():
                row = json.loads(raw)
                row["writer"] = path.parent.name
                row["file"] = f"{path.parent.name}/{path.name}"
                rows.append(row)
    return rows


def held_out_writers(corpus: Path = CORPUS) -> set[str]:
    return set(json.loads((corpus / "splits.json").read_text(encoding="utf-8"))["test"])


def split(rows: list[dict[str, Any]], held: set[str]) -> tuple[list, list]:
    return [r for r in rows if r["writer"] not in held], [r for r in rows if r["writer"] in held]


def context_of(row: dict[str, Any]) -> tuple[tuple[str, bool], ...]:
    return tuple((c["text"], bool(c.get("same_author"))) for c in row.get("context") or ())[-4:]


class Reader:
    """The text and dense features of every line and context message, each worked out once
    (the rules run here exactly as they do at serving time)."""

    def __init__(self, data: Path = DATA) -> None:
        from moderation.risk.detector import Detector

        self.detector = Detector(load_lexicon(data), None, Phrases.load(data / CONVERSATION_NAME))
        self._seen: dict[str, tuple[Document, list[float]]] = {}

    def read(self, text: str) -> tuple[Document, list]:
        found = self._seen.get(text)
        if found is None:
            found = self._seen[text] = self.detector.features(text)
        return found


@dataclass
class Fitted:
    vectorizer: Any
    text: Any  # (vocabulary, HEADS)
    dense: Any  # (len(RULE_FEATURES), HEADS)
    intercepts: Any  # (HEADS,)
    context_weights: tuple[float, float]
    categories: list[str]
    reference: dict[str, float] = field(default_factory=dict)

    def meta_and_arrays(self, **meta: Any) -> tuple[dict[str, Any], dict[str, Any]]:
        import numpy as np

        vocabulary = [str(g) for g in self.vectorizer.get_feature_names_out()]
        return (
            {
                "format": FORMAT,
                **meta,
                "categories": self.categories,
                "rule_features": list(RULE_FEATURES),
                "intercepts": [round(float(v), DIGITS) for v in self.intercepts],
                "context_weights": [round(float(v), DIGITS) for v in self.context_weights],
                "vocabulary": vocabulary,
            },
            {
                "idf": np.asarray(self.vectorizer.idf_, dtype=np.float32),
                "text": np.asarray(self.text, dtype=np.float32),
                "dense": np.asarray(self.dense, dtype=np.float32),
            },
        )


def _analyzer(doc: Document) -> list[str]:
    return document_grams(doc)


def _matrices(reader: Reader, rows: list[dict[str, Any]], vectorizer: Any) -> tuple[Any, Any]:
    import numpy as np

    read = [reader.read(r["text"]) for r in rows]
    x = vectorizer.transform([n for n, _ in read])
    d = np.asarray([v for _, v in read], dtype=np.float64).reshape(len(rows), len(RULE_FEATURES))
    return x, d


def _context_risk(
    fitted: Fitted | None, reader: Reader, rows: list[dict[str, Any]]
) -> tuple[Any, Any]:
    import numpy as np

    p_other, p_own = np.zeros(len(rows)), np.zeros(len(rows))
    if fitted is None:
        return p_other, p_own
    model = RiskModel(*fitted.meta_and_arrays(version="fit", threshold=0.5, severe_threshold=0.5))
    for i, row in enumerate(rows):
        for text, same in context_of(row):
            normalised, dense = reader.read(text)
            p = model.remembered(text, normalised, dense)[0]
            if same:
                p_own[i] = max(p_own[i], p)
            else:
                p_other[i] = max(p_other[i], p)
    return p_other, p_own


def fit(reader: Reader, rows: list[dict[str, Any]], c_risk: float = C_RISK) -> Fitted:
    import numpy as np
    from scipy.sparse import csr_matrix, diags, hstack
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    vectorizer = TfidfVectorizer(
        analyzer=_analyzer, min_df=MIN_DF, binary=True, sublinear_tf=False, dtype=np.float64
    )
    vectorizer.fit([reader.read(r["text"])[0] for r in rows])
    x, d = _matrices(reader, rows, vectorizer)
    features = hstack([x, csr_matrix(d)]).tocsr()
    width = features.shape[1]
    labels = np.array([int(bool(r["risk"])) for r in rows])
    risky = np.flatnonzero(labels)
    heads = np.zeros((width, HEADS))
    intercepts = np.zeros(HEADS)

    category = LogisticRegression(C=C_HEADS, max_iter=5000)
    category.fit(features[risky], [rows[i]["category"] for i in risky])
    classes = [str(c) for c in category.classes_]
    if len(classes) == 2:  # scikit-learn keeps one row for two classes: logits (0, z)
        heads[:, 6] = category.coef_[0]
        intercepts[6] = category.intercept_[0]
    else:
        heads[:, 5 : 5 + len(classes)] = category.coef_.T
        intercepts[5 : 5 + len(classes)] = category.intercept_
    for column, levels in ((3, ("high", "critical")), (4, ("critical",))):
        target = np.array([int(rows[i].get("severity") in levels) for i in risky])
        if target.min() == target.max():  # one level only: a constant, not a head
            intercepts[column] = 8.0 if target[0] else -8.0
            continue
        head = LogisticRegression(C=C_HEADS, max_iter=5000, class_weight="balanced")
        head.fit(features[risky], target)
        heads[:, column] = head.coef_[0]
        intercepts[column] = head.intercept_[0]

    fitted: Fitted | None = None
    for _ in range(ROUNDS):
        p_other, p_own = _context_risk(fitted, reader, rows)
        design = hstack(
            [
                features,
                diags(p_other) @ features,
                diags(p_own) @ features,
                csr_matrix(p_other[:, None]),
                csr_matrix(p_own[:, None]),
            ]
        ).tocsr()
        head = LogisticRegression(C=c_risk, max_iter=10000, class_weight="balanced")
        head.fit(design, labels)
        coef = head.coef_[0]
        for k in range(3):
            heads[:, k] = coef[k * width : (k + 1) * width]
        intercepts[0] = head.intercept_[0]
        n = x.shape[1]
        fitted = Fitted(
            vectorizer,
            heads[:n].copy(),
            heads[n:].copy(),
            intercepts.copy(),
            (float(coef[3 * width]), float(coef[3 * width + 1])),
            classes,
        )
        # scikit-learn's own probabilities for the lines without context, which the
        # numpy scorer must reproduce.
        alone = [i for i, r in enumerate(rows) if not r.get("context")]
        fitted.reference = dict(
            zip(
                (rows[i]["text"] for i in alone),
                head.predict_proba(design[alone])[:, 1].tolist(),
                strict=True,
            )
        )
    assert fitted is not None
    return fitted


def out_of_writer_scores(reader: Reader, training: list[dict[str, Any]]) -> list[tuple]:
    """Every training line scored by a model fitted without its writer: the writers are
    dealt into ``FOLDS`` groups, and each group is scored by a model fitted on the others.
    Returns (row, Score) pairs."""
    writers = sorted({r["writer"] for r in training})
    scored = []
    for fold in range(min(FOLDS, len(writers))):
        left_out = set(writers[fold::FOLDS])
        fitted = fit(reader, [r for r in training if r["writer"] not in left_out])
        model = RiskModel(
            *fitted.meta_and_arrays(version="cv", threshold=0.5, severe_threshold=0.5)
        )
        for row in training:
            if row["writer"] in left_out:
                scored.append((row, score_row(model, reader, row)))
    return scored


def score_row(model: RiskModel, reader: Reader, row: dict[str, Any]) -> Any:
    context = context_of(row)
    normalised, dense = reader.read(row["text"])
    other = own = (0.0, "none", 0.0)
    for text, same in context:
        n, v = reader.read(text)
        found = model.remembered(text, n, v)
        if same and found[0] > own[0]:
            own = found
        elif not same and found[0] > other[0]:
            other = found
    return model.score(normalised, dense, other=other, own=own)


def choose_thresholds(scored: list[tuple]) -> dict[str, Any]:
    """The lowest risk threshold whose false-positive rate on writers the model had not
    seen is at most ``TARGET_FPR``, and the severity threshold under which no more than
    2% of the critical lines it flags would be only reviewed."""
    import numpy as np

    p = np.array([s.probability for _, s in scored])
    truth = np.array([bool(r["risk"]) for r, _ in scored])
    table = {}
    chosen = 0.95
    for threshold in np.round(np.arange(0.20, 0.951, 0.025), 3):
        flagged = p >= threshold
        fpr = float((flagged & ~truth).sum() / max((~truth).sum(), 1))
        recall = float((flagged & truth).sum() / max(truth.sum(), 1))
        table[f"{threshold:.3f}"] = {"recall": round(recall, 3), "fpr": round(fpr, 3)}
        if fpr <= TARGET_FPR and threshold < chosen:
            chosen = float(threshold)
    critical = sorted(
        s.severe for r, s in scored if r.get("severity") == "critical" and s.probability >= chosen
    )
    severe = critical[int(len(critical) * (1 - CRITICAL_ALERTED))] if critical else 0.5
    return {"threshold": chosen, "severe_threshold": round(min(severe, 0.5), 3), "table": table}


def train(version: str, data: Path = DATA, *, cross_validate: bool = True) -> dict[str, Any]:
    corpus = data / "corpus"
    rows = corpus_rows(corpus)
    held = held_out_writers(corpus)
    training, testing = split(rows, held)
    reader = Reader(data)
    chosen: dict[str, Any] = {"threshold": 0.5, "severe_threshold": 0.5, "table": {}}
    if cross_validate:
        chosen = choose_thresholds(out_of_writer_scores(reader, training))
    fitted = fit(reader, training)
    meta, arrays = fitted.meta_and_arrays(
        version=version,
        trained_on=sorted({r["file"] for r in training}),
        threshold=chosen["threshold"],
        severe_threshold=chosen["severe_threshold"],
    )
    check = RiskModel(meta, arrays)
    drift = max(
        abs(check.score(*reader.read(text)).probability - p) for text, p in fitted.reference.items()
    )
    if drift > PARITY:
        raise SystemExit(f"the numpy scorer differs from scikit-learn by {drift}")
    samples = sorted(fitted.reference)[:: max(len(fitted.reference) // 12, 1)]
    meta["checks"] = [
        {"text": t, "probability": round(check.score(*reader.read(t)).probability, 6)}
        for t in samples
    ]
    save(data, meta, arrays)
    model = RiskModel.load(data)
    return {
        "written": str(data / "model.json"),
        "features": model.feature_count,
        "kib": ((data / "model.json").stat().st_size + (data / "model.npz").stat().st_size) // 1024,
        "trained_lines": len(training),
        "parity": drift,
        "threshold": chosen["threshold"],
        "severe_threshold": chosen["severe_threshold"],
        "leave_one_writer_out": chosen["table"],
        "held_out_writers": sorted(held),
        "held_out_lines": len(testing),
    }


def train_language(data: Path = DATA, *, margin: float = LANGID_MARGIN) -> dict[str, Any]:
    """The language identifier (moderation/risk/language.py): naive Bayes over character
    1-3-grams, from the training writers' lines and ``data/langid/other.jsonl``. Scored on
    the held-out writers' lines and every fifth line of the other languages, then trained
    on everything but the held-out writers and written."""
    corpus = data / "corpus"
    training, testing = split(corpus_rows(corpus), held_out_writers(corpus))
    others = [
        json.loads(raw)
        for raw in (data / "langid" / "other.jsonl").read_text(encoding="utf-8").splitlines()
        if raw.strip()
    ]
    labelled = [(r["text"], r["lang"]) for r in training] + [(o["text"], o["lang"]) for o in others]
    figures = _language_figures(
        _fit_language(
            [(r["text"], r["lang"]) for r in training]
            + [(o["text"], o["lang"]) for i, o in enumerate(others) if i % 5],
            margin,
        ),
        [(r["text"], r["lang"]) for r in testing]
        + [(o["text"], o["lang"]) for i, o in enumerate(others) if not i % 5],
    )
    meta, arrays = _fit_language(labelled, margin)
    language_save(data, meta, arrays)
    return {"labels": len(meta["labels"]), "vocabulary": len(meta["vocabulary"]), **figures}


def _fit_language(labelled: list[tuple[str, str]], margin: float) -> tuple[dict, dict]:
    import numpy as np

    scripts: dict[str, dict[str, int]] = {}
    counts: dict[str, dict[str, int]] = {}
    for text, label in labelled:
        script, _ = main_script(text)
        scripts.setdefault(script, {}).setdefault(label, 0)
        scripts[script][label] += 1
        mine = counts.setdefault(label, {})
        for gram in language_grams(text):
            mine[gram] = mine.get(gram, 0) + 1
    labels = sorted(counts)
    totals: dict[str, int] = {}
    for mine in counts.values():
        for gram, n in mine.items():
            totals[gram] = totals.get(gram, 0) + n
    vocabulary = sorted(g for g, n in totals.items() if n >= 2)
    counted = np.zeros((len(vocabulary), len(labels)))
    position = {g: i for i, g in enumerate(vocabulary)}
    for j, label in enumerate(labels):
        for gram, n in counts[label].items():
            i = position.get(gram)
            if i is not None:
                counted[i, j] = n
    alpha = 0.1
    denominator = counted.sum(axis=0) + alpha * (len(vocabulary) + 1)
    log = np.log((counted + alpha) / denominator)
    meta = {
        "labels": labels,
        "margin": margin,
        "vocabulary": vocabulary,
        # A label is chosen for a script's text only if at least five of its lines use it.
        "scripts": {
            script: sorted(label for label, n in by_label.items() if n >= 5)
            for script, by_label in sorted(scripts.items())
            if script in ("LATIN", "ARABIC")
        },
    }
    arrays = {
        "log": log.astype(np.float32),
        "prior": np.zeros(len(labels), dtype=np.float32),
        "unknown": np.log(alpha / denominator).astype(np.float32),
    }
    return meta, arrays


def _language_figures(fitted: tuple[dict, dict], labelled: list[tuple[str, str]]) -> dict:
    identifier = LanguageIdentifier(*fitted)
    right = wrong_outside = wrong_covered = told = 0
    covered_lines = outside_lines = 0
    for text, label in labelled:
        found = identifier.identify(text)
        if found.code == "und":
            continue
        told += 1
        truly_covered = label in COVERED or label in READ_AS
        covered_lines += truly_covered
        outside_lines += not truly_covered
        right += found.code == label
        wrong_outside += truly_covered and found.coverage == "outside"
        wrong_covered += (not truly_covered) and found.coverage == "covered"
    return {
        "identified_lines": told,
        "language_accuracy": round(right / max(told, 1), 3),
        "covered_marked_outside": round(wrong_outside / max(covered_lines, 1), 3),
        "outside_passed_as_covered": round(wrong_covered / max(outside_lines, 1), 3),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--version", default="3.0.0")
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument(
        "--no-cross-validation", action="store_true", help="skip choosing thresholds (quick)"
    )
    args = parser.parse_args(argv)
    languages = train_language(args.data)
    result = train(args.version, args.data, cross_validate=not args.no_cross_validation)
    print(json.dumps({**result, "language_identifier": languages}, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
