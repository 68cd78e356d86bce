"""``chatserver rotate-kek``: re-wrap every data key under the active key-encryption key.

Put the new KEK first in the key file (keep the old one below it), restart every server
process, then run this until it reports nothing left under the old key. Interrupting it is
safe; run it again to finish. See docs/security.md.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from rooms.keys import rotate_kek


class Command(BaseCommand):
    help = "Re-wrap every data key under the active (first) key-encryption key."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--batch-size", type=int, default=500, help="keys per transaction")

    def handle(self, *args: Any, **options: Any) -> None:
        result = rotate_kek(
            batch_size=max(1, options["batch_size"]),
            actor="system:cli",
            progress=lambda n: self.stdout.write(f"re-wrapped {n} keys so far"),
        )
        self.stdout.write(
            f"re-wrapped {result.rewrapped} data keys in {result.batches} batches "
            f"under key {result.active_id!r}"
        )
        for kek_id, count in result.by_kek.items():
            self.stdout.write(f"  live keys wrapped by {kek_id!r}: {count}")
        if result.complete:
            self.stdout.write(
                "every live data key is wrapped by the active key: older keys may leave the "
                "key file (keep their backups only as long as docs/security.md says)"
            )
        else:
            self.stdout.write("some keys are still wrapped by an older key: run this again")
