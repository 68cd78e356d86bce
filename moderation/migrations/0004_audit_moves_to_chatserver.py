"""The audit log's models now belong to the chatserver app (chatserver 0001); their tables
are unchanged, so this removes them from the moderation app's state only."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("moderation", "0003_reports"),
        ("chatserver", "0001_audit_from_moderation"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.DeleteModel(name="AuditEntry"),
                migrations.DeleteModel(name="AuditHead"),
            ],
            database_operations=[],
        ),
    ]
