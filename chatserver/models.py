"""The project's own tables, below both apps.

- The audit log (chatserver/audit.py), which both apps write to. Its tables keep the names
  they were created with, in the moderation app, so moving the models here moved no data
  (migrations chatserver 0001 and moderation 0004 change only Django's state).
- Sessions (chatserver/sessions.py), kept by a keyed hash of the session key, never the key
  (migration chatserver 0003).
"""

from __future__ import annotations

from django.db import models


class AuditHead(models.Model):
    """The single row that serialises appends to the audit chain, and remembers the last
    checkpoint so each process can tell when the next one is due. It is a convenience, not
    evidence: whoever can write the tables can rewrite it, which is why checkpoints are also
    written outside the database (chatserver/anchors.py)."""

    seq = models.BigIntegerField(default=0)
    hash = models.CharField(max_length=64, default="0" * 64)
    # The last checkpoint: its entry, and when it was written (or the log's first entry).
    anchored_seq = models.BigIntegerField(default=0)
    anchored_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "moderation_audithead"

    def __str__(self) -> str:
        return f"audit head {self.seq}"


class AuditEntry(models.Model):
    """Append-only and chained: each entry's ``hash`` covers its fields and the previous
    entry's ``hash``, so an edited or deleted row breaks the chain from there on.

    ``version`` says how ``hash`` was made: 1 is plain SHA-256 (entries written before the
    keyed chain, kept as they were written); 2 is HMAC-SHA256 under the audit key named by
    ``key_id``, which is configured and never in the database, so a chain with a row removed
    cannot be recomputed to fit without it."""

    class Version(models.IntegerChoices):
        PLAIN = 1, "plain SHA-256 (before the keyed chain)"
        KEYED = 2, "HMAC-SHA256 under the audit key"

    seq = models.BigIntegerField(unique=True)
    at = models.DateTimeField()
    actor = models.CharField(max_length=80)  # "user:12", "member:<pseudonym>@room", "system"
    action = models.CharField(max_length=60)
    object_type = models.CharField(max_length=40)
    object_id = models.CharField(max_length=64)
    detail = models.JSONField(default=dict)
    version = models.PositiveSmallIntegerField(choices=Version.choices)
    key_id = models.CharField(max_length=16, blank=True, default="")
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64)

    class Meta:
        ordering = ["seq"]
        db_table = "moderation_auditentry"

    def __str__(self) -> str:
        return f"audit {self.seq}: {self.action}"


class StoredSession(models.Model):
    """A browser's session: the anonymous member it stands for, or a signed-in staff account.

    The session key (the cookie's value) is never stored: only a keyed hash of it, so a copy
    of this table cannot be replayed as cookies. The data is Django's signed session data,
    as in ``django.contrib.sessions``.
    """

    key_digest = models.CharField(max_length=64, primary_key=True)
    session_data = models.TextField()
    expire_date = models.DateTimeField(db_index=True)

    class Meta:
        db_table = "chatserver_session"

    def __str__(self) -> str:
        return f"session {self.key_digest[:8]}"
