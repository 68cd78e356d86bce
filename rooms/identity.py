"""Anonymous member identity: creation and recovery on another device.

A member has no email, name or phone. They get a one-time recovery phrase of eight common
English words (BIP-39 list). The first three words are a random lookup handle stored as is;
the other five (55 bits) are stored only as a slow argon2 hash, so a stolen database does not
let anyone take over a member, and the phrase itself is never stored.
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass

from django.contrib.auth.hashers import check_password, make_password
from django.db import transaction
from django.utils import timezone
from mnemonic import Mnemonic

from chatserver.crypto import fingerprint, random_choice
from rooms.errors import RecoveryFailed, RecoveryLocked
from rooms.models import Member, RecoveryThrottle

LOOKUP_WORDS = 3
SECRET_WORDS = 5
RECOVERY_MAX_FAILURES = 5
RECOVERY_WINDOW_SECONDS = 15 * 60


@functools.cache
def _wordlist() -> tuple[str, ...]:
    return tuple(Mnemonic("english").wordlist)


@dataclass(frozen=True)
class NewMember:
    member: Member
    recovery_phrase: str


def _split(phrase: str) -> tuple[str, str]:
    words = phrase.lower().split()
    if len(words) != LOOKUP_WORDS + SECRET_WORDS:
        raise RecoveryFailed("a recovery phrase has eight words")
    return " ".join(words[:LOOKUP_WORDS]), " ".join(words[LOOKUP_WORDS:])


@transaction.atomic
def member_create() -> NewMember:
    words = _wordlist()
    phrase = " ".join(random_choice(words) for _ in range(LOOKUP_WORDS + SECRET_WORDS))
    lookup, secret = _split(phrase)
    member = Member.objects.create(recovery_lookup=lookup, recovery_hash=make_password(secret))
    return NewMember(member=member, recovery_phrase=phrase)


def member_recover(*, phrase: str) -> Member:
    """The member the phrase belongs to. The same error is given for every failure so the
    answer does not reveal whether the lookup words exist, and a wrong guess costs the same
    slow hash whether or not they do. After ``RECOVERY_MAX_FAILURES`` failures on the same
    lookup words within the window, those words are locked for a while."""
    lookup, secret = _split(phrase)
    _refuse_if_locked(lookup)
    candidates = list(
        Member.objects.filter(
            recovery_lookup=lookup, erased_at__isnull=True, banned_at__isnull=True
        )
    )
    for member in candidates:
        if check_password(secret, member.recovery_hash):
            RecoveryThrottle.objects.filter(lookup_fingerprint=fingerprint(lookup)).delete()
            return member
    if not candidates:
        make_password(secret)  # the same cost as a real check: no timing hint
    _record_failure(lookup)
    raise RecoveryFailed("that recovery phrase does not match an account")


def _refuse_if_locked(lookup: str) -> None:
    locked_until = (
        RecoveryThrottle.objects.filter(lookup_fingerprint=fingerprint(lookup))
        .values_list("locked_until", flat=True)
        .first()
    )
    if locked_until is not None and locked_until > timezone.now():
        raise RecoveryLocked("too many attempts with this phrase: please try again later")


@transaction.atomic
def _record_failure(lookup: str) -> None:
    now = timezone.now()
    window = dt.timedelta(seconds=RECOVERY_WINDOW_SECONDS)
    row, _ = RecoveryThrottle.objects.select_for_update().get_or_create(
        lookup_fingerprint=fingerprint(lookup), defaults={"window_started_at": now}
    )
    if row.window_started_at + window <= now:
        row.failures, row.window_started_at = 0, now
    row.failures += 1
    if row.failures >= RECOVERY_MAX_FAILURES:
        row.locked_until = now + window
        row.failures, row.window_started_at = 0, now
    row.save()
