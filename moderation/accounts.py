"""Staff sign-in: password (argon2), lockout per username, and a TOTP second factor.

Why each piece:

* **Lockout follows the account, never the address.** Failures are counted per username
  (kept only as a fingerprint) in a window; past the limit the account is locked for a
  cool-off. No address or browser detail is recorded: this service keeps none, for anyone.
* **A service-wide cap on failures** (across usernames, per window) bounds guessing spread
  over many accounts; past it, sign-ins are refused for a cool-off.
* **A device that signed in before gets through.** Both lockouts would otherwise let anyone
  keep staff out of the escalation queue by failing on purpose; a trusted-device cookie
  (moderation.devices) exempts a device that completed a sign-in with the second factor, and
  itself locks after as many failures as an account does. ``chatserver staff-unlock`` ends a
  lockout by hand (audited).
* **Argon2 runs behind a cap** of concurrent hashes (rooms.throttles.slow_hash_slot), and
  sign-in attempts are throttled per client address (never kept, rooms.throttles).
* **A second factor for everyone who can read what survivors wrote.** Moderators, staff and
  admins must present a TOTP code at every sign-in; a peer facilitator may sign in with a
  password alone (a facilitator who enrols a device is asked for its code too).
* **Enrolment needs more than the password.** An account without a confirmed device gets a
  provisioning URI (shown once) only with a one-time set-up code an admin issued for it
  (moderation.enrolment); only a confirmed first code turns that into a signed-in session.
* **A right password is no free answer.** A right password without its code (or without a
  set-up code, where one is needed) counts as a failure like a wrong one, so it cannot be
  tried again and again; a person who then completes the sign-in gets that one failure back
  from the service-wide count (their account's count is cleared, as on any success).
* **A staff session is its own session.** Signing in ends a member session the browser holds
  first (its sockets close), so no session row ever holds both an anonymous member and a
  named account. Sessions are kept by a keyed hash of their key (chatserver/sessions.py),
  and so is the list of a staff account's sessions.
* **Every sign-in, failure, lockout, enrolment and sign-out is audited**, never with the
  password, the code or the secret.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import django_otp
from django.conf import settings
from django.contrib.auth import get_user_model, login, logout
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser, User
from django.contrib.sessions.backends.base import SessionBase
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.http import HttpRequest
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from chatserver.audit import actor_for_user, audit_append
from chatserver.codes import Close, ErrorCode
from chatserver.crypto import fingerprint
from chatserver.permissions import can
from chatserver.sessions import session_digest, sessions_delete
from moderation import devices
from moderation.enrolment import enrol_code_find, enrol_code_use
from moderation.models import EnrolCode, LoginThrottle, StaffSession
from rooms.errors import NotAllowed, NotAuthenticated, RoomError
from rooms.grants import Grant
from rooms.models import Membership
from rooms.roles import (  # the second-factor rule lives with the roles, below both apps
    OTP_REQUIRED_ROLES as OTP_REQUIRED_ROLES,
)
from rooms.roles import otp_required as otp_required
from rooms.roles import role_for_user
from rooms.roles import session_is_verified as session_is_verified
from rooms.services import sockets_close_for_session, sockets_close_for_user
from rooms.throttles import STAFF_SIGNIN, client_address, slow_hash_slot, throttle_hit

Role = Membership.Role
ENROL_SESSION_KEY = "staff_otp_enrolment"
LOGIN_BACKEND = "moderation.accounts.LockoutModelBackend"


class LoginFailed(RoomError):
    code = "login_failed"
    http_status = 400


class LockedOut(RoomError):
    code = "locked_out"
    http_status = 429


class OtpRequired(RoomError):
    code = "otp_required"
    http_status = 401


class OtpInvalid(RoomError):
    code = "otp_invalid"
    http_status = 400


class EnrolCodeRequired(RoomError):
    """The account must enrol an authenticator, and the set-up code was missing, wrong or
    expired (one answer for all three)."""

    code = "enrol_code_required"
    http_status = 401


class StaffSignedOut(RoomError):
    """The staff socket opened without a signed-in account."""

    code = ErrorCode.FORBIDDEN
    http_status = 401
    close_code = Close.UNAUTHENTICATED


class SecondFactorRequired(RoomError):
    """A staff session of a role that needs the second factor, without it."""

    code = "second_factor_required"
    http_status = 401
    close_code = Close.UNAUTHENTICATED


# --- lockout --------------------------------------------------------------------------------


def _username_fingerprint(username: str) -> str:
    return fingerprint("staff-login|" + username.strip().casefold())


# Rows of the same table count the whole service's failures and each trusted device's. Their
# fingerprints cannot collide with a username's, whose input always has "staff-login|".
_GLOBAL_FINGERPRINT = fingerprint("staff-login-global")


def _device_fingerprint(device: str) -> str:
    return fingerprint("staff-device|" + device)


def _minutes(seconds: float) -> int:
    return max(1, int((seconds + 59) // 60))


def _remaining(key: str, now: dt.datetime | None = None) -> float:
    now = now or timezone.now()
    locked_until = (
        LoginThrottle.objects.filter(username_fingerprint=key)
        .values_list("locked_until", flat=True)
        .first()
    )
    if locked_until is None or locked_until <= now:
        return 0.0
    return (locked_until - now).total_seconds()


def lockout_remaining(username: str, *, now: dt.datetime | None = None) -> float:
    """Seconds until ``username`` may try again (0 when it is not locked)."""
    return _remaining(_username_fingerprint(username), now)


def global_lockout_remaining(*, now: dt.datetime | None = None) -> float:
    """Seconds until sign-ins without a trusted device are accepted again after the
    service-wide cap on failures was reached (0 when it was not)."""
    return _remaining(_GLOBAL_FINGERPRINT, now)


def trusted_device(request: HttpRequest | None, username: str) -> str | None:
    """The id of this request's trusted device for ``username``, unless that device has
    itself failed too often lately (then it is treated like any other)."""
    device = devices.device_for(request, username)
    if device is None or _remaining(_device_fingerprint(device)):
        return None
    return device


def _audit_target(username: str) -> tuple[str, str]:
    """The audit log's actor and object for an attempt on ``username``: the account when it
    exists; otherwise nothing that could repeat what was typed."""
    user = get_user_model().objects.filter(username=username.strip()).first()
    return (actor_for_user(user), str(user.pk)) if user is not None else ("anonymous", "unknown")


def _count_failure(key: str, limit: int, now: dt.datetime, *, awaiting_code: bool = False) -> bool:
    """One failure on the counter ``key``, under its row lock; True when it reached
    ``limit`` and so locked for the cool-off. ``awaiting_code`` marks a right password that
    came without its code (see ``sign_in_succeeded``). Call inside a transaction."""
    window = dt.timedelta(seconds=settings.STAFF_LOGIN_FAILURE_WINDOW_SECONDS)
    row = LoginThrottle.objects.select_for_update().filter(username_fingerprint=key).first()
    if row is None:
        try:
            with transaction.atomic():
                row = LoginThrottle.objects.create(username_fingerprint=key, window_started_at=now)
        except IntegrityError:  # a concurrent failure created it first
            row = LoginThrottle.objects.select_for_update().get(username_fingerprint=key)
    if row.window_started_at + window <= now:
        row.failures, row.window_started_at = 0, now
    row.failures += 1
    if awaiting_code:
        row.awaiting_code_at = now
    locked = row.failures >= limit
    if locked:
        row.locked_until = now + dt.timedelta(seconds=settings.STAFF_LOGIN_LOCKOUT_SECONDS)
        row.failures, row.window_started_at = 0, now
    row.save()
    return locked


def record_failure(
    username: str, *, factor: str, device: str | None = None, awaiting_code: bool = False
) -> bool:
    """Count one failed attempt against the account, the whole service and (when the
    attempt came from one) the trusted device; lock each past its limit. Returns True when
    this failure locked the account. ``awaiting_code``: the password was right, and the
    code (or set-up code) is what was missing or wrong. Rows are always locked in that
    order: account, device, service, so concurrent failures cannot deadlock."""
    now = timezone.now()
    window = dt.timedelta(seconds=settings.STAFF_LOGIN_FAILURE_WINDOW_SECONDS)
    cool_off = dt.timedelta(seconds=settings.STAFF_LOGIN_LOCKOUT_SECONDS)
    with transaction.atomic():
        locked = _count_failure(
            _username_fingerprint(username),
            settings.STAFF_LOGIN_MAX_FAILURES,
            now,
            awaiting_code=awaiting_code,
        )
        if device is not None:
            _count_failure(_device_fingerprint(device), settings.STAFF_LOGIN_MAX_FAILURES, now)
        globally = _count_failure(
            _GLOBAL_FINGERPRINT, settings.STAFF_LOGIN_GLOBAL_MAX_FAILURES, now
        )
        # Rows that can no longer lock anyone are dropped as we go; the table stays small.
        LoginThrottle.objects.filter(
            window_started_at__lt=now - window - cool_off, locked_until__isnull=True
        ).delete()
        actor, object_id = _audit_target(username)
        audit_append(
            actor=actor,
            action="staff.login_failed",
            object_type="user",
            object_id=object_id,
            detail={"factor": factor},
        )
        if locked:
            audit_append(
                actor="system",
                action="staff.lockout",
                object_type="user",
                object_id=object_id,
                detail={"seconds": settings.STAFF_LOGIN_LOCKOUT_SECONDS},
            )
        if globally:
            audit_append(
                actor="system",
                action="staff.lockout_global",
                object_type="service",
                object_id="sign-in",
                detail={
                    "failures": settings.STAFF_LOGIN_GLOBAL_MAX_FAILURES,
                    "seconds": settings.STAFF_LOGIN_LOCKOUT_SECONDS,
                },
            )
    return locked


def clear_failures(username: str) -> None:
    LoginThrottle.objects.filter(username_fingerprint=_username_fingerprint(username)).delete()


def sign_in_succeeded(request: HttpRequest, username: str) -> None:
    """A sign-in was completed with every factor it needs. The account's failures are
    cleared, and so are the failures of this browser's trusted device (it just proved
    itself). A person who signs in in two steps (password, then code) was counted one
    failure at the first step: it is taken back from the service-wide count, so staff
    signing in do not bring on the lockout across accounts themselves."""
    now = timezone.now()
    window = dt.timedelta(seconds=settings.STAFF_LOGIN_FAILURE_WINDOW_SECONDS)
    keys = [_username_fingerprint(username)]
    device = devices.device_for(request, username)
    if device is not None:
        keys.append(_device_fingerprint(device))
    with transaction.atomic():
        awaiting = (
            LoginThrottle.objects.select_for_update()
            .filter(username_fingerprint=keys[0], awaiting_code_at__gt=now - window)
            .values_list("awaiting_code_at", flat=True)
            .first()
        )
        if awaiting is not None:
            # Only from the window it was counted in, and never out of a lockout.
            LoginThrottle.objects.filter(
                Q(locked_until__isnull=True) | Q(locked_until__lte=now),
                username_fingerprint=_GLOBAL_FINGERPRINT,
                window_started_at__lte=awaiting,
                failures__gt=0,
            ).update(failures=F("failures") - 1)
        LoginThrottle.objects.filter(username_fingerprint__in=keys).delete()


@dataclass(frozen=True)
class Unlocked:
    account: bool
    service: bool


def staff_unlock(*, username: str | None, service: bool, actor: str) -> Unlocked:
    """End the lockout of ``username`` (and/or the service-wide one) now, by hand; audited
    whether or not anything was locked, so the log shows every use."""
    account = False
    if username is not None:
        account = lockout_remaining(username) > 0
        clear_failures(username)
        _, object_id = _audit_target(username)
        audit_append(
            actor=actor,
            action="staff.unlock",
            object_type="user",
            object_id=object_id,
            detail={"was_locked": account},
        )
    was_global = False
    if service:
        was_global = global_lockout_remaining() > 0
        LoginThrottle.objects.filter(username_fingerprint=_GLOBAL_FINGERPRINT).delete()
        audit_append(
            actor=actor,
            action="staff.unlock_global",
            object_type="service",
            object_id="sign-in",
            detail={"was_locked": was_global},
        )
    return Unlocked(account=account, service=was_global)


def _refuse_if_locked(username: str, *, trusted: str | None) -> None:
    """LockedOut when the account or the service is locked, unless the attempt comes from
    a trusted device of this account."""
    if trusted is not None:
        return
    remaining = lockout_remaining(username)
    if remaining:
        raise LockedOut(
            "too many failed sign-ins for this account: try again in "
            f"{_minutes(remaining)} minutes, or ask an admin to check the account",
            retry_after=remaining,
        )
    remaining = global_lockout_remaining()
    if remaining:
        raise LockedOut(
            "too many failed sign-ins to the service just now: try again in "
            f"{_minutes(remaining)} minutes (a device you signed in on before is not "
            "affected), or ask an admin",
            retry_after=remaining,
        )


class LockoutModelBackend(ModelBackend):
    """Django's password check, behind the lockout. Every password sign-in (the JSON API and
    the admin's form) comes through here, so both count failures and honour a lockout."""

    def authenticate(  # type: ignore[override]
        self,
        request: HttpRequest | None,
        username: str | None = None,
        password: str | None = None,
        **kwargs: Any,
    ) -> AbstractBaseUser | None:
        username = username or kwargs.get(get_user_model().USERNAME_FIELD)
        if not username or password is None:
            return None
        trusted = trusted_device(request, username)
        if trusted is None and (lockout_remaining(username) or global_lockout_remaining()):
            raise PermissionDenied("locked out")  # ends the check: no backend may let it in
        with slow_hash_slot():
            user = super().authenticate(request, username=username, password=password, **kwargs)
        if user is None:
            record_failure(username, factor="password", device=trusted)
        return user


