"""Which role a staff-side Django user holds. Roles are Django groups so an admin manages
them in the admin; the highest role a user holds wins."""

from __future__ import annotations

from collections.abc import Iterable

from django.contrib.auth.models import AnonymousUser, User

from rooms.models import Membership

Role = Membership.Role
# Highest first.
STAFF_ROLES: tuple[str, ...] = (Role.ADMIN, Role.STAFF, Role.MODERATOR, Role.FACILITATOR)


def role_from(*, is_active: bool, is_superuser: bool, groups: Iterable[str | None]) -> str | None:
    """The role an account's flags and group names give it. One rule for a user at hand and
    for the rows the session check reads in bulk (rooms/grants.py), so they cannot disagree."""
    if not is_active:
        return None
    if is_superuser:
        return Role.ADMIN
    names = set(groups)
    for role in STAFF_ROLES:
        if role in names:
            return role
    return None


def role_for_user(user: User | AnonymousUser | None) -> str | None:
    if user is None or not user.is_authenticated:
        return None
    return role_from(
        is_active=user.is_active,
        is_superuser=getattr(user, "is_superuser", False),
        # Lazy: read only for an active account that is not a superuser.
        groups=user.groups.values_list("name", flat=True),
    )
