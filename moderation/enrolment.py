"""One-time set-up codes: what an account needs, besides its password, to enrol an
authenticator.

Why: an account without a confirmed authenticator used to be shown a new secret at its first
password sign-in. Whoever first had the password (a phished or reused one, a colleague who
saw it written down) enrolled *their* device, and from then on held the second factor as
well. Now an admin issues a set-up code for the account (``chatserver staff-enrol-code``),
gives it to the person out of band, and the enrolment needs it: the password alone no
longer gives a second factor.

A code is 80 random bits, shown once when issued, stored only as a keyed hash (HMAC under a
key derived from ``SECRET_KEY``, ``chatserver.crypto.keyed_digest``), tied to one account,
good until it expires (``STAFF_ENROL_CODE_HOURS``) and used up when the new authenticator is
confirmed. Issuing a new code for an account retires the earlier one.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from chatserver.audit import actor_for_user, audit_append
from chatserver.crypto import keyed_digest, random_slug
from moderation.models import EnrolCode

_PURPOSE = "staff-enrolment-code"
_CODE_BYTES = 10  # 80 bits: 16 base32 characters


class AlreadyEnrolled(Exception):
    """The account has a confirmed authenticator: a code would do nothing until it is gone."""


@dataclass(frozen=True)
class IssuedCode:
    code: str  # shown once, never stored
    expires_at: dt.datetime


def _normalise(code: str) -> str:
    """What is hashed: the code without the spaces or dashes people type it with."""
    return "".join(code.split()).replace("-", "").lower()


def _digest(code: str) -> str:
    return keyed_digest(_PURPOSE, _normalise(code), server_secret=settings.SECRET_KEY)


def _readable(code: str) -> str:
    return "-".join(code[i : i + 4] for i in range(0, len(code), 4))


@transaction.atomic
def enrol_code_issue(*, user: Any, actor: str, hours: int | None = None) -> IssuedCode:
    """A new set-up code for ``user``, replacing any earlier one; audited. Refused for an
    account that already has a confirmed authenticator (delete it first: a lost device)."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    if TOTPDevice.objects.filter(user=user, confirmed=True).exists():
        raise AlreadyEnrolled(user.get_username())
    now = timezone.now()
    lifetime = dt.timedelta(hours=hours or settings.STAFF_ENROL_CODE_HOURS)
    EnrolCode.objects.filter(user=user).delete()
    EnrolCode.objects.filter(expires_at__lte=now).delete()
    code = random_slug(_CODE_BYTES)
    EnrolCode.objects.create(
        user=user,
        code_digest=_digest(code),
        created_at=now,
        expires_at=now + lifetime,
        issued_by=actor,
    )
    audit_append(
        actor=actor,
        action="staff.enrol_code_issued",
        object_type="user",
        object_id=user.pk,
        detail={"hours": int(lifetime.total_seconds() // 3600)},
    )
    return IssuedCode(code=_readable(code), expires_at=now + lifetime)


def enrol_code_find(user: Any, code: str | None) -> EnrolCode | None:
    """The unexpired set-up code of ``user`` that ``code`` is, or None."""
    if not code or not _normalise(code):
        return None
    return EnrolCode.objects.filter(
        user=user, code_digest=_digest(code), expires_at__gt=timezone.now()
    ).first()


def enrol_code_use(code_id: int, user: Any) -> bool:
    """Use the code up (the new authenticator was confirmed); False if it was retired or
    used meanwhile, so one code never confirms two devices."""
    deleted, _ = EnrolCode.objects.filter(pk=code_id, user=user).delete()
    if deleted:
        audit_append(
            actor=actor_for_user(user),
            action="staff.enrol_code_used",
            object_type="user",
            object_id=user.pk,
        )
    return bool(deleted)
