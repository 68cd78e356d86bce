"""The audit log: append one entry per security-relevant action, and verify the chain.

Entries record who, what, when and which object; never message text. Appends are serialised
by locking the single ``AuditHead`` row, so the chain stays linear with several server
processes writing at once.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone

from chatserver.crypto import chain_hash
from chatserver.models import AuditEntry, AuditHead

GENESIS = "0" * 64


def _canonical(entry: AuditEntry) -> bytes:
    fields = {
        "seq": entry.seq,
        "at": entry.at.isoformat(),
        "actor": entry.actor,
        "action": entry.action,
        "object_type": entry.object_type,
        "object_id": entry.object_id,
        "detail": entry.detail,
    }
    return json.dumps(fields, sort_keys=True, separators=(",", ":")).encode()


def actor_for_user(user: Any) -> str:
    return f"user:{user.pk}" if user is not None and getattr(user, "pk", None) else "system"


@transaction.atomic
def audit_append(
    *,
    actor: str,
    action: str,
    object_type: str,
    object_id: object,
    detail: dict[str, Any] | None = None,
) -> AuditEntry:
    head, _ = AuditHead.objects.select_for_update().get_or_create(pk=1)
    entry = AuditEntry(
        seq=head.seq + 1,
        at=timezone.now(),
        actor=actor,
        action=action,
        object_type=object_type,
        object_id=str(object_id),
        detail=detail or {},
        prev_hash=head.hash,
    )
    entry.hash = chain_hash(entry.prev_hash, _canonical(entry))
    entry.save()
    head.seq, head.hash = entry.seq, entry.hash
    head.save(update_fields=["seq", "hash"])
    return entry


@dataclass(frozen=True)
class ChainReport:
    entries: int
    first_bad_seq: int | None
    reason: str

    @property
    def intact(self) -> bool:
        return self.first_bad_seq is None


def audit_verify() -> ChainReport:
    """Walk the chain; report the first entry whose hash, link or position is wrong."""
    prev, expected_seq, count = GENESIS, 1, 0
    for entry in AuditEntry.objects.order_by("seq").iterator(chunk_size=2000):
        count += 1
        if entry.seq != expected_seq:
            return ChainReport(count, expected_seq, f"entry {expected_seq} is missing")
        if entry.prev_hash != prev:
            return ChainReport(count, entry.seq, "link to the previous entry is broken")
        if chain_hash(prev, _canonical(entry)) != entry.hash:
            return ChainReport(count, entry.seq, "entry was altered after it was written")
        prev, expected_seq = entry.hash, expected_seq + 1
    head = AuditHead.objects.filter(pk=1).first()
    if head is not None and (head.seq != count or head.hash != prev):
        return ChainReport(
            count, count + 1 if head.seq > count else count, "entries after this were removed"
        )
    return ChainReport(count, None, "intact")
