"""``chatserver purge-expired [--now ISO]``: enforce every room's retention period.

Deletes messages older than the room's ``retention_days`` and destroys the data keys no
remaining message needs. Schedule it daily (docs/security.md gives the cron line).
``--now`` runs as of an earlier moment (never a later one: that would purge too early).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from rooms.keys import purge_expired


def parse_moment(text: str) -> dt.datetime:
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise CommandError(f"--now {text!r} is not an ISO 8601 date and time") from None
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment, dt.UTC)
    if moment > timezone.now() + dt.timedelta(minutes=1):
        # A run "in the future" would delete messages before their retention ends.
        raise CommandError("--now is in the future: that would delete messages too early")
    return moment


class Command(BaseCommand):
    help = "Delete expired messages and destroy the data keys of expired key epochs."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--now", help="purge as of this earlier moment (ISO 8601; default: now)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        now = parse_moment(options["now"]) if options["now"] else None
        report = purge_expired(now=now, actor="system:cli")
        self.stdout.write(
            f"rooms checked: {report.rooms}; key epochs closed: {report.epochs_closed}; "
            f"messages deleted: {report.messages_deleted}; "
            f"data keys destroyed: {report.keys_destroyed}"
        )
        for slug, counts in report.per_room.items():
            self.stdout.write(f"  {slug}: {counts['messages']} messages, {counts['keys']} keys")
