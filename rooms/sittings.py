"""Rooms that run as scheduled sessions, with a waiting room.

A member who arrives waits outside until a facilitator admits them, and accepts the group
agreement again for every session: the main defence against someone joining a survivors'
group to harm it. Once a session has started the facilitator can lock it (nobody new comes
in) and at the end close it, which ends every member's place in it. Facilitators and staff
never wait. Waiting members receive nothing of the room: not its messages, its presence or
its sequence numbers.
"""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.utils import timezone

from chatserver.audit import audit_append
from chatserver.permissions import require
from rooms import events, values
from rooms.errors import AgreementRequired, MemberNotFound, NotAdmitted, NotAllowed, RoomLocked
from rooms.models import Admission, Agreement, Membership, Room, RoomSession

# Handler names on the room consumer for session events.
ADMITTED = "sitting.admitted"
CHANGED = "sitting.changed"
CLOSED = "sitting.closed"


def live_session(room_id: int) -> RoomSession | None:
    return RoomSession.objects.filter(room_id=room_id).exclude(state="closed").first()


def _is_admitted(session: RoomSession, membership: Membership) -> bool:
    return Admission.objects.filter(
        session=session, membership=membership, admitted_at__isnull=False
    ).exists()


def needs_waiting(room: Room, membership: Membership) -> bool:
    return room.uses_sessions and membership.role == Membership.Role.MEMBER


def require_admitted(*, room: Room, membership: Membership) -> None:
    """Called on the send path (room row locked), so a closed session stops members
    writing even if the event that closes their sockets was lost."""
    session = live_session(room.pk)
    if session is None or not _is_admitted(session, membership):
        raise NotAdmitted("you are not in the current session; please wait to be admitted")


def _agreement(room: Room) -> Agreement | None:
    return room.agreements.order_by("-version").first()


def waiting_frame(room: Room, membership: Membership) -> values.Waiting | None:
    """What a member outside the session sees, or None when they are admitted. Arriving
    during an open session puts them on the facilitators' waiting list."""
    session = live_session(room.pk)
    agreement = _agreement(room)
    if session is not None and _is_admitted(session, membership):
        return None
    agreed = False
    if session is not None and session.state == RoomSession.State.OPEN:
        admission = _arrive(session, membership)
        agreed = admission.agreed_at is not None
    return values.Waiting(
        session="none" if session is None else session.state,
        agreement_version=agreement.version if agreement else 0,
        agreement=agreement.text if agreement else "",
        agreed=agreed,
        schedule=room.schedule,
    )


def _arrive(session: RoomSession, membership: Membership) -> Admission:
    try:
        with transaction.atomic():
            admission, created = Admission.objects.get_or_create(
                session=session, membership=membership, defaults={"arrived_at": timezone.now()}
            )
    except IntegrityError:  # two sockets of one member arrived at once
        return Admission.objects.get(session=session, membership=membership)
    if created:
        _publish_waiting_room(session.room_id)
    return admission


@transaction.atomic
def agree(*, membership: Membership, version: int) -> values.Waiting | None:
    """Accept the agreement for this session; facilitators then see the member as ready."""
    room = Room.objects.get(pk=membership.room_id)
    agreement = _agreement(room)
    current = agreement.version if agreement else 0
    if version != current:
        raise AgreementRequired(f"please read and accept version {current} of the agreement")
    session = live_session(room.pk)
    if session is None or session.state != RoomSession.State.OPEN:
        raise NotAdmitted("there is no session open to join just now")
    admission = _arrive(session, membership)
    if admission.agreed_at is None:
        admission.agreed_at = timezone.now()
        admission.save(update_fields=["agreed_at"])
        _publish_waiting_room(room.pk)
    return waiting_frame(room, membership)


def depart(*, membership: Membership) -> None:
    """A waiting socket closed: take the member off the list unless they were admitted."""
    session = live_session(membership.room_id)
    if session is None:
        return
    gone = Admission.objects.filter(
        session=session, membership=membership, admitted_at__isnull=True
    ).delete()[0]
    if gone:
        _publish_waiting_room(membership.room_id)


