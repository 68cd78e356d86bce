"""Writes: joining rooms, sending and deleting messages, invites, room state, connections.

Every function here owns its transaction. A message is committed before it is acknowledged
or fanned out; fan-out is queued with ``transaction.on_commit`` so a rolled-back write is
never announced.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.utils import timezone

from chatserver.codes import Close
from chatserver.crypto import fingerprint, random_token
from moderation import risk
from rooms import entry, events, policies, records, selectors, sittings, values
from rooms.care import care_of
from rooms.encryption import current_data_key, forget_cached_keys, seal_body
from rooms.errors import (
    AgreementRequired,
    InviteInvalid,
    MessageNotFound,
    Muted,
    NotAllowed,
    RoomClosed,
    RoomFull,
    RoomNotFound,
    RoomPaused,
    SlowMode,
)
from rooms.models import Connection, Invite, Member, Membership, Message, Room
from rooms.pseudonyms import new_pseudonym
from rooms.recent import RECENT
from rooms.roles import role_for_user
from rooms.selectors import current_agreement_version
from rooms.staffnames import staff_pseudonym
from rooms.themes import decode_themes, encode_themes

# --- membership ---------------------------------------------------------------------------


def _new_membership(*, room: Room, member: Member | None, user: User | None) -> Membership:
    role = Membership.Role.MEMBER if user is None else (role_for_user(user) or "")
    if user is not None and not role:
        raise NotAllowed("this account has no role in the service")
    if user is not None:
        # Staff go by the name they chose, the same in every room (rooms/staffnames.py).
        return Membership.objects.create(
            room=room, member=None, user=user, role=role, pseudonym=staff_pseudonym(user)
        )
    for _ in range(5):
        pseudonym = new_pseudonym(
            lambda name: Membership.objects.filter(room=room, pseudonym=name).exists()
        )
        try:
            with transaction.atomic():
                return Membership.objects.create(
                    room=room, member=member, user=user, role=role, pseudonym=pseudonym
                )
        except IntegrityError:  # a concurrent join took the same pseudonym
            continue
    raise IntegrityError("could not allocate a unique pseudonym")


def _existing_membership(
    *, room: Room, member: Member | None, user: User | None
) -> Membership | None:
    return selectors.membership_of(room=room, member=member, user=user)


def _check_can_enter(room: Room, membership: Membership | None) -> None:
    if room.state == Room.State.CLOSED:
        raise RoomClosed("this room is closed")
    if membership is not None and membership.banned_at is not None:
        raise NotAllowed("you cannot join this room")
    if membership is not None and membership.member is not None and membership.member.banned_at:
        raise NotAllowed("you cannot join this room")


@transaction.atomic
def membership_join(
    *,
    room: Room,
    agreement_version: int,
    member: Member | None = None,
    user: User | None = None,
) -> Membership:
    """Accept the room's current agreement and become (or stay) a participant. A private
    room needs a membership made beforehand (an invite, a support room's opening) unless the
    staff user's role may enter it uninvited (``rooms/entry.py``); to anyone else it answers
    as a room that does not exist, before anything that would tell it apart (its state, its
    agreement, its capacity)."""
    room = Room.objects.select_for_update().get(pk=room.pk)
    membership = _existing_membership(room=room, member=member, user=user)
    if membership is None and not entry.may_join_uninvited(room, user):
        raise RoomNotFound
    _check_can_enter(room, membership)
    current = current_agreement_version(room)
    if agreement_version != current:
        raise AgreementRequired(f"please read and accept version {current} of the agreement")
    if membership is None:
        if selectors.active_member_count(room.pk) >= room.capacity:
            raise RoomFull("this room is full")
        membership = _new_membership(room=room, member=member, user=user)
    _check_training(membership, user)
    membership.agreement_version = current
    membership.agreement_accepted_at = timezone.now()
    membership.save(update_fields=["agreement_version", "agreement_accepted_at"])
    return membership


@transaction.atomic
def membership_rename(*, room: Room, member: Member) -> Membership:
    """ "Give me another name": a member draws a new random pseudonym for the room, as long as
    nobody has seen the one they have (nothing written or held in the room yet)."""
    membership = Membership.objects.select_for_update().filter(room=room, member=member).first()
    if membership is None:
        raise NotAllowed("join the room (and accept its agreement) first")
    if membership.messages.exists() or membership.held_messages.exists():
        raise NotAllowed("you have already written in this room under your name; it stays")
    old = membership.pseudonym
    membership.pseudonym = new_pseudonym(
        lambda name: name == old or Membership.objects.filter(room=room, pseudonym=name).exists()
    )
    membership.save(update_fields=["pseudonym"])
    return membership


def membership_authorize(*, room: Room, member: Member | None, user: User | None) -> Membership:
    """The membership a socket (or a history request) acts as, or the reason it may not
    enter. A private room the caller may not see answers as no room at all."""
    membership = _existing_membership(room=room, member=member, user=user)
    if not entry.may_see(room, membership, user):
        raise RoomNotFound
    _check_can_enter(room, membership)
    if membership is None:
        raise NotAllowed("join the room (and accept its agreement) first")
    if membership.agreement_version != current_agreement_version(room):
        raise AgreementRequired("the room's agreement has changed: please accept it again")
    _check_training(membership, user)
    return membership


def _check_training(membership: Membership, user: User | None) -> None:
    """What the apps above require of a staff user entering (a peer facilitator's training
    must be current): the entry checks they installed (``rooms.policies``)."""
    if user is not None:
        policies.check_entry(membership, user)


# --- invites ------------------------------------------------------------------------------


def invite_create(
    *, room: Room, created_by: User | None, days: int | None = None, max_uses: int = 1
) -> str:
    """A new invite code (returned once; only its fingerprint is stored)."""
    code = random_token(12)
    Invite.objects.create(
        room=room,
        code_fingerprint=fingerprint(code),
        expires_at=timezone.now() + dt.timedelta(days=days or settings.CHAT_INVITE_DAYS),
        max_uses=max_uses,
        created_by=created_by,
    )
    return code


@transaction.atomic
def invite_redeem(
    *, code: str, member: Member | None = None, user: User | None = None
) -> Membership:
    """Become a participant of the invite's room: an anonymous member, or a staff user (a
    facilitator enters an invite-only room this way, like everyone without
    ``enter_invite_rooms``). The agreement is accepted afterwards, by joining."""
    invite = (
        Invite.objects.select_for_update()
        .select_related("room")
        .filter(code_fingerprint=fingerprint(code.strip()))
        .first()
    )
    if invite is None or invite.expires_at <= timezone.now() or invite.uses >= invite.max_uses:
        raise InviteInvalid("this invite code is not valid or has expired")
    membership = _existing_membership(room=invite.room, member=member, user=user)
    _check_can_enter(invite.room, membership)
    if membership is None:
        membership = _new_membership(room=invite.room, member=member, user=user)
        invite.uses += 1
        invite.save(update_fields=["uses"])
    return membership


# --- messages -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Sent:
    seq: int
    ts: dt.datetime
    duplicate: bool
    # The broadcast, to be sent by the caller once this returns (the transaction has then
    # committed). None for a duplicate: it was broadcast the first time.
    fanout: tuple[str, dict[str, Any]] | None = None
    # Set when a policy held the message for review instead of publishing it: the reason,
    # and what to tell the sender. ``seq`` is then 0.
    held: str | None = None
    held_message: str = ""


def _next_seq(room: Room) -> int:
    """Allocate the room's next sequence number. The caller holds the room row lock (taken
    by ``select_for_update``), so concurrent writers queue and numbers stay gap-free."""
    room.last_seq += 1
    Room.objects.filter(pk=room.pk).update(last_seq=room.last_seq)
    return room.last_seq


def _refresh_if_moderated(room: Room, membership: Membership) -> None:
    """Re-read the sender's mute, ban and agreement if anything was moderated in the room
    since this membership object was loaded (``Room.moderation_rev``); otherwise no query at
    all. A removed or departed participant whose socket's close was lost is refused here."""
    if getattr(membership, "_moderation_rev", None) == room.moderation_rev:
        return
    membership.refresh_from_db(fields=["muted_until", "banned_at", "agreement_version"])
    membership._moderation_rev = room.moderation_rev  # type: ignore[attr-defined]
    if membership.agreement_version != current_agreement_version(room):
        raise NotAllowed("you are no longer in this room; join it again to post")


