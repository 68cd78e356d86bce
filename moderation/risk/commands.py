"""``risk-eval`` and ``risk-train`` as plain functions: they read labelled files and the
shipped data, and touch no secret, database or setting, so ``chatserver`` runs them in a
bare environment without configuring Django (and the management command of the same name
calls the same code)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path

from moderation.risk.detector import Detector
from moderation.risk.evaluate import EvalDataError, format_table, parse_jsonl, run, summary
from moderation.risk.lexicon import LexiconError


class RiskCommandError(Exception):
    """A clear, one-line error for the person at the terminal."""


def evaluate_file(
    path: Path,
    *,
    data_dir: str | None = None,
    show_errors: bool = False,
    explain: bool = False,
    write: Callable[[str], object] = print,
) -> dict[str, object]:
    """Score the detector on one labelled file; write the tables, optionally every miss
    and false alarm (``explain`` adds the evidence and the suppressed cues), and as the
    last line the JSON summary, which is also returned."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise RiskCommandError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise RiskCommandError(f"{path}: cannot read ({exc})") from None
    try:
        examples = parse_jsonl(lines)
    except EvalDataError as exc:
        raise RiskCommandError(f"{path}: {exc}") from None
    try:
        detector = Detector.from_data_dir(data_dir) if data_dir else Detector.default()
    except LexiconError as exc:
        raise RiskCommandError(f"invalid lexicon: {exc}") from None
    detector.assess("warm up")
    report = run(examples, detector.assess)
    write(format_table(report))
    if show_errors or explain:
        for outcome in report.errors:
            example = outcome.example
            kind = "missed" if example.risk else "false alarm"
            found = ",".join(outcome.categories) or "-"
            write(
                f"{kind:<11} line {example.line} [{example.category}/{found}] "
                f"({example.lang}, {example.kind}) {example.text!r}"
            )
            if explain:
                assessment = detector.assess(example.text, context=example.context)
                for finding in assessment.findings:
                    for evidence in finding.evidence:
                        write(f"    found {finding.category}: {evidence.cue} ({evidence.rule})")
                for suppressed in assessment.suppressed:
                    write(f"    discounted {suppressed.category}: {suppressed.reason}")
                for text, same in example.context:
                    write(f"    after ({'same member' if same else 'another member'}): {text!r}")
    result = summary(report)
    write(json.dumps(result, ensure_ascii=False))
    return result


def risk_eval(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="chatserver risk-eval",
        description="Score the risk detector on a labelled JSONL file.",
    )
    parser.add_argument("file", type=Path, help="labelled JSONL file")
    parser.add_argument("--data-dir", help="score the lexicon and model in this directory")
    parser.add_argument("--show-errors", action="store_true", help="list misses and false alarms")
    parser.add_argument("--explain", action="store_true", help="misses with their evidence")
    args = parser.parse_args(argv)
    try:
        evaluate_file(
            args.file, data_dir=args.data_dir, show_errors=args.show_errors, explain=args.explain
        )
    except RiskCommandError as exc:
        sys.stderr.write(f"chatserver risk-eval: {exc}\n")
        return 2
    return 0


def risk_train(argv: list[str]) -> int:
    from moderation.risk import train

    return train.main(argv)


BARE_COMMANDS: dict[str, Callable[[list[str]], int]] = {
    "risk_eval": risk_eval,
    "risk_train": risk_train,
}