def waiting_room(room_id: int) -> values.WaitingRoom:
    session = live_session(room_id)
    if session is None:
        return values.WaitingRoom(session="none", members=[])
    rows = (
        Admission.objects.filter(session=session, admitted_at__isnull=True)
        .select_related("membership")
        .order_by("arrived_at")
    )
    return values.WaitingRoom(
        session=session.state,
        members=[
            values.WaitingMember(pseudonym=a.membership.pseudonym, agreed=a.agreed_at is not None)
            for a in rows
        ],
    )


def _publish_waiting_room(room_id: int) -> None:
    events.publish_on_commit(
        events.room_staff_group(room_id),
        events.room_frame_event(waiting_room(room_id)),
    )


def _audit(actor: Membership, action: str, session: RoomSession, **detail: object) -> None:
    audit_append(
        actor=f"membership:{actor.pk}",
        action=action,
        object_type="room_session",
        object_id=session.pk,
        detail={"room_id": session.room_id, **detail},
    )


def _locked_room(actor: Membership) -> Room:
    require(actor.role, "run_sessions")
    room = Room.objects.select_for_update().get(pk=actor.room_id)
    if not room.uses_sessions:
        raise NotAllowed("this room does not run sessions")
    return room


def _tell_waiting(room_id: int) -> None:
    events.publish_on_commit(events.room_waiting_group(room_id), {"type": CHANGED})


@transaction.atomic
def session_control(*, actor: Membership, action: str) -> values.WaitingRoom:
    """Open, lock, unlock or close the room's session."""
    room = _locked_room(actor)
    session = live_session(room.pk)
    now = timezone.now()
    if action == "open":
        if session is not None:
            raise NotAllowed("a session is already running")
        session = RoomSession.objects.create(room=room, opened_at=now, opened_by=actor)
    elif session is None:
        raise NotAllowed("no session is running")
    elif action == "lock":
        session.state = RoomSession.State.LOCKED
        session.save(update_fields=["state"])
    elif action == "unlock":
        session.state = RoomSession.State.OPEN
        session.save(update_fields=["state"])
    elif action == "close":
        session.state = RoomSession.State.CLOSED
        session.closed_at = now
        session.save(update_fields=["state", "closed_at"])
        events.publish_on_commit(events.room_group(room.pk), {"type": CLOSED})
    else:
        raise ValueError(f"unknown session action {action!r}")
    _audit(actor, f"session.{action}", session)
    _tell_waiting(room.pk)
    _publish_waiting_room(room.pk)
    return waiting_room(room.pk)


@transaction.atomic
def admit(*, actor: Membership, pseudonym: str) -> None:
    """Let a waiting member into the current session. They must have accepted the
    agreement for it; a locked session admits nobody."""
    room = _locked_room(actor)
    session = live_session(room.pk)
    if session is None:
        raise NotAllowed("no session is running")
    if session.state == RoomSession.State.LOCKED:
        raise RoomLocked("the session is locked: unlock it to admit someone")
    admission = (
        Admission.objects.select_related("membership")
        .filter(session=session, membership__pseudonym=pseudonym)
        .first()
    )
    if admission is None:
        raise MemberNotFound(f"{pseudonym!r} is not in the waiting room")
    if admission.agreed_at is None:
        raise AgreementRequired(f"{pseudonym} has not accepted this session's agreement yet")
    if admission.admitted_at is not None:
        return
    admission.admitted_at = timezone.now()
    admission.admitted_by = actor
    admission.save(update_fields=["admitted_at", "admitted_by"])
    _audit(actor, "session.admit", session, membership=admission.membership_id)
    events.publish_on_commit(events.membership_group(admission.membership_id), {"type": ADMITTED})
    _publish_waiting_room(room.pk)