# --- the second factor ------------------------------------------------------------------------


def confirmed_device(user: User) -> TOTPDevice | None:
    return TOTPDevice.objects.filter(user=user, confirmed=True).order_by("pk").first()


def _verify(device_id: int, code: str) -> bool:
    """Check a code under the device row's lock, so one code cannot be used twice at once
    (the device also refuses a code of a time step already used, and throttles guesses)."""
    code = code.strip().replace(" ", "")
    if not code.isdigit():
        return False
    with transaction.atomic():
        device = TOTPDevice.objects.select_for_update().filter(pk=device_id).first()
        return device is not None and bool(device.verify_token(code))


def staff_socket_grant(user: Any, session: SessionBase | Any) -> Grant:
    """Who may open the staff socket: an account whose role sees the escalation queue, in a
    session that passed its second factor. The grant is held against the database for as
    long as the socket stays open (rooms/grants.py): signing out, expiry, a role change or
    deactivation closes it within seconds, and before any frame is acted on."""
    role = role_for_user(user)
    session_key = session.session_key if session is not None else None
    if not getattr(user, "is_authenticated", False) or not session_key:
        raise StaffSignedOut("staff only")
    if role is None or not can(role, "view_escalations"):
        raise NotAllowed("staff only")
    if not session_is_verified(user, session):
        raise SecondFactorRequired("sign in again with your authenticator code")
    return Grant(session_key=session_key, user_id=user.pk, role=role)


