"""Message sealing with per-room, per-epoch, per-membership data keys.

The crypto itself lives in chatserver/crypto.py; this module decides which key seals which
row and what associated data binds a ciphertext to its place, so that a ciphertext copied to
another row or room does not open.

Key epochs close by age (``CHAT_KEY_EPOCH_DAYS``, or the room's retention if shorter), so the
keys of old epochs can be destroyed once their messages expire (rooms/keys.py). The lifecycle
operations (KEK rotation, room key rotation, purge, erasure) live in rooms/keys.py.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import threading
from collections.abc import Iterable

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings
from django.db.models import F
from django.utils import timezone

from chatserver import crypto
from rooms.errors import NotAllowed
from rooms.models import DataKey, Member, Membership, Message, Room

logger = logging.getLogger(__name__)

_aeads = crypto.AeadCache()
# (room id, epoch, membership id) -> data key id, so the send path needs no key query.
_current_keys: dict[tuple[int, int, int], int] = {}
_current_lock = threading.Lock()


@functools.cache
def keyring() -> crypto.KeyRing:
    return crypto.load_keyring(
        env_keys=settings.CHATSERVER_KEYS,
        key_file=settings.CHATSERVER_KEY_FILE,
        dev_key_file=settings.CHATSERVER_DEV_KEY_FILE,
    )


def _wrap_aad(room_id: int, epoch: int, membership_id: int) -> bytes:
    return f"{room_id}|{epoch}|{membership_id}".encode()


def message_aad(room_id: int, seq: int, data_key_id: int) -> bytes:
    return f"msg|{room_id}|{seq}|{data_key_id}".encode()


def _aead_for(key: DataKey) -> AESGCM:
    """The key's AEAD. The row (freshly read with the message) is checked before the cache:
    another process may have destroyed the key since this one cached it."""
    if key.wrapped is None or key.destroyed_at is not None:
        raise crypto.DecryptionError("data key destroyed")
    aead = _aeads.get(key.pk)
    if aead is None:
        dek = crypto.unwrap_data_key(
            keyring(),
            key.kek_id,
            bytes(key.wrapped),
            _wrap_aad(key.room_id, key.epoch, key.membership_id),
        )
        aead = _aeads.put(key.pk, dek)
    return aead


def epoch_span(room: Room) -> dt.timedelta:
    """How long one key epoch lasts: ``CHAT_KEY_EPOCH_DAYS``, or the retention period when
    that is shorter, so an epoch's keys can be destroyed at most one span after its last
    message expires."""
    days = int(getattr(settings, "CHAT_KEY_EPOCH_DAYS", 7))
    if room.retention_days:
        days = min(days, room.retention_days)
    return dt.timedelta(days=max(days, 1))


def advance_epoch(room: Room, now: dt.datetime, *, reason: str, actor: str = "system") -> int:
    """Start the room's next key epoch and return it. A conditional update, so two writers
    racing on an unlocked room advance it once; ``room`` is refreshed either way."""
    from chatserver.audit import audit_append

    advanced = Room.objects.filter(pk=room.pk, key_epoch=room.key_epoch).update(
        key_epoch=F("key_epoch") + 1, key_epoch_started_at=now
    )
    room.key_epoch, room.key_epoch_started_at = Room.objects.values_list(
        "key_epoch", "key_epoch_started_at"
    ).get(pk=room.pk)
    if advanced:
        audit_append(
            actor=actor,
            action="room.key_epoch",
            object_type="room",
            object_id=room.pk,
            detail={"epoch": room.key_epoch, "reason": reason},
        )
    return room.key_epoch


def advance_epoch_if_due(room: Room, now: dt.datetime) -> bool:
    """Close the current epoch when it has lasted a full span. Cheap enough for the send
    path: a comparison, and a write once per span."""
    if now - room.key_epoch_started_at < epoch_span(room):
        return False
    advance_epoch(room, now, reason="age")
    return True


def current_data_key(*, room: Room, membership: Membership) -> tuple[int, AESGCM]:
    """The key that seals this membership's new messages in the room's current epoch,
    created on first use. Call inside the send transaction with the room row locked and
    freshly read, so a rotation made by any process is seen here."""
    advance_epoch_if_due(room, timezone.now())
    index = (room.pk, room.key_epoch, membership.pk)
    key_id = _current_keys.get(index)
    if key_id is not None:
        aead = _aeads.get(key_id)
        if aead is not None:
            return key_id, aead
    key = DataKey.objects.filter(room=room, epoch=room.key_epoch, membership=membership).first()
    if key is None:
        key, aead = _create_data_key(room=room, membership=membership)
    else:
        if key.destroyed_at is not None:
            raise NotAllowed("this participant's data has been erased")
        aead = _aead_for(key)
    with _current_lock:
        _current_keys[index] = key.pk
    return key.pk, aead


def _create_data_key(*, room: Room, membership: Membership) -> tuple[DataKey, AESGCM]:
    # An erased member's socket may outlive the erasure by a heartbeat: never give it a key.
    if (
        membership.member_id is not None
        and Member.objects.filter(pk=membership.member_id, erased_at__isnull=False).exists()
    ):
        raise NotAllowed("this participant's data has been erased")
    dek = crypto.new_data_key()
    kek_id, wrapped = crypto.wrap_data_key(
        keyring(), dek, _wrap_aad(room.pk, room.key_epoch, membership.pk)
    )
    key = DataKey.objects.create(
        room=room, epoch=room.key_epoch, membership=membership, kek_id=kek_id, wrapped=wrapped
    )
    return key, _aeads.put(key.pk, dek)


def rewrap(key: DataKey, ring: crypto.KeyRing) -> tuple[str, bytes]:
    """The key wrapped again under the ring's active KEK; the data key itself is unchanged,
    so no message needs to be sealed again."""
    if key.wrapped is None:
        raise crypto.DecryptionError("data key destroyed")
    aad = _wrap_aad(key.room_id, key.epoch, key.membership_id)
    return crypto.rewrap_data_key(ring, key.kek_id, bytes(key.wrapped), aad)


def seal_body(*, aead: AESGCM, room_id: int, seq: int, data_key_id: int, body: str) -> bytes:
    return crypto.seal(aead, body.encode(), message_aad(room_id, seq, data_key_id))


def open_body(message: Message) -> str | None:
    """The plaintext, or None when it cannot be read (key destroyed, corrupted bytes). A
    failure is logged without content and never raised to a consumer or a history page."""
    if message.ciphertext is None or message.data_key is None:
        return None
    try:
        aead = _aead_for(message.data_key)
        plain = crypto.open_sealed(
            aead,
            bytes(message.ciphertext),
            message_aad(message.room_id, message.seq, message.data_key.pk),
        )
    except (crypto.DecryptionError, crypto.KeyConfigurationError) as exc:
        logger.warning(
            "message %s/%s could not be decrypted: %s", message.room_id, message.seq, exc
        )
        return None
    return plain.decode()


def forget(key_ids: Iterable[int]) -> None:
    """Drop destroyed keys from this process's cache (other processes refuse them by the
    row's ``destroyed_at``, see ``_aead_for``)."""
    gone = set(key_ids)
    for key_id in gone:
        _aeads.discard(key_id)
    with _current_lock:
        for index in [i for i, k in _current_keys.items() if k in gone]:
            del _current_keys[index]


def forget_cached_keys() -> None:
    """Drop every cached key (after shredding, or between tests)."""
    _aeads.clear()
    with _current_lock:
        _current_keys.clear()


def seal_text(*, aead: AESGCM, text: str, aad: str) -> bytes:
    """Seal other sensitive text (escalation excerpts, staff notes) under a member's key."""
    return crypto.seal(aead, text.encode(), aad.encode())


def open_text(*, data_key: DataKey | None, sealed: bytes | None, aad: str) -> str | None:
    if data_key is None or sealed is None:
        return None
    try:
        return crypto.open_sealed(_aead_for(data_key), bytes(sealed), aad.encode()).decode()
    except (crypto.DecryptionError, crypto.KeyConfigurationError) as exc:
        logger.warning("sealed text under key %s could not be decrypted: %s", data_key.pk, exc)
        return None


def aead_for(key: DataKey) -> AESGCM:
    """The opened key of a data-key row, for sealing other text under it (escalation
    notes). Refuses a destroyed key."""
    return _aead_for(key)
