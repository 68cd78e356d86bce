"""``chatserver audit-verify``: walk the audit log's hash chain. Prints "intact (N entries)"
and exits 0, or names the first entry that was altered, removed or moved and exits 1, so a
cron job or a drill notices tampering."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from chatserver.audit import audit_verify


class Command(BaseCommand):
    help = "Verify the audit log's hash chain; exit 1 at the first tampered entry."

    def handle(self, *args: Any, **options: Any) -> None:
        report = audit_verify()
        if report.intact:
            self.stdout.write(f"intact ({report.entries} entries)")
            return
        self.stderr.write(f"TAMPERED at entry {report.first_bad_seq}: {report.reason}")
        raise SystemExit(1)