# --- signing in and out -------------------------------------------------------------------------


@dataclass(frozen=True)
class SignIn:
    """The outcome of a password step that did not fail: signed in, or enrolment needed."""

    user: User
    role: str
    signed_in: bool
    provisioning_uri: str | None = None
    # A new trusted-device token for the client's cookie, after a sign-in with the code.
    device_token: str | None = None
    # A member session this browser held was ended first (the person is told why).
    member_session_ended: bool = False


def apart_from_member(request: HttpRequest) -> bool:
    """End the member session this browser holds, if any, before anything of a staff
    account is written to the session: one row holding both would tie an anonymous member
    to a named account, for anyone who reads the database. Its sockets close; nothing about
    it is audited or logged, which would tie them too. True when one was ended."""
    from rooms.access import MEMBER_SESSION_KEY

    if request.session.get(MEMBER_SESSION_KEY) is None:
        return False
    ended = request.session.session_key
    request.session.flush()
    if ended:
        sockets_close_for_session(ended)
    return True


def _start_enrolment(request: HttpRequest, user: User, code: EnrolCode) -> str:
    """A new secret for the user to add to their authenticator app; any earlier unconfirmed
    one is discarded, so each secret is shown exactly once. The set-up code is used up only
    when the device is confirmed (``_confirm``)."""
    TOTPDevice.objects.filter(user=user, confirmed=False).delete()
    device = TOTPDevice.objects.create(user=user, name="authenticator", confirmed=False)
    until = timezone.now() + dt.timedelta(seconds=settings.STAFF_OTP_ENROL_SECONDS)
    request.session[ENROL_SESSION_KEY] = {
        "user": user.pk,
        "device": device.pk,
        "code": code.pk,
        "until": until.isoformat(),
    }
    audit_append(
        actor=actor_for_user(user),
        action="staff.otp_enrolment_started",
        object_type="user",
        object_id=user.pk,
    )
    return str(device.config_url)


