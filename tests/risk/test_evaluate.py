"""The scoring behind ``risk_eval``: parsing errors name the line, metrics are computed right,
and the held-out test set meets (or honestly fails) the project's targets."""

from __future__ import annotations

from pathlib import Path

import pytest

from moderation.risk import Assessment, Detector, Evidence, Finding
from moderation.risk.evaluate import EvalDataError, parse_jsonl, run, summary

DATA = Path(__file__).resolve().parent.parent / "data" / "risk"


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("not json", "line 2: invalid JSON"),
        ('["a list"]', "line 2: expected a JSON object"),
        ('{"risk": true, "category": "suicide"}', "line 2: 'text' must be a string"),
        (
            '{"text": "x", "risk": "yes", "category": "none"}',
            "line 2: 'risk' must be true or false",
        ),
        ('{"text": "x", "risk": true, "category": "sucide"}', "line 2: 'category' must be one of"),
        ('{"text": "x", "risk": false, "category": "suicide"}', "line 2: 'risk' is false but"),
        ('{"text": "x", "risk": true, "category": "suicide", "severity": "bad"}', "'severity'"),
    ],
)
def test_malformed_lines_name_the_line(line: str, message: str) -> None:
    good = '{"text": "hello", "risk": false, "category": "none"}'
    with pytest.raises(EvalDataError, match=message):
        parse_jsonl([good, line])


def test_empty_file_is_an_error() -> None:
    with pytest.raises(EvalDataError, match="no labelled lines"):
        parse_jsonl(["", "  "])


def _fake(flag_texts: dict[str, str]):  # type: ignore[no-untyped-def]
    def assess(text: str) -> Assessment:
        category = flag_texts.get(text)
        if category is None:
            return Assessment(findings=())
        evidence = (Evidence("x", category, 0, 1, 1.0),)
        return Assessment(findings=(Finding(category, "high", 1.0, evidence),))  # type: ignore[arg-type]

    return assess


def test_metrics_on_a_known_confusion() -> None:
    lines = [
        '{"text": "a", "risk": true, "category": "suicide", "severity": "critical"}',
        '{"text": "b", "risk": true, "category": "self_harm"}',
        '{"text": "c", "risk": true, "category": "suicide"}',
        '{"text": "d", "risk": false, "category": "none"}',
        '{"text": "e", "risk": false, "category": "none", "extra": 1}',
    ]
    # a: right category; b: flagged under the wrong category; c: missed; d: false alarm.
    report = run(parse_jsonl(lines), _fake({"a": "suicide", "b": "suicide", "d": "self_harm"}))
    assert (report.overall.tp, report.overall.fn, report.overall.fp, report.overall.tn) == (
        2,
        1,
        1,
        1,
    )
    result = summary(report)
    assert result["precision"] == pytest.approx(2 / 3, abs=1e-4)
    assert result["recall"] == pytest.approx(2 / 3, abs=1e-4)
    assert result["false_positive_rate"] == pytest.approx(0.5)
    assert result["per_category_recall"]["suicide"] == pytest.approx(0.5)
    assert result["per_category_recall"]["self_harm"] == 0.0
    assert result["per_category"]["self_harm"]["flagged_recall"] == 1.0
    assert result["critical_recall"] == 1.0
    assert result["median_us"] >= 0 and result["p99_us"] >= result["median_us"]


def _test_set_report(detector: Detector):  # type: ignore[no-untyped-def]
    lines = (DATA / "test.jsonl").read_text(encoding="utf-8").splitlines()
    return summary(run(parse_jsonl(lines), detector.assess))


def test_eval_sets_are_balanced_and_multilingual() -> None:
    examples = [
        e
        for name in ("dev.jsonl", "test.jsonl")
        for e in parse_jsonl((DATA / name).read_text(encoding="utf-8").splitlines())
    ]
    assert len(examples) >= 400
    risky = [e for e in examples if e.risk]
    assert 0.28 <= len(risky) / len(examples) <= 0.42
    assert {e.category for e in risky} == {
        "suicide",
        "self_harm",
        "immediate_danger",
        "child_at_risk",
        "harm_to_others",
        "medical_emergency",
    }
    assert all(e.severity for e in risky)
    non_latin_or_foreign = [e for e in examples if not e.text.isascii()]
    assert len(non_latin_or_foreign) >= 30  # plus Roman Urdu and Arabizi lines


def test_test_set_regression_floor(detector: Detector) -> None:
    """The figures measured on the held-out set when it was written; must not get worse."""
    result = _test_set_report(detector)
    assert result["precision"] >= 0.85
    assert result["recall"] >= 0.92
    assert result["critical_recall"] >= 0.9
    assert result["false_positive_rate"] <= 0.05


def test_second_holdout_is_balanced_and_multilingual() -> None:
    """holdout2.jsonl was written before the lexicon changes it is reported against."""
    examples = parse_jsonl((DATA / "holdout2.jsonl").read_text(encoding="utf-8").splitlines())
    assert len(examples) >= 150
    risky = [e for e in examples if e.risk]
    assert 0.28 <= len(risky) / len(examples) <= 0.42
    assert len({e.category for e in risky}) == 6
    assert all(e.severity for e in risky)
    assert len([e for e in examples if not e.text.isascii()]) >= 15


def test_test_set_meets_targets(detector: Detector) -> None:
    result = _test_set_report(detector)
    assert result["precision"] >= 0.85
    assert result["recall"] >= 0.95
    assert result["critical_recall"] == 1.0


def _report(detector: Detector, name: str):  # type: ignore[no-untyped-def]
    lines = (DATA / name).read_text(encoding="utf-8").splitlines()
    return summary(run(parse_jsonl(lines), detector.assess))


@pytest.mark.parametrize(("name", "minimum"), [("holdout4.jsonl", 200), ("holdout5.jsonl", 120)])
def test_later_holdouts_are_balanced_and_multilingual(name: str, minimum: int) -> None:
    """holdout4.jsonl was written before the 1.2.0 changes, holdout5.jsonl after them."""
    examples = parse_jsonl((DATA / name).read_text(encoding="utf-8").splitlines())
    assert len(examples) >= minimum
    risky = [e for e in examples if e.risk]
    assert 0.35 <= len(risky) / len(examples) <= 0.45
    assert len({e.category for e in risky}) == 6
    assert all(e.severity for e in risky)
    assert len([e for e in examples if e.severity == "critical"]) >= len(risky) // 2
    assert len([e for e in examples if not e.text.isascii()]) >= 0.08 * len(examples)


def test_holdout4_regression_floor(detector: Detector) -> None:
    """holdout4 was scored blind, then used for tuning 1.2.0: it must stay where tuning left
    it. This is not a generalisation figure (docs/risk-detection.md)."""
    result = _report(detector, "holdout4.jsonl")
    assert result["precision"] >= 0.95
    assert result["recall"] >= 0.95
    assert result["critical_recall"] == 1.0
    assert result["false_positive_rate"] <= 0.02


def test_holdout5_regression_floor(detector: Detector) -> None:
    """holdout5 was scored once, blind, and never tuned on. Its figures are low; the floor
    only stops them getting worse. Do not raise it by editing the lexicon against this file."""
    result = _report(detector, "holdout5.jsonl")
    assert result["precision"] >= 0.80
    assert result["recall"] >= 0.28
    assert result["false_positive_rate"] <= 0.05
