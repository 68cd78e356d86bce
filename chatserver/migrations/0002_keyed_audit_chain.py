"""The keyed audit chain: each entry says how its hash was made, and the head remembers the
last checkpoint written outside the database.

Existing entries become version 1 (plain SHA-256) and are kept exactly as they were written:
recomputing them under the key would rewrite the audit log and launder anything done to it
before. Instead the first keyed entry (``audit.keyed``) seals them: its MAC covers the last
plain hash, and its detail records how many plain entries there were and whether they
verified. The audit key comes from the settings, never from the database.
"""

from typing import Any

from django.db import migrations, models


def seal_plain_entries(apps: Any, schema_editor: Any) -> None:
    from chatserver.audit import seal_plain_chain

    seal_plain_chain(
        apps.get_model("chatserver", "AuditEntry"), apps.get_model("chatserver", "AuditHead")
    )


class Migration(migrations.Migration):
    dependencies = [("chatserver", "0001_audit_from_moderation")]

    operations = [
        migrations.AddField(
            model_name="auditentry",
            name="version",
            field=models.PositiveSmallIntegerField(
                choices=[
                    (1, "plain SHA-256 (before the keyed chain)"),
                    (2, "HMAC-SHA256 under the audit key"),
                ],
                default=1,
            ),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="auditentry",
            name="key_id",
            field=models.CharField(blank=True, default="", max_length=16),
        ),
        migrations.AddField(
            model_name="audithead",
            name="anchored_seq",
            field=models.BigIntegerField(default=0),
        ),
        migrations.AddField(
            model_name="audithead",
            name="anchored_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        # Going back keeps the seal (an entry like any other) but drops every entry's version,
        # which leaves the keyed entries unverifiable by the code of 0001: for development only.
        migrations.RunPython(seal_plain_entries, migrations.RunPython.noop),
    ]
