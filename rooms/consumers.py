"""The room websocket: a transport adapter. It parses a frame through ``rooms.protocol``,
calls one service or selector, and sends the result. Rules live in the services; the action
frames and their services are the dispatch table in ``rooms.handlers``.

A protocol error is answered with an error frame and never raises out of ``receive`` (an
exception there closes the socket and may skip ``disconnect``).

What the socket was let in as (its ``Grant``) is held against the database by the process's
session watch every couple of seconds, and again before every write and privileged frame
(sends: by the writer, per batch), so a session that ended cannot act even when the close
event through the channel layer was lost (rooms/grants.py).
"""

from __future__ import annotations

import contextlib
import time
from typing import Any

from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.utils import timezone

from rooms import access, events, handlers, heartbeat, protocol, selectors, services, sittings
from rooms.errors import RoomError
from rooms.grants import grant_require
from rooms.hub import hub
from rooms.ratelimit import TokenBucket
from rooms.transport import DirectDispatchMixin, db, page_fits, send_bucket, send_buckets
from rooms.waiting import WaitingRoomMixin
from rooms.watch import watch
from rooms.welcome import entry_frames, reload_preferences
from rooms.writer import writer

TYPING_INTERVAL = 2.0
# Reads (history, resume) are cheaper than sends but not free: a generous separate bucket.
READ_RATE = 10.0
READ_BURST = 40


