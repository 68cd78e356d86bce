"""Which role a staff-side Django user holds. Roles are Django groups so an admin manages
them in the admin; the highest role a user holds wins."""

from __future__ import annotations

from django.contrib.auth.models import AnonymousUser, User

from rooms.models import Membership

Role = Membership.Role
# Highest first.
STAFF_ROLES: tuple[str, ...] = (Role.ADMIN, Role.STAFF, Role.MODERATOR, Role.FACILITATOR)


def role_for_user(user: User | AnonymousUser | None) -> str | None:
    if user is None or not user.is_authenticated or not user.is_active:
        return None
    if getattr(user, "is_superuser", False):
        return Role.ADMIN
    names = set(user.groups.values_list("name", flat=True))
    for role in STAFF_ROLES:
        if role in names:
            return role
    return None
