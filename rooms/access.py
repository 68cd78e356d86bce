"""Who a websocket is: its session, member or staff user, and membership of the room.

Read in one synchronous call at connect, and re-checked at every heartbeat, so an expired or
ended session loses its sockets even if the close event through the channel layer was lost.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import User
from django.contrib.sessions.models import Session
from django.utils import timezone

from rooms import selectors, services
from rooms.errors import NotAuthenticated
from rooms.models import Member, Membership, Room

MEMBER_SESSION_KEY = "member_id"


@dataclass(frozen=True)
class SocketIdentity:
    session_key: str
    session_expires: dt.datetime
    member_id: str | None
    user_id: int | None
    room: Room
    membership: Membership


def _live_session_expiry(session_key: str | None) -> dt.datetime:
    if not session_key:
        raise NotAuthenticated("no session: create one first")
    expires = (
        Session.objects.filter(session_key=session_key, expire_date__gt=timezone.now())
        .values_list("expire_date", flat=True)
        .first()
    )
    if expires is None:
        raise NotAuthenticated("your session has expired")
    return expires


def socket_identify(*, session: Any, user: User | None, slug: str) -> SocketIdentity:
    """Raise a RoomError subclass whose close code tells the client why it may not enter."""
    expires = _live_session_expiry(session.session_key)
    member_id = session.get(MEMBER_SESSION_KEY)
    member = (
        Member.objects.filter(pk=member_id, erased_at__isnull=True).first() if member_id else None
    )
    staff = user if user is not None and user.is_authenticated else None
    if member is None and staff is None:
        raise NotAuthenticated("no member session: create one first")
    room = selectors.room_by_slug(slug)
    membership = services.membership_authorize(
        room=room, member=member, user=None if member else staff
    )
    return SocketIdentity(
        session_key=session.session_key,
        session_expires=expires,
        member_id=str(member.pk) if member else None,
        user_id=staff.pk if (staff is not None and member is None) else None,
        room=room,
        membership=membership,
    )
