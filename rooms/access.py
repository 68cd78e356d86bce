"""Who a room socket is: its session, member or staff account, and membership of the room.

Read in one synchronous call at connect. What it lets in is kept as a ``Grant`` and held
against the database for as long as the socket stays open (rooms/grants.py, rooms/watch.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User

from chatserver.sessions import session_is_live
from rooms import events, selectors, services
from rooms.errors import NotAllowed, NotAuthenticated, TooManySockets
from rooms.grants import Grant
from rooms.models import Member, Membership, Room
from rooms.roles import role_for_user, session_is_verified

MEMBER_SESSION_KEY = "member_id"


@dataclass(frozen=True)
class SocketIdentity:
    session_key: str
    member_id: str | None
    user_id: int | None
    room: Room
    membership: Membership
    grant: Grant


def _live_session_key(session_key: str | None) -> str:
    if not session_key:
        raise NotAuthenticated("no session: create one first")
    if not session_is_live(session_key):
        raise NotAuthenticated("your session has expired")
    return session_key


def _staff_role(user: User, session: Any) -> str:
    """A staff account joins a room as itself only while it holds a role and, for the roles
    that need one, in a session that passed the second factor (as on the staff socket):
    otherwise a facilitator promoted after a password-only sign-in would act as a moderator."""
    role = role_for_user(user)
    if role is None:
        raise NotAllowed("this account has no role in the service")
    if not session_is_verified(user, session):
        raise NotAuthenticated("sign in again with your authenticator code")
    return role


def socket_identify(*, session: Any, user: User | None, slug: str) -> SocketIdentity:
    """Raise a RoomError subclass whose close code tells the client why it may not enter."""
    session_key = _live_session_key(session.session_key)
    member_id = session.get(MEMBER_SESSION_KEY)
    member = (
        Member.objects.filter(pk=member_id, erased_at__isnull=True).first() if member_id else None
    )
    staff = user if user is not None and user.is_authenticated else None
    if member is None and staff is None:
        raise NotAuthenticated("no member session: create one first")
    as_user = staff if member is None else None
    role = _staff_role(as_user, session) if as_user is not None else None
    room = selectors.room_by_slug(slug)
    membership = services.membership_authorize(room=room, member=member, user=as_user)
    if role is not None and membership.role != role:
        # The account's role changed since it joined: its place in every room follows (a
        # demoted moderator must not keep a moderator's tools in rooms joined before), and
        # the entry checks run again for the new role (a facilitator's training).
        Membership.objects.filter(pk=membership.pk).update(role=role)
        membership = services.membership_authorize(room=room, member=member, user=as_user)
    if selectors.open_sockets(member=member, user=as_user) >= settings.CHAT_MAX_SOCKETS_PER_SESSION:
        raise TooManySockets("too many connections from this session: close another tab first")
    user_id = as_user.pk if as_user is not None else None
    return SocketIdentity(
        session_key=session_key,
        member_id=str(member.pk) if member else None,
        user_id=user_id,
        room=room,
        membership=membership,
        grant=Grant(
            session_key=session_key,
            user_id=user_id,
            role=role,
            membership_id=membership.pk,
            agreed=membership.agreement_version > 0,
        ),
    )


def personal_groups(identity: SocketIdentity) -> list[str]:
    """Groups that reach this participant wherever they are (waiting or in the room):
    private frames, and the closes of logout, erasure, bans and role changes."""
    groups = [
        events.session_group(identity.session_key),
        events.membership_group(identity.membership.pk),
    ]
    if identity.member_id:
        groups.append(events.member_group(identity.member_id))
    if identity.user_id:
        groups.append(events.user_group(identity.user_id))
    return groups


def staff_groups(identity: SocketIdentity) -> list[str]:
    """The room's staff group, for anyone but a member (the room's own frames come through
    the process's room hub, rooms/hub.py)."""
    if identity.membership.role == Membership.Role.MEMBER:
        return []
    return [events.room_staff_group(identity.room.pk)]
