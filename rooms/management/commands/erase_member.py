"""``chatserver erase-member --pseudonym P --room SLUG --yes``: a member's "delete my data".

Destroys every data key of the member behind that pseudonym, in every room, so none of their
messages can be read again; everyone else's stay readable. Irreversible, hence ``--yes``.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from rooms.keys import member_erase
from rooms.models import Membership


class Command(BaseCommand):
    help = "Erase a member's data (crypto-shredding): their messages become unreadable."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--pseudonym", required=True, help="their pseudonym in the room")
        parser.add_argument("--room", required=True, help="the room's slug")
        parser.add_argument("--yes", action="store_true", help="really erase (irreversible)")

    def handle(self, *args: Any, **options: Any) -> None:
        membership = (
            Membership.objects.select_related("member")
            .filter(room__slug=options["room"], pseudonym=options["pseudonym"])
            .first()
        )
        if membership is None:
            raise CommandError("no participant with that pseudonym in that room")
        member = membership.member
        if member is None:
            raise CommandError("that participant is a staff account, not an anonymous member")
        if member.erased_at is not None:
            self.stdout.write("this member was already erased; destroying any keys left")
        if not options["yes"]:
            rooms = Membership.objects.filter(member=member).count()
            raise CommandError(
                f"this erases the member's messages in {rooms} room(s) for good: add --yes"
            )
        result = member_erase(member=member, actor="system:cli")
        self.stdout.write(
            f"erased: {result.keys_destroyed} data keys destroyed, "
            f"{result.messages_erased} messages made unreadable, "
            f"in {result.memberships} room(s)"
        )
