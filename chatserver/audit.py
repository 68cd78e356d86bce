"""The audit log: append one entry per security-relevant action, and verify the chain.

Entries record who, what, when and which object; never message text. Appends are serialised
by locking the single ``AuditHead`` row, so the chain stays linear with several server
processes writing at once.

Each entry's MAC is HMAC-SHA256 under a key derived from ``AUDIT_KEY`` (by default
``SECRET_KEY``) over the previous entry's MAC and the entry's own fields. The key is not in
the database: whoever can write the tables can delete a row, but cannot recompute the rest of
the chain to fit. What they can still do without the key, remove the last entries or wipe the
log, is caught by checkpoints of the head written outside the database (chatserver/anchors.py):
one is due every ``AUDIT_ANCHOR_EVERY`` entries or ``AUDIT_ANCHOR_SECONDS`` seconds, and is
made by the append that finds it due, so no background job is needed;
``chatserver audit-anchor`` (from cron) checkpoints a quiet log's last entries.

Entries written before the key (version 1, plain SHA-256) are kept as they were written, not
recomputed: migration 0002 seals them under the first keyed entry, whose MAC covers the last
plain hash, so from then on they cannot be rewritten either.
"""

from __future__ import annotations

import functools
import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from chatserver.anchors import AnchorReading, LocatedAnchor, make_anchor, publish
from chatserver.crypto import AuditKey, audit_key, audit_mac, chain_hash
from chatserver.models import AuditEntry, AuditHead

GENESIS = "0" * 64
PLAIN = AuditEntry.Version.PLAIN.value
KEYED = AuditEntry.Version.KEYED.value


# --- keys ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AuditKeyRing:
    """The configured audit keys: the active one seals new entries and checkpoints; the
    fallbacks (earlier secrets) only verify what was sealed under them."""

    active: AuditKey
    by_id: dict[str, AuditKey]

    def public_keys(self) -> dict[str, bytes]:
        return {key_id: key.public_key for key_id, key in self.by_id.items()}


@functools.lru_cache(maxsize=8)
def _keyring(audit_secrets: tuple[str, ...]) -> AuditKeyRing:
    keys = [audit_key(secret) for secret in audit_secrets if secret]
    return AuditKeyRing(active=keys[0], by_id={key.key_id: key for key in reversed(keys)})


def audit_keyring() -> AuditKeyRing:
    return _keyring((settings.AUDIT_KEY, *settings.AUDIT_KEY_FALLBACKS))


# --- entries ------------------------------------------------------------------------------------


def _fields(entry: Any) -> dict[str, Any]:
    return {
        "seq": entry.seq,
        "at": entry.at.isoformat(),
        "actor": entry.actor,
        "action": entry.action,
        "object_type": entry.object_type,
        "object_id": entry.object_id,
        "detail": entry.detail,
    }


def _canonical(entry: Any) -> bytes:
    """The bytes an entry's MAC covers. A keyed entry's include its version and key id, so
    neither can be changed to make the verifier read the entry another way."""
    fields = _fields(entry)
    if entry.version != PLAIN:
        fields.update({"v": entry.version, "key": entry.key_id})
    return json.dumps(fields, sort_keys=True, separators=(",", ":")).encode()


def actor_for_user(user: Any) -> str:
    return f"user:{user.pk}" if user is not None and getattr(user, "pk", None) else "system"


def _checkpoint_due(head: Any, now: Any) -> bool:
    """Whether the head needs a checkpoint: ``AUDIT_ANCHOR_EVERY`` entries or
    ``AUDIT_ANCHOR_SECONDS`` since the last one (a new log's clock starts at its first
    entry)."""
    if head.seq <= head.anchored_seq:
        return False
    if head.seq - head.anchored_seq >= settings.AUDIT_ANCHOR_EVERY:
        return True
    if head.anchored_at is None:
        return False
    return (now - head.anchored_at).total_seconds() >= settings.AUDIT_ANCHOR_SECONDS


def _checkpoint(head: Any, key: AuditKey, now: Any) -> None:
    """Record the checkpoint on the locked head row, and write it out once the transaction
    commits: a checkpoint of an entry that is then rolled back would be a false alarm."""
    anchor = make_anchor(seq=head.seq, mac=head.hash, key=key, at=now)
    head.anchored_seq, head.anchored_at = head.seq, now
    path = settings.AUDIT_ANCHOR_FILE
    transaction.on_commit(lambda: publish(anchor, path=path))


