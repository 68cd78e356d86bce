# A recovery phrase's first three words (the lookup words) were stored as they were, and the
# throttle that locks guessing named them by a plain SHA-256, which anyone could reverse by
# trying all 2^33 combinations. Both now hold a keyed hash under a key derived from
# SECRET_KEY (rooms/identity.py). Members keep their phrases: recovery hashes the words it is
# given the same way. Throttle counters of words that belong to no member are dropped.

from django.conf import settings
from django.db import migrations

from chatserver.crypto import fingerprint, recovery_lookup_digest

LOOKUP_DIGEST_LENGTH = 64


def hash_lookups(apps, schema_editor):
    Member = apps.get_model("rooms", "Member")
    RecoveryThrottle = apps.get_model("rooms", "RecoveryThrottle")
    renamed = {}
    members = Member.objects.only("pk", "recovery_lookup").iterator(chunk_size=1000)
    for member in members:
        words = member.recovery_lookup
        if len(words) == LOOKUP_DIGEST_LENGTH and " " not in words:
            continue  # already a digest
        digest = recovery_lookup_digest(words, server_secret=settings.SECRET_KEY)
        Member.objects.filter(pk=member.pk).update(recovery_lookup=digest)
        renamed[fingerprint(words)] = digest
    for row in RecoveryThrottle.objects.all().iterator():
        digest = renamed.get(row.lookup_fingerprint)
        if digest is None:
            row.delete()
        else:
            RecoveryThrottle.objects.filter(pk=row.pk).update(lookup_fingerprint=digest)


class Migration(migrations.Migration):

    dependencies = [
        ("rooms", "0008_exit_explained"),
    ]

    operations = [
        # Not reversible: the words are not kept.
        migrations.RunPython(hash_lookups, migrations.RunPython.noop),
    ]
