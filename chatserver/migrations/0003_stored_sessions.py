# Sessions keyed by a keyed hash of the session key (chatserver/sessions.py). Django's
# database sessions kept every live session key in clear in django_session, where anyone who
# read the database could take the session over. Live sessions move here under the digest
# of their key (their data is signed the same way, so they keep working and nobody is signed
# out); then django_session is emptied, so no session key is left in the database.

from django.conf import settings
from django.db import migrations, models
from django.utils import timezone

from chatserver.crypto import keyed_digest


def move_live_sessions(apps, schema_editor):
    Old = apps.get_model("sessions", "Session")
    New = apps.get_model("chatserver", "StoredSession")
    live = Old.objects.filter(expire_date__gt=timezone.now()).iterator(chunk_size=1000)
    batch = []
    for row in live:
        digest = keyed_digest("session-key", row.session_key, server_secret=settings.SECRET_KEY)
        batch.append(
            New(key_digest=digest, session_data=row.session_data, expire_date=row.expire_date)
        )
        if len(batch) >= 1000:
            New.objects.bulk_create(batch, ignore_conflicts=True)
            batch = []
    New.objects.bulk_create(batch, ignore_conflicts=True)
    Old.objects.all().delete()


class Migration(migrations.Migration):

    dependencies = [
        ("chatserver", "0002_keyed_audit_chain"),
        ("sessions", "0001_initial"),
    ]

    operations = [
        migrations.CreateModel(
            name="StoredSession",
            fields=[
                ("key_digest", models.CharField(max_length=64, primary_key=True, serialize=False)),
                ("session_data", models.TextField()),
                ("expire_date", models.DateTimeField(db_index=True)),
            ],
            options={
                "db_table": "chatserver_session",
            },
        ),
        # Not reversible: the keys are not kept, so nothing could be moved back.
        migrations.RunPython(move_live_sessions, migrations.RunPython.noop),
    ]
