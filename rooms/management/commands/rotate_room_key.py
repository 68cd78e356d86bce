"""``chatserver rotate-room-key SLUG``: start a new key epoch in a room now.

Epochs also close by themselves after ``CHAT_KEY_EPOCH_DAYS``; rotate by hand after a
suspected leak of a data key. Old messages stay readable.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from rooms.keys import room_rotate_key
from rooms.models import Room


class Command(BaseCommand):
    help = "Start a new data-key epoch in a room: new messages are sealed under new keys."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug")

    def handle(self, *args: Any, **options: Any) -> None:
        room = Room.objects.filter(slug=options["slug"]).first()
        if room is None:
            raise CommandError(f"there is no room {options['slug']!r}")
        epoch = room_rotate_key(room=room, actor="system:cli")
        self.stdout.write(f"room {room.slug!r} is now in key epoch {epoch}")
