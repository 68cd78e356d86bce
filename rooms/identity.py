"""Anonymous member identity: creation and recovery on another device.

A member has no email, name or phone. They get a one-time recovery phrase of eight common
English words, drawn from the BIP-39 English list less the deny list of distressing words
(``rooms.wordlists``; the words kept and the bits are in docs/security.md, "Words handed to
a member"). The first three words are a random lookup handle: they find the member's row in
one indexed query, and name the counter that locks guessing of the rest. They are stored
only as an HMAC under a key derived from the server secret, like the other five (about 54
bits, drawn at random), so no word of a phrase is ever stored: a stolen database without
that secret neither lets anyone take over a member nor shows any of their words (the lookup
words were stored as they were, and their 32 bits left even a plain hash easy to reverse).

Recovery does not check the words against any list: phrases made before the filter, from
the full 2,048-word list, keep working, including words that are no longer handed out.

Why not argon2: the words are random, not chosen by a person, so there is no dictionary to
slow down; what stops an offline guess is the key, not the cost. Argon2 cost 100 MiB and a
fifth of a second of CPU for every new session, which let anyone exhaust the server's memory
with a burst of them (issue 13, row 3). Phrases made before keep their argon2 hash until
the member next recovers with it; it is then replaced by the keyed hash.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.hashers import check_password
from django.db import transaction
from django.utils import timezone

from chatserver.crypto import (
    is_recovery_digest,
    random_phrase,
    recovery_digest,
    recovery_digest_match,
    recovery_lookup_digest,
)
from rooms.errors import RecoveryFailed, RecoveryLocked
from rooms.models import Member, RecoveryThrottle
from rooms.throttles import slow_hash_slot
from rooms.wordlists import recovery_words

LOOKUP_WORDS = 3
SECRET_WORDS = 5
RECOVERY_MAX_FAILURES = 5
RECOVERY_WINDOW_SECONDS = 15 * 60


@dataclass(frozen=True)
class NewMember:
    member: Member
    recovery_phrase: str


def _split(phrase: str) -> tuple[str, str]:
    # Only the count is checked, never the words: a phrase from the full BIP-39 list (made
    # before the deny list) must still recover its member (issue 12).
    words = phrase.lower().split()
    if len(words) != LOOKUP_WORDS + SECRET_WORDS:
        raise RecoveryFailed("a recovery phrase has eight words")
    return " ".join(words[:LOOKUP_WORDS]), " ".join(words[LOOKUP_WORDS:])


@transaction.atomic
def member_create() -> NewMember:
    phrase = random_phrase(recovery_words(), LOOKUP_WORDS + SECRET_WORDS)
    lookup, secret = _split(phrase)
    member = Member.objects.create(recovery_lookup=_lookup(lookup), recovery_hash=_digest(secret))
    return NewMember(member=member, recovery_phrase=phrase)


def _server_secrets() -> list[str]:
    return [settings.SECRET_KEY, *settings.SECRET_KEY_FALLBACKS]


def _lookup(lookup: str, server_secret: str | None = None) -> str:
    """What is stored for the lookup words: their keyed hash, never the words."""
    return recovery_lookup_digest(lookup, server_secret=server_secret or settings.SECRET_KEY)


@transaction.atomic
def member_new_phrase(*, member: Member) -> str:
    """A new recovery phrase for a member signed in on this device (shown once, as at
    creation): the old phrase stops working. Offered when the page explains that Quick exit
    signs out on this device, for someone who did not keep, or no longer trusts, theirs."""
    phrase = random_phrase(recovery_words(), LOOKUP_WORDS + SECRET_WORDS)
    lookup, secret = _split(phrase)
    Member.objects.filter(pk=member.pk).update(
        recovery_lookup=_lookup(lookup), recovery_hash=_digest(secret)
    )
    return phrase


def member_exit_explained(*, member: Member) -> None:
    Member.objects.filter(pk=member.pk, exit_explained_at__isnull=True).update(
        exit_explained_at=timezone.now()
    )


def _digest(secret: str) -> str:
    return recovery_digest(secret, server_secret=settings.SECRET_KEY)


def _matches(member: Member, secret: str) -> bool:
    """Whether ``secret`` is this member's; a hash made under an earlier server secret or by
    argon2 is replaced by the current keyed hash when it matches."""
    stored = member.recovery_hash
    if is_recovery_digest(stored):
        index = recovery_digest_match(stored, secret, server_secrets=_server_secrets())
        if index is None:
            return False
        if index > 0:
            _upgrade(member, secret)
        return True
    with slow_hash_slot():  # an argon2 hash from before: the same cap as staff passwords
        matched = check_password(secret, stored)
    if matched:
        _upgrade(member, secret)
    return matched


def _upgrade(member: Member, secret: str) -> None:
    member.recovery_hash = _digest(secret)
    Member.objects.filter(pk=member.pk).update(recovery_hash=member.recovery_hash)


def member_recover(*, phrase: str) -> Member:
    """The member the phrase belongs to. The same error is given for every failure so the
    answer does not reveal whether the lookup words exist. After ``RECOVERY_MAX_FAILURES``
    failures on the same lookup words within the window, those words are locked for a while.
    (A member who still has an argon2 hash answers slower than unknown words do; the lookup
    words are about 32 random bits, so that tells a guesser nothing they could find by chance.)"""
    lookup, secret = _split(phrase)
    _refuse_if_locked(lookup)
    # Under the current secret and each fallback: a member hashed under a retired secret is
    # found, and moved to the current one.
    lookups = [_lookup(lookup, s) for s in _server_secrets()]
    candidates = list(
        Member.objects.filter(
            recovery_lookup__in=lookups, erased_at__isnull=True, banned_at__isnull=True
        )
    )
    for member in candidates:
        if _matches(member, secret):
            if member.recovery_lookup != lookups[0]:
                Member.objects.filter(pk=member.pk).update(recovery_lookup=lookups[0])
            RecoveryThrottle.objects.filter(lookup_fingerprint=lookups[0]).delete()
            return member
    if not candidates:
        _digest(secret)  # the same cost as a real check: no timing hint
    _record_failure(lookup)
    raise RecoveryFailed("that recovery phrase does not match an account")


def _refuse_if_locked(lookup: str) -> None:
    locked_until = (
        RecoveryThrottle.objects.filter(lookup_fingerprint=_lookup(lookup))
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
        lookup_fingerprint=_lookup(lookup), defaults={"window_started_at": now}
    )
    if row.window_started_at + window <= now:
        row.failures, row.window_started_at = 0, now
    row.failures += 1
    if row.failures >= RECOVERY_MAX_FAILURES:
        row.locked_until = now + window
        row.failures, row.window_started_at = 0, now
    row.save()
