"""Care around an alert: what the writer of a risky message is told, for as long as the alert
is open, and whether anyone is on call to act on it now.

The writer gets a lasting private status in the room (``care_status``): that a trained person
was told, whether someone who can act on alerts is on call right now or, if nobody is, what to
do instead, and what happens next. It is sent when the alert is raised, again on every change
(acknowledged, a support room offered, resolved) and whenever the writer (re)enters the room.

Whether anyone is on call is what the staff side really knows: the staff sockets open now of
accounts whose role may acknowledge an alert (``StaffPresence``), never a setting. Each server
process keeps its own sockets' rows fresh; rows of a process that died age out. It must never
say a person is coming when nobody is there.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable
from typing import Final

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from chatserver.permissions import can
from moderation.crisis import always_open_resources
from moderation.models import Escalation, StaffPresence
from rooms import events, values

logger = logging.getLogger(__name__)

OPEN: Final = (
    Escalation.Status.OPEN,
    Escalation.Status.ACKNOWLEDGED,
    Escalation.Status.IN_PROGRESS,
)

TOLD_ON_CALL = (
    "A trained member of our support team has been told about your message, and someone is "
    "on call now. They will read it and may reach out to you here. If you are in danger now, "
    "please call 999: you don't have to wait for us."
)
TOLD_NOBODY = (
    "A trained member of our support team has been told about your message, but nobody is "
    "on call right now, so it may be a while before anyone reads it. Please don't wait for us: "
    "if you are in danger now, call 999 (if you can't speak, press 55 when asked). The lines "
    "below are there for you at any hour."
)
ACKNOWLEDGED = (
    "Someone from our support team has read the alert about your message and is working out "
    "how best to support you. If you are in danger now, please call 999."
)
SUPPORT_OFFERED = (
    "Someone from our support team has opened a private space where you can talk with them: "
    "only you and they can see it. It's your choice whether to go."
)
CLOSED = (
    "Our support team has closed the alert about your message. Help is still here whenever "
    "you need it: use Get help now at the top of the page."
)


def _fresh_since() -> dt.datetime:
    """A staff socket whose row was not refreshed since then is gone (its process died)."""
    window = max(60.0, 4 * settings.ESCALATION_TICK_SECONDS)
    return timezone.now() - dt.timedelta(seconds=window)


def staff_on_call() -> bool:
    """Whether someone who can act on an alert has a staff socket open now."""
    roles = {r for r in ("moderator", "staff", "admin") if can(r, "ack_escalation")}
    return StaffPresence.objects.filter(
        last_seen__gte=_fresh_since(), role__in=roles, user__is_active=True
    ).exists()


# --- the writer's status -----------------------------------------------------------------------


def _alerts_of(membership_id: int) -> list[Escalation]:
    """The writer's open alerts in the room (those staff are alerted about), newest first."""
    return list(
        Escalation.objects.filter(
            membership_id=membership_id,
            queue=Escalation.Queue.STAFF,
            quiet=False,
            status__in=OPEN,
        )
        .select_related("support_room")
        .order_by("-created_at", "-pk")
    )


def care_status_for(membership_id: int) -> values.CareStatus | None:
    """The writer's status while any of their alerts in this room is open, else None. The
    furthest one along decides what they are told: a support room offered, then read."""
    alerts = _alerts_of(membership_id)
    if not alerts:
        return None
    on_call = staff_on_call()
    offered = next((e for e in alerts if e.support_room_id is not None), None)
    read = next((e for e in alerts if e.status != Escalation.Status.OPEN), None)
    latest = alerts[0]
    if offered is not None and offered.support_room is not None:
        return values.CareStatus(
            state="support_offered",
            on_call=on_call,
            message=SUPPORT_OFFERED,
            since=offered.updated_at,
            seq=offered.message_seq,
            support_room=offered.support_room.slug,
            support_title=offered.support_room.title,
        )
    if read is not None:
        return values.CareStatus(
            state="acknowledged",
            on_call=on_call,
            message=ACKNOWLEDGED,
            since=read.acknowledged_at or read.updated_at,
            seq=read.message_seq,
        )
    return values.CareStatus(
        state="told",
        on_call=on_call,
        message=TOLD_ON_CALL if on_call else TOLD_NOBODY,
        since=latest.created_at,
        seq=latest.message_seq,
        resources=[] if on_call else always_open_resources(),
    )