def _check_can_write(room: Room, membership: Membership, now: dt.datetime) -> None:
    if room.state == Room.State.CLOSED:
        raise RoomClosed("this room is closed")
    is_member = membership.role == Membership.Role.MEMBER
    if room.state == Room.State.PAUSED and is_member:
        raise RoomPaused("the room is paused for a moment; your message was not sent")
    _refresh_if_moderated(room, membership)
    if membership.banned_at is not None:
        raise NotAllowed("you cannot post in this room")
    if not is_member:
        return
    if membership.muted_until is not None and membership.muted_until > now:
        raise Muted(
            "a facilitator has paused your messages for a while; you can still read",
            retry_after=(membership.muted_until - now).total_seconds(),
        )
    if room.uses_sessions:
        sittings.require_admitted(room=room, membership=membership)
    if room.slow_mode_seconds:
        _check_slow_mode(room, membership, now)


def _check_slow_mode(room: Room, membership: Membership, now: dt.datetime) -> None:
    last = (
        Message.objects.filter(room_id=room.pk, author=membership, kind=Message.Kind.MESSAGE)
        .order_by("-seq")
        .values_list("created_at", flat=True)
        .first()
    )
    wait = room.slow_mode_seconds - (now - last).total_seconds() if last else 0
    if wait > 0:
        raise SlowMode(
            f"the room is in slow mode: one message every {room.slow_mode_seconds} seconds",
            retry_after=round(wait, 3),
        )


