"""What facilitators and moderators do to hold a room: mute, remove, ban, hide, pin, slow
mode, pause and announce.

Every action checks the permission table, is written to the audit log (who, what, which
object; never message text), is committed before anyone is told, and then reaches every
connected client on every server process through the channel layer: the room sees the effect
(a hidden message, a pin, the room's state), the participant acted on is told privately and
plainly, and the other facilitators present see who did what. Enforcement never depends on
the broadcast arriving: the send path re-reads mutes and bans whenever the room's
``moderation_rev`` moves (rooms/services.py).
"""

from __future__ import annotations

import datetime as dt

import msgspec
from django.db import transaction
from django.utils import timezone

from chatserver.audit import audit_append
from chatserver.codes import Close
from chatserver.permissions import ROLES, require
from rooms import events, records, selectors, values
from rooms.encryption import current_data_key, seal_body
from rooms.errors import MessageNotFound, NotAllowed
from rooms.models import Membership, Message, Pin, Room
from rooms.recent import RECENT
from rooms.themes import HIDE_REASONS

MAX_PINS = 5
REASON_TEXT = {
    "agreement": "it goes against the group agreement",
    "identifying": "it could identify someone",
    "graphic": "it had graphic detail without a content warning",
    "harassment": "it was hurtful to someone in the room",
    "spam": "it was spam",
    "other": "a facilitator decided it should not stay up",
}
assert set(REASON_TEXT) == set(HIDE_REASONS)


def _actor_name(actor: Membership) -> str:
    return f"membership:{actor.pk}"


def _lock_room(actor: Membership) -> Room:
    return Room.objects.select_for_update().get(pk=actor.room_id)


def _target(actor: Membership, pseudonym: str) -> Membership:
    """The participant to act on: someone in the same room whose role is below the
    actor's (a facilitator cannot mute a moderator, nobody can act on themselves)."""
    target = selectors.membership_by_pseudonym(actor.room_id, pseudonym)
    if target.pk == actor.pk:
        raise NotAllowed("you cannot do that to yourself")
    if ROLES.index(target.role) >= ROLES.index(actor.role):
        raise NotAllowed(f"{pseudonym} has the same or a more trusted role than you")
    return target


def _audit(
    actor: Membership, action: str, object_type: str, object_id: object, **detail: object
) -> None:
    audit_append(
        actor=_actor_name(actor),
        action=action,
        object_type=object_type,
        object_id=object_id,
        detail={"room_id": actor.room_id, **detail},
    )


def _tell(target: Membership, frame: values.Moderated) -> None:
    events.publish_on_commit(events.membership_group(target.pk), events.room_frame_event(frame))


def _tell_facilitators(
    actor: Membership, action: str, target: str | None, detail: str | None = None
) -> None:
    frame = values.ModAction(actor=actor.pseudonym, action=action, target=target, detail=detail)
    events.publish_on_commit(
        events.room_staff_group(actor.room_id),
        events.room_frame_event(frame),
    )


def _to_room(room_id: int, frame: msgspec.Struct, seq: int | None = None) -> None:
    events.publish_on_commit(
        events.room_group(room_id),
        events.room_frame_event(frame, seq=seq),
    )


# --- participants -----------------------------------------------------------------------------


@transaction.atomic
def mute(*, actor: Membership, pseudonym: str, minutes: int) -> dt.datetime | None:
    """Stop a participant posting for ``minutes`` (0 lifts the mute). They can still read."""
    require(actor.role, "mute")
    room = _lock_room(actor)
    target = _target(actor, pseudonym)
    until = timezone.now() + dt.timedelta(minutes=minutes) if minutes else None
    target.muted_until = until
    target.save(update_fields=["muted_until"])
    Room.moderation_moved(room.pk)
    _audit(
        actor, "member.mute" if until else "member.unmute", "membership", target.pk, minutes=minutes
    )
    if until:
        message = "A facilitator has paused your messages for a while. You can still read the room."
        _tell(target, values.Moderated(action="muted", message=message, until=until))
    else:
        _tell(target, values.Moderated(action="unmuted", message="You can post again."))
    _tell_facilitators(
        actor, "mute" if until else "unmute", target.pseudonym, f"{minutes} min" if until else None
    )
    return until


