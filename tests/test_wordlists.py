"""Word lists held to the deny list: recovery phrases and pseudonyms carry no word of
violence, abuse, the body, sex, drugs, illness or slurs (issue 12), and old phrases still
recover."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth.hashers import make_password

from chatserver import crypto
from rooms import identity, pseudonyms, wordlists
from rooms.models import Member

# The words the issue names, from phrases handed to new members before the filter.
NAMED_IN_ISSUE = {"razor", "abuse", "knife", "gun", "blood", "attack", "hurt"}

# Every list a phrase or a name is drawn from, and the pseudonyms' source lists as written.
DRAWN_FROM = {
    "recovery": wordlists.recovery_words(),
    "pseudonym adjectives": pseudonyms.ADJECTIVES,
    "pseudonym nouns": pseudonyms.NOUNS,
    "pseudonym adjectives (source)": pseudonyms._ADJECTIVE_WORDS,
    "pseudonym nouns (source)": pseudonyms._NOUN_WORDS,
}


def _deny_file_words() -> list[str]:
    lines = wordlists.DENY_FILE.read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def test_the_deny_list_holds_the_words_named_in_the_issue() -> None:
    assert wordlists.denied() >= NAMED_IN_ISSUE


def test_the_deny_list_is_one_lower_case_word_a_line_without_repeats() -> None:
    """It is reviewed by reading: a repeat or a stray phrase would hide a mistake."""
    words = _deny_file_words()
    assert all(re.fullmatch(r"[a-z]+", word) for word in words), words
    assert len(words) == len(set(words))


@pytest.mark.parametrize("name", sorted(DRAWN_FROM))
def test_no_word_drawn_from_is_denied(name: str) -> None:
    words = DRAWN_FROM[name]
    assert words, name
    assert [word for word in words if wordlists.is_denied(word)] == []


def test_the_recovery_list_is_bip39_english_less_the_deny_list() -> None:
    full = wordlists.bip39_words()
    # BIP-39 English is a fixed standard: a changed list from the package would change what
    # old phrases were drawn from, so it is pinned.
    assert len(full) == 2048
    assert crypto.fingerprint(" ".join(full)) == "f18b9a84c83e38e98eceb0102b275e26438af83a"
    kept = wordlists.recovery_words()
    assert kept == tuple(word for word in full if word not in wordlists.denied())
    assert len(set(kept)) == len(kept)


def test_a_word_added_to_the_deny_list_leaves_a_list(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(wordlists, "denied", lambda: frozenset({"heron"}))
    assert wordlists.kept(["Calm", "Heron", "Wren"]) == ("Calm", "Wren")


def test_random_phrase_draws_only_from_the_words_given() -> None:
    words = ("calm", "heron", "wren")
    drawn = [crypto.random_phrase(words, 8).split() for _ in range(50)]
    assert all(len(phrase) == 8 and set(phrase) <= set(words) for phrase in drawn)
    assert {word for phrase in drawn for word in phrase} == set(words)


@pytest.mark.django_db
def test_new_phrases_use_only_kept_words_and_recover() -> None:
    kept = set(wordlists.recovery_words())
    for _ in range(40):
        created = identity.member_create()
        words = created.recovery_phrase.split()
        assert len(words) == identity.LOOKUP_WORDS + identity.SECRET_WORDS
        assert set(words) <= kept
        assert identity.member_recover(phrase=created.recovery_phrase).pk == created.member.pk


@pytest.mark.django_db
@pytest.mark.parametrize("stored", ["keyed hash", "argon2 from before"])
def test_an_old_phrase_with_now_denied_words_still_recovers(stored: str) -> None:
    """Members made before the filter hold phrases from the full list; recovery checks the
    words against no list, so they keep their place."""
    lookup, secret = "razor abuse knife", "gun blood attack hurt zoo"
    assert set(f"{lookup} {secret}".split()) - {"zoo"} <= wordlists.denied()
    if stored == "keyed hash":
        digest = crypto.recovery_digest(secret, server_secret=settings.SECRET_KEY)
    else:
        digest = make_password(secret)
    member = Member.objects.create(
        recovery_lookup=crypto.recovery_lookup_digest(lookup, server_secret=settings.SECRET_KEY),
        recovery_hash=digest,
    )
    assert identity.member_recover(phrase=f"{lookup} {secret}").pk == member.pk
    assert identity.member_recover(phrase=f"  {lookup.upper()}  {secret} ").pk == member.pk


def test_an_eight_word_phrase_stays_well_above_80_bits() -> None:
    words = identity.LOOKUP_WORDS + identity.SECRET_WORDS
    assert wordlists.MIN_PHRASE_BITS >= 84
    assert wordlists.phrase_bits(words) >= wordlists.MIN_PHRASE_BITS
    # The secret part alone, which the keyed hash protects, stays above 50 bits.
    assert wordlists.phrase_bits(identity.SECRET_WORDS) > 50


def test_pseudonyms_keep_thousands_of_combinations() -> None:
    assert len(pseudonyms.ADJECTIVES) * len(pseudonyms.NOUNS) >= 3000


def test_the_documented_figures_are_the_code_s() -> None:
    """docs/security.md states the words kept and the bits; changing the deny list must
    change them there too."""
    doc = (Path(__file__).resolve().parents[1] / "docs" / "security.md").read_text()
    kept = len(wordlists.recovery_words())
    assert f"{kept:,} words" in doc
    assert f"{wordlists.phrase_bits(8):.1f} bits" in doc
    assert f"{wordlists.phrase_bits(identity.SECRET_WORDS):.1f} bits" in doc
    assert f"{len(wordlists.denied() & set(wordlists.bip39_words()))} of the 2,048" in doc
