"""The audit log's tables: below both apps, which both write to it (chatserver/audit.py).

The tables keep the names they were created with, in the moderation app, so moving the models
here moved no data (migrations chatserver 0001 and moderation 0004 change only Django's state).
"""

from __future__ import annotations

from django.db import models


class AuditHead(models.Model):
    """The single row that serialises appends to the audit chain."""

    seq = models.BigIntegerField(default=0)
    hash = models.CharField(max_length=64, default="0" * 64)

    class Meta:
        db_table = "moderation_audithead"

    def __str__(self) -> str:
        return f"audit head {self.seq}"


class AuditEntry(models.Model):
    """Append-only and hash-chained: each entry's hash covers its fields and the previous
    entry's hash, so an edited or deleted row breaks the chain from there on."""

    seq = models.BigIntegerField(unique=True)
    at = models.DateTimeField()
    actor = models.CharField(max_length=80)  # "user:12", "member:<pseudonym>@room", "system"
    action = models.CharField(max_length=60)
    object_type = models.CharField(max_length=40)
    object_id = models.CharField(max_length=64)
    detail = models.JSONField(default=dict)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64)

    class Meta:
        ordering = ["seq"]
        db_table = "moderation_auditentry"

    def __str__(self) -> str:
        return f"audit {self.seq}: {self.action}"
