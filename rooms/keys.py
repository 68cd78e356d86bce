"""The key lifecycle: KEK rotation, room key rotation, retention purge and member erasure.

Each operation is audited once, with counts and never key material. Destroying a data key
means overwriting its wrapped bytes with NULL and stamping ``destroyed_at``: the row stays, so
the unique (room, epoch, membership) constraint keeps a destroyed key from being recreated,
and history can tell "erased" from "never existed".

Why destruction and not only deletion: a message's ciphertext may outlive its row (an
escalation excerpt, a staff note, a replica, a copy someone exported). Without its data key
none of those copies opens. Database *backups* still hold the wrapped key; they become
unreadable only once every copy of the KEK that wrapped it is gone (docs/security.md).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field

from django.apps import apps
from django.db import transaction
from django.db.models import Count, ForeignKey, Model, Q, QuerySet
from django.utils import timezone

from chatserver.audit import audit_append
from rooms import encryption
from rooms.models import DataKey, Member, Membership, Message, Room
from rooms.recent import RECENT

# --- KEK rotation -----------------------------------------------------------------------------


@dataclass(frozen=True)
class KekRotation:
    active_id: str
    rewrapped: int
    batches: int
    # Live keys per KEK id after the run; only the active id should remain.
    by_kek: dict[str, int]

    @property
    def complete(self) -> bool:
        return set(self.by_kek) <= {self.active_id}


def live_keys_by_kek() -> dict[str, int]:
    """How many undestroyed data keys each KEK wraps: an old KEK may leave the key ring
    only when it wraps none."""
    rows = (
        DataKey.objects.filter(wrapped__isnull=False)
        .values("kek_id")
        .annotate(n=Count("pk"))
        .order_by("kek_id")
    )
    return {row["kek_id"]: row["n"] for row in rows}


def _rewrap_batch(batch_size: int) -> int:
    """Re-wrap up to ``batch_size`` keys not yet under the active KEK, in one transaction.
    Selecting by ``kek_id`` makes a rerun continue where an interrupted run stopped."""
    ring = encryption.keyring()
    with transaction.atomic():
        keys = list(
            DataKey.objects.select_for_update()
            .filter(wrapped__isnull=False)
            .exclude(kek_id=ring.active_id)
            .order_by("pk")[:batch_size]
        )
        for key in keys:
            key.kek_id, key.wrapped = encryption.rewrap(key, ring)
        DataKey.objects.bulk_update(keys, ["kek_id", "wrapped"])
    return len(keys)


def rotate_kek(
    *, batch_size: int = 500, actor: str = "system", progress: Callable[[int], None] | None = None
) -> KekRotation:
    """Re-wrap every data key under the active (first) KEK of the key ring. No message is
    sealed again. Safe to interrupt and rerun: each batch commits on its own. Run it after
    every server process has restarted with the new key ring, so none still wraps new keys
    under the old KEK (a rerun would catch those too)."""
    active_id = encryption.keyring().active_id
    rewrapped = batches = 0
    try:
        while done := _rewrap_batch(batch_size):
            rewrapped += done
            batches += 1
            if progress is not None:
                progress(rewrapped)
    except BaseException:
        _audit_rotation(actor, active_id, rewrapped, batches, completed=False)
        raise
    result = KekRotation(active_id, rewrapped, batches, live_keys_by_kek())
    _audit_rotation(actor, active_id, rewrapped, batches, completed=result.complete)
    return result


def _audit_rotation(
    actor: str, active_id: str, rewrapped: int, batches: int, *, completed: bool
) -> None:
    audit_append(
        actor=actor,
        action="keys.rotate_kek",
        object_type="key_ring",
        object_id=active_id,
        detail={"rewrapped": rewrapped, "batches": batches, "completed": completed},
    )


# --- room key epochs ------------------------------------------------------------------------


@transaction.atomic
def room_rotate_key(*, room: Room, actor: str = "system") -> int:
    """Start a new key epoch now (after a suspected leak of a data key, or before
    destroying the old epoch's keys). New messages get new keys; old ones stay readable.
    The room row is locked, so it cannot interleave with a send, and every process reads
    the new epoch inside its next send transaction."""
    locked = Room.objects.select_for_update().get(pk=room.pk)
    epoch = encryption.advance_epoch(locked, timezone.now(), reason="manual", actor=actor)
    room.key_epoch, room.key_epoch_started_at = locked.key_epoch, locked.key_epoch_started_at
    return epoch


# --- destroying keys --------------------------------------------------------------------------


def _destroy_keys(keys: QuerySet[DataKey], now: dt.datetime) -> list[int]:
    """Overwrite the wrapped keys and forget them in this process, now and after commit
    (a concurrent reader may re-cache a key until the destruction is visible)."""
    ids = list(keys.filter(destroyed_at__isnull=True).values_list("pk", flat=True))
    if ids:
        DataKey.objects.filter(pk__in=ids).update(wrapped=None, destroyed_at=now)
        encryption.forget(ids)
        transaction.on_commit(lambda: encryption.forget(ids))
    return ids


# --- retention purge ---------------------------------------------------------------------------


@dataclass
class PurgeReport:
    rooms: int = 0
    epochs_closed: int = 0
    messages_deleted: int = 0
    keys_destroyed: int = 0
    per_room: dict[str, dict[str, int]] = field(default_factory=dict)


def purge_expired(
    *, now: dt.datetime | None = None, actor: str = "system", batch_size: int = 1000
) -> PurgeReport:
    """Enforce every room's retention: delete messages older than ``retention_days`` and
    destroy the data keys none of the remaining rows need. Idempotent; schedule it daily.

    An idle room's epoch is closed here too (the send path closes busy rooms' epochs), so a
    quiet room's last key does not live on forever."""
    now = now or timezone.now()
    report = PurgeReport()
    for room_id in Room.objects.order_by("pk").values_list("pk", flat=True):
        slug, closed, deleted, destroyed = _purge_room(room_id, now, batch_size)
        report.rooms += 1
        report.epochs_closed += closed
        report.messages_deleted += deleted
        report.keys_destroyed += destroyed
        if closed or deleted or destroyed:
            report.per_room[slug] = {"messages": deleted, "keys": destroyed}
    audit_append(
        actor=actor,
        action="keys.purge_expired",
        object_type="retention",
        object_id=now.date().isoformat(),
        detail={
            "now": now.isoformat(),
            "rooms": report.rooms,
            "epochs_closed": report.epochs_closed,
            "messages_deleted": report.messages_deleted,
            "keys_destroyed": report.keys_destroyed,
        },
    )
    return report


