"""What the project's websocket consumers share: dispatch without a thread hop, the database
thread, and answering a client (frames from values, refusals as error frames, limits, closes)."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from channels.db import DatabaseSyncToAsync, database_sync_to_async
from django.conf import settings
from django.db import connection

from chatserver.codes import Close, ErrorCode
from chatserver.errors import ServiceError
from rooms import protocol
from rooms.grants import SessionRevoked
from rooms.ratelimit import SharedBuckets, TokenBucket

_T = TypeVar("_T")

logger = logging.getLogger(__name__)


class DirectDispatchMixin:
    """Dispatch without Channels 4.3's thread hop before every frame and delivery.

    Channels closes stale database connections in a thread before each handler. All our
    database work already runs through ``database_sync_to_async``, which does that itself, so
    the hop is pure overhead on the hot path (about a quarter of the CPU in a profile). An
    event type with no handler is logged, not raised: events are built by the server only.
    """

    async def dispatch(self, message: dict[str, Any]) -> None:
        handler = getattr(self, message["type"].replace(".", "_"), None)
        if handler is None:
            logger.error("no handler for event type %s", message["type"])
            return
        await handler(message)


@functools.cache
def _database_executor() -> ThreadPoolExecutor | None:
    """The process's own database threads, each holding one persistent connection: a fixed
    pool of ``CHAT_DB_THREADS`` connections (PostgreSQL only). None keeps Channels' single
    thread-sensitive thread, which SQLite's one writer needs."""
    threads = settings.CHAT_DB_THREADS
    if threads <= 1 or connection.vendor != "postgresql":
        return None
    return ThreadPoolExecutor(max_workers=threads, thread_name_prefix="chat-db")


_SCAN_EXECUTOR = ThreadPoolExecutor(max_workers=1, thread_name_prefix="chat-scan")


def scan(fn: Callable[..., _T]) -> Callable[..., Awaitable[_T]]:
    """Run pure CPU work on message text (the risk detector) in the process's scan thread:
    off the event loop, and out of the database thread, which would otherwise hold every
    other socket's reads behind it."""

    async def run(*args: Any, **kwargs: Any) -> _T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(_SCAN_EXECUTOR, functools.partial(fn, *args, **kwargs))

    return run


def db(fn: Callable[..., _T]) -> Callable[..., Awaitable[_T]]:
    """Run database work off the event loop, in the process's database threads, closing
    stale connections around each call (as Channels does). One hop per call, never per
    frame: consumers skip Channels' own hop before each frame (``DirectDispatchMixin``)."""
    executor = _database_executor()
    if executor is None:
        return database_sync_to_async(fn)  # type: ignore[no-any-return]
    return DatabaseSyncToAsync(fn, thread_sensitive=False, executor=executor)  # type: ignore[no-any-return]


async def leave_groups(layer: Any, groups: Iterable[str], channel_name: str) -> None:
    """Leave every group on disconnect, whatever happens to each. With Redis down a discard
    fails; the rest of the socket's clean-up (its presence row) must still run, and a group
    membership left behind expires with the channel."""
    for group in groups:
        try:
            await layer.group_discard(group, channel_name)
        except Exception as exc:
            logger.debug("could not leave group on disconnect: %s", type(exc).__name__)


def page_fits() -> Callable[[Any], bool]:
    """A fresh budget of one frame's bytes for a history or resume page."""
    return protocol.PageBudget(settings.CHAT_MAX_FRAME_BYTES).take


# Why a socket is being closed, as its client is told in the error frame before the close.
_CLOSE_REASONS: dict[int, str] = {
    Close.REMOVED: "you are no longer in this room",
    Close.FORBIDDEN: "you can no longer take part in this room",
}


