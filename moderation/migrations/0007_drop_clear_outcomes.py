# The clear outcome columns, now that migration 0006 has sealed what they held.

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ("moderation", "0006_sealed_outcomes"),
    ]

    operations = [
        migrations.RemoveField(model_name="escalation", name="outcome"),
        migrations.RemoveField(model_name="report", name="outcome"),
    ]
