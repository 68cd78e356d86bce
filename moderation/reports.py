"""Members' reports of messages: to the people who can act, never about the reporter.

A participant reports a message with a reason (and, if they like, a note). The report goes
at once to the room's facilitators (a ``report_notice`` on their room sockets) and to the
moderators (a ``report`` item on the staff socket), so it is never left waiting for a distant
admin. Neither frame names the reporter: the reported member and the room never learn who
it was, and staff see the message and its author, not the person who spoke up. The reporter
is kept on the row only so a moderator can answer them privately.

What a person wrote stays sealed: the note under the reporter's data key, replies under the
reporter's data key too (erasing the reporter shreds both). Staff read the reported message
and the note one report at a time (``report_view``), and every such view is audited; lists
carry no decrypted content. Audit entries never hold the note, a reply or the reporter.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.db.models import Count, F, Prefetch, Q
from django.utils import timezone

from chatserver.audit import actor_for_user, audit_append
from chatserver.codes import ErrorCode
from chatserver.permissions import require
from moderation.models import Report, ReportReply
from moderation.staff_text import report_outcome_seal
from rooms import events, values
from rooms.encryption import current_data_key, open_body, open_text, seal_text
from rooms.errors import MessageNotFound, NotAllowed, RateLimited, RoomError
from rooms.models import Member, Membership, Message, Room
from rooms.roles import role_for_user

NOTE_MAX_CHARS = 1000
REPLY_MAX_CHARS = 2000
OUTCOME_MAX_CHARS = 200
OPEN_LIST_LIMIT = 200
# A reporter still sees a closed report, and the answers to it, for this long.
CLOSED_VISIBLE_FOR = dt.timedelta(days=30)
REPORTABLE_KINDS = (Message.Kind.MESSAGE, Message.Kind.ANNOUNCEMENT)


class ReportNotFound(RoomError):
    code = ErrorCode.NOT_FOUND
    http_status = 404


class ReportInvalid(RoomError):
    code = ErrorCode.INVALID_FRAME
    http_status = 400


class ReporterGone(RoomError):
    """The reporter's membership is gone or they asked for their data to be erased: an
    answer could not reach them, and must not be stored in the clear instead."""

    code = "data_erased"
    http_status = 409


# --- sealing -------------------------------------------------------------------------------


def _note_aad(report_id: int, key_id: int) -> str:
    return f"report-note|{report_id}|{key_id}"


def _reply_aad(report_id: int, reply_id: int, key_id: int) -> str:
    return f"report-reply|{report_id}|{reply_id}|{key_id}"


def _open_note(report: Report) -> str | None:
    return open_text(
        data_key=report.data_key,
        sealed=report.note_ciphertext,
        aad=_note_aad(report.pk, report.data_key_id or 0),
    )


def _open_reply(reply: ReportReply) -> str | None:
    return open_text(
        data_key=reply.data_key,
        sealed=reply.ciphertext,
        aad=_reply_aad(reply.report_id, reply.pk, reply.data_key_id or 0),
    )


# --- frames --------------------------------------------------------------------------------


def report_item(
    report: Report, *, replies: int, body: str | None = None, note: str | None = None
) -> values.StaffReportItem:
    """A report as moderators see it. It has no field for the reporter, by design."""
    return values.StaffReportItem(
        id=report.pk,
        room=report.room.slug,
        room_title=report.room.title,
        seq=report.message_seq,
        author=report.reported_pseudonym,
        reason=report.reason,
        status=report.status,
        created_at=report.created_at,
        body=body,
        note=note,
        replies=replies,
    )


def _publish_item(report: Report) -> None:
    """The changed report to every staff socket (the same group and handler as escalation
    items), with no decrypted content."""
    item = report_item(report, replies=report.replies.count())
    frame = values.StaffReportUpdate(item=item)
    events.publish_on_commit(events.STAFF_QUEUE_GROUP, events.room_frame_event(frame))


def _notify_room_staff(report: Report, reported_role: str | None) -> None:
    """The heads-up for the facilitators present in the room. A report about a facilitator's
    or moderator's own message goes to the moderators only: that group includes the person
    reported, and in a small room being told of a report can point at who made it."""
    if reported_role not in (None, Membership.Role.MEMBER):
        return
    notice = values.ReportNotice(
        id=report.pk,
        seq=report.message_seq,
        author=report.reported_pseudonym,
        reason=report.reason,
        ts=report.created_at,
    )
    events.publish_on_commit(
        events.room_staff_group(report.room_id),
        events.room_frame_event(notice),
    )


# --- making a report -----------------------------------------------------------------------


def _membership_actor(membership: Membership) -> str:
    # The same form as a flag's actor (moderation/escalations.py): an id, never a pseudonym.
    return f"membership:{membership.pk}"


def _reportable_message(room_id: int, seq: int) -> Message:
    message = (
        Message.objects.select_related("author")
        .filter(room_id=room_id, seq=seq, kind__in=REPORTABLE_KINDS)
        .first()
    )
    if message is None:
        raise MessageNotFound("no message with that number in this room")
    return message


def _check_report(reporter: Membership, message: Message, reason: str, note: str) -> None:
    if message.author_id is not None and message.author_id == reporter.pk:
        raise NotAllowed("you cannot report your own message; you can delete it instead")
    if reason not in Report.Reason.values:
        raise ReportInvalid(f"choose one of the reasons: {', '.join(Report.Reason.values)}")
    if len(note) > NOTE_MAX_CHARS:
        raise ReportInvalid(f"the note is limited to {NOTE_MAX_CHARS} characters")


def _existing(room_id: int, seq: int, reporter: Membership) -> Report | None:
    return (
        Report.objects.select_related("room")
        .filter(room_id=room_id, message_seq=seq, reporter=reporter)
        .first()
    )


def _seal_note(report: Report, room: Room, reporter: Membership, note: str) -> None:
    """The note under the reporter's current data key; the row exists first, so the
    associated data can bind the ciphertext to this report."""
    key_id, aead = current_data_key(room=room, membership=reporter)
    report.data_key_id = key_id
    report.note_ciphertext = seal_text(aead=aead, text=note, aad=_note_aad(report.pk, key_id))
    report.save(update_fields=["data_key", "note_ciphertext"])


@transaction.atomic
def _check_report_rate(reporter: Membership) -> None:
    """A reporter files at most ``CHAT_REPORTS_PER_HOUR`` new reports an hour: each one
    notifies the room's facilitators and the moderators, so a flood of reports of different
    messages would bury the ones that matter."""
    hour_ago = timezone.now() - dt.timedelta(hours=1)
    recent = Report.objects.filter(reporter=reporter, created_at__gte=hour_ago)
    if recent.count() < settings.CHAT_REPORTS_PER_HOUR:
        return
    oldest = recent.order_by("created_at").values_list("created_at", flat=True).first()
    wait = (oldest - hour_ago).total_seconds() if oldest else 60.0
    raise RateLimited(
        "you have sent a lot of reports just now; a moderator is looking at them",
        retry_after=round(max(1.0, wait), 3),
    )


def report_make(*, reporter: Membership, seq: int, reason: str, note: str = "") -> Report:
    """Report message ``seq`` of the reporter's room. Reporting the same message again
    returns the first report and notifies nobody twice."""
    require(reporter.role, "report")
    message = _reportable_message(reporter.room_id, seq)
    note = note.strip()
    _check_report(reporter, message, reason, note)
    existing = _existing(reporter.room_id, seq, reporter)
    if existing is not None:
        return existing
    _check_report_rate(reporter)
    room = Room.objects.get(pk=reporter.room_id)  # fresh: the key epoch may have moved on
    try:
        with transaction.atomic():  # a savepoint: a concurrent twin hits the unique constraint
            report = Report.objects.create(
                room=room,
                message_seq=seq,
                reported=message.author,
                reported_pseudonym=message.author_pseudonym,
                reporter=reporter,
                reason=reason,
                created_at=timezone.now(),
            )
    except IntegrityError:
        twin = _existing(reporter.room_id, seq, reporter)
        if twin is None:
            raise
        return twin
    if note:
        _seal_note(report, room, reporter, note)
    audit_append(
        actor=_membership_actor(reporter),
        action="report.make",
        object_type="report",
        object_id=report.pk,
        detail={"room": room.slug, "seq": seq, "reason": reason},
    )
    reported_role = message.author.role if message.author else None
    if reported_role in (None, Membership.Role.MEMBER):
        # The facilitators' marker on the message (they are told of reports about members).
        Message.objects.filter(pk=message.pk).update(reports=F("reports") + 1)
    _notify_room_staff(report, reported_role)
    _publish_item(report)
    return report


# --- what staff see and do -----------------------------------------------------------------


def _require(user: User, action: str) -> None:
    require(role_for_user(user), action)


def _locked(report_id: int) -> Report:
    report = (
        # Only this row is locked: the joined reporter and key may be null (an outer join).
        Report.objects.select_for_update(of=("self",))
        .select_related("room", "reporter", "data_key")
        .filter(pk=report_id)
        .first()
    )
    if report is None:
        raise ReportNotFound("no such report")
    return report


def _audit(user: User, action: str, report: Report, **detail: Any) -> None:
    audit_append(
        actor=actor_for_user(user),
        action=action,
        object_type="report",
        object_id=report.pk,
        detail=detail,
    )


def reports_open() -> list[values.StaffReportItem]:
    """Open reports, newest first, for the staff socket's snapshot. No decrypted content:
    reading a report is a separate, audited request."""
    rows = (
        Report.objects.filter(status=Report.Status.OPEN)
        .select_related("room")
        .annotate(reply_count=Count("replies"))
        .order_by("-created_at", "-pk")[:OPEN_LIST_LIMIT]
    )
    return [report_item(r, replies=r.reply_count) for r in rows]


def _reported_message(report: Report) -> Message | None:
    return (
        Message.objects.select_related("data_key")
        .filter(room_id=report.room_id, seq=report.message_seq, kind__in=REPORTABLE_KINDS)
        .first()
    )


@transaction.atomic
def report_view(*, user: User, report_id: int) -> values.StaffReportItem:
    """The report with the reported message and the note decrypted. Every view of
    decrypted content by staff is written to the audit log."""
    _require(user, "view_decrypted_content")
    report = _locked(report_id)
    message = _reported_message(report)
    body = open_body(message) if message is not None else None
    note = _open_note(report)
    _audit(user, "report.view", report)
    return report_item(report, replies=report.replies.count(), body=body, note=note)


def _reporter_reachable(report: Report) -> Membership:
    reporter = report.reporter
    if reporter is None or (
        reporter.member_id is not None
        and Member.objects.filter(pk=reporter.member_id, erased_at__isnull=False).exists()
    ):
        raise ReporterGone(
            "the person who made this report is no longer here; they cannot be answered"
        )
    return reporter


@transaction.atomic
def report_reply(*, user: User, report_id: int, text: str) -> ReportReply:
    """A private answer to the reporter, sealed under their data key and sent only to
    their own sockets in the room. Nobody else in the room sees it."""
    _require(user, "handle_reports")
    text = text.strip()
    if not text or len(text) > REPLY_MAX_CHARS:
        raise ReportInvalid(f"a reply is 1 to {REPLY_MAX_CHARS} characters")
    report = _locked(report_id)
    reporter = _reporter_reachable(report)
    room = Room.objects.get(pk=report.room_id)
    key_id, aead = current_data_key(room=room, membership=reporter)
    reply = ReportReply.objects.create(
        report=report, author=user, data_key_id=key_id, created_at=timezone.now()
    )
    reply.ciphertext = seal_text(aead=aead, text=text, aad=_reply_aad(report.pk, reply.pk, key_id))
    reply.save(update_fields=["ciphertext"])
    _audit(user, "report.reply", report, reply=reply.pk)
    frame = values.ModeratorReply(report_id=report.pk, seq=report.message_seq, text=text)
    events.publish_on_commit(events.membership_group(reporter.pk), events.room_frame_event(frame))
    _publish_item(report)
    return reply


@transaction.atomic
def report_close(*, user: User, report_id: int, outcome: str) -> Report:
    """Close with a short outcome. Closing a closed report changes nothing."""
    _require(user, "handle_reports")
    outcome = outcome.strip()
    if not outcome or len(outcome) > OUTCOME_MAX_CHARS:
        raise ReportInvalid(f"the outcome is 1 to {OUTCOME_MAX_CHARS} characters")
    report = _locked(report_id)
    if report.status == Report.Status.CLOSED:
        return report
    report.status = Report.Status.CLOSED
    report_outcome_seal(report, outcome)
    report.closed_at = timezone.now()
    report.closed_by = user
    report.save(
        update_fields=["status", "outcome_ciphertext", "data_key", "closed_at", "closed_by"]
    )
    _audit(user, "report.close", report)
    _publish_item(report)
    return report


# --- what the reporter sees ----------------------------------------------------------------


def my_reports(membership: Membership) -> values.MyReports:
    """The participant's own reports in this room (open ones, and those closed in the last
    30 days) with the moderators' answers. Reading answers addressed to oneself is not a
    staff view of content, so nothing is audited."""
    since = timezone.now() - CLOSED_VISIBLE_FOR
    replies = ReportReply.objects.select_related("data_key").order_by("created_at", "pk")
    rows = list(
        Report.objects.filter(reporter=membership)
        .filter(Q(status=Report.Status.OPEN) | Q(closed_at__gte=since))
        .prefetch_related(Prefetch("replies", queryset=replies))
        .order_by("-created_at", "-pk")
    )
    messages = {
        m.seq: m
        for m in Message.objects.filter(
            room_id=membership.room_id, seq__in=[r.message_seq for r in rows]
        ).select_related("data_key")
    }
    return values.MyReports(
        items=[_my_item(report, messages.get(report.message_seq)) for report in rows]
    )


EXCERPT_WORDS = 8


def _excerpt(message: Message | None) -> str | None:
    """The reported message's first words, so the reporter knows which one it was: only
    while anyone in the room can still read it (not deleted, hidden or unreadable)."""
    if message is None or message.deleted_at is not None or message.hidden_at is not None:
        return None
    body = open_body(message)
    if not body:
        return None
    words = body.split()
    return " ".join(words[:EXCERPT_WORDS]) + ("…" if len(words) > EXCERPT_WORDS else "")


def _my_item(report: Report, message: Message | None = None) -> values.ReportItem:
    # A reply whose key was destroyed (retention) is left out rather than shown empty.
    texts = [text for text in map(_open_reply, report.replies.all()) if text is not None]
    return values.ReportItem(
        id=report.pk,
        seq=report.message_seq,
        reason=report.reason,
        status=report.status,
        replies=texts,
        excerpt=_excerpt(message),
    )
