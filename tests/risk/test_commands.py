"""The management commands' output contract (``chatserver risk-check`` / ``risk-eval``)."""

from __future__ import annotations

import json
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

DATA = Path(__file__).resolve().parent.parent / "data" / "risk"
REQUIRED = {"precision", "recall", "f1", "false_positive_rate", "median_us", "p99_us"}


def _run(*args: str) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_risk_check_prints_finding_with_spans() -> None:
    text = "I'm sooo done, I want to k1ll myself tonight"
    output = _run("risk_check", text)
    assert output.splitlines()[0].startswith("suicide  severity=critical  score=")
    assert "[25:36] 'k1ll myself'" in output
    assert "rule=en.suicide.intent" in output
    assert output.rstrip().endswith("action: alert")


def test_risk_check_no_risk() -> None:
    assert _run("risk_check", "this commute is killing me").strip() == "no risk found"


def test_risk_check_explain_shows_discounted_cues() -> None:
    output = _run("risk_check", "When I was 12 I tried to kill myself", "--explain")
    assert output.splitlines()[0] == "no risk found"
    assert "reason=past" in output and "'kill myself'" in output


def test_risk_check_json() -> None:
    payload = json.loads(_run("risk_check", "he's outside my door", "--json"))
    assert payload["action"] == "alert"
    assert payload["findings"][0]["category"] == "immediate_danger"


@pytest.mark.parametrize("name", ["dev.jsonl", "test.jsonl"])
def test_risk_eval_last_line_is_json_summary(name: str) -> None:
    output = _run("risk_eval", str(DATA / name))
    lines = output.rstrip("\n").splitlines()
    assert lines[0].split()[:4] == ["category", "precision", "recall", "f1"]
    summary = json.loads(lines[-1])
    assert summary.keys() >= REQUIRED
    assert set(summary["per_category_recall"]) == {
        "suicide",
        "self_harm",
        "immediate_danger",
        "child_at_risk",
        "harm_to_others",
        "medical_emergency",
    }
    assert 0 <= summary["precision"] <= 1 and summary["median_us"] > 0


def test_risk_eval_show_errors_lists_lines(tmp_path: Path) -> None:
    path = tmp_path / "tiny.jsonl"
    path.write_text(
        '{"text": "i want to die", "risk": false, "category": "none"}\n'
        '{"text": "hello", "risk": true, "category": "suicide"}\n',
        encoding="utf-8",
    )
    output = _run("risk_eval", str(path), "--show-errors")
    assert "false alarm line 1" in output and "missed      line 2" in output
    assert json.loads(output.splitlines()[-1])["precision"] == 0.0


def test_risk_eval_malformed_line_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"text": "ok", "risk": false, "category": "none"}\n{oops\n', encoding="utf-8")
    with pytest.raises(CommandError, match=r"bad\.jsonl: line 2: invalid JSON"):
        _run("risk_eval", str(path))


def test_risk_eval_missing_file(tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="no such file"):
        _run("risk_eval", str(tmp_path / "nope.jsonl"))


def test_risk_check_invalid_lexicon_dir(tmp_path: Path) -> None:
    with pytest.raises(CommandError, match=r"invalid lexicon: manifest\.json"):
        _run("risk_check", "hi", "--data-dir", str(tmp_path))


def test_risk_eval_runs_in_a_bare_environment_and_reports_languages_and_context(
    tmp_path: Path,
) -> None:
    """No SECRET_KEY, no database, no setting at all: scoring touches no secret."""
    import subprocess
    import sys

    path = tmp_path / "mixed.jsonl"
    rows = [
        {"text": "i want to die", "risk": True, "category": "suicide", "lang": "en"},
        {"text": "quiero morirme", "risk": True, "category": "suicide", "lang": "es"},
        {
            "text": "same",
            "risk": False,
            "category": "none",
            "kind": "short",
            "context": [{"text": "the bus was late", "same_author": False}],
        },
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "from chatserver.cli import main; main()",
            "risk-eval",
            str(path),
            "--explain",
        ],
        env={"PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout.splitlines()[-1])
    assert set(summary["per_language"]) == {"en", "es", "?"}
    assert summary["per_language"]["en"]["recall"] == 1.0
    assert set(summary["right_category"]) >= {"suicide", "harm_to_others"}
    assert summary["per_kind"].keys() >= {"short"}
    assert "with context: 1 lines" in result.stdout
