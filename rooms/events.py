"""Fan-out through the channel layer, only after the database has committed.

This is the transport side of the domain's announcements: services publish domain values
(``rooms.values``) to a group, and each is encoded here, once, into the frame every recipient
gets (``rooms.protocol``). Services never build frames themselves.

The channel layer is a fast path that may drop (channels-redis drops silently when a channel
is full or a group expired); the database is the record. Clients notice a gap from sequence
numbers or the heartbeat and resume, so a dropped event is late, never lost.
"""

from __future__ import annotations

import logging
from typing import Any

import msgspec
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

from chatserver.crypto import fingerprint
from rooms import protocol

logger = logging.getLogger(__name__)

# Handler names on the consumers (Channels maps "room.frame" to ``room_frame``). Only the
# server builds these events: client JSON is never forwarded into group_send.
ROOM_FRAME = "room.frame"
ROOM_STATE = "room.state"
CLOSE_SOCKET = "socket.close"


def room_group(room_id: int) -> str:
    return f"room.{room_id}"


def room_of(group: str) -> int | None:
    """The room whose own group this is (not its staff or waiting group), or None."""
    head, _, rest = group.partition(".")
    return int(rest) if head == "room" and rest.isdigit() else None


STAFF_QUEUE_GROUP = "staff.escalations"


def membership_group(membership_id: int) -> str:
    """One participant's sockets in one room: for private frames (signposting)."""
    return f"membership.{membership_id}"


def room_staff_group(room_id: int) -> str:
    """The facilitators and moderators present in a room."""
    return f"room.{room_id}.staff"


def room_waiting_group(room_id: int) -> str:
    """Members waiting outside a room's session (rooms/sittings.py)."""
    return f"room.{room_id}.waiting"


def member_group(member_id: object) -> str:
    return f"member.{member_id}"


def user_group(user_id: int) -> str:
    return f"user.{user_id}"


def session_group(session_key: str) -> str:
    # A fingerprint, so the session token never reaches Redis.
    return f"session.{fingerprint(session_key)}"


def send_now(group: str, event: dict[str, Any]) -> None:
    """Send from synchronous code. A failure is logged, never raised: the caller's data is
    already committed and clients recover through resume."""
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(layer.group_send)(group, event)
    except Exception:
        logger.exception("fan-out to a group failed; clients will resume from the record")


def publish_on_commit(group: str, event: dict[str, Any]) -> None:
    transaction.on_commit(lambda: send_now(group, event), robust=True)


def room_frame_event(
    item: protocol.ServerFrame | msgspec.Struct | str,
    *,
    seq: int | None = None,
    author_id: int | None = None,
) -> dict[str, Any]:
    """The event that carries one frame to a group's sockets, encoded once for them all (a
    domain value is turned into its frame here; a string is an already encoded frame)."""
    text = item if isinstance(item, str) else protocol.encode(item)
    return {"type": ROOM_FRAME, "text": text, "seq": seq, "author": author_id}


def publish_value_on_commit(group: str, item: msgspec.Struct) -> None:
    """Announce a domain value to a group once the transaction commits."""
    publish_on_commit(group, room_frame_event(item))


def close_event(code: int) -> dict[str, Any]:
    return {"type": CLOSE_SOCKET, "code": code}