@transaction.atomic
def remove(*, actor: Membership, pseudonym: str) -> None:
    """Take a participant out of the room now. They may come back, after accepting the
    agreement again; a ban is what keeps someone out."""
    require(actor.role, "remove")
    room = _lock_room(actor)
    target = _target(actor, pseudonym)
    target.agreement_version = 0
    target.save(update_fields=["agreement_version"])
    Room.moderation_moved(room.pk)
    _audit(actor, "member.remove", "membership", target.pk)
    message = "A facilitator has asked you to leave this room for now."
    _tell(target, values.Moderated(action="removed", message=message))
    events.publish_on_commit(events.membership_group(target.pk), events.close_event(Close.REMOVED))
    _tell_facilitators(actor, "remove", target.pseudonym)


@transaction.atomic
def ban(*, actor: Membership, pseudonym: str, scope: str) -> None:
    """Ban from this room, or (professional staff) from the whole service."""
    from rooms.services import member_ban, membership_ban  # services import this module

    require(actor.role, "ban_room" if scope == "room" else "ban_service")
    room = _lock_room(actor)
    target = _target(actor, pseudonym)
    message = "You can no longer take part in this room."
    if scope == "room":
        _tell(target, values.Moderated(action="banned", message=message))
        membership_ban(membership=target, actor=_actor_name(actor))
    else:
        if target.member is None:
            raise NotAllowed("staff accounts are removed by an admin, not banned")
        message = "You can no longer use this service."
        _tell(target, values.Moderated(action="banned", message=message))
        member_ban(member=target.member, actor=_actor_name(actor))
    Room.moderation_moved(room.pk)
    _tell_facilitators(actor, f"ban_{scope}", target.pseudonym)


# --- messages ---------------------------------------------------------------------------------


def _next_entry(
    room: Room, *, kind: str, actor: Membership, target_seq: int, reason: str = ""
) -> tuple[int, dt.datetime]:
    now = timezone.now()
    seq = room.last_seq + 1
    Message.objects.create(
        room=room,
        seq=seq,
        kind=kind,
        author=actor,
        author_pseudonym=actor.pseudonym,
        created_at=now,
        target_seq=target_seq,
        hidden_reason=reason,
    )
    records.set_last_seq(room_id=room.pk, seq=seq)
    room.last_seq = seq
    return seq, now


def _visible_message(room: Room, seq: int) -> Message:
    message = (
        Message.objects.select_related("author")
        .filter(
            room=room,
            seq=seq,
            kind__in=[Message.Kind.MESSAGE, Message.Kind.ANNOUNCEMENT],
            deleted_at__isnull=True,
            hidden_at__isnull=True,
        )
        .first()
    )
    if message is None:
        raise MessageNotFound("no visible message with that number in this room")
    return message


@transaction.atomic
def hide(*, actor: Membership, seq: int, reason: str) -> int:
    """Hide a message from the room (a soft delete: moderators can still read it). Its author
    is told why. A hide entry takes the next sequence number so every client, including one
    that resumes later, learns of it. Returns that number."""
    require(actor.role, "hide_message")
    if reason not in REASON_TEXT:
        raise NotAllowed("choose one of the listed reasons")
    room = _lock_room(actor)
    message = _visible_message(room, seq)
    author = message.author
    if (
        author is not None
        and author.pk != actor.pk
        and ROLES.index(author.role) >= ROLES.index(actor.role)
    ):
        raise NotAllowed("that message was written by someone with the same or a more trusted role")
    message.hidden_at = timezone.now()
    message.hidden_reason = reason
    message.save(update_fields=["hidden_at", "hidden_reason"])
    RECENT.forget(room.pk, seq)  # no longer anyone's context for the risk detector
    entry_seq, now = _next_entry(
        room, kind=Message.Kind.HIDE, actor=actor, target_seq=seq, reason=reason
    )
    _audit(actor, "message.hide", "message", message.pk, seq=seq, reason=reason)
    _to_room(
        room.pk, values.Hidden(seq=entry_seq, ts=now, target=seq, reason=reason), seq=entry_seq
    )
    if author is not None and author.pk != actor.pk:
        text = f"A facilitator hid one of your messages because {REASON_TEXT[reason]}."
        _tell(author, values.Moderated(action="hidden", message=text, seq=seq, reason=reason))
    if Pin.objects.filter(room=room, seq=seq).exists():
        _publish_pins(room.pk)
    _tell_facilitators(actor, "hide", message.author_pseudonym, f"#{seq}: {reason}")
    return entry_seq


