"""The labelled corpus the model is trained and scored on: its schema, its size and spread,
no exact or near duplicates within or across files, and a test split (the held-out
writers) that no training line is near."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from moderation.risk.corpus import LANGUAGES, Line, near_pairs, problems, read
from moderation.risk.train import CORPUS, corpus_rows, held_out_writers
from moderation.risk.types import CATEGORIES


@pytest.fixture(scope="module")
def lines() -> list[Line]:
    return read(CORPUS)


def test_every_line_follows_the_schema(lines: list[Line]) -> None:
    assert [p for line in lines for p in problems(line)] == []


def test_the_validator_names_what_is_wrong(tmp_path: Path) -> None:
    path = tmp_path / "wx" / "pl.jsonl"
    path.parent.mkdir()
    bad = {"text": "x", "risk": True, "category": "none", "lang": "es", "kind": "direct"}
    line = Line(path, 3, "wx", bad)
    found = " ".join(problems(line))
    assert "wx/pl.jsonl:3" in found
    assert "needs a category" in found and "'lang' must be 'pl'" in found
    assert "severity" in found


def test_size_writers_and_languages(lines: list[Line]) -> None:
    writers = {line.writer for line in lines}
    assert len(writers) >= 4
    assert len(lines) >= 6000
    by_language = Counter(line.data["lang"] for line in lines)
    for lang in LANGUAGES:
        if lang != "en":
            assert by_language[lang] >= 300, lang
        categories = {line.data["category"] for line in lines if line.data["lang"] == lang}
        assert set(CATEGORIES) <= categories, lang


def test_mix_of_risky_safe_and_context(lines: list[Line]) -> None:
    risky = sum(line.data["risk"] for line in lines) / len(lines)
    with_context = sum(bool(line.data.get("context")) for line in lines) / len(lines)
    assert 0.3 <= risky <= 0.5
    assert with_context >= 0.1


def test_no_exact_or_near_duplicates(lines: list[Line]) -> None:
    pairs = near_pairs(lines)
    shown = [(lines[i].data["text"], lines[j].data["text"], round(s, 2)) for i, j, s in pairs]
    assert shown[:10] == []


def test_near_pairs_find_a_paraphrase_and_pass_different_lines(tmp_path: Path) -> None:
    texts = ["i want to end it all tonight", "i want to end it all tonight!!", "the bus is late"]
    fake = [Line(tmp_path / "a.jsonl", i, "w", {"text": t}) for i, t in enumerate(texts)]
    assert [(i, j) for i, j, _ in near_pairs(fake)] == [(0, 1)]


def test_the_test_split_is_whole_writers_none_near_training() -> None:
    held = held_out_writers()
    assert held and held <= {p.name for p in CORPUS.iterdir() if p.is_dir()}
    rows = corpus_rows()
    training = [r for r in rows if r["writer"] not in held]
    testing = [r for r in rows if r["writer"] in held]
    assert testing and training
    everything = [Line(Path(r["file"]), 0, r["writer"], r) for r in training + testing]
    crossing = [
        (everything[i].data["text"], everything[j].data["text"])
        for i, j, _ in near_pairs(everything)
        if (everything[i].writer in held) != (everything[j].writer in held)
    ]
    assert crossing == []


def test_the_model_never_trained_on_a_held_out_writer() -> None:
    shipped = json.loads((CORPUS.parent / "model.json").read_text(encoding="utf-8"))
    held = held_out_writers()
    trained = set(shipped["trained_on"])
    assert trained and not {f for f in trained if f.split("/")[0] in held}
    # Every training writer's files, and nothing else (not the older files under tests/,
    # written by the lexicon's authors, on which the rules would look better than they are).
    writers = {p.name for p in CORPUS.iterdir() if p.is_dir()} - held
    assert {f.split("/")[0] for f in trained} == writers


def test_provenance_names_every_writer() -> None:
    readme = (CORPUS / "README.md").read_text(encoding="utf-8")
    for writer in (p.name for p in CORPUS.iterdir() if p.is_dir()):
        assert f"`{writer}`" in readme, writer
