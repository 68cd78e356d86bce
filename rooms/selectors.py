"""Reads: rooms, a room's log (history and resume), presence. No writes here."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Final

from django.conf import settings
from django.contrib.auth.models import User
from django.db.models import Q, QuerySet
from django.utils import timezone

from rooms import values
from rooms.encryption import open_body
from rooms.errors import RoomNotFound
from rooms.models import Connection, Ignore, Member, Membership, Message, Pin, Room
from rooms.themes import decode_themes


def room_by_slug(slug: str) -> Room:
    """The room, whoever asks. Transports that answer people go through
    ``rooms.entry.room_for``, which also hides private rooms from those not in them."""
    try:
        return Room.objects.get(slug=slug)
    except Room.DoesNotExist:
        raise RoomNotFound from None


def membership_of(*, room: Room, member: Member | None, user: User | None) -> Membership | None:
    """The caller's membership of ``room``: the anonymous member's, else the staff user's.
    Nobody (neither given) has none; matching ``user IS NULL`` would pick any member's."""
    if member is not None:
        return Membership.objects.filter(room=room, member=member).first()
    if user is not None:
        return Membership.objects.filter(room=room, user=user).first()
    return None


def member_live(member_id: str | None) -> Member | None:
    """The session's anonymous member, unless erased (or no member at all)."""
    if not member_id:
        return None
    return Member.objects.filter(pk=member_id, erased_at__isnull=True).first()


def memberships_by_room(*, member: Member | None, user: User | None) -> dict[int, Membership]:
    """The caller's memberships, by room: the member's, else the staff user's."""
    if member is not None:
        rows = Membership.objects.filter(member=member)
    elif user is not None:
        rows = Membership.objects.filter(user=user)
    else:
        return {}
    return {m.room_id: m for m in rows}


def rooms_visible() -> QuerySet[Room]:
    return Room.objects.exclude(state=Room.State.CLOSED).prefetch_related("agreements")


def current_agreement_version(room: Room) -> int:
    latest = room.agreements.order_by("-version").values_list("version", flat=True).first()
    return latest or 0


def latest_seq(room_id: int) -> int:
    return Room.objects.filter(pk=room_id).values_list("last_seq", flat=True).get()


@dataclass(frozen=True)
class Viewer:
    """Who reads a log: hidden messages stay readable to moderators, facilitators see the
    markers of risk and reports, and the authors a reader ignores arrive as placeholders (so
    sequence numbers stay gap-free)."""

    sees_hidden: bool = False
    ignored: frozenset[int] = frozenset()
    sees_markers: bool = False


MEMBER_VIEW: Final = Viewer()


def role_badge(role: str) -> str:
    """The role a message's badge shows: staff roles; "" for a member (no badge)."""
    return "" if role == Membership.Role.MEMBER else role


def message_frame(
    message: Message,
    *,
    body: str | None,
    themes: str,
    cw: bool,
    hidden: bool = False,
    viewer: Viewer = MEMBER_VIEW,
) -> values.Message:
    markers = viewer.sees_markers
    risk_severity = _text(message.risk_severity) if markers else ""
    return values.Message(
        seq=message.seq,
        ts=message.created_at,
        author=message.author_pseudonym,
        body=body,
        unavailable=body is None and not hidden,
        hidden=hidden,
        hidden_reason=message.hidden_reason or None,
        announcement=message.kind == Message.Kind.ANNOUNCEMENT,
        cw=cw,
        themes=decode_themes(themes),
        role=_text(message.author_role) or None,
        care=_text(message.care) or None,
        risk=(
            values.Risk(category=_text(message.risk_category), severity=risk_severity)
            if risk_severity
            else None
        ),
        reports=_count(message.reports) if markers else 0,
    )


def _text(value: object) -> str:
    """A column filled by the database's own default reads as that default's expression
    on an instance made in this process and not read back: it is empty."""
    return value if isinstance(value, str) else ""


def _count(value: object) -> int:
    return value if isinstance(value, int) else 0


def log_entry(message: Message, viewer: Viewer = MEMBER_VIEW) -> values.LogValue:
    if message.kind == Message.Kind.DELETION:
        return values.Deleted(
            seq=message.seq, ts=message.created_at, target=message.target_seq or 0
        )
    if message.kind == Message.Kind.HIDE:
        return values.Hidden(
            seq=message.seq,
            ts=message.created_at,
            target=message.target_seq or 0,
            reason=message.hidden_reason,
        )
    if message.deleted_at is not None:
        return values.Message(
            seq=message.seq,
            ts=message.created_at,
            author=message.author_pseudonym,
            body=None,
            deleted=True,
        )
    if message.author_id is not None and message.author_id in viewer.ignored:
        return values.Message(
            seq=message.seq, ts=message.created_at, author="", body=None, ignored=True
        )
    hidden = message.hidden_at is not None
    body = open_body(message) if (not hidden or viewer.sees_hidden) else None
    return message_frame(
        message, body=body, themes=message.themes, cw=message.cw, hidden=hidden, viewer=viewer
    )


@dataclass(frozen=True)
class LogPage:
    entries: list[values.LogValue]
    has_more: bool


# Whether one more entry fits the page being built: the transport measures it as the wire
# encodes it (``rooms.protocol.PageBudget``), so pages never outgrow a frame.
PageFit = Callable[[values.LogValue], bool]

# Rows are read a few at a time, so a page cut short by long messages does not fetch and
# decrypt the rows it leaves for the next request.
_ROWS_PER_FETCH = 25