def _publish_pins(room_id: int) -> None:
    transaction.on_commit(
        lambda: events.send_now(
            events.room_group(room_id),
            events.room_frame_event(selectors.pins(room_id)),
        ),
        robust=True,
    )


@transaction.atomic
def pin(*, actor: Membership, seq: int) -> None:
    require(actor.role, "pin")
    room = _lock_room(actor)
    _visible_message(room, seq)
    if Pin.objects.filter(room=room).count() >= MAX_PINS:
        raise NotAllowed(f"a room can have {MAX_PINS} pinned messages: unpin one first")
    _, created = Pin.objects.get_or_create(room=room, seq=seq, defaults={"pinned_by": actor})
    if created:
        _audit(actor, "message.pin", "room", room.pk, seq=seq)
        _tell_facilitators(actor, "pin", None, f"#{seq}")
    _publish_pins(room.pk)


@transaction.atomic
def unpin(*, actor: Membership, seq: int) -> None:
    require(actor.role, "pin")
    room = _lock_room(actor)
    if not Pin.objects.filter(room=room, seq=seq).delete()[0]:
        raise MessageNotFound("that message is not pinned")
    _audit(actor, "message.unpin", "room", room.pk, seq=seq)
    _tell_facilitators(actor, "unpin", None, f"#{seq}")
    _publish_pins(room.pk)


@transaction.atomic
def announce(*, actor: Membership, body: str) -> int:
    """A facilitator's announcement: a message in the log (persisted and sealed like any
    other, resumable) that clients show apart from the conversation."""
    require(actor.role, "announce")
    room = _lock_room(actor)
    if room.state == Room.State.CLOSED:
        raise NotAllowed("this room is closed")
    now = timezone.now()
    seq = room.last_seq + 1
    key_id, aead = current_data_key(room=room, membership=actor)
    records.insert_message(
        room_id=room.pk,
        seq=seq,
        author_id=actor.pk,
        author_pseudonym=actor.pseudonym,
        client_id="",
        created_at=now,
        data_key_id=key_id,
        ciphertext=seal_body(aead=aead, room_id=room.pk, seq=seq, data_key_id=key_id, body=body),
        kind=Message.Kind.ANNOUNCEMENT.value,
        author_role=selectors.role_badge(actor.role),
    )
    records.set_last_seq(room_id=room.pk, seq=seq)
    _audit(actor, "room.announce", "room", room.pk, seq=seq)
    frame = values.Message(
        seq=seq,
        ts=now,
        author=actor.pseudonym,
        body=body,
        announcement=True,
        role=selectors.role_badge(actor.role) or None,
    )
    events.publish_on_commit(
        events.room_group(room.pk),
        events.room_frame_event(frame, seq=seq, author_id=actor.pk),
    )
    return seq


# --- the room ---------------------------------------------------------------------------------


@transaction.atomic
def slow_mode(*, actor: Membership, seconds: int) -> None:
    require(actor.role, "slow_mode")
    room = _lock_room(actor)
    room.slow_mode_seconds = seconds
    room.save(update_fields=["slow_mode_seconds"])
    _audit(actor, "room.slow_mode", "room", room.pk, seconds=seconds)
    _to_room(room.pk, selectors.room_state(room))
    _tell_facilitators(actor, "slow_mode", None, f"{seconds} s")


@transaction.atomic
def set_state(*, actor: Membership, state: str) -> None:
    """Pause the room (members cannot post; facilitators can, to explain) or reopen it."""
    from rooms.services import room_set_state

    require(actor.role, "pause_room")
    if state not in (Room.State.OPEN, Room.State.PAUSED):
        raise NotAllowed("a room can be paused or reopened here; closing is done by staff")
    room = _lock_room(actor)
    if room.state == Room.State.CLOSED:
        raise NotAllowed("this room is closed")
    room_set_state(room=room, state=state)
    _audit(actor, "room.pause" if state == Room.State.PAUSED else "room.reopen", "room", room.pk)
    _tell_facilitators(actor, "pause" if state == Room.State.PAUSED else "reopen", None)
