"""``chatserver risk-check "TEXT"``: show what the risk detector makes of one message.

For people tuning the lexicon: the finding (category, severity, score), the evidence with its
character spans in the original text, and with ``--explain`` the cues that matched but were
discounted by their context, with the reason.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from moderation.risk import Detector, LexiconError


class Command(BaseCommand):
    help = "Assess one message with the risk detector and print the finding and its evidence."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("text", help="the message to assess (quote it)")
        parser.add_argument("--data-dir", help="assess with the lexicon in this directory")
        parser.add_argument(
            "--explain", action="store_true", help="also list cues discounted by their context"
        )
        parser.add_argument("--json", action="store_true", help="print one JSON object")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            detector = (
                Detector.from_data_dir(options["data_dir"])
                if options["data_dir"]
                else Detector.default()
            )
        except LexiconError as exc:
            raise CommandError(f"invalid lexicon: {exc}") from None
        text: str = options["text"]
        assessment = detector.assess(text)
        if options["json"]:
            payload = {
                "action": assessment.action,
                "language": assessment.language,
                "coverage": assessment.coverage,
                "findings": [asdict(f) for f in assessment.findings],
                "suppressed": [asdict(s) for s in assessment.suppressed],
            }
            self.stdout.write(json.dumps(payload, ensure_ascii=False))
            return
        if not assessment.assessed:
            self.stdout.write(
                f"language {assessment.language}: outside what the detector reads; "
                "a person should read it"
            )
        if not assessment.findings:
            self.stdout.write("no risk found")
        for finding in assessment.findings:
            self.stdout.write(
                f"{finding.category}  severity={finding.severity}  score={finding.score:.3f}"
            )
            for evidence in finding.evidence:
                quoted = text[evidence.start : evidence.end]
                self.stdout.write(
                    f"  [{evidence.start}:{evidence.end}] {quoted!r}  cue={evidence.cue!r}  "
                    f"weight={evidence.weight:.2f}  rule={evidence.rule}"
                )
        if assessment.findings:
            self.stdout.write(f"action: {assessment.action}")
        if options["explain"]:
            for item in assessment.suppressed:
                self.stdout.write(
                    f"discounted: {item.category} [{item.start}:{item.end}] "
                    f"{text[item.start : item.end]!r}  reason={item.reason}  rule={item.rule}"
                )
