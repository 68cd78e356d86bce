"""The staff websocket (``/ws/staff/``): the live escalation queue and members' reports.

On connect it sends every escalation still open, then every open report, so a reconnect
misses nothing; after that it streams new and changed escalations and reports. Staff actions
(acknowledge, note, resolve, view, open a support room; read, answer and close a report) are
frames that each call one service; every one is audited there.

The socket's grant (account, role, session) is held against the database by the process's
session watch every couple of seconds and again before every frame is acted on, so a staff
member who signed out, whose session expired or whose role changed reads nothing more, even
when the close event through the channel layer is lost (rooms/grants.py).
"""

from __future__ import annotations

import contextlib
import logging
from typing import Any

from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings

from moderation import accounts, care, escalations, reports
from rooms import events, protocol
from rooms.errors import RoomError
from rooms.grants import Grant, grant_require
from rooms.transport import DirectDispatchMixin, GroupsMixin, ReplyMixin, db
from rooms.watch import watch

logger = logging.getLogger(__name__)


class StaffConsumer(ReplyMixin, GroupsMixin, DirectDispatchMixin, AsyncWebsocketConsumer):
    # A refusal answers the one request; the socket stays for the queue.
    closes_on_refusal = False
    user: Any = None
    grant: Grant | None = None

    async def connect(self) -> None:
        self.groups_joined: list[str] = []
        await self.accept()
        user: Any = self.scope.get("user")
        try:
            self.grant = await db(accounts.staff_socket_grant)(user, self.scope.get("session"))
        except RoomError as exc:
            await self.refuse(exc)
            return
        self.user = user
        for group in (
            events.STAFF_QUEUE_GROUP,
            events.user_group(user.pk),
            events.session_group(self.grant.session_key),
        ):
            await self.group_join(group)
        watch.register(self.channel_name, self.grant, self._close_with)
        # Someone who can act on alerts is here: writers waiting are told (moderation/care.py).
        await db(care.staff_arrived)(
            channel_name=self.channel_name, user_id=user.pk, role=self.grant.role or ""
        )
        items = await db(escalations.escalations_open)()
        await self.send_value(protocol.Escalations(items=items))
        open_reports = await db(reports.reports_open)()
        await self.send_value(protocol.StaffReports(items=open_reports))

    async def disconnect(self, code: int) -> None:
        watch.unregister(self.channel_name)
        await self.groups_leave_all()
        if self.grant is not None:
            with contextlib.suppress(Exception):
                await db(care.staff_left)(channel_name=self.channel_name)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if self.user is None or self.grant is None:
            return
        max_bytes = settings.CHAT_MAX_FRAME_BYTES
        frame = await self.parse(protocol.parse_staff_frame, text_data, max_bytes=max_bytes)
        if isinstance(frame, protocol.Ping):
            await self.send_value(protocol.Pong())
        elif frame is not None:
            await self.answering(frame, self._checked(frame))

    async def _checked(self, frame: protocol.StaffFrame) -> None:
        # Every staff frame reads or changes sealed, audited records: the session and role
        # must hold in the database now, not only at the watch's last round.
        assert self.grant is not None
        await db(grant_require)(self.grant)
        await self._handle(frame)

    async def _handle(self, frame: protocol.StaffFrame) -> None:
        assert not isinstance(frame, protocol.Ping)
        if isinstance(frame, protocol.ReportReplySend | protocol.ReportView | protocol.ReportClose):
            await self._handle_report(frame)
        else:
            await self._handle_escalation(frame)

    async def _handle_report(
        self, frame: protocol.ReportReplySend | protocol.ReportView | protocol.ReportClose
    ) -> None:
        user = self.user
        if isinstance(frame, protocol.ReportView):
            item = await db(reports.report_view)(user=user, report_id=frame.id)
            # Only to this socket: the decrypted message and note are never broadcast.
            await self.send_value(protocol.StaffReport(item=item))
        elif isinstance(frame, protocol.ReportReplySend):
            await db(reports.report_reply)(user=user, report_id=frame.id, text=frame.text)
        else:
            await db(reports.report_close)(user=user, report_id=frame.id, outcome=frame.outcome)
        await self.send_value(protocol.Done(ref=frame.ref))

    async def _handle_escalation(self, frame: protocol.StaffFrame) -> None:
        assert not isinstance(frame, protocol.Ping)
        user, ref = self.user, frame.ref
        room: str | None = None
        if isinstance(frame, protocol.EscalationAck):
            await db(escalations.escalation_acknowledge)(user=user, escalation_id=frame.id)
        elif isinstance(frame, protocol.EscalationProgress):
            await db(escalations.escalation_progress)(user=user, escalation_id=frame.id)
        elif isinstance(frame, protocol.EscalationResolve):
            await db(escalations.escalation_resolve)(
                user=user,
                escalation_id=frame.id,
                outcome=frame.outcome,
                false_alarm=frame.false_alarm,
            )
        elif isinstance(frame, protocol.EscalationNoteAdd):
            await db(escalations.escalation_note_add)(
                user=user, escalation_id=frame.id, text=frame.text
            )
        elif isinstance(frame, protocol.EscalationView):
            detail = await db(escalations.escalation_view)(user=user, escalation_id=frame.id)
            await self.send_value(detail)
        elif isinstance(frame, protocol.EscalationSupport):
            created = await db(escalations.escalation_open_support_room)(
                user=user, escalation_id=frame.id
            )
            room = created.slug
        await self.send_value(protocol.Done(ref=ref, room=room))

    async def room_frame(self, event: dict[str, Any]) -> None:
        # Escalation and report items alike: pre-encoded by the services, never client JSON.
        await self.send(event["text"])
