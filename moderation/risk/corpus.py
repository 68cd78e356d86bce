"""The labelled corpus: its schema, and near duplicates within and across writers.

A near duplicate is a pair of lines whose character trigrams (lowercased, spaces collapsed,
the context's texts included) have a Jaccard similarity of 0.5 or more. Two writers who
each wrote "omg same" would make a test line that training has already seen, so the
validator (tests/risk/test_corpus.py) refuses any pair, and ``python -m
moderation.risk.corpus --dedupe`` drops the later line of each pair: a training line that
is near a held-out writer's line goes, so the test split stays whole.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from moderation.risk.types import CATEGORIES

LANGUAGES: Final = ("en", "cy", "pl", "ur", "ar", "zh", "es")
NEAR: Final = 0.5
_SPACE = re.compile(r"\s+")


@dataclass(frozen=True, slots=True)
class Line:
    path: Path
    number: int
    writer: str
    data: dict[str, Any]


def read(corpus: Path) -> list[Line]:
    lines = []
    for path in sorted(corpus.glob("*/*.jsonl")):
        for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if raw.strip():
                lines.append(Line(path, number, path.parent.name, json.loads(raw)))
    return lines


def problems(line: Line) -> list[str]:
    """What is wrong with one line's schema (empty when nothing is)."""
    d, where = line.data, f"{line.path.parent.name}/{line.path.name}:{line.number}"
    found = []
    if not isinstance(d.get("text"), str) or not d["text"].strip():
        found.append(f"{where}: 'text' must be a non-empty string")
    if not isinstance(d.get("risk"), bool):
        found.append(f"{where}: 'risk' must be true or false")
    category = d.get("category")
    if d.get("risk") is True and category not in CATEGORIES:
        found.append(f"{where}: a risky line needs a category, not {category!r}")
    if d.get("risk") is False and category != "none":
        found.append(f"{where}: a safe line has category 'none', not {category!r}")
    if d.get("lang") != line.path.stem or d.get("lang") not in LANGUAGES:
        found.append(f"{where}: 'lang' must be {line.path.stem!r}, one of {LANGUAGES}")
    if d.get("risk") and d.get("severity") not in ("concern", "high", "critical"):
        found.append(f"{where}: a risky line needs severity concern, high or critical")
    if not isinstance(d.get("kind"), str):
        found.append(f"{where}: 'kind' must be a string")
    context = d.get("context", [])
    if (
        not isinstance(context, list)
        or len(context) > 4
        or not all(
            isinstance(c, dict)
            and isinstance(c.get("text"), str)
            and isinstance(c.get("same_author"), bool)
            for c in context
        )
    ):
        found.append(f"{where}: 'context' is at most 4 {{text, same_author}} objects")
    return found


def _key(data: dict[str, Any]) -> str:
    parts = [str(c.get("text", "")) for c in data.get("context") or ()] + [str(data["text"])]
    return _SPACE.sub(" ", " | ".join(parts).lower()).strip()


def _trigrams(text: str) -> set[str]:
    padded = f"  {text} "
    return {padded[i : i + 3] for i in range(len(padded) - 2)}


def near_pairs(lines: list[Line], threshold: float = NEAR) -> list[tuple[int, int, float]]:
    """Every pair (i < j) of lines at or above ``threshold``, by a sparse product of the
    lines' trigram sets (exact, not sampled)."""
    import numpy as np
    from scipy.sparse import csr_matrix, triu

    vocabulary: dict[str, int] = {}
    rows, cols = [], []
    sizes = np.zeros(len(lines))
    for i, line in enumerate(lines):
        grams = _trigrams(_key(line.data))
        sizes[i] = len(grams)
        for gram in grams:
            rows.append(i)
            cols.append(vocabulary.setdefault(gram, len(vocabulary)))
    x = csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(len(lines), len(vocabulary)))
    shared = triu(x @ x.T, k=1).tocoo()
    union = sizes[shared.row] + sizes[shared.col] - shared.data
    jaccard = shared.data / union
    keep = jaccard >= threshold
    return sorted(
        zip(
            shared.row[keep].tolist(),
            shared.col[keep].tolist(),
            jaccard[keep].tolist(),
            strict=True,
        )
    )


def dedupe(corpus: Path, held_out_writers: set[str]) -> int:
    """Drop one line of every near pair: a training line rather than a held-out one, else
    the later one. Returns how many lines were dropped."""
    lines = read(corpus)
    everything = lines
    dropped: set[int] = set()
    for i, j, _ in near_pairs(everything):
        if i in dropped or j in dropped:
            continue
        i_test = everything[i].writer in held_out_writers
        j_test = everything[j].writer in held_out_writers
        dropped.add(i if j_test and not i_test else j)
    by_path: dict[Path, list[str]] = {}
    for index, line in enumerate(lines):
        by_path.setdefault(line.path, [])
        if index not in dropped:
            by_path[line.path].append(json.dumps(line.data, ensure_ascii=False))
    for path, kept in by_path.items():
        path.write_text("".join(k + "\n" for k in kept), encoding="utf-8")
    return len(dropped)


def main(argv: list[str] | None = None) -> int:
    from moderation.risk.train import CORPUS, held_out_writers

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    parser.add_argument("--dedupe", action="store_true")
    args = parser.parse_args(argv)
    if args.dedupe:
        dropped = dedupe(args.corpus, held_out_writers(args.corpus))
        print(f"dropped {dropped} near duplicates")
    lines = read(args.corpus)
    bad = [p for line in lines for p in problems(line)]
    print(f"{len(lines)} lines, {len(bad)} schema problems, {len(near_pairs(lines))} near pairs")
    for problem in bad[:50]:
        print(problem)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
