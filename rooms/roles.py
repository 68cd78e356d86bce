"""Which role a staff-side Django user holds. Roles are Django groups so an admin manages
them in the admin; the highest role a user holds wins."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import django_otp
from django.contrib.auth.models import AnonymousUser, User
from django_otp.models import Device

from rooms.models import Membership

Role = Membership.Role
# Highest first.
STAFF_ROLES: tuple[str, ...] = (Role.ADMIN, Role.STAFF, Role.MODERATOR, Role.FACILITATOR)
# Roles that must present a second factor: they can read sealed content and act on people.
OTP_REQUIRED_ROLES: frozenset[str] = frozenset({Role.MODERATOR, Role.STAFF, Role.ADMIN})


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


def otp_required(role: str | None) -> bool:
    return role in OTP_REQUIRED_ROLES


def session_is_verified(user: Any, session: Any) -> bool:
    """Whether this signed-in session may act in ``user``'s role: any role for which a second
    factor is required needs the session to carry a confirmed device of this user. Call it
    where a staff session is accepted (the staff socket, staff pages)."""
    role = role_for_user(user)
    if role is None:
        return False
    persistent_id = session.get(django_otp.DEVICE_ID_SESSION_KEY) if session is not None else None
    if not persistent_id:
        return not otp_required(role)
    device = Device.from_persistent_id(persistent_id)
    return (
        device is not None and device.user_id == user.pk and bool(getattr(device, "confirmed", 0))
    )
