"""The rooms app's refusals, on ``chatserver.errors.ServiceError``. Each carries the error code
the transports send back, so the websocket consumer and the HTTP API report the same condition
the same way."""

from __future__ import annotations

from chatserver.codes import Close, ErrorCode
from chatserver.errors import NotAllowed as NotAllowed
from chatserver.errors import ServiceError

# Every room condition is a service error; the name is kept for what it reads as here.
RoomError = ServiceError


# One answer for a room that does not exist and for a private room that is not open to the
# person asking: the same code, status, close code and words, so joining, reading or
# connecting never tells whether a private room exists (see ``rooms/entry.py``).
ROOM_NOT_FOUND_MESSAGE = "there is no room by that name"


class RoomNotFound(RoomError):
    """No such room, or an invite-only or support room the caller may not enter. Raise it
    without a message: a custom one would tell the two cases apart again."""

    code = "room_not_found"
    http_status = 404
    close_code = Close.ROOM_NOT_FOUND

    def __init__(self) -> None:
        super().__init__(ROOM_NOT_FOUND_MESSAGE)


class AgreementRequired(NotAllowed):
    code = "agreement_required"
    http_status = 409


class RoomFull(NotAllowed):
    code = "room_full"
    http_status = 409


class InviteInvalid(RoomError):
    code = "invite_invalid"
    http_status = 400


class RoomPaused(RoomError):
    code = ErrorCode.ROOM_PAUSED
    http_status = 409


class RoomClosed(RoomError):
    code = ErrorCode.ROOM_CLOSED
    http_status = 409
    close_code = Close.ROOM_CLOSED


class MessageNotFound(RoomError):
    code = ErrorCode.NOT_FOUND
    http_status = 404


class MemberNotFound(RoomError):
    code = ErrorCode.NOT_FOUND
    http_status = 404


class Muted(RoomError):
    code = ErrorCode.MUTED
    http_status = 409


class SlowMode(RoomError):
    code = ErrorCode.SLOW_MODE
    http_status = 429


class NotAdmitted(RoomError):
    """In a room that runs sessions, a member outside the current session."""

    code = ErrorCode.WAITING
    http_status = 409


class RoomLocked(RoomError):
    code = ErrorCode.ROOM_LOCKED
    http_status = 409


class NotAuthenticated(RoomError):
    code = "not_authenticated"
    http_status = 401
    close_code = Close.UNAUTHENTICATED


class RecoveryFailed(RoomError):
    code = "recovery_failed"
    http_status = 400


class RecoveryLocked(RoomError):
    code = "recovery_locked"
    http_status = 429


class StaffSignedIn(RoomError):
    """A member session asked for in a browser signed in as staff. One session never holds
    both: it would tie the anonymous member to the named account (docs/security.md)."""

    code = "staff_signed_in"
    http_status = 409


class RateLimited(RoomError):
    """Too many requests of one kind from one client address in the window; ``retry_after``
    says when the window ends."""

    code = ErrorCode.RATE_LIMITED
    http_status = 429


class Overloaded(RateLimited):
    """The process's queue of sends is full: this one was not stored. ``retry_after`` says
    when the queue is expected to have room (the client resends then; nothing was lost)."""


class TooManySockets(RoomError):
    """The session already has ``CHAT_MAX_SOCKETS_PER_SESSION`` sockets open."""

    code = "too_many_sockets"
    http_status = 429
    close_code = Close.TOO_MANY_SOCKETS


class StoreUnavailable(RoomError):
    """The database could not be reached: the message was not stored. The client resends it
    (same ``client_id``) after ``retry_after``; nothing is lost that was acknowledged."""

    code = "store_unavailable"
    http_status = 503


class Busy(RoomError):
    """The server is at its cap of concurrent slow work (password hashes): try again soon."""

    code = "busy"
    http_status = 503
