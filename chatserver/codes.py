"""The codes a client is told: error codes in error frames and JSON bodies, and websocket close
codes. Both sockets, the HTTP API and both apps share them, so they live below all of them;
``rooms.protocol`` re-exports them as part of the wire protocol (docs/protocol.md)."""

from __future__ import annotations

from typing import Final


class Close:
    """Close codes (4000-4999 is the application range of RFC 6455)."""

    NORMAL: Final = 1000
    FRAME_TOO_LARGE: Final = 1009
    UNAUTHENTICATED: Final = 4001  # no session, or it expired
    FORBIDDEN: Final = 4003  # not allowed in this room (agreement, invite, ban)
    ROOM_NOT_FOUND: Final = 4004
    ROOM_CLOSED: Final = 4010
    SESSION_ENDED: Final = 4011  # logged out (possibly elsewhere), erased, or role changed
    REMOVED: Final = 4012  # removed from the room by a moderator (may rejoin), or left
    SITTING_CLOSED: Final = 4013  # the room's session ended; it can be joined at the next one
    FLOODING: Final = 4029  # kept sending after being rate limited
    TOO_MANY_SOCKETS: Final = 4030  # this session already has the most sockets open it may


class ErrorCode:
    BAD_JSON: Final = "bad_json"
    UNKNOWN_TYPE: Final = "unknown_type"
    INVALID_FRAME: Final = "invalid_frame"
    FRAME_TOO_LARGE: Final = "frame_too_large"
    EMPTY_MESSAGE: Final = "empty_message"
    MESSAGE_TOO_LONG: Final = "message_too_long"
    RATE_LIMITED: Final = "rate_limited"
    ROOM_PAUSED: Final = "room_paused"
    ROOM_CLOSED: Final = "room_closed"
    NOT_FOUND: Final = "not_found"
    FORBIDDEN: Final = "forbidden"
    MUTED: Final = "muted"
    SLOW_MODE: Final = "slow_mode"
    WAITING: Final = "waiting"  # not admitted to the session yet
    ROOM_LOCKED: Final = "room_locked"
    INTERNAL: Final = "internal_error"
    # The session ended, expired, or lost its role or place in the room: the frame was not
    # acted on and the socket closes (rooms/grants.py).
    SESSION_ENDED: Final = "session_ended"