def message_send(*, membership: Membership, client_id: str, body: str) -> Sent:
    """Store one message: ``message_send_batch`` with a batch of one (the socket path goes
    through the writer, which batches). The caller publishes ``fanout`` after this returns."""
    (result,) = message_send_batch(
        [SendRequest(membership=membership, client_id=client_id, body=body)]
    )
    if isinstance(result, Exception):
        raise result
    return result


@dataclass(frozen=True)
class SendRequest:
    membership: Membership
    client_id: str
    body: str
    cw: bool = False
    themes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Prepared:
    """A send read before it is stored: what the detector found, and the themes to blur it
    by. Pure work on the text (no database), so it runs outside the database thread."""

    request: SendRequest
    draft: policies.Draft
    themes: str


def message_prepare(requests: list[SendRequest]) -> list[Prepared]:
    """Assess each message in the light of the room's last messages (and the earlier ones of
    the same batch) and run the policies' pure step."""
    chain = policies.chain()
    prepared = []
    for r, context in zip(requests, _conversations(requests), strict=True):
        draft = policies.Draft(
            membership=r.membership,
            client_id=r.client_id,
            body=r.body,
            cw=r.cw,
            assessment=risk.assess(r.body, context=context),
        )
        themes = encode_themes({*r.themes, *(t for p in chain for t in p.themes(draft))})
        prepared.append(Prepared(request=r, draft=draft, themes=themes))
    return prepared


def message_send_batch(requests: list[SendRequest]) -> list[Sent | Exception]:
    """Prepare and store several messages (``message_prepare``, then ``message_store``)."""
    return message_store(message_prepare(requests))


def message_store(prepared: list[Prepared]) -> list[Sent | Exception]:
    """Store several messages in one transaction: one commit (one disk flush) for all the
    sends that arrived while the previous batch was being written ("group commit").

    Each message has its own savepoint, so one refused message (room paused, a failure)
    does not affect the others; its result is the exception. Rooms are locked in ascending
    id order (a stable sort keeps each room's messages in arrival order), so two processes
    writing batches can never deadlock on each other's room locks. The room locks are held
    only for the writes: the text was read before (``message_prepare``)."""
    chain = policies.chain()
    order = sorted(range(len(prepared)), key=lambda i: prepared[i].request.membership.room_id)
    results: list[Sent | Exception] = [RuntimeError("not processed")] * len(prepared)
    with transaction.atomic():
        for i in order:
            try:
                results[i] = _store_message(prepared[i].draft, prepared[i].themes, chain)
            except Exception as exc:  # the savepoint rolled back this message only
                # A key created in the rolled-back savepoint must not stay cached.
                forget_cached_keys()
                results[i] = exc
    for p, result in zip(prepared, results, strict=True):
        if isinstance(result, Sent) and result.seq and not result.duplicate and not result.held:
            r = p.request
            RECENT.remember(r.membership.room_id, result.seq, r.membership.pk, r.body)
    return results


def _conversations(requests: list[SendRequest]) -> list[tuple[tuple[str, bool], ...]]:
    """What each message replies to: the room's last messages in this process's memory,
    then the earlier messages of the same batch in the same room (no query per message)."""
    pending: dict[int, list[tuple[str, int]]] = {}
    contexts = []
    for r in requests:
        room_id, author = r.membership.room_id, r.membership.pk
        earlier = list(RECENT.context(room_id, author))
        earlier += [(text, member == author) for text, member in pending.get(room_id, ())]
        contexts.append(tuple(earlier[-4:]))
        pending.setdefault(room_id, []).append((r.body, author))
    return contexts


# What the send path reads of the locked room row (the rest is not needed per message).
_SEND_ROOM_FIELDS = (
    "id",
    "slug",
    "title",
    "state",
    "last_seq",
    "key_epoch",
    "key_epoch_started_at",
    "retention_days",
    "slow_mode_seconds",
    "blocked_terms",
    "risky_messages",
    "uses_sessions",
    "moderation_rev",
)


