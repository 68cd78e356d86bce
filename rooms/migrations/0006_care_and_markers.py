# The room around an alert (docs/escalation.md, "The room around an alert"): a room chooses
# what other members see of a message with high or critical risk (fold, the default; hold for
# review; show), replacing "hold critical messages" (a room that held them now holds). Messages
# carry their author's role for the badge (filled in for what staff already wrote), the
# category they are folded behind, and facilitators' markers (risk, reports).

from django.db import migrations, models


def rooms_that_held_still_hold(apps, schema_editor):
    Room = apps.get_model("rooms", "Room")
    Room.objects.filter(hold_critical=True).update(risky_messages="hold")


def badge_what_staff_wrote(apps, schema_editor):
    Membership = apps.get_model("rooms", "Membership")
    Message = apps.get_model("rooms", "Message")
    for membership_id, role in Membership.objects.exclude(role="member").values_list("pk", "role"):
        Message.objects.filter(author_id=membership_id).update(author_role=role)


class Migration(migrations.Migration):

    dependencies = [
        ('rooms', '0005_room_visibility_support'),
    ]

    operations = [
        migrations.AddField(
            model_name='room',
            name='risky_messages',
            field=models.CharField(verbose_name="what other members see of a message showing risk", choices=[('fold', 'Fold behind a care note for other members'), ('hold', "Hold for a facilitator's review"), ('show', 'Show as written')], default='fold', max_length=8),
        ),
        migrations.RunPython(rooms_that_held_still_hold, migrations.RunPython.noop),
        migrations.RemoveField(
            model_name='room',
            name='hold_critical',
        ),
        migrations.AddField(
            model_name='heldmessage',
            name='care',
            field=models.CharField(blank=True, default='', max_length=32),
        ),
        migrations.AddField(
            model_name='heldmessage',
            name='risk_category',
            field=models.CharField(blank=True, default='', max_length=32),
        ),
        migrations.AddField(
            model_name='heldmessage',
            name='risk_severity',
            field=models.CharField(blank=True, default='', max_length=12),
        ),
        migrations.AddField(
            model_name='message',
            name='author_role',
            field=models.CharField(blank=True, db_default='', max_length=12),
        ),
        migrations.AddField(
            model_name='message',
            name='care',
            field=models.CharField(blank=True, db_default='', max_length=32),
        ),
        migrations.AddField(
            model_name='message',
            name='reports',
            field=models.PositiveIntegerField(db_default=0),
        ),
        migrations.AddField(
            model_name='message',
            name='risk_category',
            field=models.CharField(blank=True, db_default='', max_length=32),
        ),
        migrations.AddField(
            model_name='message',
            name='risk_severity',
            field=models.CharField(blank=True, db_default='', max_length=12),
        ),
        migrations.RunPython(badge_what_staff_wrote, migrations.RunPython.noop),
    ]