def _complete(request: HttpRequest, user: User, role: str, device: TOTPDevice | None) -> SignIn:
    ended = apart_from_member(request)
    sign_in_succeeded(request, user.get_username())
    login(request, user, backend=LOGIN_BACKEND)
    if device is not None:
        django_otp.login(request, device)
    request.session.save()
    StaffSession.objects.get_or_create(  # signing in again in a signed-in session keeps its key
        session_digest=session_digest(str(request.session.session_key)),
        defaults={"user": user, "created_at": timezone.now()},
    )
    audit_append(
        actor=actor_for_user(user),
        action="staff.login",
        object_type="user",
        object_id=user.pk,
        detail={"role": role, "second_factor": device is not None},
    )
    token = devices.device_token_issue(user) if device is not None else None
    return SignIn(
        user=user, role=role, signed_in=True, device_token=token, member_session_ended=ended
    )


def _refuse_right_password(
    request: HttpRequest, username: str, *, factor: str, trusted: str | None
) -> None:
    """A right password without the rest: counted like a wrong one (it must cost a try, or
    it could be confirmed over and over), and answered ``locked_out`` when it was the
    failure that locked the account, as a wrong password is."""
    record_failure(username, factor=factor, device=trusted, awaiting_code=True)
    _refuse_if_locked(username, trusted=trusted_device(request, username))


