# Care around an alert (docs/escalation.md): whether an escalation was raised quietly, the
# support room opened from it, and the staff sockets open now (who is on call). Messages that
# already raised an escalation or were reported get their markers for facilitators.

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


SEVERITY_RANK = {"concern": 0, "high": 1, "critical": 2}


def mark_messages(apps, schema_editor):
    Escalation = apps.get_model("moderation", "Escalation")
    Report = apps.get_model("moderation", "Report")
    Message = apps.get_model("rooms", "Message")
    marks = {}
    for message_id, category, severity in Escalation.objects.filter(
        message__isnull=False
    ).values_list("message_id", "category", "severity"):
        if SEVERITY_RANK.get(severity, -1) > SEVERITY_RANK.get(marks.get(message_id, ("", ""))[1], -1):
            marks[message_id] = (category, severity)
    for message_id, (category, severity) in marks.items():
        Message.objects.filter(pk=message_id).update(risk_category=category, risk_severity=severity)
    counts = {}
    for room_id, seq in Report.objects.filter(reported__role="member").values_list(
        "room_id", "message_seq"
    ):
        counts[(room_id, seq)] = counts.get((room_id, seq), 0) + 1
    for (room_id, seq), count in counts.items():
        Message.objects.filter(room_id=room_id, seq=seq).update(reports=count)


class Migration(migrations.Migration):

    dependencies = [
        ('moderation', '0008_enrol_codes'),
        ('rooms', '0006_care_and_markers'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name='escalation',
            name='quiet',
            field=models.BooleanField(default=False),
        ),
        migrations.AddField(
            model_name='escalation',
            name='support_room',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='rooms.room'),
        ),
        migrations.CreateModel(
            name='StaffPresence',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('channel_name', models.CharField(max_length=200, unique=True)),
                ('role', models.CharField(max_length=12)),
                ('connected_at', models.DateTimeField()),
                ('last_seen', models.DateTimeField()),
                ('user', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to=settings.AUTH_USER_MODEL)),
            ],
        ),
        migrations.RunPython(mark_messages, migrations.RunPython.noop),
    ]
