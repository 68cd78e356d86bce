"""The room websocket: a transport adapter. It parses frames through ``rooms.protocol``,
calls one service or selector, and sends the result. Rules live in the services.

A protocol error is answered with an error frame and never raises out of ``receive`` (an
exception there closes the socket and may skip ``disconnect``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.utils import timezone

from moderation.escalations import escalation_flag
from rooms import access, events, heartbeat, protocol, selectors, services
from rooms.errors import RoomError
from rooms.ratelimit import TokenBucket
from rooms.transport import DirectDispatchMixin, db
from rooms.writer import writer

logger = logging.getLogger(__name__)

TYPING_INTERVAL = 2.0
# Reads (history, resume) are cheaper than sends but not free: a generous separate bucket.
READ_RATE = 10.0
READ_BURST = 40


class RoomConsumer(DirectDispatchMixin, AsyncWebsocketConsumer):
    identity: access.SocketIdentity | None = None

    # --- lifecycle --------------------------------------------------------------------------

    async def connect(self) -> None:
        self.tasks: list[asyncio.Task[None]] = []
        self.groups_joined: list[str] = []
        self.last_typing = 0.0
        self.send_bucket = TokenBucket(
            rate=settings.CHAT_RATE_PER_SECOND,
            burst=settings.CHAT_RATE_BURST,
            strikes_allowed=settings.CHAT_RATE_STRIKES,
        )
        self.read_bucket = TokenBucket(
            rate=READ_RATE, burst=READ_BURST, strikes_allowed=settings.CHAT_RATE_STRIKES
        )
        slug = self.scope["url_route"]["kwargs"]["slug"]
        # Accept first, so a refused client learns why from the close code and an error
        # frame rather than a bare HTTP 403.
        await self.accept()
        try:
            self.identity = await db(access.socket_identify)(
                session=self.scope["session"], user=self.scope.get("user"), slug=slug
            )
        except RoomError as exc:
            await self.send(protocol.encode(protocol.Error(code=exc.code, message=exc.message)))
            await self.close(code=exc.close_code or protocol.Close.FORBIDDEN)
            return
        identity = self.identity
        await self._join_groups(identity)
        await db(services.connection_open)(
            channel_name=self.channel_name, membership=identity.membership
        )
        await self.send(protocol.encode(await self._welcome(identity)))
        await db(services.presence_broadcast)(room_id=identity.room.pk)
        heartbeat.hub.register(
            self.channel_name,
            heartbeat.Beat(
                room_id=identity.room.pk,
                session_key=identity.session_key,
                send=self.send,
                close=self._close_with,
            ),
        )
        self.tasks.append(asyncio.create_task(self._expire_session(identity.session_expires)))

    async def _join_groups(self, identity: access.SocketIdentity) -> None:
        groups = [
            events.room_group(identity.room.pk),
            events.session_group(identity.session_key),
            events.membership_group(identity.membership.pk),
        ]
        if identity.membership.role != identity.membership.Role.MEMBER:
            groups.append(events.room_staff_group(identity.room.pk))
        if identity.member_id:
            groups.append(events.member_group(identity.member_id))
        if identity.user_id:
            groups.append(events.user_group(identity.user_id))
        for group in groups:
            await self.channel_layer.group_add(group, self.channel_name)
        self.groups_joined = groups

    async def _welcome(self, identity: access.SocketIdentity) -> protocol.Welcome:
        room = identity.room
        return protocol.Welcome(
            protocol=protocol.PROTOCOL_VERSION,
            room=protocol.RoomInfo(slug=room.slug, title=room.title, state=room.state),
            you=protocol.You(
                pseudonym=identity.membership.pseudonym, role=identity.membership.role
            ),
            latest_seq=await db(selectors.latest_seq)(room.pk),
            heartbeat_seconds=settings.CHAT_HEARTBEAT_SECONDS,
            limits=protocol.Limits(
                max_message_chars=settings.CHAT_MAX_MESSAGE_CHARS,
                max_frame_bytes=settings.CHAT_MAX_FRAME_BYTES,
                rate_per_second=settings.CHAT_RATE_PER_SECOND,
                burst=settings.CHAT_RATE_BURST,
            ),
        )

    async def disconnect(self, code: int) -> None:
        heartbeat.hub.unregister(self.channel_name)
        for task in getattr(self, "tasks", []):
            task.cancel()
        for group in getattr(self, "groups_joined", []):
            await self.channel_layer.group_discard(group, self.channel_name)
        if self.identity is not None:
            room_id = self.identity.room.pk
            await db(services.connection_close)(channel_name=self.channel_name)
            with contextlib.suppress(Exception):
                await db(services.presence_broadcast)(room_id=room_id)

    async def _expire_session(self, expires: Any) -> None:
        delay = (expires - timezone.now()).total_seconds()
        await asyncio.sleep(max(delay, 0))
        await self._close_with(protocol.Close.UNAUTHENTICATED, "your session has expired")

    async def _close_with(self, code: int, message: str) -> None:
        with contextlib.suppress(Exception):
            await self.send(protocol.encode(protocol.Error(code="session_ended", message=message)))
        await self.close(code=code)

    # --- client frames ----------------------------------------------------------------------

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if self.identity is None:
            return
        try:
            frame = protocol.parse_client_frame(
                text_data,
                max_bytes=settings.CHAT_MAX_FRAME_BYTES,
                max_chars=settings.CHAT_MAX_MESSAGE_CHARS,
            )
        except protocol.ProtocolError as exc:
            await self.send(protocol.error_frame(exc))
            if exc.code == protocol.ErrorCode.FRAME_TOO_LARGE:
                await self.close(code=protocol.Close.FRAME_TOO_LARGE)
            return
        try:
            await self._handle(frame)
        except RoomError as exc:
            ref = (
                frame.client_id if isinstance(frame, protocol.Send) else getattr(frame, "ref", None)
            )
            await self.send(
                protocol.encode(protocol.Error(code=exc.code, message=exc.message, ref=ref))
            )
            if exc.close_code is not None and exc.close_code != protocol.Close.FORBIDDEN:
                await self.close(code=exc.close_code)
        except Exception:
            logger.exception("unexpected error handling a %s frame", type(frame).__name__)
            ref = (
                frame.client_id if isinstance(frame, protocol.Send) else getattr(frame, "ref", None)
            )
            await self.send(
                protocol.encode(
                    protocol.Error(
                        code=protocol.ErrorCode.INTERNAL,
                        message="something went wrong; please retry",
                        ref=ref,
                    )
                )
            )

    async def _handle(self, frame: protocol.ClientFrame) -> None:
        if isinstance(frame, protocol.Ping):
            await self.send(protocol.encode(protocol.Pong()))
        elif isinstance(frame, protocol.Typing):
            await self._typing()
        elif isinstance(frame, protocol.Flag):
            await self._flag(frame)
        elif isinstance(frame, protocol.Send | protocol.Delete):
            if await self._limited(self.send_bucket, getattr(frame, "client_id", None)):
                return
            if isinstance(frame, protocol.Send):
                await self._send_message(frame)
            else:
                await self._delete(frame)
        elif await self._limited(self.read_bucket, None):
            return
        elif isinstance(frame, protocol.History):
            await self._history(frame)
        elif isinstance(frame, protocol.Resume):
            await self._resume(frame)

    async def _limited(self, bucket: TokenBucket, ref: str | None) -> bool:
        retry_after = bucket.take(time.monotonic())
        if not retry_after:
            return False
        await self.send(
            protocol.encode(
                protocol.Error(
                    code=protocol.ErrorCode.RATE_LIMITED,
                    message="you are sending too fast; please wait a moment",
                    ref=ref,
                    retry_after=round(retry_after, 3),
                )
            )
        )
        if bucket.abusive:
            await self.close(code=protocol.Close.FLOODING)
        return True

    async def _send_message(self, frame: protocol.Send) -> None:
        assert self.identity is not None
        sent = await writer.send(
            services.SendRequest(
                membership=self.identity.membership, client_id=frame.client_id, body=frame.body
            )
        )
        await self.send(
            protocol.encode(
                protocol.Ack(
                    client_id=frame.client_id, seq=sent.seq, ts=sent.ts, duplicate=sent.duplicate
                )
            )
        )

    async def _flag(self, frame: protocol.Flag) -> None:
        assert self.identity is not None
        await db(escalation_flag)(
            flagger=self.identity.membership,
            seq=frame.seq,
            category=frame.category,
            severity=frame.severity,
        )
        await self.send(protocol.encode(protocol.Done(ref=frame.ref)))

    async def _delete(self, frame: protocol.Delete) -> None:
        assert self.identity is not None
        await db(services.message_delete)(membership=self.identity.membership, seq=frame.seq)

    async def _history(self, frame: protocol.History) -> None:
        assert self.identity is not None
        page = await db(selectors.log_before)(
            room_id=self.identity.room.pk, before=frame.before, limit=frame.limit
        )
        await self.send(
            protocol.encode(protocol.HistoryPage(messages=page.entries, has_more=page.has_more))
        )

    async def _resume(self, frame: protocol.Resume) -> None:
        assert self.identity is not None
        room_id = self.identity.room.pk
        page = await db(selectors.log_after)(room_id=room_id, after=frame.after, limit=frame.limit)
        latest = await db(selectors.latest_seq)(room_id)
        await self.send(
            protocol.encode(
                protocol.Resumed(
                    after=frame.after,
                    messages=page.entries,
                    latest_seq=latest,
                    has_more=page.has_more,
                )
            )
        )

    async def _typing(self) -> None:
        """Typing is ephemeral and coalesced: at most one notice per interval per socket."""
        assert self.identity is not None
        now = time.monotonic()
        if now - self.last_typing < TYPING_INTERVAL:
            return
        self.last_typing = now
        frame = protocol.encode(protocol.TypingFrame(author=self.identity.membership.pseudonym))
        await self.channel_layer.group_send(
            events.room_group(self.identity.room.pk), events.room_frame_event(text=frame)
        )

    # --- channel-layer events (built only by the server) ----------------------------------

    async def room_frame(self, event: dict[str, Any]) -> None:
        await self.send(event["text"])

    async def socket_close(self, event: dict[str, Any]) -> None:
        await self._close_with(int(event["code"]), "this connection was ended")
