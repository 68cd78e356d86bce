"""``chatserver audit-verify``: check the audit log's keyed chain against its checkpoints.

Prints "intact (N entries, ...)" and exits 0, or names the first entry that was altered,
removed, recomputed or cut off (or says the log was wiped) and exits 1, so a cron job or a
drill notices tampering. The checkpoints are read from ``AUDIT_ANCHOR_FILE`` when it is set,
or from the files given with ``--anchors`` (``-`` reads standard input, so the log stream
can be piped in as it is): without any, removing the last entries and wiping the log cannot
be seen, and the command says so.
"""

from __future__ import annotations

import base64
import sys
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from chatserver.anchors import AnchorReading, read_anchor_files, read_anchor_lines
from chatserver.audit import ChainReport, audit_keyring, audit_verify


class Command(BaseCommand):
    help = (
        "Verify the audit log's keyed chain and its checkpoints; exit 1 at the first "
        "tampered, removed or rewritten entry, or a wiped log."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--anchors",
            action="append",
            metavar="FILE",
            help=(
                "a file holding checkpoint lines (an anchor file, or log output: other lines "
                "are skipped); '-' reads standard input; may be repeated. "
                "Default: AUDIT_ANCHOR_FILE, when it is set."
            ),
        )
        parser.add_argument(
            "--public-key",
            action="store_true",
            help="print the key id and Ed25519 public key that check the checkpoints, and exit",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        ring = audit_keyring()
        if options["public_key"]:
            public = base64.b64encode(ring.active.public_key).decode()
            self.stdout.write(f"audit key {ring.active.key_id} ed25519 {public}")
            return
        reading = self._read(options["anchors"], ring.public_keys())
        report = audit_verify(reading)
        if not report.intact:
            where = f" at entry {report.first_bad_seq}" if report.first_bad_seq else ""
            self.stderr.write(f"TAMPERED{where}: {report.reason}")
            raise SystemExit(1)
        self.stdout.write(self._summary(report, checked=bool(reading.sources or reading.missing)))
        if not (reading.sources or reading.missing):
            self.stderr.write(
                "warning: no checkpoints were checked (set AUDIT_ANCHOR_FILE or pass "
                "--anchors): removing the last entries or wiping the log cannot be detected"
            )

    def _read(self, given: list[str] | None, public_keys: dict[str, bytes]) -> AnchorReading:
        if not given:
            configured = settings.AUDIT_ANCHOR_FILE
            return read_anchor_files([configured] if configured else [], public_keys=public_keys)
        files = [path for path in given if path != "-"]
        for path in files:
            if not Path(path).is_file():
                raise CommandError(f"--anchors {path}: no such file")
        reading = read_anchor_files(files, public_keys=public_keys)
        if "-" in given:
            read_anchor_lines(
                sys.stdin, source="standard input", public_keys=public_keys, into=reading
            )
        return reading

    @staticmethod
    def _summary(report: ChainReport, *, checked: bool) -> str:
        if not checked:
            return f"intact ({report.entries} entries)"
        if not report.anchors:
            return f"intact ({report.entries} entries, no checkpoint yet)"
        return (
            f"intact ({report.entries} entries, {report.anchors} checkpoints checked, "
            f"the latest at entry {report.anchored_seq})"
        )
