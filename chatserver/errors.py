"""The base of every refusal the service explains to a client. Each carries the error code the
transports send back (and an HTTP status and, where the condition ends a websocket, a close
code), so the room socket, the staff socket and the HTTP API report one condition one way.

It lives below both apps: the permission matrix (``chatserver.permissions``) refuses with
``NotAllowed``, and the rooms and moderation apps subclass ``ServiceError`` for their own
conditions (``rooms.errors``)."""

from __future__ import annotations

from chatserver.codes import Close, ErrorCode


class ServiceError(Exception):
    code: str = ErrorCode.FORBIDDEN
    http_status: int = 403
    close_code: int | None = None  # set where the condition ends a websocket

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.retry_after = retry_after


class NotAllowed(ServiceError):
    code = ErrorCode.FORBIDDEN
    http_status = 403
    close_code = Close.FORBIDDEN