def log_before(
    *,
    room_id: int,
    before: int | None,
    limit: int,
    viewer: Viewer = MEMBER_VIEW,
    fits: PageFit | None = None,
) -> LogPage:
    """Up to ``limit`` entries before ``before`` (the newest when None), oldest first, no
    more than ``fits`` lets into one page (the transport's budget of one frame's bytes).
    When the page is cut, the entries kept are the newest ones, so asking again with
    ``before`` = the first ``seq`` continues it."""
    queryset = Message.objects.filter(room_id=room_id)
    if before is not None:
        queryset = queryset.filter(seq__lt=before)
    rows = queryset.order_by("-seq").select_related("data_key")[: limit + 1]
    entries, has_more = _fill(rows, limit=limit, fits=fits, viewer=viewer)
    entries.reverse()
    return LogPage(entries=entries, has_more=has_more)


def log_after(
    *,
    room_id: int,
    after: int,
    limit: int,
    viewer: Viewer = MEMBER_VIEW,
    fits: PageFit | None = None,
) -> LogPage:
    """The entries after ``after``, oldest first: what a reconnecting client missed. At most
    ``limit`` of them, and no more than ``fits`` lets into one page (as in
    ``log_before``); ``has_more`` asks the client to resume again after the last ``seq``
    received."""
    rows = (
        Message.objects.filter(room_id=room_id, seq__gt=after)
        .order_by("seq")
        .select_related("data_key")[: limit + 1]
    )
    entries, has_more = _fill(rows, limit=limit, fits=fits, viewer=viewer)
    return LogPage(entries=entries, has_more=has_more)


def _fill(
    rows: QuerySet[Message], *, limit: int, fits: PageFit | None, viewer: Viewer
) -> tuple[list[values.LogValue], bool]:
    """Entries from ``rows`` (in page order) until ``limit`` or the frame's bytes run out;
    whether any were left. The first entry is always taken, so every page moves the client
    on (the frame limit is checked at start-up to hold the largest message, see
    ``chatserver.checks``)."""
    entries: list[values.LogValue] = []
    # Leaving the loop early drops the iterator, which closes its database cursor.
    for message in rows.iterator(chunk_size=_ROWS_PER_FETCH):
        if len(entries) == limit:
            return entries, True
        entry = log_entry(message, viewer)
        if fits is not None and not fits(entry) and entries:
            return entries, True
        entries.append(entry)
    return entries, False


def presence(room_id: int) -> list[values.PresenceMember]:
    """Who is here: memberships with a live connection. Rows of a crashed process age out
    after two missed heartbeats, so presence never depends on channel-layer groups."""
    fresh = timezone.now() - timedelta(seconds=2 * settings.CHAT_HEARTBEAT_SECONDS + 5)
    rows = (
        Membership.objects.filter(
            room_id=room_id,
            pk__in=Connection.objects.filter(room_id=room_id, last_seen__gte=fresh).values(
                "membership_id"
            ),
        )
        .order_by("pseudonym")
        .values_list("pseudonym", "role")
    )
    return [values.PresenceMember(pseudonym=p, role=r) for p, r in rows]


def open_sockets(*, member: Member | None, user: User | None) -> int:
    """The live room sockets of a session's member (or staff user), in every room."""
    fresh = timezone.now() - timedelta(seconds=2 * settings.CHAT_HEARTBEAT_SECONDS + 5)
    rows = Connection.objects.filter(last_seen__gte=fresh)
    if member is not None:
        return rows.filter(membership__member=member).count()
    if user is not None:
        return rows.filter(membership__user=user).count()
    return 0


def active_member_count(room_id: int) -> int:
    """Members who take up a place in the room: here now, or joined or wrote within the last
    ``CHAT_ROOM_ACTIVE_MINUTES``. Memberships left behind (a throw-away session, someone who
    has not been back) stop counting, so they cannot fill a room for good."""
    now = timezone.now()
    since = now - timedelta(minutes=settings.CHAT_ROOM_ACTIVE_MINUTES)
    fresh = now - timedelta(seconds=2 * settings.CHAT_HEARTBEAT_SECONDS + 5)
    here = Connection.objects.filter(room_id=room_id, last_seen__gte=fresh).values("membership_id")
    wrote = Message.objects.filter(room_id=room_id, created_at__gte=since).values("author_id")
    return (
        Membership.objects.filter(room_id=room_id, member__isnull=False, banned_at__isnull=True)
        .filter(Q(pk__in=here) | Q(agreement_accepted_at__gte=since) | Q(pk__in=wrote))
        .count()
    )


def room_state(room: Room) -> values.RoomState:
    return values.RoomState(state=room.state, slow_mode_seconds=room.slow_mode_seconds)


def pins(room_id: int) -> values.Pins:
    """The room's pinned messages with their text (a hidden or deleted one shows no text)."""
    seqs = list(Pin.objects.filter(room_id=room_id).values_list("seq", flat=True))
    messages = Message.objects.filter(room_id=room_id, seq__in=seqs).select_related("data_key")
    items = []
    for m in messages.order_by("seq"):
        readable = m.deleted_at is None and m.hidden_at is None
        items.append(
            values.PinItem(
                seq=m.seq, author=m.author_pseudonym, body=open_body(m) if readable else None
            )
        )
    return values.Pins(items=items)


def ignored_ids(membership_id: int) -> frozenset[int]:
    return frozenset(
        Ignore.objects.filter(membership_id=membership_id).values_list("ignored_id", flat=True)
    )


def ignored_pseudonyms(membership_id: int) -> list[str]:
    return sorted(
        Ignore.objects.filter(membership_id=membership_id).values_list(
            "ignored__pseudonym", flat=True
        )
    )


def membership_by_pseudonym(room_id: int, pseudonym: str) -> Membership:
    from rooms.errors import MemberNotFound

    found = Membership.objects.filter(room_id=room_id, pseudonym=pseudonym).first()
    if found is None:
        raise MemberNotFound(f"nobody called {pseudonym!r} in this room")
    return found
