"""Trusted staff devices: a signed cookie, set after a full sign-in with the second factor,
that lets that device past the sign-in lockouts next time.

Why: lockouts that follow the account let anyone who knows or guesses staff usernames keep
every account locked, and the escalation queue unattended (issue 13, row 4). A device that
has proved itself (password *and* authenticator code) is exempt from the per-account lockout,
the service-wide cap on failed sign-ins and the per-address throttle; it still needs the
password and the code every time. This is the "device cookie" defence described by OWASP
("Slow Down Online Guessing Attacks with Device Cookies").

The cookie holds the user's id, a random device id and a stamp of the user's password hash
(Django's session auth hash), signed with the server secret: a forged or altered cookie, one
for another account, one older than ``STAFF_TRUSTED_DEVICE_DAYS`` or one from before a
password change is ignored. A stolen cookie alone cannot sign in; and a device that fails
``STAFF_LOGIN_MAX_FAILURES`` times in a window loses its exemption for the lockout period
(moderation.accounts). Nothing in it describes the device or its owner's network.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.http import HttpRequest, HttpResponse

from chatserver.crypto import constant_time_equal, open_signed_token, random_token, sign_token

COOKIE_NAME = "staff_device"
_PURPOSE = "staff-trusted-device"


def _max_age() -> int:
    return settings.STAFF_TRUSTED_DEVICE_DAYS * 86400


def _stamp(user: Any) -> str:
    """Changes when the password does, so a password change retires every trusted device."""
    return str(user.get_session_auth_hash())[:32]


def device_token_issue(user: Any) -> str:
    """A new signed token naming a new device of ``user``."""
    return sign_token({"u": user.pk, "d": random_token(16), "h": _stamp(user)}, purpose=_PURPOSE)


def device_for(request: HttpRequest | None, username: str) -> str | None:
    """The device id of this request's trusted-device cookie, if it is valid and was issued
    to the active account named ``username``; otherwise None."""
    token = request.COOKIES.get(COOKIE_NAME) if request is not None else None
    if not token:
        return None
    payload = open_signed_token(token, purpose=_PURPOSE, max_age=_max_age())
    if payload is None:
        return None
    user = get_user_model().objects.filter(username=username.strip()).first()
    if user is None or not user.is_active or payload.get("u") != user.pk:
        return None
    if not constant_time_equal(str(payload.get("h", "")), _stamp(user)):
        return None
    device = payload.get("d")
    return device if isinstance(device, str) and device else None


def device_cookie_attach(response: HttpResponse, token: str) -> None:
    response.set_cookie(
        COOKIE_NAME,
        token,
        max_age=_max_age(),
        secure=settings.SESSION_COOKIE_SECURE,
        httponly=True,
        samesite="Strict",
    )