def sign_in(
    request: HttpRequest,
    *,
    username: str,
    password: str,
    otp: str | None,
    enrol_code: str | None = None,
) -> SignIn:
    """The password step (and the code, when the account has a device). Raises LockedOut,
    LoginFailed, OtpRequired, OtpInvalid or EnrolCodeRequired (and RateLimited or Busy under
    load); returns a SignIn that is either complete or carries the provisioning URI of a new
    enrolment, which needs the set-up code an admin issued. A trusted device of this account
    skips the address throttle and the lockouts."""
    trusted = trusted_device(request, username)
    if trusted is None:
        throttle_hit(scope=STAFF_SIGNIN, client=client_address(request))
    _refuse_if_locked(username, trusted=trusted)
    try:
        found = LockoutModelBackend().authenticate(request, username=username, password=password)
    except PermissionDenied:  # locked by a concurrent attempt since the check above
        _refuse_if_locked(username, trusted=None)
        raise LoginFailed("wrong username or password") from None
    if found is None:
        # This failure may have been the one that locked it.
        _refuse_if_locked(username, trusted=trusted_device(request, username))
        raise LoginFailed("wrong username or password")
    user: User = found  # type: ignore[assignment]
    role = role_for_user(user)
    if role is None:
        audit_append(
            actor=actor_for_user(user),
            action="staff.login_refused",
            object_type="user",
            object_id=user.pk,
            detail={"reason": "no role"},
        )
        raise LoginFailed("this account has no role in the service; ask an admin")
    device = confirmed_device(user)
    if device is None:
        pending = _pending_device(request, user)
        if pending is not None and otp:
            return _confirm(request, pending, otp)
        if not otp_required(role) and not enrol_code:
            return _complete(request, user, role, None)
        code = enrol_code_find(user, enrol_code)
        if code is None:
            _refuse_right_password(request, username, factor="enrol_code", trusted=trusted)
            raise EnrolCodeRequired(
                "this account needs an authenticator app: enter the set-up code an admin "
                "gave you for it (a code that is wrong or has expired does not work)"
            )
        ended = apart_from_member(request)
        uri = _start_enrolment(request, user, code)
        return SignIn(
            user=user,
            role=role,
            signed_in=False,
            provisioning_uri=uri,
            member_session_ended=ended,
        )
    if not otp:
        _refuse_right_password(request, username, factor="otp_missing", trusted=trusted)
        raise OtpRequired("enter the 6-digit code from your authenticator app")
    if not _verify(device.pk, otp):
        record_failure(username, factor="otp", device=trusted, awaiting_code=True)
        _refuse_if_locked(username, trusted=trusted_device(request, username))
        raise OtpInvalid("that code is not right; codes change every 30 seconds")
    return _complete(request, user, role, device)


