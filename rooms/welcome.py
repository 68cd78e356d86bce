"""What a socket is told when it enters a room: the welcome, then everything a (re)connecting
client needs (the apps above add their queues and the member's own reports through
``rooms.handlers.entry_values``). Runs in the database thread; returns encoded frames."""

from __future__ import annotations

from typing import Any

from django.conf import settings

from chatserver.permissions import can
from rooms import handlers, preferences, protocol, selectors, sittings


def viewer_for(membership: Any) -> selectors.Viewer:
    """How this participant reads the log: moderators see hidden text, facilitators the
    markers of risk and reports; ignored authors arrive as placeholders."""
    return selectors.Viewer(
        sees_hidden=can(membership.role, "review_hidden"),
        ignored=selectors.ignored_ids(membership.pk),
        sees_markers=can(membership.role, "flag_risk"),
    )


def entry_frames(room_slug: str, membership: Any) -> tuple[selectors.Viewer, list[str]]:
    """The reader's view of the log, and the frames to send on entering, in order."""
    room = selectors.room_by_slug(room_slug)
    membership.refresh_from_db()
    frames: list[Any] = [welcome(room, preferences.you(membership))]
    frames += handlers.entry_values(membership, room)
    if can(membership.role, "run_sessions") and room.uses_sessions:
        frames.append(sittings.waiting_room(room.pk))
    return viewer_for(membership), [protocol.encode(f) for f in frames]


def welcome(room: Any, you: protocol.You) -> protocol.Welcome:
    return protocol.Welcome(
        protocol=protocol.PROTOCOL_VERSION,
        room=protocol.RoomInfo(
            slug=room.slug,
            title=room.title,
            state=room.state,
            slow_mode_seconds=room.slow_mode_seconds,
        ),
        you=you,
        pins=selectors.pins(room.pk).items,
        latest_seq=room.last_seq,
        heartbeat_seconds=settings.CHAT_HEARTBEAT_SECONDS,
        limits=protocol.Limits(
            max_message_chars=settings.CHAT_MAX_MESSAGE_CHARS,
            max_frame_bytes=settings.CHAT_MAX_FRAME_BYTES,
            rate_per_second=settings.CHAT_RATE_PER_SECOND,
            burst=settings.CHAT_RATE_BURST,
        ),
    )


def reload_preferences(membership: Any) -> tuple[selectors.Viewer, protocol.YouFrame]:
    """After the participant changed whom they ignore or what they blur."""
    membership.refresh_from_db(fields=["blur_themes", "muted_until"])
    return viewer_for(membership), protocol.YouFrame(you=preferences.you(membership))
