"""``chatserver risk-eval FILE.jsonl``: score the risk detector on a labelled file.

Prints a per-category table and, as the LAST line, one JSON object (overall precision,
recall, f1, false_positive_rate, per-category recall, median_us and p99_us) so scripts and
CI can read the figures. A malformed line stops with an error naming the line number.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from moderation.risk import Detector, LexiconError
from moderation.risk.evaluate import EvalDataError, format_table, parse_jsonl, run, summary


class Command(BaseCommand):
    help = "Score the risk detector on a labelled JSONL file (text, risk, category per line)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help="labelled JSONL file")
        parser.add_argument("--data-dir", help="score the lexicon in this directory")
        parser.add_argument(
            "--show-errors", action="store_true", help="list every missed or false alarm line"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        path = Path(options["file"])
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            raise CommandError(f"{path}: no such file") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise CommandError(f"{path}: cannot read ({exc})") from None
        try:
            examples = parse_jsonl(lines)
        except EvalDataError as exc:
            raise CommandError(f"{path}: {exc}") from None
        try:
            detector = (
                Detector.from_data_dir(options["data_dir"])
                if options["data_dir"]
                else Detector.default()
            )
        except LexiconError as exc:
            raise CommandError(f"invalid lexicon: {exc}") from None
        detector.assess("warm up")
        report = run(examples, detector.assess)
        self.stdout.write(format_table(report))
        if options["show_errors"]:
            for outcome in report.errors:
                kind = "missed" if outcome.example.risk else "false alarm"
                found = ",".join(outcome.categories) or "-"
                self.stdout.write(
                    f"{kind:<11} line {outcome.example.line} "
                    f"[{outcome.example.category}/{found}] {outcome.example.text!r}"
                )
        self.stdout.write(json.dumps(summary(report), ensure_ascii=False))
