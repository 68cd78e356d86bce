"""``chatserver staff-enrol-code USER [--hours N]``: a one-time set-up code, so that account
may enrol its authenticator app.

The password alone no longer enrols a device (moderation/enrolment.py): an admin runs this,
and gives the code to the person themselves, apart from their password (in person, or by
phone to a number already known). The code is printed once and never stored; issuing
another retires it. Audited as ``staff.enrol_code_issued``.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from moderation.enrolment import AlreadyEnrolled, enrol_code_issue


class Command(BaseCommand):
    help = "Issue a one-time set-up code with which a staff account enrols its authenticator."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username", help="the staff account's username")
        parser.add_argument(
            "--hours",
            type=int,
            default=None,
            help="how long the code works (default STAFF_ENROL_CODE_HOURS, 24)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        username = options["username"]
        hours = options["hours"]
        if hours is not None and hours < 1:
            raise CommandError("--hours must be at least 1")
        user = get_user_model().objects.filter(username=username).first()
        if user is None or not user.is_active:
            raise CommandError(f"no active account named {username!r}")
        try:
            issued = enrol_code_issue(user=user, actor="system:cli", hours=hours)
        except AlreadyEnrolled:
            raise CommandError(
                f"{username} already has an authenticator; if it is lost, delete it in the "
                "admin (TOTP devices) first, then issue a code"
            ) from None
        until = issued.expires_at.strftime("%Y-%m-%d %H:%M %Z")
        self.stdout.write(f"Set-up code for {username}: {issued.code}")
        self.stdout.write(
            f"It works once, until {until}. Give it to them yourself, apart from their "
            "password; it is not shown again."
        )