def _append(
    entry_model: Any,
    head_model: Any,
    *,
    actor: str,
    action: str,
    object_type: str,
    object_id: object,
    detail: dict[str, Any] | None,
    checkpoint: bool = False,
) -> Any:
    """Append under the locked head, and checkpoint the new head if one is due (or if
    ``checkpoint``). The models are parameters so the migration that seals the plain entries
    appends exactly as the server does."""
    key = audit_keyring().active
    head, _ = head_model.objects.select_for_update().get_or_create(pk=1)
    now = timezone.now()
    entry = entry_model(
        seq=head.seq + 1,
        at=now,
        actor=actor,
        action=action,
        object_type=object_type,
        object_id=str(object_id),
        detail=detail or {},
        version=KEYED,
        key_id=key.key_id,
        prev_hash=head.hash,
    )
    entry.hash = audit_mac(key, entry.prev_hash, _canonical(entry))
    entry.save()
    head.seq, head.hash = entry.seq, entry.hash
    update = ["seq", "hash"]
    if checkpoint or _checkpoint_due(head, now):
        _checkpoint(head, key, now)
        update += ["anchored_seq", "anchored_at"]
    elif head.anchored_at is None:
        head.anchored_at = now
        update.append("anchored_at")
    head.save(update_fields=update)
    return entry


@transaction.atomic
def audit_append(
    *,
    actor: str,
    action: str,
    object_type: str,
    object_id: object,
    detail: dict[str, Any] | None = None,
) -> AuditEntry:
    entry: AuditEntry = _append(
        AuditEntry,
        AuditHead,
        actor=actor,
        action=action,
        object_type=object_type,
        object_id=object_id,
        detail=detail,
    )
    return entry


@transaction.atomic
def audit_checkpoint(*, force: bool = False) -> tuple[int, bool]:
    """Checkpoint the head now if any entry is not yet checkpointed (or always, with
    ``force``: to start a new anchor file). Returns (head seq, whether one was written)."""
    head, _ = AuditHead.objects.select_for_update().get_or_create(pk=1)
    if head.seq == 0 or (head.seq <= head.anchored_seq and not force):
        return head.seq, False
    _checkpoint(head, audit_keyring().active, timezone.now())
    head.save(update_fields=["anchored_seq", "anchored_at"])
    return head.seq, True


def _plain_chain_verdict(entries: Iterable[Any], head: Any) -> tuple[int, str]:
    """How the plain entries stand, in words, for the record of the upgrade."""
    prev, count = GENESIS, 0
    for entry in entries:
        count += 1
        if entry.seq != count:
            return count, f"entry {count} is missing"
        if entry.prev_hash != prev or chain_hash(prev, _canonical(entry)) != entry.hash:
            return count, f"entry {entry.seq} does not verify"
        prev = entry.hash
    if head is not None and (head.seq != count or head.hash != prev):
        return count, "the head does not match the last entry"
    return count, "intact"


def seal_plain_chain(entry_model: Any, head_model: Any) -> Any | None:
    """Seal the plain SHA-256 entries under the first keyed entry (run once, by migration
    0002). They are not recomputed: a migration that rewrote the audit log would launder
    whatever was done to it before. The seal records how they stood (a break among them
    stays a break that ``audit-verify`` reports) and is checkpointed at once."""
    plain = entry_model.objects.filter(version=PLAIN).order_by("seq")
    if not plain.exists():
        return None
    count, verdict = _plain_chain_verdict(
        plain.iterator(chunk_size=2000), head_model.objects.filter(pk=1).first()
    )
    last = plain.last()
    return _append(
        entry_model,
        head_model,
        actor="system",
        action="audit.keyed",
        object_type="audit",
        object_id=last.seq,
        detail={"plain_entries": count, "plain_head": last.hash, "plain_chain": verdict},
        checkpoint=True,
    )


# --- verification -------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class ChainReport:
    intact: bool
    entries: int
    first_bad_seq: int | None = None
    reason: str = "intact"
    anchors: int = 0
    anchored_seq: int = 0


def _bad(entries: int, seq: int | None, reason: str) -> ChainReport:
    return ChainReport(intact=False, entries=entries, first_bad_seq=seq, reason=reason)


