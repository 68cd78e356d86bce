"""Messages held back for a facilitator's review instead of being published.

Two things hold a message: a room's blocked-term list (configured per room by staff), and,
in a room whose policy says so, a critical risk finding. A held message takes no sequence
number, so the room's log stays gap-free and nobody else learns it exists; its sender is told
gently at once. A facilitator then releases it (it enters the log with the next sequence
number, sealed again for that position) or does not publish it (its text is destroyed and the
sender is told). Detection still alerts staff either way: holding is about what the room
sees, never about silencing someone at risk.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.utils import timezone

from chatserver.audit import audit_append
from chatserver.permissions import require
from moderation.risk import Assessment
from rooms import events, records, values
from rooms.care import care_finding
from rooms.encryption import current_data_key, open_text, seal_body, seal_text
from rooms.errors import MessageNotFound
from rooms.models import HeldMessage, Membership, Message, Room
from rooms.selectors import message_frame, role_badge
from rooms.themes import fold

HOLD_MESSAGES: dict[str, str] = {
    HeldMessage.Reason.BLOCKED_TERM: (
        "Your message is waiting for a facilitator to look at it before it is shared, "
        "because it contains a word this room has asked to check first."
    ),
    HeldMessage.Reason.RISK: (
        "Thank you for sharing this. A facilitator will read your message before it goes "
        "to the room. You are not in trouble, and support is here for you now."
    ),
}


@functools.lru_cache(maxsize=512)
def _blocked_pattern(terms: str) -> re.Pattern[str] | None:
    """One compiled alternation per distinct term list (cached: the list changes rarely).
    Terms match whole words, case- and accent-insensitively, with any spacing between the
    words of a phrase."""
    words = [fold(line.strip()) for line in terms.splitlines() if line.strip()]
    if not words:
        return None
    parts = [re.escape(w).replace(r"\ ", r"\s+") for w in sorted(set(words), key=len, reverse=True)]
    return re.compile(r"(?<!\w)(?:" + "|".join(parts) + r")(?!\w)")


def blocked_term_found(terms: str, body: str) -> bool:
    pattern = _blocked_pattern(terms)
    return pattern is not None and pattern.search(fold(body)) is not None


def hold_reason(room: Room, body: str, assessment: Assessment) -> str | None:
    """Why this message must wait for review, or None to publish it."""
    if room.blocked_terms and blocked_term_found(room.blocked_terms, body):
        return HeldMessage.Reason.BLOCKED_TERM
    if room.risky_messages == Room.RiskyMessages.HOLD and care_finding(assessment) is not None:
        return HeldMessage.Reason.RISK
    return None


def _held_aad(room_id: int, author_id: int, client_id: str, key_id: int) -> str:
    return f"held:{room_id}:{author_id}:{client_id}:{key_id}"


@dataclass(frozen=True)
class HoldResult:
    held: HeldMessage
    duplicate: bool


def hold_message(
    *,
    room: Room,
    membership: Membership,
    client_id: str,
    body: str,
    reason: str,
    themes: str,
    cw: bool,
    now: dt.datetime,
    care: str = "",
    risk: tuple[str, str] | None = None,
) -> HoldResult:
    """Store the message sealed, outside the log. Runs inside the send transaction (the room
    row is locked). A repeated client id returns what was held the first time."""
    key_id, aead = current_data_key(room=room, membership=membership)
    try:
        with transaction.atomic():
            held = HeldMessage.objects.create(
                room=room,
                author=membership,
                author_pseudonym=membership.pseudonym,
                client_id=client_id,
                reason=reason,
                data_key_id=key_id,
                ciphertext=seal_text(
                    aead=aead,
                    text=body,
                    aad=_held_aad(room.pk, membership.pk, client_id, key_id),
                ),
                themes=themes,
                cw=cw,
                care=care,
                risk_category=risk[0] if risk else "",
                risk_severity=risk[1] if risk else "",
                created_at=now,
            )
    except IntegrityError:
        held = HeldMessage.objects.get(room=room, author=membership, client_id=client_id)
        return HoldResult(held=held, duplicate=True)
    audit_append(
        actor="system:send-path",
        action="message.hold",
        object_type="held_message",
        object_id=held.pk,
        detail={"room": room.slug, "reason": reason},
    )
    _publish_queue(room)
    return HoldResult(held=held, duplicate=False)


def _held_body(held: HeldMessage) -> str | None:
    if held.data_key_id is None:
        return None
    return open_text(
        data_key=held.data_key,
        sealed=held.ciphertext,
        aad=_held_aad(held.room_id, held.author_id, held.client_id, held.data_key_id),
    )


def held_queue(room_id: int) -> values.HeldQueue:
    """What facilitators review: the room's pending held messages, oldest first."""
    rows = HeldMessage.objects.filter(room_id=room_id, status=HeldMessage.Status.PENDING)
    return values.HeldQueue(
        items=[
            values.HeldItem(
                id=h.pk,
                author=h.author_pseudonym,
                body=_held_body(h),
                reason=h.reason,
                ts=h.created_at,
            )
            for h in rows.select_related("data_key").order_by("created_at", "pk")[:100]
        ]
    )


