"""The room websocket: a transport adapter. It parses frames through ``rooms.protocol``,
calls one service or selector, and sends the result. Rules live in the services.

A protocol error is answered with an error frame and never raises out of ``receive`` (an
exception there closes the socket and may skip ``disconnect``).

What the socket was let in as (its ``Grant``) is held against the database by the process's
session watch every couple of seconds, and again before every write and privileged frame
(sends: by the writer, per batch), so a session that ended cannot act even when the close
event through the channel layer was lost (rooms/grants.py).
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable
from typing import Any

from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.utils import timezone

from chatserver.permissions import can
from moderation import held, reports, room_actions
from moderation.escalations import escalation_flag
from rooms import access, events, heartbeat, preferences, protocol, selectors, services, sittings
from rooms.errors import NotAdmitted, RoomError
from rooms.grants import SessionRevoked, grant_require
from rooms.ratelimit import TokenBucket
from rooms.transport import DirectDispatchMixin, db, leave_groups
from rooms.watch import watch
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
        self.groups_joined: list[str] = []
        self.waiting = False
        self.entered = False
        self.viewer = selectors.MEMBER_VIEW
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
        for group in self._personal_groups(identity):
            await self._group_add(group)
        watch.register(self.channel_name, identity.grant, self._close_with)
        if sittings.needs_waiting(identity.room, identity.membership):
            waiting = await db(sittings.waiting_frame)(identity.room, identity.membership)
            if waiting is not None:
                self.waiting = True
                await self._group_add(events.room_waiting_group(identity.room.pk))
                await self.send(protocol.encode(waiting))
                return
        await self._enter(identity)

    async def _enter(self, identity: access.SocketIdentity) -> None:
        """Join the room proper: its groups, presence, the welcome and what comes with it."""
        self.waiting = False
        await self._group_discard(events.room_waiting_group(identity.room.pk))
        for group in self._room_groups(identity):
            await self._group_add(group)
        await db(services.connection_open)(
            channel_name=self.channel_name, membership=identity.membership
        )
        self.entered = True
        for frame in await db(self._entry_frames)(identity):
            await self.send(frame)
        await self._broadcast_presence(identity.room.pk)
        heartbeat.hub.register(
            self.channel_name,
            heartbeat.Beat(room_id=identity.room.pk, send=self.send),
        )

    def _entry_frames(self, identity: access.SocketIdentity) -> list[str]:
        """The welcome, then the room's state, pins, and (by role) the facilitators'
        queues or the member's own reports: everything a (re)connecting client needs."""
        room = selectors.room_by_slug(identity.room.slug)
        membership = identity.membership
        membership.refresh_from_db()
        self.viewer = self._viewer_for(membership)
        frames: list[protocol.ServerFrame] = [
            self._welcome(identity, room, preferences.you(membership))
        ]
        mine = reports.my_reports(membership)
        if mine.items:
            frames.append(mine)
        if can(membership.role, "review_held"):
            queue = held.held_queue(room.pk)
            if queue.items:
                frames.append(queue)
        if can(membership.role, "run_sessions") and room.uses_sessions:
            frames.append(sittings.waiting_room(room.pk))
        return [protocol.encode(f) for f in frames]

    @staticmethod
    def _viewer_for(membership: Any) -> selectors.Viewer:
        return selectors.Viewer(
            sees_hidden=can(membership.role, "review_hidden"),
            ignored=selectors.ignored_ids(membership.pk),
        )

    async def _group_add(self, group: str) -> None:
        if group not in self.groups_joined:
            await self.channel_layer.group_add(group, self.channel_name)
            self.groups_joined.append(group)

    async def _group_discard(self, group: str) -> None:
        if group in self.groups_joined:
            await self.channel_layer.group_discard(group, self.channel_name)
            self.groups_joined.remove(group)

    @staticmethod
    def _personal_groups(identity: access.SocketIdentity) -> list[str]:
        """Groups that reach this participant wherever they are (waiting or in the room):
        private frames, and the closes of logout, erasure, bans and role changes."""
        groups = [
            events.session_group(identity.session_key),
            events.membership_group(identity.membership.pk),
        ]
        if identity.member_id:
            groups.append(events.member_group(identity.member_id))
        if identity.user_id:
            groups.append(events.user_group(identity.user_id))
        return groups

    @staticmethod
    def _room_groups(identity: access.SocketIdentity) -> list[str]:
        groups = [events.room_group(identity.room.pk)]
        if identity.membership.role != identity.membership.Role.MEMBER:
            groups.append(events.room_staff_group(identity.room.pk))
        return groups

    @staticmethod
    def _welcome(identity: access.SocketIdentity, room: Any, you: protocol.You) -> protocol.Welcome:
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

    async def disconnect(self, code: int) -> None:
        heartbeat.hub.unregister(self.channel_name)
        watch.unregister(self.channel_name)
        await leave_groups(
            self.channel_layer, getattr(self, "groups_joined", []), self.channel_name
        )
        if self.identity is None:
            return
        if self.waiting:
            with contextlib.suppress(Exception):
                await db(sittings.depart)(membership=self.identity.membership)
        if self.entered:
            room_id = self.identity.room.pk
            await db(services.connection_close)(channel_name=self.channel_name)
            with contextlib.suppress(Exception):
                await self._broadcast_presence(room_id)

    async def _broadcast_presence(self, room_id: int) -> None:
        frame = await db(services.presence_frame)(room_id=room_id)
        await self.channel_layer.group_send(
            events.room_group(room_id), events.room_frame_event(text=frame)
        )

    async def _close_with(self, code: int, message: str, ref: str | None = None) -> None:
        with contextlib.suppress(Exception):
            error = protocol.Error(code=protocol.ErrorCode.SESSION_ENDED, message=message, ref=ref)
            await self.send(protocol.encode(error))
        await self.close(code=code)

    async def _recheck(self) -> None:
        """Before a write or a privileged frame: the grant must hold in the database now, not
        only at the watch's last round (raises SessionRevoked)."""
        assert self.identity is not None
        await db(grant_require)(self.identity.grant)

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
        except SessionRevoked as exc:
            # Refused, never acted on: the session ended, expired or lost its place here.
            ref = (
                frame.client_id if isinstance(frame, protocol.Send) else getattr(frame, "ref", None)
            )
            await self._close_with(exc.close_code or protocol.Close.SESSION_ENDED, exc.message, ref)
        except RoomError as exc:
            ref = (
                frame.client_id if isinstance(frame, protocol.Send) else getattr(frame, "ref", None)
            )
            retry_after = round(exc.retry_after, 3) if exc.retry_after is not None else None
            await self.send(
                protocol.encode(
                    protocol.Error(
                        code=exc.code, message=exc.message, ref=ref, retry_after=retry_after
                    )
                )
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
        elif self.waiting:
            await self._handle_waiting(frame)
        elif isinstance(frame, protocol.Typing):
            await self._typing()
        elif isinstance(frame, protocol.Send | protocol.Delete | protocol.Report):
            ref = (
                frame.client_id if isinstance(frame, protocol.Send) else getattr(frame, "ref", None)
            )
            if await self._limited(self.send_bucket, ref):
                return
            if isinstance(frame, protocol.Send):
                await self._send_message(frame)
            elif isinstance(frame, protocol.Delete):
                await self._delete(frame)
            else:
                await self._report(frame)
        elif isinstance(frame, protocol.History | protocol.Resume):
            if await self._limited(self.read_bucket, None):
                return
            if isinstance(frame, protocol.History):
                await self._history(frame)
            else:
                await self._resume(frame)
        elif not await self._limited(self.send_bucket, getattr(frame, "ref", None)):
            await self._act(frame)

    async def _handle_waiting(self, frame: protocol.ClientFrame) -> None:
        """Outside the session only agreeing and leaving make sense; anything else is
        answered (never dropped) with the reason."""
        assert self.identity is not None
        if isinstance(frame, protocol.Agree):
            await self._recheck()
            waiting = await db(sittings.agree)(
                membership=self.identity.membership, version=frame.version
            )
            if waiting is None:
                await self._enter(self.identity)
            else:
                await self.send(protocol.encode(waiting))
        elif isinstance(frame, protocol.Leave):
            await self._act(frame)
        else:
            raise NotAdmitted("you are in the waiting room: a facilitator will let you in")

    async def _act(self, frame: protocol.ClientFrame) -> None:
        """A facilitator's, moderator's or member's action: one service call, then ``done``
        with the request's ref. The effect reaches clients through the channel layer."""
        assert self.identity is not None
        actor = self.identity.membership
        call = _ACTIONS.get(type(frame))
        if call is None:
            raise RoomError(f"{type(frame).__name__} frames are not accepted here")
        await self._recheck()
        await db(call)(actor, frame)
        await self.send(protocol.encode(protocol.Done(ref=getattr(frame, "ref", ""))))

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
        request = services.SendRequest(
            membership=self.identity.membership,
            client_id=frame.client_id,
            body=frame.body,
            cw=frame.cw,
            themes=tuple(frame.themes),
        )
        # The writer holds the grant against the database with its batch, before storing.
        sent = await writer.send(request, grant=self.identity.grant)
        if sent.held is not None:
            held_frame = protocol.Held(
                client_id=frame.client_id, reason=sent.held, message=held.HOLD_MESSAGES[sent.held]
            )
            await self.send(protocol.encode(held_frame))
            return
        await self.send(
            protocol.encode(
                protocol.Ack(
                    client_id=frame.client_id, seq=sent.seq, ts=sent.ts, duplicate=sent.duplicate
                )
            )
        )

    async def _report(self, frame: protocol.Report) -> None:
        assert self.identity is not None
        membership = self.identity.membership
        await self._recheck()
        await db(reports.report_make)(
            reporter=membership, seq=frame.seq, reason=frame.reason, note=frame.note
        )
        await self.send(protocol.encode(protocol.Done(ref=frame.ref)))
        # The reporter's list, as it now stands, so every client shows the same thing.
        await self.send(protocol.encode(await db(reports.my_reports)(membership)))

    async def _delete(self, frame: protocol.Delete) -> None:
        assert self.identity is not None
        await self._recheck()
        await db(services.message_delete)(membership=self.identity.membership, seq=frame.seq)

    async def _history(self, frame: protocol.History) -> None:
        assert self.identity is not None
        page = await db(selectors.log_before)(
            room_id=self.identity.room.pk,
            before=frame.before,
            limit=frame.limit,
            viewer=self.viewer,
        )
        await self.send(
            protocol.encode(protocol.HistoryPage(messages=page.entries, has_more=page.has_more))
        )

    async def _resume(self, frame: protocol.Resume) -> None:
        assert self.identity is not None
        room_id = self.identity.room.pk
        page = await db(selectors.log_after)(
            room_id=room_id, after=frame.after, limit=frame.limit, viewer=self.viewer
        )
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
        author = event.get("author")
        if author is not None and author in self.viewer.ignored and event.get("seq"):
            # From someone this reader ignores: a placeholder keeps the sequence gap-free.
            placeholder = protocol.MessageFrame(
                seq=event["seq"], ts=timezone.now(), author="", body=None, ignored=True
            )
            await self.send(protocol.encode(placeholder))
            return
        await self.send(event["text"])

    async def socket_close(self, event: dict[str, Any]) -> None:
        code = int(event["code"])
        reasons = {
            protocol.Close.REMOVED: "you are no longer in this room",
            protocol.Close.FORBIDDEN: "you can no longer take part in this room",
        }
        await self._close_with(code, reasons.get(code, "this connection was ended"))

    async def preferences_changed(self, event: dict[str, Any]) -> None:
        """The participant changed whom they ignore or what they blur (maybe on another
        device): reload, and send the new choices."""
        if self.identity is None or not self.entered:
            return
        membership = self.identity.membership
        you = await db(self._reload_preferences)(membership)
        await self.send(protocol.encode(protocol.YouFrame(you=you)))

    def _reload_preferences(self, membership: Any) -> protocol.You:
        membership.refresh_from_db(fields=["blur_themes", "muted_until"])
        self.viewer = self._viewer_for(membership)
        return preferences.you(membership)

    async def sitting_admitted(self, event: dict[str, Any]) -> None:
        if self.identity is not None and self.waiting:
            await self._enter(self.identity)

    async def sitting_changed(self, event: dict[str, Any]) -> None:
        """The session opened, locked, unlocked or closed while this member waits."""
        if self.identity is None or not self.waiting:
            return
        identity = self.identity
        waiting = await db(sittings.waiting_frame)(identity.room, identity.membership)
        if waiting is None:
            await self._enter(identity)
        else:
            await self.send(protocol.encode(waiting))

    async def sitting_closed(self, event: dict[str, Any]) -> None:
        """The session ended: members leave the room until the next one; staff stay."""
        if self.identity is None:
            return
        if sittings.needs_waiting(self.identity.room, self.identity.membership):
            await self._close_with(protocol.Close.SITTING_CLOSED, "this session has ended")


# Each action frame and the one service call it stands for: (acting membership, frame).
_ACTIONS: dict[type, Callable[[Any, Any], object]] = {
    protocol.Flag: lambda m, f: escalation_flag(
        flagger=m, seq=f.seq, category=f.category, severity=f.severity
    ),
    protocol.Mute: lambda m, f: room_actions.mute(
        actor=m, pseudonym=f.pseudonym, minutes=f.minutes
    ),
    protocol.Remove: lambda m, f: room_actions.remove(actor=m, pseudonym=f.pseudonym),
    protocol.Ban: lambda m, f: room_actions.ban(actor=m, pseudonym=f.pseudonym, scope=f.scope),
    protocol.Hide: lambda m, f: room_actions.hide(actor=m, seq=f.seq, reason=f.reason),
    protocol.Pin: lambda m, f: room_actions.pin(actor=m, seq=f.seq),
    protocol.Unpin: lambda m, f: room_actions.unpin(actor=m, seq=f.seq),
    protocol.SlowMode: lambda m, f: room_actions.slow_mode(actor=m, seconds=f.seconds),
    protocol.SetRoomState: lambda m, f: room_actions.set_state(actor=m, state=f.state),
    protocol.Announce: lambda m, f: room_actions.announce(actor=m, body=f.body),
    protocol.Release: lambda m, f: held.held_release(actor=m, held_id=f.id),
    protocol.Reject: lambda m, f: held.held_reject(actor=m, held_id=f.id),
    protocol.Admit: lambda m, f: sittings.admit(actor=m, pseudonym=f.pseudonym),
    protocol.SessionControl: lambda m, f: sittings.session_control(actor=m, action=f.action),
    protocol.Ignore: lambda m, f: preferences.ignore(membership=m, pseudonym=f.pseudonym),
    protocol.Unignore: lambda m, f: preferences.unignore(membership=m, pseudonym=f.pseudonym),
    protocol.Preferences: lambda m, f: preferences.set_blur(membership=m, themes=list(f.blur)),
    protocol.Leave: lambda m, f: preferences.leave(membership=m),
}