def _purge_room(room_id: int, now: dt.datetime, batch_size: int) -> tuple[str, int, int, int]:
    with transaction.atomic():
        room = Room.objects.select_for_update().get(pk=room_id)
        closed = int(encryption.advance_epoch_if_due(room, now))
    if not room.retention_days:
        return room.slug, closed, 0, 0
    cutoff = now - dt.timedelta(days=room.retention_days)
    deleted = _delete_messages_before(room, cutoff, batch_size)
    with transaction.atomic():
        destroyed = len(_destroy_keys(_expired_keys(room, cutoff), now))
    return room.slug, closed, deleted, destroyed


def _delete_messages_before(room: Room, cutoff: dt.datetime, batch_size: int) -> int:
    """Delete expired log entries in batches, each its own short transaction, so sends to
    the room are never held up for long. Escalations keep their (sealed) excerpt."""
    total = 0
    while True:
        with transaction.atomic():
            ids = list(
                Message.objects.filter(room=room, created_at__lt=cutoff)
                .order_by("seq")
                .values_list("pk", flat=True)[:batch_size]
            )
            if not ids:
                return total
            _, per_model = Message.objects.filter(pk__in=ids).delete()
            total += per_model.get(Message._meta.label, 0)


def _expired_keys(room: Room, cutoff: dt.datetime) -> QuerySet[DataKey]:
    """Keys of closed epochs, older than the retention period, that nothing unexpired was
    sealed under. The current epoch's keys still seal new messages.

    "Anything sealed" is every model with a foreign key to ``DataKey``: a message, a held
    message, and what the apps above seal under the room's keys (escalation excerpts and
    notes, report notes, moderators' replies). They are found from the model registry rather
    than listed here, so this app imports none of theirs and a new sealed model cannot be
    forgotten; each has ``created_at`` (a test holds every one to it)."""
    keys = DataKey.objects.filter(room=room, epoch__lt=room.key_epoch, created_at__lt=cutoff)
    for model, name in sealed_fields():
        recent = model._default_manager.filter(
            **{f"{name}__room": room, "created_at__gte": cutoff}
        ).values(f"{name}_id")
        keys = keys.exclude(pk__in=recent)
    return keys


def sealed_fields() -> list[tuple[type[Model], str]]:
    """Every (model, field name) that seals text under a room's data key."""
    return [
        (model, f.name)
        for model in apps.get_models()
        for f in model._meta.get_fields()
        if isinstance(f, ForeignKey) and f.related_model is DataKey
    ]


# --- member erasure ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Erasure:
    memberships: int
    keys_destroyed: int
    messages_erased: int


def member_erase(*, member: Member, actor: str = "system") -> Erasure:
    """ "Delete my data": destroy every data key of the member (all rooms, all epochs), so
    their messages, and escalation excerpts and notes sealed under those keys, can no longer
    be read; drop the messages' ciphertext (history shows them deleted); mark the member
    erased (they can no longer sign in) and close their sockets. Everyone else's messages
    are untouched."""
    from rooms.services import sockets_close_for_member

    with transaction.atomic():
        result = _erase(member, actor)
        member_id = member.pk
        transaction.on_commit(lambda: sockets_close_for_member(member_id))
    return result


def _erase(member: Member, actor: str) -> Erasure:
    now = timezone.now()
    memberships = list(Membership.objects.filter(member=member).values_list("pk", "room_id"))
    # Lock the rooms (in a fixed order) so no send is half-way through sealing a message
    # with a key that is about to be destroyed.
    list(
        Room.objects.select_for_update()
        .filter(pk__in={room_id for _, room_id in memberships})
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    Member.objects.filter(pk=member.pk).update(erased_at=now)
    member.erased_at = now
    RECENT.forget_member({pk for pk, _ in memberships})
    destroyed = _destroy_keys(DataKey.objects.filter(membership__member=member), now)
    erased = (
        Message.objects.filter(Q(author__member=member) | Q(data_key__membership__member=member))
        .filter(kind=Message.Kind.MESSAGE, ciphertext__isnull=False)
        .update(ciphertext=None, deleted_at=now)
    )
    audit_append(
        actor=actor,
        action="member.erase",
        object_type="member",
        object_id=member.pk,
        detail={
            "memberships": len(memberships),
            "keys_destroyed": len(destroyed),
            "messages": erased,
        },
    )
    return Erasure(len(memberships), len(destroyed), erased)
