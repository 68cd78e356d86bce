"""``chatserver staff-unlock USER`` (and ``--service``): end a sign-in lockout now.

A lockout protects an account from guessing, but anyone can trigger one by failing on
purpose; when that keeps a staff member out of the escalation queue, an operator ends it
here instead of waiting out the cool-off. Every use is audited (``staff.unlock``,
``staff.unlock_global``), locked or not.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from moderation.accounts import staff_unlock


class Command(BaseCommand):
    help = "End the sign-in lockout of a staff account (or, with --service, the service-wide one)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username", nargs="?", help="the staff account's username")
        parser.add_argument(
            "--service",
            action="store_true",
            help="also end the service-wide lockout after too many failures across accounts",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        username = options["username"]
        if not username and not options["service"]:
            raise CommandError("name the account to unlock, or use --service")
        result = staff_unlock(username=username, service=options["service"], actor="system:cli")
        if username:
            state = "was locked; unlocked" if result.account else "was not locked"
            self.stdout.write(f"{username}: {state}")
        if options["service"]:
            state = "was locked; unlocked" if result.service else "was not locked"
            self.stdout.write(f"service-wide sign-in: {state}")
