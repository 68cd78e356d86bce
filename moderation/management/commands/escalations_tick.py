"""``chatserver escalations-tick [--now ISO]``: re-notify escalations past their SLA and
deliver due notifications. Every server process also does this in the background; the
command is for cron, and ``--now`` gives tests and drills a controllable clock."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from moderation.escalations import escalations_check_sla
from moderation.outbox import outbox_deliver_due


class Command(BaseCommand):
    help = "Re-notify escalations past their SLA, then deliver due e-mails and webhooks."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--now", help="ISO 8601 time to act as now (drills and tests)")

    def handle(self, *args: Any, **options: Any) -> None:
        now = timezone.now()
        if options["now"]:
            parsed = parse_datetime(options["now"])
            if parsed is None or parsed.tzinfo is None:
                raise CommandError(
                    "--now must be an ISO 8601 time with a zone, e.g. 2026-01-01T12:00:00+00:00"
                )
            now = parsed
        breached = escalations_check_sla(now=now)
        delivered, failed = outbox_deliver_due(now=now)
        self.stdout.write(
            f"sla breaches: {breached}; notifications delivered: {delivered}, failed: {failed}"
        )