class ReplyMixin:
    """Answering the client of a websocket consumer. Every refusal is an error frame with
    the request's ref (never an exception out of ``receive``, which would close the socket
    and may skip ``disconnect``)."""

    # Whether a refusal that ends the condition's websocket (``close_code``) closes this
    # one: the room socket yes, the staff socket stays for its other work.
    closes_on_refusal = True
    send: Callable[[str], Awaitable[None]]
    close: Callable[..., Awaitable[None]]
    scope: dict[str, Any]

    async def refuse(self, exc: ServiceError) -> None:
        """Refuse a socket at connect: say why, then close with the condition's code."""
        await self.send_value(protocol.Error(code=exc.code, message=exc.message))
        await self.close(code=exc.close_code or Close.FORBIDDEN)

    async def send_text(self, text: str) -> None:
        """Send an encoded frame straight to the connection: Channels' session middleware
        wraps every send to look at the session, which a websocket frame never changes (the
        session is read once, at connect). The fan-out sends every message this way."""
        raw = self.scope.get("raw_send")
        if raw is None:
            await self.send(text)
        else:
            await raw({"type": "websocket.send", "text": text})

    async def send_value(self, item: Any) -> None:
        await self.send(protocol.encode(item))

    async def parse(self, parser: Callable[..., _T], text: str | None, **limits: int) -> _T | None:
        """The parsed frame, or None once the client has been told what was wrong with it
        (an oversize frame also closes the socket with 1009, as the protocol says)."""
        try:
            return parser(text, **limits)
        except protocol.ProtocolError as exc:
            await self.send(protocol.error_frame(exc))
            if exc.code == ErrorCode.FRAME_TOO_LARGE:
                await self.close(code=Close.FRAME_TOO_LARGE)
            return None

    async def answering(self, frame: object, work: Coroutine[Any, Any, None]) -> None:
        """Run the work a frame asked for, answering any refusal with an error frame."""
        ref = protocol.ref_of(frame)
        try:
            await work
        except SessionRevoked as exc:
            # Refused, never acted on: the session ended, expired or lost its place here.
            await self._close_with(exc.close_code or Close.SESSION_ENDED, exc.message, ref)
        except ServiceError as exc:
            retry_after = round(exc.retry_after, 3) if exc.retry_after is not None else None
            error = protocol.Error(
                code=exc.code, message=exc.message, ref=ref, retry_after=retry_after
            )
            await self.send_value(error)
            code = exc.close_code
            if self.closes_on_refusal and code is not None and code != Close.FORBIDDEN:
                await self.close(code=code)
        except Exception:
            logger.exception("unexpected error handling a %s frame", type(frame).__name__)
            message = "something went wrong; please retry"
            await self.send_value(protocol.Error(code=ErrorCode.INTERNAL, message=message, ref=ref))

    async def websocket_receive(self, message: dict[str, Any]) -> None:
        # When the frame arrived, not when it is handled: the limits count arrivals.
        self.arrived = message.get("arrived") or time.monotonic()
        await super().websocket_receive(message)  # type: ignore[misc]

    async def limited(self, bucket: TokenBucket, ref: str | None) -> bool:
        """Whether the bucket refuses this frame, counted at its arrival (the client is told
        when to retry; one that keeps on after being told is closed as flooding)."""
        retry_after = bucket.take(getattr(self, "arrived", None) or time.monotonic())
        if not retry_after:
            return False
        message = "you are sending too fast; please wait a moment"
        error = protocol.Error(
            code=ErrorCode.RATE_LIMITED, message=message, ref=ref, retry_after=round(retry_after, 3)
        )
        await self.send_value(error)
        if bucket.abusive:
            await self.close(code=Close.FLOODING)
        return True

    async def _close_with(self, code: int, message: str, ref: str | None = None) -> None:
        with contextlib.suppress(Exception):
            error = protocol.Error(code=ErrorCode.SESSION_ENDED, message=message, ref=ref)
            await self.send_value(error)
        await self.close(code=code)

    async def socket_close(self, event: dict[str, Any]) -> None:
        """The server ends this socket (logout, ban, removal, erasure, a role change)."""
        code = int(event["code"])
        await self._close_with(code, _CLOSE_REASONS.get(code, "this connection was ended"))


class GroupsMixin:
    """The channel-layer groups a socket is in, so it leaves every one on disconnect."""

    channel_layer: Any
    channel_name: str
    groups_joined: list[str]

    async def group_join(self, group: str) -> None:
        if group not in self.groups_joined:
            await self.channel_layer.group_add(group, self.channel_name)
            self.groups_joined.append(group)

    async def group_leave(self, group: str) -> None:
        if group in self.groups_joined:
            await self.channel_layer.group_discard(group, self.channel_name)
            self.groups_joined.remove(group)

    async def groups_leave_all(self) -> None:
        await leave_groups(
            self.channel_layer, getattr(self, "groups_joined", []), self.channel_name
        )


class ArrivalStamp:
    """Stamp every incoming websocket frame with the time it arrived.

    A socket's frames are handled one at a time, so while the database stalls they queue;
    limits counted when a frame is handled would turn a backlog sent at the allowed rate into
    refusals, and then into a flood close. The stamp is taken as the frame arrives (a task
    reads the connection eagerly), and the limits count it (``ReplyMixin.limited``)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        if scope["type"] != "websocket":
            return await self.app(scope, receive, send)
        inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

        async def read() -> None:
            while True:
                message = await receive()
                if message["type"] == "websocket.receive":
                    message = {**message, "arrived": time.monotonic()}
                inbox.put_nowait(message)
                if message["type"] == "websocket.disconnect":
                    return

        reader = asyncio.get_running_loop().create_task(read())
        # The connection's own send, for the fan-out's hot path (``ReplyMixin.send_text``).
        scope = {**scope, "raw_send": send}
        try:
            return await self.app(scope, inbox.get, send)
        finally:
            reader.cancel()


def send_bucket() -> TokenBucket:
    """A bucket at the room's send rate (``CHAT_RATE_PER_SECOND``, ``CHAT_RATE_BURST``)."""
    return TokenBucket(
        rate=settings.CHAT_RATE_PER_SECOND,
        burst=settings.CHAT_RATE_BURST,
        strikes_allowed=settings.CHAT_RATE_STRIKES,
    )


# What participants write, counted once per participant across their sockets here.
send_buckets = SharedBuckets(send_bucket)