class _AlreadyStored(Exception):
    """Raised inside the message's savepoint when its client id was stored before."""


def _store_message(draft: policies.Draft, themes: str, chain: Chain) -> Sent:
    try:
        return _store_new_message(draft, themes, chain)
    except _AlreadyStored:
        seq, ts = (
            Message.objects.filter(
                room_id=draft.membership.room_id,
                author=draft.membership,
                client_id=draft.client_id,
            )
            .values_list("seq", "created_at")
            .get()
        )
        return Sent(seq=seq, ts=ts, duplicate=True)


Chain = tuple[policies.MessagePolicy, ...]


@transaction.atomic
def _store_new_message(draft: policies.Draft, themes: str, chain: Chain) -> Sent:
    """The hot path, in as few statements as it can be: lock the room row, insert the
    sealed message (a repeated client id conflicts and inserts nothing), move the room's
    counter. The two writes are plain SQL: the ORM's per-query overhead was most of the
    cost of a send (docs/performance.md)."""
    membership, client_id, body = draft.membership, draft.client_id, draft.body
    room = Room.objects.select_for_update().only(*_SEND_ROOM_FIELDS).get(pk=membership.room_id)
    now = timezone.now()
    _check_can_write(room, membership, now)
    held = _held_back(room, draft, chain, themes=themes, now=now)
    if held is not None:
        return held
    seq = room.last_seq + 1
    key_id, aead = current_data_key(room=room, membership=membership)
    ciphertext = seal_body(aead=aead, room_id=room.pk, seq=seq, data_key_id=key_id, body=body)
    care = care_of(room, draft.assessment)
    role = selectors.role_badge(membership.role)
    message_id = records.insert_message(
        room_id=room.pk,
        seq=seq,
        author_id=membership.pk,
        author_pseudonym=membership.pseudonym,
        client_id=client_id,
        created_at=now,
        data_key_id=key_id,
        ciphertext=ciphertext,
        themes=themes,
        cw=draft.cw,
        author_role=role,
        care=care,
    )
    if message_id is None:
        raise _AlreadyStored
    records.set_last_seq(room_id=room.pk, seq=seq)
    room.last_seq = seq
    message = Message(
        pk=message_id,
        room=room,
        seq=seq,
        author=membership,
        author_pseudonym=membership.pseudonym,
        client_id=client_id,
        created_at=now,
        data_key_id=key_id,
        care=care,
    )
    for policy in chain:
        policy.stored(room, draft, message)
    if not draft.assessment.assessed:
        _tell_facilitators_not_assessed(room, membership, seq, draft.assessment.language)
    posted = values.Message(
        seq=seq,
        ts=now,
        author=membership.pseudonym,
        body=body,
        cw=draft.cw,
        themes=decode_themes(themes),
        role=role or None,
        care=care or None,
    )
    fanout = (
        events.room_group(room.pk),
        events.room_frame_event(posted, seq=seq, author_id=membership.pk),
    )
    return Sent(seq=seq, ts=now, duplicate=False, fanout=fanout)


def _tell_facilitators_not_assessed(
    room: Room, membership: Membership, seq: int | None, language: str
) -> None:
    """A message the detector cannot read is not a message it found safe: the room's
    facilitators are asked to read it themselves (after commit, like every notice)."""
    notice = values.LanguageNotice(seq=seq, author=membership.pseudonym, language=language)
    events.publish_value_on_commit(events.room_staff_group(room.pk), notice)


def _held_back(
    room: Room, draft: policies.Draft, chain: Chain, *, themes: str, now: dt.datetime
) -> Sent | None:
    """The first policy that keeps the message back for review, if any (the message then
    takes no sequence number). A published copy of this client id (released earlier) is
    answered as a duplicate of that message."""
    held = next((h for p in chain if (h := p.hold(room, draft, themes=themes, now=now))), None)
    if held is None:
        return None
    if held.released_seq is not None:
        raise _AlreadyStored
    if not held.duplicate:
        for policy in chain:
            policy.stored(room, draft, None)
        if not draft.assessment.assessed:
            _tell_facilitators_not_assessed(room, draft.membership, None, draft.assessment.language)
    return Sent(
        seq=0,
        ts=held.created_at,
        duplicate=held.duplicate,
        held=held.reason,
        held_message=held.message,
    )


