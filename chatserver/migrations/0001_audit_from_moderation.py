"""The audit log's models move here from the moderation app, so both apps can write to it
without one importing the other. The tables stay as they are: only Django's state changes."""

from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True

    dependencies = [("moderation", "0003_reports")]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="AuditEntry",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True,
                                primary_key=True,
                                serialize=False,
                                verbose_name="ID",
                            ),
                        ),
                        ("seq", models.BigIntegerField(unique=True)),
                        ("at", models.DateTimeField()),
                        ("actor", models.CharField(max_length=80)),
                        ("action", models.CharField(max_length=60)),
                        ("object_type", models.CharField(max_length=40)),
                        ("object_id", models.CharField(max_length=64)),
                        ("detail", models.JSONField(default=dict)),
                        ("prev_hash", models.CharField(max_length=64)),
                        ("hash", models.CharField(max_length=64)),
                    ],
                    options={"ordering": ["seq"], "db_table": "moderation_auditentry"},
                ),
                migrations.CreateModel(
                    name="AuditHead",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True,
                                primary_key=True,
                                serialize=False,
                                verbose_name="ID",
                            ),
                        ),
                        ("seq", models.BigIntegerField(default=0)),
                        ("hash", models.CharField(default="0" * 64, max_length=64)),
                    ],
                    options={"db_table": "moderation_audithead"},
                ),
            ],
            database_operations=[],
        ),
    ]
