"""Anonymous member identity: creation and recovery on another device.

A member has no email, name or phone. They get a one-time recovery phrase of eight common
English words (BIP-39 list). The first three words are a random lookup handle stored as is;
the other five (55 bits) are stored only as a slow argon2 hash, so a stolen database does not
let anyone take over a member, and the phrase itself is never stored.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from django.contrib.auth.hashers import check_password, make_password
from django.db import transaction
from mnemonic import Mnemonic

from chatserver.crypto import random_choice
from rooms.errors import RecoveryFailed
from rooms.models import Member

LOOKUP_WORDS = 3
SECRET_WORDS = 5


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
    answer does not reveal whether the lookup words exist."""
    lookup, secret = _split(phrase)
    for member in Member.objects.filter(
        recovery_lookup=lookup, erased_at__isnull=True, banned_at__isnull=True
    ):
        if check_password(secret, member.recovery_hash):
            return member
    raise RecoveryFailed("that recovery phrase does not match an account")
