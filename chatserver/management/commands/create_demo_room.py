from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from rooms.models import Agreement, Room

DEMO_AGREEMENT = """\
1. What is shared here stays here.
2. Speak from your own experience; no advice unless asked.
3. Be kind. No judgement, no pressure to share.
4. No identifying details about yourself or anyone else.
5. If you are in danger now, call 999. Samaritans: 116 123 (free, 24/7).
"""


class Command(BaseCommand):
    help = "Create a demo room with a group agreement if the service has no rooms yet."

    def handle(self, *args: Any, **options: Any) -> None:
        if Room.objects.exists():
            return
        room = Room.objects.create(
            slug="welcome",
            title="Welcome room",
            description="A gentle place to say hello. Facilitated by trained peers.",
        )
        Agreement.objects.create(room=room, version=1, text=DEMO_AGREEMENT)
        self.stdout.write("created the demo room 'welcome'")
