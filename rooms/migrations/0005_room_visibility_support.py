# Support rooms become their own kind of room, entered only through the memberships made
# when staff open them (issue 13, finding 1). Rooms opened before this change were
# invite-only rooms named support-<escalation id>-<HHMMSS>: they are marked as support rooms
# too, so no role can walk into them uninvited. Their names stay (members may hold links);
# to everyone outside them they now answer as rooms that do not exist.

import re

from django.db import migrations, models

OLD_SUPPORT_NAME = re.compile(r"^support-\d+-\d{6}$")


def mark_support_rooms(apps, schema_editor):
    Room = apps.get_model("rooms", "Room")
    old = [
        room.pk
        for room in Room.objects.filter(visibility="invite", slug__startswith="support-").only("slug")
        if OLD_SUPPORT_NAME.match(room.slug)
    ]
    Room.objects.filter(pk__in=old).update(visibility="support")


class Migration(migrations.Migration):

    dependencies = [
        ("rooms", "0004_room_moderation"),
    ]

    operations = [
        migrations.AlterField(
            model_name="room",
            name="visibility",
            field=models.CharField(
                choices=[("open", "Open"), ("invite", "Invite only"), ("support", "Private support")],
                default="open",
                max_length=8,
            ),
        ),
        migrations.RunPython(mark_support_rooms, migrations.RunPython.noop),
    ]