def _closed(escalation: Escalation) -> values.CareStatus:
    return values.CareStatus(
        state="closed",
        on_call=staff_on_call(),
        message=CLOSED,
        since=escalation.resolved_at or timezone.now(),
        seq=escalation.message_seq,
    )


def publish_care(escalation: Escalation) -> None:
    """Tell the writer where their alert stands now (after commit, to their sockets only).
    An alert that closed while another is open tells them about the open one."""
    if (
        escalation.membership_id is None
        or escalation.queue != Escalation.Queue.STAFF
        or escalation.quiet
    ):
        return
    status = care_status_for(escalation.membership_id)
    if status is None and escalation.status not in OPEN:
        status = _closed(escalation)
    if status is not None:
        events.publish_value_on_commit(events.membership_group(escalation.membership_id), status)


def publish_to_everyone_waiting() -> None:
    """Someone came on call, or the last one left: every writer with an open alert is told
    again (there are few)."""
    memberships = (
        Escalation.objects.filter(
            queue=Escalation.Queue.STAFF, quiet=False, status__in=OPEN, membership__isnull=False
        )
        .values_list("membership_id", flat=True)
        .distinct()
    )
    for membership_id in memberships:
        status = care_status_for(membership_id)
        if status is not None:
            events.publish_value_on_commit(events.membership_group(membership_id), status)


# --- staff sockets ------------------------------------------------------------------------------

# This process's open staff sockets, whose rows it keeps fresh.
_LOCAL: set[str] = set()


@transaction.atomic
def staff_arrived(*, channel_name: str, user_id: int, role: str) -> None:
    """A staff socket opened. If nobody was on call before, writers waiting are told."""
    was_on_call = staff_on_call()
    now = timezone.now()
    StaffPresence.objects.update_or_create(
        channel_name=channel_name,
        defaults={"user_id": user_id, "role": role, "connected_at": now, "last_seen": now},
    )
    _LOCAL.add(channel_name)
    if not was_on_call and staff_on_call():
        publish_to_everyone_waiting()


@transaction.atomic
def staff_left(*, channel_name: str) -> None:
    """A staff socket closed. If it was the last one on call, writers waiting are told."""
    _LOCAL.discard(channel_name)
    if StaffPresence.objects.filter(channel_name=channel_name).delete()[0] and not staff_on_call():
        publish_to_everyone_waiting()


def refresh_local(names: Iterable[str] | None = None) -> None:
    """Keep this process's staff sockets counted as there, and forget long-dead rows (the
    periodic work, moderation/background.py)."""
    now = timezone.now()
    local = list(_LOCAL if names is None else names)
    if local:
        StaffPresence.objects.filter(channel_name__in=local).update(last_seen=now)
    StaffPresence.objects.filter(last_seen__lt=now - dt.timedelta(days=1)).delete()


# --- a facilitator arriving ---------------------------------------------------------------------

ROOM_ALERTS_KEPT: Final = 50


def room_alerts(room_id: int) -> values.RoomAlerts:
    """What a facilitator entering the room needs to know of: its open alerts (those the
    room's facilitators were told of) and open reports about members, newest first."""
    from moderation.models import Report

    alerts = [
        values.AlertItem(
            kind="risk",
            id=e.pk,
            seq=e.message_seq,
            author=e.pseudonym,
            ts=e.created_at,
            status=e.status,
            category=e.category,
            severity=e.severity,
        )
        for e in Escalation.objects.filter(room_id=room_id, quiet=False, status__in=OPEN).order_by(
            "-created_at"
        )[:ROOM_ALERTS_KEPT]
    ]
    reports = [
        values.AlertItem(
            kind="report",
            id=r.pk,
            seq=r.message_seq,
            author=r.reported_pseudonym,
            ts=r.created_at,
            status=r.status,
            reason=r.reason,
        )
        for r in Report.objects.filter(
            room_id=room_id, status=Report.Status.OPEN, reported__role="member"
        ).order_by("-created_at")[:ROOM_ALERTS_KEPT]
    ]
    items = sorted(alerts + reports, key=lambda item: item.ts, reverse=True)
    return values.RoomAlerts(items=items[:ROOM_ALERTS_KEPT])
