# Staff outcomes (escalations and reports) and the words the risk detector matched were
# stored in clear. They are sealed here like the excerpts and notes beside them
# (moderation/staff_text.py), under the key that already seals those: an escalation's data
# key; a report's key, or else the reporter's latest key in the room. Text whose key was
# already destroyed (erasure, retention) cannot be sealed and is dropped, as the text beside
# it can no longer be read either. The clear words go here, the clear columns next (0007).

import json

from django.db import migrations, models


def _live(key):
    return key is not None and key.wrapped is not None and key.destroyed_at is None


def seal_existing(apps, schema_editor):
    from rooms.encryption import aead_for, seal_text

    Escalation = apps.get_model("moderation", "Escalation")
    Report = apps.get_model("moderation", "Report")
    DataKey = apps.get_model("rooms", "DataKey")

    for e in Escalation.objects.select_related("data_key").iterator(chunk_size=500):
        changed = []
        items = [item for item in (e.evidence or []) if isinstance(item, dict)]
        if any("cue" in item for item in items):
            words = [str(item.get("cue", "")) for item in items]
            e.evidence = [{k: v for k, v in item.items() if k != "cue"} for item in items]
            changed.append("evidence")
            if any(words) and _live(e.data_key):
                e.evidence_ciphertext = seal_text(
                    aead=aead_for(e.data_key),
                    text=json.dumps(words),
                    aad=f"esc-evidence|{e.room_id}|{e.message_seq}|{e.data_key_id}",
                )
                changed.append("evidence_ciphertext")
        if e.outcome and _live(e.data_key):
            e.outcome_ciphertext = seal_text(
                aead=aead_for(e.data_key), text=e.outcome, aad=f"esc-outcome|{e.pk}|{e.data_key_id}"
            )
            changed.append("outcome_ciphertext")
        if changed:
            e.save(update_fields=changed)

    for r in Report.objects.exclude(outcome="").select_related("data_key").iterator(chunk_size=500):
        key = r.data_key
        if r.data_key_id is None and r.reporter_id is not None:
            key = (
                DataKey.objects.filter(
                    room_id=r.room_id,
                    membership_id=r.reporter_id,
                    wrapped__isnull=False,
                    destroyed_at__isnull=True,
                )
                .order_by("-epoch")
                .first()
            )
        if not _live(key):
            continue
        r.data_key = key
        r.outcome_ciphertext = seal_text(
            aead=aead_for(key), text=r.outcome, aad=f"report-outcome|{r.pk}|{key.pk}"
        )
        r.save(update_fields=["data_key", "outcome_ciphertext"])


class Migration(migrations.Migration):

    dependencies = [
        ("moderation", "0005_staff_session_digest"),
        ("rooms", "0005_room_visibility_support"),
    ]

    operations = [
        migrations.AddField(
            model_name="escalation",
            name="evidence_ciphertext",
            field=models.BinaryField(null=True),
        ),
        migrations.AddField(
            model_name="escalation",
            name="outcome_ciphertext",
            field=models.BinaryField(null=True),
        ),
        migrations.AddField(
            model_name="report",
            name="outcome_ciphertext",
            field=models.BinaryField(null=True),
        ),
        # Not reversible: what was dropped cannot come back. The clear columns go in the
        # next migration (0007) (PostgreSQL will not alter a table with row changes pending).
        migrations.RunPython(seal_existing, migrations.RunPython.noop),
    ]
