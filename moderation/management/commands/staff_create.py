"""``chatserver staff-create USER --role facilitator|moderator|staff [--trained-until DATE]``:
a staff account in minutes, with a new password printed once (only its hash is kept).

``chatserver staff-create --demo`` makes the laptop start's demo accounts (a trained peer
facilitator and a professional staff member) if they are not there yet, and prints their
passwords once; ``chatserver serve --demo`` runs it. Demo accounts are for trying the service,
never for real use.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from moderation.accounts import STAFF_CREATE_ROLES, CreatedStaff, staff_create
from rooms.errors import RoomError

# username, role, name in rooms, trained (a facilitator facilitates only while trained)
DEMO_ACCOUNTS = (
    ("demo-facilitator", "facilitator", "Jo Harper", True),
    ("demo-staff", "staff", "Sam Okafor", False),
)


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise CommandError(
            f"--trained-until must be a date like 2027-06-30, not {text!r}"
        ) from None


class Command(BaseCommand):
    help = "Create a staff account (its password is printed once), or the demo accounts."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username", nargs="?", help="the new account's username")
        parser.add_argument("--role", choices=STAFF_CREATE_ROLES, help="what the account does")
        parser.add_argument(
            "--trained-until",
            type=_date,
            help="a peer facilitator's training is current until this date (YYYY-MM-DD)",
        )
        parser.add_argument(
            "--demo", action="store_true", help="create the demo accounts for a laptop try-out"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["demo"]:
            self._demo()
            return
        if not options["username"] or not options["role"]:
            raise CommandError("give a username and --role (or --demo)")
        try:
            created = staff_create(
                username=options["username"],
                role=options["role"],
                trained_until=options["trained_until"],
            )
        except RoomError as exc:
            raise CommandError(exc.message) from None
        self._print(created)
        if created.role == "facilitator" and created.trained_until is None:
            self.stdout.write(
                "  Note: a peer facilitator can facilitate only with current training: record it "
                "in the admin, or create the account with --trained-until."
            )

    def _demo(self) -> None:
        users = get_user_model().objects
        made = []
        for username, role, name, trained in DEMO_ACCOUNTS:
            if users.filter(username=username).exists():
                continue
            until = dt.date.today() + dt.timedelta(days=365) if trained else None
            made.append(staff_create(username=username, role=role, trained_until=until, name=name))
        if not made:
            return
        self.stdout.write("Demo staff accounts (for trying the service only; shown once):")
        for created in made:
            self._print(created)

    def _print(self, created: CreatedStaff) -> None:
        site = settings.SITE_URL.rstrip("/")
        extra = (
            ", trained until " + created.trained_until.isoformat() if created.trained_until else ""
        )
        self.stdout.write(
            f"  {created.user.get_username()} ({created.role}{extra}): password {created.password}"
        )
        self.stdout.write(f"    sign in at {site}/staff/ (the password is not shown again)")
        if created.role != "facilitator":
            self.stdout.write("    the first sign-in sets up an authenticator app (a QR code)")
