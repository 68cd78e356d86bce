"""Who may enter a room, and the one answer for those who may not know it exists.

Open rooms are listed for everyone and anyone with a session may join them. Private rooms
are entered only through an explicit membership:

* an **invite-only** room, through an invite (members and staff alike), or by a staff role
  the permission matrix gives ``enter_invite_rooms`` (moderators and above: roles that sign
  in with a second factor);
* a **support** room, only through the two memberships ``esc_support`` makes when staff open
  it (the member and the staff member who opened it); no role enters it uninvited.

To anyone else a private room does not exist: asking for it by name (its page, joining,
reading its history, opening its socket) answers exactly as for a name no room has
(``RoomNotFound``: same code, HTTP status, close code and words). Issue 13, finding 1: a
password-only facilitator could join any invite-only or support room by name and read it,
and the different answers told anyone which names existed.

Limit, said plainly: the answers are the same, but the time they take can differ by a
database query or two. Support-room names are random (``escalation_open_support_room``), so
timing cannot be used to find them; invite-only rooms' names are chosen by staff, who should
not put anything identifying in them.
"""

from __future__ import annotations

from django.contrib.auth.models import User

from chatserver.permissions import can
from rooms import selectors
from rooms.errors import RoomNotFound
from rooms.models import Member, Membership, Room
from rooms.roles import role_for_user


def is_private(room: Room) -> bool:
    return room.visibility != Room.Visibility.OPEN


def may_join_uninvited(room: Room, user: User | None) -> bool:
    """Whether a membership may be made by simply joining: anyone in an open room; in an
    invite-only room only a staff user whose role has ``enter_invite_rooms``; in a support
    room nobody."""
    if room.visibility == Room.Visibility.OPEN:
        return True
    if room.visibility == Room.Visibility.INVITE and user is not None:
        return can(role_for_user(user), "enter_invite_rooms")
    return False


def may_see(room: Room, membership: Membership | None, user: User | None) -> bool:
    """Whether the caller may learn that ``room`` exists."""
    return membership is not None or may_join_uninvited(room, user)


def room_for(
    *, slug: str, member: Member | None, user: User | None
) -> tuple[Room, Membership | None]:
    """The room named ``slug`` and the caller's membership of it (None if not joined), or
    ``RoomNotFound`` when there is no such room or it is private and not for the caller."""
    room = selectors.room_by_slug(slug)
    membership = selectors.membership_of(room=room, member=member, user=user)
    if not may_see(room, membership, user):
        raise RoomNotFound
    return room, membership
