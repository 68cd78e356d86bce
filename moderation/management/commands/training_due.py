"""``chatserver training-due [--days 30]``: facilitators whose training is missing, expired
or expires within the given days, so a coordinator can arrange renewals before anyone is
turned away from a room."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from moderation.governance import training_due


class Command(BaseCommand):
    help = "List facilitators whose training is missing, expired or due within --days."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--days", type=int, default=30, help="look this many days ahead")

    def handle(self, *args: Any, **options: Any) -> None:
        rows = training_due(days=max(0, options["days"]))
        if not rows:
            self.stdout.write(f"no facilitator training is due in the next {options['days']} days")
            return
        for row in rows:
            when = row.expires_on.isoformat() if row.expires_on else "-"
            self.stdout.write(f"{row.status:8} {when:10}  {row.username} ({row.role})")