def _pending_device(request: HttpRequest, user: User | None = None) -> TOTPDevice | None:
    """The unconfirmed device of this session's enrolment, while it is still open."""
    pending = request.session.get(ENROL_SESSION_KEY)
    if not isinstance(pending, dict):
        return None
    try:
        until = dt.datetime.fromisoformat(str(pending.get("until")))
    except ValueError:
        until = None
    if until is None or until <= timezone.now() or (user and pending.get("user") != user.pk):
        request.session.pop(ENROL_SESSION_KEY, None)
        return None
    return (
        TOTPDevice.objects.select_related("user")
        .filter(pk=pending.get("device"), user_id=pending.get("user"), confirmed=False)
        .filter(user__is_active=True)
        .first()
    )


def _confirm(request: HttpRequest, device: TOTPDevice, code: str) -> SignIn:
    user: User = device.user
    role = role_for_user(user)
    if role is None:
        request.session.pop(ENROL_SESSION_KEY, None)
        raise NotAuthenticated("this account has no role in the service; ask an admin")
    _refuse_if_locked(user.get_username(), trusted=None)
    if not _verify(device.pk, code):
        record_failure(user.get_username(), factor="otp", awaiting_code=True)
        _refuse_if_locked(user.get_username(), trusted=None)
        raise OtpInvalid("that code is not right; check the app's clock and try the next code")
    pending = request.session.pop(ENROL_SESSION_KEY, None) or {}
    with transaction.atomic():
        used = enrol_code_use(int(pending.get("code") or 0), user)
        if used:
            TOTPDevice.objects.filter(pk=device.pk).update(confirmed=True)
    if not used:
        # Retired (a new code was issued) or used by another enrolment meanwhile.
        TOTPDevice.objects.filter(pk=device.pk, confirmed=False).delete()
        raise NotAuthenticated("this set-up code is no longer valid; ask an admin for a new one")
    device.confirmed = True
    audit_append(
        actor=actor_for_user(user),
        action="staff.otp_enrolled",
        object_type="user",
        object_id=user.pk,
    )
    return _complete(request, user, role, device)


