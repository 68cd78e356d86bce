"""Message sealing with per-room, per-epoch, per-membership data keys.

The crypto itself lives in chatserver/crypto.py; this module decides which key seals which
row and what associated data binds a ciphertext to its place, so that a ciphertext copied to
another row or room does not open.
"""

from __future__ import annotations

import functools
import logging
import threading

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings

from chatserver import crypto
from rooms.models import DataKey, Membership, Message, Room

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
    aead = _aeads.get(key.pk)
    if aead is None:
        if key.wrapped is None or key.destroyed_at is not None:
            raise crypto.DecryptionError("data key destroyed")
        dek = crypto.unwrap_data_key(
            keyring(),
            key.kek_id,
            bytes(key.wrapped),
            _wrap_aad(key.room_id, key.epoch, key.membership_id),
        )
        aead = _aeads.put(key.pk, dek)
    return aead


def current_data_key(*, room: Room, membership: Membership) -> tuple[int, AESGCM]:
    """The key that seals this membership's new messages in the room's current epoch,
    created on first use. Call inside the send transaction (the room row is locked)."""
    index = (room.pk, room.key_epoch, membership.pk)
    key_id = _current_keys.get(index)
    if key_id is not None:
        aead = _aeads.get(key_id)
        if aead is not None:
            return key_id, aead
    key = DataKey.objects.filter(
        room=room, epoch=room.key_epoch, membership=membership, destroyed_at__isnull=True
    ).first()
    if key is None:
        dek = crypto.new_data_key()
        kek_id, wrapped = crypto.wrap_data_key(
            keyring(), dek, _wrap_aad(room.pk, room.key_epoch, membership.pk)
        )
        key = DataKey.objects.create(
            room=room, epoch=room.key_epoch, membership=membership, kek_id=kek_id, wrapped=wrapped
        )
        aead = _aeads.put(key.pk, dek)
    else:
        aead = _aead_for(key)
    with _current_lock:
        _current_keys[index] = key.pk
    return key.pk, aead


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
