"""Escalation of risk: care first, never punishment.

A finding of the risk detector (or a person's flag) becomes an Escalation in the same
transaction as the message. After commit: the member gets a private signposting frame, the
room's facilitators a private heads-up, staff a live queue item, and the outbox e-mails and
webhooks. Detection never bans, mutes or silences the writer.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from chatserver.audit import actor_for_user, audit_append
from chatserver.crypto import random_slug
from chatserver.permissions import require
from moderation import outbox, staff_text
from moderation.care import publish_care
from moderation.crisis import signpost
from moderation.models import Escalation, EscalationNote
from moderation.risk import Assessment
from moderation.risk.types import SEVERITY_RANK
from rooms import events, values
from rooms.encryption import aead_for, current_data_key, open_text, seal_text
from rooms.errors import RoomError
from rooms.models import Agreement, Membership, Message, Room
from rooms.roles import role_for_user
from rooms.staffnames import name_of

EXCERPT_CHARS = 500


class EscalationNotFound(RoomError):
    code = "not_found"
    http_status = 404


class NotesUnavailable(RoomError):
    code = "data_erased"
    http_status = 409


def escalation_item(e: Escalation) -> values.EscalationItem:
    return values.EscalationItem(
        id=e.pk,
        room=e.room.slug,
        room_title=e.room.title,
        seq=e.message_seq,
        pseudonym=e.pseudonym,
        category=e.category,
        severity=e.severity,
        queue=e.queue,
        source=e.source,
        status=e.status,
        created_at=e.created_at,
        sla_due_at=e.sla_due_at,
        renotified=e.renotified,
        acknowledged_at=e.acknowledged_at,
        outcome=staff_text.escalation_outcome(e),
    )


def _publish_item(e: Escalation) -> None:
    frame = values.EscalationUpdate(item=escalation_item(e))
    events.publish_on_commit(events.STAFF_QUEUE_GROUP, events.room_frame_event(frame))


def _excerpt_aad(room_id: int, seq: int | None, key_id: int) -> str:
    return f"esc|{room_id}|{seq}|{key_id}"


def _note_aad(escalation_id: int, note_id: int, key_id: int) -> str:
    return f"note|{escalation_id}|{note_id}|{key_id}"


def escalation_raise(
    *,
    room: Room,
    membership: Membership,
    message: Message | None,
    body: str,
    category: str,
    severity: str,
    evidence: list[dict[str, Any]],
    source: str = Escalation.Source.DETECTOR,
    flagged_by: str | None = None,
    quiet: bool = False,
) -> Escalation:
    """Create the escalation and queue every notification. Call inside the transaction
    that stores the message, so neither exists without the other."""
    now = timezone.now()
    queue = Escalation.Queue.REVIEW if severity == "concern" else Escalation.Queue.STAFF
    key_id, aead = current_data_key(room=room, membership=membership)
    seq = message.seq if message else None
    escalation = Escalation.objects.create(
        room=room,
        message=message,
        message_seq=seq,
        membership=membership,
        pseudonym=membership.pseudonym,
        category=category,
        severity=severity,
        queue=queue,
        source=source,
        **staff_text.evidence_fields(evidence, aead=aead, room_id=room.pk, seq=seq, key_id=key_id),
        data_key_id=key_id,
        excerpt_ciphertext=seal_text(
            aead=aead, text=body[:EXCERPT_CHARS], aad=_excerpt_aad(room.pk, seq, key_id)
        ),
        created_at=now,
        sla_due_at=now + dt.timedelta(seconds=settings.ESCALATION_SLA_SECONDS[severity]),
        quiet=quiet,
    )
    audit_append(
        actor=flagged_by or "system:risk-detector",
        action="escalation.raise",
        object_type="escalation",
        object_id=escalation.pk,
        detail={"category": category, "severity": severity, "room": room.slug, "seq": seq},
    )
    _publish_item(escalation)
    if not quiet:
        if message is not None:
            _mark_message(message.pk, category, severity)
        events.publish_on_commit(
            events.membership_group(membership.pk),
            events.room_frame_event(signpost()),
        )
        notice = values.RiskNotice(
            seq=seq,
            author=membership.pseudonym,
            category=category,
            severity=severity,
            id=escalation.pk,
            ts=now,
        )
        events.publish_on_commit(
            events.room_staff_group(room.pk),
            events.room_frame_event(notice),
        )
        publish_care(escalation)
    if queue == Escalation.Queue.STAFF:
        outbox.enqueue_escalation(escalation, event="created", now=now)
    return escalation


def escalation_from_assessment(
    *,
    room: Room,
    membership: Membership,
    message: Message | None,
    body: str,
    assessment: Assessment,
) -> Escalation | None:
    top = assessment.top
    if top is None:
        return None
    evidence = [
        {"cue": ev.cue, "rule": ev.rule, "category": ev.category, "start": ev.start, "end": ev.end}
        for finding in assessment.findings
        for ev in finding.evidence
    ][:20]
    return escalation_raise(
        room=room,
        membership=membership,
        message=message,
        body=body,
        category=top.category,
        severity=top.severity,
        evidence=evidence,
        quiet=_learned_concern_only(assessment),
    )


def risk_marker(assessment: Assessment) -> tuple[str, str] | None:
    """The (category, severity) facilitators see marked on the message: what raised an
    escalation they were told about (a quiet one is not marked)."""
    top = assessment.top
    if top is None or _learned_concern_only(assessment):
        return None
    return top.category, top.severity


def _mark_message(message_id: int, category: str, severity: str) -> None:
    """Facilitators' marker on the message: the most severe escalation raised about it."""
    current = Message.objects.filter(pk=message_id).values_list("risk_severity", flat=True).first()
    if current is not None and SEVERITY_RANK.get(current, -1) >= SEVERITY_RANK[severity]:
        return
    Message.objects.filter(pk=message_id).update(risk_category=category, risk_severity=severity)


