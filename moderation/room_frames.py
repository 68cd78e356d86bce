"""Moderation's frames on the room socket, and what it adds to a socket's welcome: installed
into the chat core's dispatch table (``rooms.handlers``) when the app starts, so the room
socket handles them without importing moderation. One frame, one service call."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import msgspec

from chatserver.permissions import can
from moderation import care, held, reports, room_actions
from moderation.escalations import escalation_flag
from rooms import handlers, protocol


def _report(m: Any, f: protocol.Report) -> list[msgspec.Struct]:
    reports.report_make(reporter=m, seq=f.seq, reason=f.reason, note=f.note)
    # The reporter's list as it now stands, so every client shows the same thing.
    return [reports.my_reports(m)]


FRAMES: dict[type, handlers.Handler] = {
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
    protocol.Report: _report,
}


def entry_values(membership: Any, room: Any) -> Iterable[msgspec.Struct]:
    """A member's own open reports, and where an alert about their message stands; a
    facilitator's queue of held messages and the room's open alerts and reports."""
    mine = reports.my_reports(membership)
    if mine.items:
        yield mine
    status = care.care_status_for(membership.pk)
    if status is not None:
        yield status
    if can(membership.role, "review_held"):
        queue = held.held_queue(room.pk)
        if queue.items:
            yield queue
    if can(membership.role, "flag_risk"):
        alerts = care.room_alerts(room.pk)
        if alerts.items:
            yield alerts


def install() -> None:
    handlers.register(FRAMES)
    handlers.register_entry(entry_values)