class RoomConsumer(WaitingRoomMixin, DirectDispatchMixin, AsyncWebsocketConsumer):
    identity: access.SocketIdentity | None = None
    early: list[dict[str, Any]] | None = None

    # --- lifecycle --------------------------------------------------------------------------

    async def connect(self) -> None:
        self.groups_joined: list[str] = []
        self.waiting = self.entered = False
        self.viewer = selectors.MEMBER_VIEW
        self.last_typing = 0.0
        strikes = settings.CHAT_RATE_STRIKES
        self.read_bucket = TokenBucket(rate=READ_RATE, burst=READ_BURST, strikes_allowed=strikes)
        self.action_bucket = send_bucket()
        # Accept first, so a refused client learns why from the close code and an error
        # frame rather than a bare HTTP 403.
        await self.accept()
        try:
            self.identity = await db(access.socket_identify)(
                session=self.scope["session"],
                user=self.scope.get("user"),
                slug=self.scope["url_route"]["kwargs"]["slug"],
            )
        except RoomError as exc:
            await self.refuse(exc)
            return
        identity = self.identity
        # Sends are counted per participant, across their sockets on this process.
        self.send_bucket = send_buckets.acquire(identity.membership.pk)
        for group in access.personal_groups(identity):
            await self.group_join(group)
        watch.register(self.channel_name, identity.grant, self._close_with)
        if not await self._wait_outside(identity):
            await self._enter(identity)

    async def _enter(self, identity: access.SocketIdentity) -> None:
        """Join the room proper: its groups, presence, the welcome and what comes with it."""
        self.waiting = False
        await self.group_leave(events.room_waiting_group(identity.room.pk))
        for group in access.staff_groups(identity):
            await self.group_join(group)
        # The welcome is the first frame: the room's frames that come before it is sent wait.
        self.early: list[dict[str, Any]] | None = []
        await hub.join(identity.room.pk, self.channel_name, self.dispatch)
        membership = identity.membership
        await db(services.connection_open)(channel_name=self.channel_name, membership=membership)
        self.entered = True
        self.viewer, frames = await db(entry_frames)(identity.room.slug, membership)
        for frame in frames:
            await self.send(frame)
        # Room frames the hub handed over meanwhile follow the welcome, in order (the client
        # drops any its welcome already covers, by sequence number).
        early, self.early = self.early, None
        for event in early or ():
            await self.room_frame(event)
        await self._broadcast_presence(identity.room.pk)
        heartbeat.hub.register(self.channel_name, heartbeat.Beat(identity.room.pk, self.send))

    async def disconnect(self, code: int) -> None:
        heartbeat.hub.unregister(self.channel_name)
        watch.unregister(self.channel_name)
        await self.groups_leave_all()
        if self.identity is None:
            return
        send_buckets.release(self.identity.membership.pk)
        if self.waiting:
            with contextlib.suppress(Exception):
                await db(sittings.depart)(membership=self.identity.membership)
        if self.entered:
            await hub.leave(self.identity.room.pk, self.channel_name)
            await db(services.connection_close)(channel_name=self.channel_name)
            with contextlib.suppress(Exception):
                await self._broadcast_presence(self.identity.room.pk)

    async def _broadcast_presence(self, room_id: int) -> None:
        members = await db(selectors.presence)(room_id)
        event = events.room_frame_event(protocol.Presence(members=members))
        await hub.publish(events.room_group(room_id), event)

    async def _recheck(self) -> None:
        """Before a write or a privileged frame: the grant must hold in the database now, not
        only at the watch's last round (raises SessionRevoked)."""
        assert self.identity is not None
        await db(grant_require)(self.identity.grant)

    # --- client frames ----------------------------------------------------------------------

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if self.identity is None:
            return
        frame = await self.parse(
            protocol.parse_client_frame,
            text_data,
            max_bytes=settings.CHAT_MAX_FRAME_BYTES,
            max_chars=settings.CHAT_MAX_MESSAGE_CHARS,
        )
        if frame is not None:
            await self.answering(frame, self._handle(frame))

    async def _handle(self, frame: protocol.ClientFrame) -> None:
        if isinstance(frame, protocol.Ping):
            await self.send_value(protocol.Pong())
        elif self.waiting:
            await self._handle_waiting(frame)
        elif isinstance(frame, protocol.Typing):
            await self._typing()
        elif isinstance(frame, protocol.History | protocol.Resume):
            if not await self.limited(self.read_bucket, None):
                await self._read_page(frame)
        elif not await self.limited(self._bucket_for(frame), protocol.ref_of(frame)):
            if isinstance(frame, protocol.Send):
                await self._send_message(frame)
            elif isinstance(frame, protocol.Delete):
                await self._delete(frame)
            else:
                await self._act(frame)

    def _bucket_for(self, frame: protocol.ClientFrame) -> TokenBucket:
        """What a participant writes (messages, deletions, reports) counts once across their
        sockets; a facilitator's actions count per socket, so holding a room is never slowed
        by what the same person did on another page."""
        if isinstance(frame, protocol.Send | protocol.Delete | protocol.Report):
            return self.send_bucket
        return self.action_bucket

    async def _act(self, frame: protocol.ClientFrame) -> None:
        """An action frame: one service call (``rooms.handlers``), then ``done`` with the
        request's ref and whatever the service asks to send back. The effect reaches every
        client through the fan-out."""
        assert self.identity is not None
        call = handlers.handler_for(type(frame))
        if call is None:
            raise RoomError(f"{type(frame).__name__} frames are not accepted here")
        await self._recheck()
        result = await db(call)(self.identity.membership, frame)
        await self.send_value(protocol.Done(ref=getattr(frame, "ref", "")))
        for value in handlers.replies(result):
            await self.send_value(value)

    async def _send_message(self, frame: protocol.Send) -> None:
        assert self.identity is not None
        request = services.SendRequest(
            membership=self.identity.membership,
            client_id=frame.client_id,
            body=frame.body,
            cw=frame.cw,
            themes=tuple(frame.themes),
        )
        # The writer holds the grant against the database with its batch, before storing.
        sent = await writer.send(request, grant=self.identity.grant)
        await self.send_value(protocol.send_result(frame.client_id, sent))

    async def _delete(self, frame: protocol.Delete) -> None:
        assert self.identity is not None
        await self._recheck()
        await db(services.message_delete)(membership=self.identity.membership, seq=frame.seq)

    async def _read_page(self, frame: protocol.History | protocol.Resume) -> None:
        assert self.identity is not None
        room_id, fits = self.identity.room.pk, page_fits()
        if isinstance(frame, protocol.History):
            page = await db(selectors.log_before)(
                room_id=room_id,
                before=frame.before,
                limit=frame.limit,
                viewer=self.viewer,
                fits=fits,
            )
            await self.send_value(protocol.history_page(page.entries, page.has_more))
            return
        page = await db(selectors.log_after)(
            room_id=room_id, after=frame.after, limit=frame.limit, viewer=self.viewer, fits=fits
        )
        latest = await db(selectors.latest_seq)(room_id)
        await self.send_value(protocol.resumed(frame.after, page.entries, latest, page.has_more))

    async def _typing(self) -> None:
        """Typing is ephemeral and coalesced: at most one notice per interval per socket."""
        assert self.identity is not None
        now = time.monotonic()
        if now - self.last_typing < TYPING_INTERVAL:
            return
        self.last_typing = now
        typing = protocol.TypingFrame(author=self.identity.membership.pseudonym)
        event = events.room_frame_event(typing)
        await hub.publish(events.room_group(self.identity.room.pk), event)

    # --- channel-layer events (built only by the server) ----------------------------------

    async def room_frame(self, event: dict[str, Any]) -> None:
        if self.early is not None:  # entering: the welcome goes first
            self.early.append(event)
            return
        author = event.get("author")
        if author is not None and author in self.viewer.ignored and event.get("seq"):
            # From someone this reader ignores: a placeholder keeps the sequence gap-free.
            await self.send_value(protocol.ignored_placeholder(event["seq"], timezone.now()))
            return
        await self.send_text(event["text"])

    async def preferences_changed(self, event: dict[str, Any]) -> None:
        """The participant changed whom they ignore or what they blur (maybe on another
        device): reload, and send the new choices."""
        if self.identity is None or not self.entered:
            return
        self.viewer, you = await db(reload_preferences)(self.identity.membership)
        await self.send_value(you)
