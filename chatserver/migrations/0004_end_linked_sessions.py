# A staff sign-in in a browser that held a member session used to keep both in one session
# row, tying the anonymous member to the named account (moderation/accounts.py now ends the
# member session first). Rows made that way before are ended here: both people sign in
# again, and nothing in the database links them any more.

from django.contrib.sessions.backends.db import SessionStore as DjangoSessionStore
from django.db import migrations
from django.utils import timezone

MEMBER_SESSION_KEY = "member_id"  # rooms.access.MEMBER_SESSION_KEY
USER_SESSION_KEY = "_auth_user_id"  # django.contrib.auth.SESSION_KEY


def end_linked_sessions(apps, schema_editor):
    StoredSession = apps.get_model("chatserver", "StoredSession")
    # The same signing salt as the project's store (it keeps Django's class name).
    decoder = DjangoSessionStore()
    linked = [
        row.key_digest
        for row in StoredSession.objects.filter(expire_date__gt=timezone.now()).iterator()
        if {MEMBER_SESSION_KEY, USER_SESSION_KEY} <= set(decoder.decode(row.session_data))
    ]
    StoredSession.objects.filter(key_digest__in=linked).delete()


class Migration(migrations.Migration):

    dependencies = [
        ("chatserver", "0003_stored_sessions"),
    ]

    operations = [
        migrations.RunPython(end_linked_sessions, migrations.RunPython.noop),
    ]