def confirm_enrolment(request: HttpRequest, *, code: str) -> SignIn:
    """Confirm the device of this session's pending enrolment with its first code, and sign
    in. (Sending username, password and the code to sign_in does the same.)"""
    device = _pending_device(request)
    if device is None:
        raise NotAuthenticated("sign in with your password first to set up your authenticator")
    return _confirm(request, device, code)


def sign_out(request: HttpRequest) -> None:
    """End this session and close its sockets."""
    user = request.user if request.user.is_authenticated else None
    session_key = request.session.session_key
    logout(request)
    if session_key:
        StaffSession.objects.filter(session_digest=session_digest(session_key)).delete()
        sockets_close_for_session(session_key)
    if user is not None:
        audit_append(
            actor=actor_for_user(user), action="staff.logout", object_type="user", object_id=user.pk
        )


def sign_out_everywhere(request: HttpRequest) -> int:
    """End every session the user signed in (on any device) and close all their sockets.
    Returns how many sessions were ended. The other sessions are known only by their
    digests: their rows go, and their sockets close through the user's group (and, should
    that event be lost, at the next session check)."""
    user = request.user
    if isinstance(user, AnonymousUser) or not user.is_authenticated:
        raise NotAuthenticated("sign in first")
    current = request.session.session_key
    digests = set(StaffSession.objects.filter(user=user).values_list("session_digest", flat=True))
    if current:
        digests.add(session_digest(current))
    sessions_delete(digests)
    logout(request)
    if current:
        sockets_close_for_session(current)
    StaffSession.objects.filter(user=user).delete()
    sockets_close_for_user(user.pk)
    audit_append(
        actor=actor_for_user(user),
        action="staff.logout_everywhere",
        object_type="user",
        object_id=user.pk,
        detail={"sessions": len(digests)},
    )
    return len(digests)


# --- creating staff accounts ---------------------------------------------------------------------

STAFF_CREATE_ROLES = ("facilitator", "moderator", "staff")


@dataclass(frozen=True)
class CreatedStaff:
    user: User
    role: str
    password: str  # shown once by the command; only its hash is stored
    trained_until: dt.date | None


@transaction.atomic
def staff_create(
    *,
    username: str,
    role: str,
    trained_until: dt.date | None = None,
    name: str | None = None,
    actor: str = "system:cli",
) -> CreatedStaff:
    """A staff account in ``role`` with a new random password (returned once). A peer
    facilitator facilitates only while their training is current: ``trained_until`` records
    it. ``name`` is the name in rooms (otherwise the person chooses it at first sign-in).
    Moderators and staff set up their authenticator app at their first sign-in."""
    from django.contrib.auth.models import Group

    from chatserver.crypto import random_token
    from chatserver.permissions import setup_role_groups
    from moderation.models import TrainingRecord
    from rooms.staffnames import name_choose

    if role not in STAFF_CREATE_ROLES:
        raise NotAllowed(f"the role is one of: {', '.join(STAFF_CREATE_ROLES)}")
    if not username or len(username) > 150:
        raise NotAllowed("give a username of 1 to 150 characters")
    if get_user_model().objects.filter(username=username).exists():
        raise NotAllowed(f"there is already an account called {username!r}")
    today = timezone.localdate()
    if trained_until is not None and trained_until < today:
        raise NotAllowed("--trained-until is in the past: the training would already have lapsed")
    setup_role_groups()
    password = random_token(15)
    user = User.objects.create_user(username=username, password=password)
    user.groups.add(Group.objects.get(name=role))
    if trained_until is not None:
        TrainingRecord.objects.create(
            user=user,
            course=settings.FACILITATOR_TRAINING_COURSE,
            completed_on=today,
            expires_on=trained_until,
        )
    if name:
        name_choose(user=user, raw=name)
    audit_append(
        actor=actor,
        action="staff.created",
        object_type="user",
        object_id=user.pk,
        detail={"role": role, "trained_until": str(trained_until) if trained_until else None},
    )
    return CreatedStaff(user=user, role=role, password=password, trained_until=trained_until)