def _entry_problem(entry: AuditEntry, prev: str, ring: AuditKeyRing, keyed_seen: bool) -> str:
    if entry.version == PLAIN:
        if keyed_seen:
            return (
                "a plain-hash entry after keyed entries: the chain was recomputed without "
                "the audit key"
            )
        if chain_hash(prev, _canonical(entry)) != entry.hash:
            return "entry was altered after it was written"
        return ""
    if entry.version != KEYED:
        return f"unknown entry version {entry.version}"
    key = ring.by_id.get(entry.key_id)
    if key is None:
        return (
            f"entry is sealed with audit key {entry.key_id or '(none)'}, which is not "
            "configured (add the secret it was made with to AUDIT_KEY_FALLBACKS)"
        )
    if audit_mac(key, prev, _canonical(entry)) != entry.hash:
        return (
            "the MAC does not verify: the entry was altered after it was written, or the "
            "chain was recomputed without the audit key"
        )
    return ""


def _by_seq(anchors: Sequence[LocatedAnchor]) -> dict[int, list[LocatedAnchor]]:
    grouped: dict[int, list[LocatedAnchor]] = defaultdict(list)
    for located in anchors:
        grouped[located.anchor.seq].append(located)
    return grouped


def audit_verify(anchors: AnchorReading | None = None) -> ChainReport:
    """Walk the chain; report the first entry whose MAC, link or position is wrong, or that
    differs from a checkpoint, then any checkpoint beyond the end of the log.

    Without ``anchors`` only the chain is checked: removing the last entries (and mending
    the head row) or wiping the log cannot be seen from inside the database."""
    reading = anchors or AnchorReading()
    if reading.problems:
        seq, reason = reading.problems[0]
        return _bad(0, seq, reason)
    ring = audit_keyring()
    anchored = _by_seq(reading.anchors)
    prev, expected_seq, count, keyed_seen = GENESIS, 1, 0, False
    for entry in AuditEntry.objects.order_by("seq").iterator(chunk_size=2000):
        count += 1
        if entry.seq != expected_seq:
            return _bad(count, expected_seq, f"entry {expected_seq} is missing")
        if entry.prev_hash != prev:
            return _bad(count, entry.seq, "link to the previous entry is broken")
        problem = _entry_problem(entry, prev, ring, keyed_seen)
        if problem:
            return _bad(count, entry.seq, problem)
        for located in anchored.get(entry.seq, ()):
            if located.anchor.mac != entry.hash:
                return _bad(
                    count,
                    entry.seq,
                    f"differs from its checkpoint ({located.where}, made "
                    f"{located.anchor.made_at}): the chain was rewritten at or before "
                    "this entry",
                )
        keyed_seen = keyed_seen or entry.version == KEYED
        prev, expected_seq = entry.hash, expected_seq + 1
    if count and not keyed_seen:
        return _bad(
            count,
            1,
            "no entry is keyed: the log was recomputed with plain hashes, or written by a "
            "version that never sealed it (run the migrations)",
        )
    head = AuditHead.objects.filter(pk=1).first()
    if head is not None and (head.seq != count or head.hash != prev):
        return _bad(
            count, count + 1 if head.seq > count else count, "entries after this were removed"
        )
    beyond = [located for located in reading.anchors if located.anchor.seq > count]
    if beyond:
        last = max(beyond, key=lambda located: located.anchor.seq)
        shown = f"{last.where}, made {last.anchor.made_at}"
        if count == 0:
            reason = (
                f"the log is empty, but a checkpoint ({shown}) shows it held "
                f"{last.anchor.seq} entries: the log was wiped"
            )
        else:
            reason = (
                f"the log ends at entry {count}, but a checkpoint ({shown}) shows entry "
                f"{last.anchor.seq}: entries were removed from the end"
            )
        return _bad(count, count + 1, reason)
    if reading.missing and count:
        return _bad(
            count,
            None,
            f"the anchor file {reading.missing[0]} does not exist, though the log has entries: "
            "it was removed or moved, or no checkpoint was made since it was configured "
            "(chatserver audit-anchor makes one)",
        )
    return ChainReport(
        intact=True,
        entries=count,
        anchors=len(reading.anchors),
        anchored_seq=max((located.anchor.seq for located in reading.anchors), default=0),
    )