def _learned_concern_only(assessment: Assessment) -> bool:
    """A concern that only the learned model saw goes quietly to the moderators' review
    queue: no signpost to the writer, no heads-up to the room's facilitators. The model
    catches phrasing no cue covers, but it is also wrong more often (docs/risk-detection.md),
    and a support panel opening over a harmless message is itself a harm."""
    return all(
        f.severity == "concern" and all(e.rule.startswith("model:") for e in f.evidence)
        for f in assessment.findings
    )


# --- staff actions --------------------------------------------------------------------------


def _require(user: User, action: str) -> str:
    """The user's role, if the permission table (chatserver/permissions.py) allows it."""
    role = role_for_user(user)
    require(role, action)
    assert role is not None
    return role


def _locked(escalation_id: int) -> Escalation:
    e = (
        Escalation.objects.select_for_update()
        .select_related("room")
        .filter(pk=escalation_id)
        .first()
    )
    if e is None:
        raise EscalationNotFound("no such escalation")
    return e


def _audit(user: User, action: str, e: Escalation, **detail: Any) -> None:
    audit_append(
        actor=actor_for_user(user),
        action=action,
        object_type="escalation",
        object_id=e.pk,
        detail=detail,
    )


@transaction.atomic
def escalation_acknowledge(*, user: User, escalation_id: int) -> Escalation:
    _require(user, "ack_escalation")
    e = _locked(escalation_id)
    if e.status == Escalation.Status.OPEN:
        e.status = Escalation.Status.ACKNOWLEDGED
        e.acknowledged_at = timezone.now()
        e.acknowledged_by = user
        e.save()
        _audit(user, "escalation.acknowledge", e)
        _publish_item(e)
        publish_care(e)
    return e


@transaction.atomic
def escalation_progress(*, user: User, escalation_id: int) -> Escalation:
    _require(user, "ack_escalation")
    e = _locked(escalation_id)
    if e.status in {Escalation.Status.OPEN, Escalation.Status.ACKNOWLEDGED}:
        e.acknowledged_at = e.acknowledged_at or timezone.now()
        e.acknowledged_by = e.acknowledged_by or user
        e.status = Escalation.Status.IN_PROGRESS
        e.save()
        _audit(user, "escalation.in_progress", e)
        _publish_item(e)
        publish_care(e)
    return e


@transaction.atomic
def escalation_resolve(
    *, user: User, escalation_id: int, outcome: str, false_alarm: bool
) -> Escalation:
    """Resolve with an outcome. "False alarm" is recorded so precision in real use can be
    measured (docs/risk-detection.md)."""
    _require(user, "resolve_escalation")
    e = _locked(escalation_id)
    e.status = Escalation.Status.FALSE_ALARM if false_alarm else Escalation.Status.RESOLVED
    staff_text.escalation_outcome_seal(e, outcome)
    e.resolved_at = timezone.now()
    e.acknowledged_at = e.acknowledged_at or e.resolved_at
    e.acknowledged_by = e.acknowledged_by or user
    e.save()
    _audit(user, "escalation.resolve", e, false_alarm=false_alarm)
    _publish_item(e)
    publish_care(e)
    return e


@transaction.atomic
def escalation_note_add(*, user: User, escalation_id: int, text: str) -> EscalationNote:
    _require(user, "ack_escalation")
    e = _locked(escalation_id)
    if e.data_key is None or e.data_key.destroyed_at is not None:
        # The member's keys were destroyed (erasure or retention): nothing can be sealed
        # under them, and a note must not be stored in the clear instead.
        raise NotesUnavailable("this member's data has been erased; notes can no longer be added")
    note = EscalationNote.objects.create(
        escalation=e, author=user, data_key=e.data_key, created_at=timezone.now()
    )
    note.ciphertext = seal_text(
        aead=aead_for(e.data_key), text=text, aad=_note_aad(e.pk, note.pk, e.data_key.pk)
    )
    note.save(update_fields=["ciphertext"])
    _audit(user, "escalation.note", e, note=note.pk)
    return note


