"""``chatserver audit-anchor``: write a checkpoint of the audit chain's head now.

Appends checkpoint the head by themselves when one is due, but only when they happen: the
last entries before a quiet spell stay without a checkpoint until the next append. Run this
from cron (every few minutes) so they are checkpointed anyway; it does nothing when every
entry already is. ``--force`` writes one even then, e.g. to start a new anchor file.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from chatserver.audit import audit_checkpoint


class Command(BaseCommand):
    help = "Checkpoint the audit chain's head outside the database, if it moved since the last."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--force", action="store_true", help="checkpoint the head even if it did not move"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        seq, written = audit_checkpoint(force=options["force"])
        if written:
            self.stdout.write(f"checkpoint of entry {seq} written")
        elif seq == 0:
            self.stdout.write("the audit log is empty: nothing to checkpoint")
        else:
            self.stdout.write(f"entry {seq} is already checkpointed")
