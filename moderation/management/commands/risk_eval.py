"""``chatserver risk-eval FILE.jsonl``: score the risk detector on a labelled file.

Prints a per-category table and, as the LAST line, one JSON object (overall precision,
recall, f1, false_positive_rate, per-category recall, median_us and p99_us) so scripts and
CI can read the figures. A malformed line stops with an error naming the line number.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from moderation.risk.commands import RiskCommandError, evaluate_file


class Command(BaseCommand):
    help = "Score the risk detector on a labelled JSONL file (text, risk, category per line)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help="labelled JSONL file")
        parser.add_argument("--data-dir", help="score the lexicon in this directory")
        parser.add_argument(
            "--show-errors", action="store_true", help="list every missed or false alarm line"
        )
        parser.add_argument("--explain", action="store_true", help="misses with their evidence")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            evaluate_file(
                Path(options["file"]),
                data_dir=options["data_dir"],
                show_errors=options["show_errors"],
                explain=options["explain"],
                write=self.stdout.write,
            )
        except RiskCommandError as exc:
            raise CommandError(str(exc)) from None
