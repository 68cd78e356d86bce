"""Reads: rooms, a room's log (history and resume), presence. No writes here."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db.models import QuerySet
from django.utils import timezone

from rooms import protocol
from rooms.encryption import open_body
from rooms.errors import RoomNotFound
from rooms.models import Connection, Membership, Message, Room


def room_by_slug(slug: str) -> Room:
    try:
        return Room.objects.get(slug=slug)
    except Room.DoesNotExist:
        raise RoomNotFound(f"there is no room {slug!r}") from None


def rooms_visible() -> QuerySet[Room]:
    return Room.objects.exclude(state=Room.State.CLOSED).prefetch_related("agreements")


def current_agreement_version(room: Room) -> int:
    latest = room.agreements.order_by("-version").values_list("version", flat=True).first()
    return latest or 0


def latest_seq(room_id: int) -> int:
    return Room.objects.filter(pk=room_id).values_list("last_seq", flat=True).get()


def log_entry(message: Message) -> protocol.LogEntry:
    if message.kind == Message.Kind.DELETION:
        return protocol.Deleted(
            seq=message.seq, ts=message.created_at, target=message.target_seq or 0
        )
    if message.deleted_at is not None:
        return protocol.MessageFrame(
            seq=message.seq,
            ts=message.created_at,
            author=message.author_pseudonym,
            body=None,
            deleted=True,
        )
    body = open_body(message)
    return protocol.MessageFrame(
        seq=message.seq,
        ts=message.created_at,
        author=message.author_pseudonym,
        body=body,
        unavailable=body is None,
    )


def _entries(queryset: QuerySet[Message]) -> list[protocol.LogEntry]:
    return [log_entry(m) for m in queryset.select_related("data_key")]


@dataclass(frozen=True)
class LogPage:
    entries: list[protocol.LogEntry]
    has_more: bool


def log_before(*, room_id: int, before: int | None, limit: int) -> LogPage:
    """The ``limit`` entries before ``before`` (the newest when None), oldest first."""
    queryset = Message.objects.filter(room_id=room_id)
    if before is not None:
        queryset = queryset.filter(seq__lt=before)
    rows = list(queryset.order_by("-seq")[: limit + 1].select_related("data_key"))
    has_more = len(rows) > limit
    return LogPage(entries=[log_entry(m) for m in reversed(rows[:limit])], has_more=has_more)


def log_after(*, room_id: int, after: int, limit: int) -> LogPage:
    """The entries after ``after``, oldest first: what a reconnecting client missed."""
    rows = list(
        Message.objects.filter(room_id=room_id, seq__gt=after)
        .order_by("seq")[: limit + 1]
        .select_related("data_key")
    )
    has_more = len(rows) > limit
    return LogPage(entries=[log_entry(m) for m in rows[:limit]], has_more=has_more)


def presence(room_id: int) -> list[protocol.PresenceMember]:
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
    return [protocol.PresenceMember(pseudonym=p, role=r) for p, r in rows]
