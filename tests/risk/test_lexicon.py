"""The shipped data files validate, every cue's own examples fire it, and the validator
rejects the mistakes a person editing JSON by hand makes."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from moderation.risk import Detector, LexiconError
from moderation.risk.lexicon import load_lexicon, shipped_data_dir
from moderation.risk.patterns import PatternError, expand
from moderation.risk.types import CATEGORIES

DATA = Path(str(shipped_data_dir()))


def test_shipped_lexicon_loads_with_all_languages() -> None:
    lexicon = load_lexicon(DATA)
    assert lexicon.version
    assert {p.language for p in lexicon.languages} >= {"en", "es", "pl", "zh", "ur", "ar"}
    for pack in lexicon.languages:
        assert pack.version
        assert {c.category for c in pack.cues} == set(CATEGORIES), pack.language


def test_every_cue_example_fires_its_own_rule(detector: Detector) -> None:
    failures = []
    for cue in detector.cues():
        for example in cue.examples:
            rules = {e.rule for f in detector.assess(example).findings for e in f.evidence}
            if cue.id not in rules:
                failures.append((cue.id, example))
    assert not failures


@pytest.fixture
def data_copy(tmp_path: Path) -> Path:
    target = tmp_path / "data"
    shutil.copytree(DATA, target)
    return target


def _edit(path: Path, change) -> None:  # type: ignore[no-untyped-def]
    data = json.loads(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")


def test_typo_in_category_is_rejected_with_its_location(data_copy: Path) -> None:
    _edit(data_copy / "en.json", lambda d: d["cues"][0].update(category="sucide"))
    with pytest.raises(LexiconError, match=r"en\.json\.cues\[0\].*category.*'sucide'"):
        load_lexicon(data_copy)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d["cues"][0].update(severity="urgent"), "severity"),
        (lambda d: d["cues"][0].update(weight=1.5), "weight"),
        (lambda d: d["cues"][0].update(patterns=[]), "non-empty list"),
        (lambda d: d["cues"][0].update(patterns=["(unclosed group"]), "unbalanced"),
        (lambda d: d["cues"][0].update(patterns=["{NO_SUCH_SET} x"]), "unknown set"),
        (lambda d: d["cues"][0].update(colour="red"), "unknown field"),
        (lambda d: d["markers"].update(negations=["not"]), "unknown marker type"),
        (lambda d: d["cues"][1].update(id=d["cues"][0]["id"]), "duplicate id"),
        (lambda d: d.update(format=2), "unsupported format"),
        (lambda d: d.update(language="fr"), "manifest says"),
    ],
)
def test_validator_rejects_bad_language_files(data_copy: Path, change, message: str) -> None:  # type: ignore[no-untyped-def]
    _edit(data_copy / "en.json", change)
    with pytest.raises(LexiconError, match=message):
        load_lexicon(data_copy)


def test_manifest_policy_with_unknown_reason_is_rejected(data_copy: Path) -> None:
    _edit(
        data_copy / "manifest.json",
        lambda d: d["categories"]["suicide"]["suppressed_by"].append("sarcasm"),
    )
    with pytest.raises(LexiconError, match="unknown reason 'sarcasm'"):
        load_lexicon(data_copy)


def test_invalid_json_names_file_and_line(data_copy: Path) -> None:
    (data_copy / "es.json").write_text('{\n  "format": 1,\n  oops\n}', encoding="utf-8")
    with pytest.raises(LexiconError, match=r"es\.json: invalid JSON at line 3"):
        load_lexicon(data_copy)


def test_edited_lexicon_changes_detection(data_copy: Path) -> None:
    _edit(
        data_copy / "en.json",
        lambda d: d["cues"].append(
            {
                "id": "en.test.new",
                "category": "self_harm",
                "severity": "high",
                "weight": 0.9,
                "patterns": ["zorblax myself"],
            }
        ),
    )
    detector = Detector.from_data_dir(data_copy)
    assert detector.assess("i want to zorblax myself").top.category == "self_harm"  # type: ignore[union-attr]


def test_pattern_expansion() -> None:
    variants = expand("{A} (is|s) (out|at the (front |)door)*", {"A": ["he", "my ex"]})
    texts = {v.text for v in variants}
    assert "my ex is at the front dor" in texts
    assert "hes out" not in texts  # "(is|s)" keeps its space: "he s out"
    assert "he s out" in texts
    assert len(texts) == 2 * 2 * 3
    assert all(v.open_right and not v.open_left for v in variants)
    with pytest.raises(PatternError):
        expand("a|b", {})