@transaction.atomic
def escalation_view(*, user: User, escalation_id: int) -> values.EscalationDetail:
    """The decrypted excerpt and notes. Every view of decrypted content is audited."""
    _require(user, "view_decrypted_content")
    e = _locked(escalation_id)
    excerpt = open_text(
        data_key=e.data_key,
        sealed=e.excerpt_ciphertext,
        aad=_excerpt_aad(e.room_id, e.message_seq, e.data_key_id or 0),
    )
    notes = [
        values.NoteItem(
            author=n.author.get_username() if n.author else "removed",
            ts=n.created_at,
            text=open_text(
                data_key=n.data_key,
                sealed=n.ciphertext,
                aad=_note_aad(e.pk, n.pk, n.data_key_id or 0),
            ),
        )
        for n in e.notes.select_related("author", "data_key").order_by("created_at")
    ]
    _audit(user, "escalation.view_content", e)
    return values.EscalationDetail(id=e.pk, excerpt=excerpt, notes=notes)


@transaction.atomic
def escalation_open_support_room(*, user: User, escalation_id: int) -> Room:
    """A private one-to-one room between the member and staff. The member is invited, not
    moved: they choose whether to join (a support_offer frame reaches only them)."""
    role = _require(user, "open_support_room")
    e = _locked(escalation_id)
    if e.membership is None or e.membership.member_id is None:
        raise EscalationNotFound("the member is no longer here")
    # The name is random, not derived from the escalation or the time: a name anyone could
    # work out told everyone which support rooms existed (issue 13, finding 1). Only the two
    # memberships made below enter it (rooms/entry.py).
    room = Room.objects.create(
        slug=f"support-{random_slug()}",
        # Told apart in both people's room lists: who it is for, and since when.
        title=f"Private support for {e.pseudonym} ({_day(timezone.localdate())})",
        description="A private space with a member of our support team.",
        visibility=Room.Visibility.SUPPORT,
        capacity=2,
    )
    Agreement.objects.create(
        room=room, version=1, text="This is a private, confidential conversation with our team."
    )
    from rooms.services import _new_membership

    # The staff member's own name in rooms (never their username), beside their badge.
    Membership.objects.create(
        room=room, user=user, role=role, pseudonym=name_of(user) or "Support team"
    )
    _new_membership(room=room, member=e.membership.member, user=None)
    if e.status == Escalation.Status.OPEN:
        e.status = Escalation.Status.IN_PROGRESS
        e.acknowledged_at = timezone.now()
        e.acknowledged_by = user
    e.support_room = room
    e.save()
    _audit(user, "escalation.support_room", e, room=room.slug)
    offer = values.SupportOffer(room=room.slug, title=room.title)
    events.publish_on_commit(
        events.membership_group(e.membership.pk),
        events.room_frame_event(offer),
    )
    _publish_item(e)
    publish_care(e)
    return room


def _day(day: dt.date) -> str:
    """ "8 Dec": a date as people in the UK write it."""
    return f"{day.day} {day:%b}"


def escalations_open() -> list[values.EscalationItem]:
    rows = Escalation.objects.filter(
        status__in=[
            Escalation.Status.OPEN,
            Escalation.Status.ACKNOWLEDGED,
            Escalation.Status.IN_PROGRESS,
        ]
    ).select_related("room")
    return [escalation_item(e) for e in rows.order_by("sla_due_at")]


# --- SLA ----------------------------------------------------------------------------------


def escalations_check_sla(*, now: dt.datetime | None = None) -> int:
    """Re-notify every escalation not acknowledged in time and raise it to the on-call
    list; each breach moves its deadline on by one SLA period, so it repeats until someone
    acknowledges. Safe to run from several processes at once (rows are locked, skip locked)."""
    now = now or timezone.now()
    count = 0
    with transaction.atomic():
        due = (
            Escalation.objects.select_for_update(skip_locked=True)
            .select_related("room")
            .filter(status=Escalation.Status.OPEN, sla_due_at__lte=now)
        )
        for e in due:
            e.renotified += 1
            e.sla_due_at = now + dt.timedelta(seconds=settings.ESCALATION_SLA_SECONDS[e.severity])
            e.save(update_fields=["renotified", "sla_due_at", "updated_at"])
            audit_append(
                actor="system:sla",
                action="escalation.sla_breach",
                object_type="escalation",
                object_id=e.pk,
                detail={"renotified": e.renotified},
            )
            outbox.enqueue_escalation(e, event="sla_breach", now=now)
            _publish_item(e)
            count += 1
    return count


@transaction.atomic
def escalation_flag(*, flagger: Membership, seq: int, category: str, severity: str) -> Escalation:
    """A facilitator or moderator flags a message by hand: an escalation like the
    detector's, with the flagger recorded in the audit log. The writer is never told who."""
    from rooms.encryption import open_body
    from rooms.errors import MessageNotFound

    require(flagger.role, "flag_risk")
    message = (
        Message.objects.select_related("author", "data_key", "room")
        .filter(room_id=flagger.room_id, seq=seq, kind=Message.Kind.MESSAGE)
        .first()
    )
    if message is None or message.author is None:
        raise MessageNotFound("no message with that number in this room")
    return escalation_raise(
        room=message.room,
        membership=message.author,
        message=message,
        body=open_body(message) or "",
        category=category,
        severity=severity,
        evidence=[],
        source=Escalation.Source.MANUAL,
        flagged_by=f"membership:{flagger.pk}",
    )