@transaction.atomic
def message_delete(*, membership: Membership, seq: int) -> int:
    """Delete one's own message: the ciphertext is destroyed, and a deletion entry takes the
    next sequence number so clients that resume later learn of it too."""
    room = Room.objects.select_for_update().get(pk=membership.room_id)
    target = Message.objects.filter(room=room, seq=seq, kind=Message.Kind.MESSAGE).first()
    if target is None or target.author_id != membership.pk:
        raise MessageNotFound("no message of yours with that number")
    if target.deleted_at is not None:
        return seq
    now = timezone.now()
    target.deleted_at = now
    target.ciphertext = None
    target.save(update_fields=["deleted_at", "ciphertext"])
    deletion_seq = _next_seq(room)
    Message.objects.create(
        room=room,
        seq=deletion_seq,
        kind=Message.Kind.DELETION,
        author=membership,
        author_pseudonym=membership.pseudonym,
        created_at=now,
        target_seq=seq,
    )
    deleted = values.Deleted(seq=deletion_seq, ts=now, target=seq)
    events.publish_on_commit(
        events.room_group(room.pk), events.room_frame_event(deleted, seq=deletion_seq)
    )
    return deletion_seq


# --- room state ---------------------------------------------------------------------------


@transaction.atomic
def room_set_state(*, room: Room, state: str) -> Room:
    room = Room.objects.select_for_update().get(pk=room.pk)
    room.state = state
    room.save(update_fields=["state"])
    events.publish_value_on_commit(events.room_group(room.pk), selectors.room_state(room))
    if state == Room.State.CLOSED:
        events.publish_on_commit(events.room_group(room.pk), events.close_event(Close.ROOM_CLOSED))
    return room


# --- connections (presence) --------------------------------------------------------------


def connection_open(*, channel_name: str, membership: Membership) -> None:
    Connection.objects.update_or_create(
        channel_name=channel_name,
        defaults={
            "room_id": membership.room_id,
            "membership": membership,
            "last_seen": timezone.now(),
        },
    )


def connection_close(*, channel_name: str) -> None:
    Connection.objects.filter(channel_name=channel_name).delete()


@dataclass(frozen=True)
class Tick:
    latest: dict[int, int]


_TICK_CHUNK = 500


def heartbeat_tick(*, channel_names: list[str], room_ids: set[int]) -> Tick:
    """One trip for all of a process's sockets (rooms/heartbeat.py): refresh their presence
    rows and read each room's latest sequence number."""
    now = timezone.now()
    for i in range(0, len(channel_names), _TICK_CHUNK):
        chunk = channel_names[i : i + _TICK_CHUNK]
        Connection.objects.filter(channel_name__in=chunk).update(last_seen=now)
    latest = dict(Room.objects.filter(pk__in=room_ids).values_list("pk", "last_seq"))
    return Tick(latest=latest)


# --- sessions -----------------------------------------------------------------------------


def sockets_close_for_session(session_key: str, code: int = Close.SESSION_ENDED) -> None:
    events.send_now(events.session_group(session_key), events.close_event(code))


def sockets_close_for_member(member_id: object, code: int = Close.SESSION_ENDED) -> None:
    events.send_now(events.member_group(member_id), events.close_event(code))


def sockets_close_for_user(user_id: int, code: int = Close.SESSION_ENDED) -> None:
    events.send_now(events.user_group(user_id), events.close_event(code))


# --- bans and role changes ---------------------------------------------------------------


@transaction.atomic
def member_ban(*, member: Member, actor: str) -> None:
    """Ban a member from the whole service: every open socket of theirs closes, on every
    process, once the ban is committed."""
    from chatserver.audit import audit_append

    member.banned_at = timezone.now()
    member.save(update_fields=["banned_at"])
    audit_append(actor=actor, action="member.ban", object_type="member", object_id=member.pk)
    events.publish_on_commit(events.member_group(member.pk), events.close_event(Close.FORBIDDEN))


@transaction.atomic
def membership_ban(*, membership: Membership, actor: str) -> None:
    """Ban a participant from one room; their sockets in that room close."""
    from chatserver.audit import audit_append

    membership.banned_at = timezone.now()
    membership.save(update_fields=["banned_at"])
    audit_append(
        actor=actor, action="membership.ban", object_type="membership", object_id=membership.pk
    )
    events.publish_on_commit(
        events.membership_group(membership.pk), events.close_event(Close.FORBIDDEN)
    )


def user_roles_changed(user_id: int) -> None:
    """A staff user's roles changed: close their sockets so they reconnect with the new
    role (or are refused)."""
    events.publish_on_commit(events.user_group(user_id), events.close_event(Close.SESSION_ENDED))
