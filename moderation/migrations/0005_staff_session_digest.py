# A staff account's list of sessions keeps each by the digest of its key, as the session
# table now does (chatserver/sessions.py), never by the key itself. Sessions that are no
# longer live are dropped from the list.

from django.conf import settings
from django.db import migrations, models

from chatserver.crypto import keyed_digest


def keep_digests(apps, schema_editor):
    StaffSession = apps.get_model("moderation", "StaffSession")
    StoredSession = apps.get_model("chatserver", "StoredSession")
    for row in StaffSession.objects.all().iterator():
        digest = keyed_digest("session-key", row.session_digest, server_secret=settings.SECRET_KEY)
        if StoredSession.objects.filter(key_digest=digest).exists():
            StaffSession.objects.filter(pk=row.pk).update(session_digest=digest)
        else:
            StaffSession.objects.filter(pk=row.pk).delete()


class Migration(migrations.Migration):

    dependencies = [
        ("chatserver", "0003_stored_sessions"),
        ("moderation", "0004_audit_moves_to_chatserver"),
    ]

    operations = [
        migrations.RenameField(
            model_name="staffsession",
            old_name="session_key",
            new_name="session_digest",
        ),
        migrations.RunPython(keep_digests, migrations.RunPython.noop),
    ]