def _publish_queue(room: Room) -> None:
    frame = held_queue(room.pk)
    events.publish_on_commit(events.room_staff_group(room.pk), events.room_frame_event(frame))


def _locked_pending(actor: Membership, held_id: int) -> tuple[Room, HeldMessage]:
    room = Room.objects.select_for_update().get(pk=actor.room_id)
    held = (
        HeldMessage.objects.select_related("author", "data_key")
        .filter(pk=held_id, room=room, status=HeldMessage.Status.PENDING)
        .first()
    )
    if held is None:
        raise MessageNotFound("no message waiting for review with that number")
    return room, held


def _tell_author(held: HeldMessage, decision: values.HeldDecision) -> None:
    events.publish_on_commit(
        events.membership_group(held.author_id),
        events.room_frame_event(decision),
    )


@transaction.atomic
def held_release(*, actor: Membership, held_id: int) -> int:
    """Publish a held message: it takes the room's next sequence number and is sealed again
    for that position under its author's current key. Returns the new sequence number."""
    require(actor.role, "review_held")
    room, held = _locked_pending(actor, held_id)
    body = _held_body(held)
    if body is None:
        raise MessageNotFound("this message can no longer be read (its key was destroyed)")
    now = timezone.now()
    seq = room.last_seq + 1
    key_id, aead = current_data_key(room=room, membership=held.author)
    message_id = records.insert_message(
        room_id=room.pk,
        seq=seq,
        author_id=held.author_id,
        author_pseudonym=held.author_pseudonym,
        client_id=held.client_id,
        created_at=now,
        data_key_id=key_id,
        ciphertext=seal_body(aead=aead, room_id=room.pk, seq=seq, data_key_id=key_id, body=body),
        themes=held.themes,
        cw=held.cw,
        author_role=role_badge(held.author.role),
        care=held.care,
    )
    if message_id is None:  # the same client id was published meanwhile
        raise MessageNotFound("this message was already published")
    records.set_last_seq(room_id=room.pk, seq=seq)
    if held.risk_severity:
        Message.objects.filter(pk=message_id).update(
            risk_category=held.risk_category, risk_severity=held.risk_severity
        )
    held.status = HeldMessage.Status.RELEASED
    held.decided_at, held.decided_by, held.released_seq = now, actor, seq
    held.ciphertext = None
    held.save(update_fields=["status", "decided_at", "decided_by", "released_seq", "ciphertext"])
    audit_append(
        actor=f"membership:{actor.pk}",
        action="message.release",
        object_type="held_message",
        object_id=held.pk,
        detail={"room": room.slug, "seq": seq},
    )
    message = Message(
        room=room,
        seq=seq,
        author_pseudonym=held.author_pseudonym,
        created_at=now,
        author_role=role_badge(held.author.role),
        care=held.care,
    )
    frame = message_frame(message, body=body, themes=held.themes, cw=held.cw)
    events.publish_on_commit(
        events.room_group(room.pk),
        events.room_frame_event(frame, seq=seq, author_id=held.author_id),
    )
    _tell_author(held, values.HeldDecision(client_id=held.client_id, status="released", seq=seq))
    _publish_queue(room)
    return seq


@transaction.atomic
def held_reject(*, actor: Membership, held_id: int) -> None:
    """Do not publish: the text is destroyed now, and the sender is told."""
    require(actor.role, "review_held")
    room, held = _locked_pending(actor, held_id)
    held.status = HeldMessage.Status.REJECTED
    held.decided_at, held.decided_by = timezone.now(), actor
    held.ciphertext = None
    held.save(update_fields=["status", "decided_at", "decided_by", "ciphertext"])
    audit_append(
        actor=f"membership:{actor.pk}",
        action="message.reject",
        object_type="held_message",
        object_id=held.pk,
        detail={"room": room.slug},
    )
    _tell_author(held, values.HeldDecision(client_id=held.client_id, status="rejected"))
    _publish_queue(room)
