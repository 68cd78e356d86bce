"""The words the service may hand a member: recovery-phrase words and pseudonym words.

Every list a phrase or a name is drawn from is held to one deny list,
``rooms/data/wordlist_deny.txt``: words of violence, weapons, death, self-harm, abuse, crime,
the body, sex, drugs and alcohol, illness, distress, and slurs. The unfiltered BIP-39 list
gave about one new member in nine a phrase with "razor", "abuse", "knife", "gun", "blood"
or the like, the first thing the service hands a survivor (issue 12).

The recovery list is derived when first used, not shipped as a file: the BIP-39 English list
is a fixed standard already installed with ``mnemonic`` (a test pins it), so the deny list is
the only file to review, and nothing generated can fall out of step with it.

Recovery never consults these lists (``rooms.identity``): a phrase made before a word was
denied, or from the full BIP-39 list, still recovers its member.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable
from pathlib import Path

from mnemonic import Mnemonic

DENY_FILE = Path(__file__).resolve().parent / "data" / "wordlist_deny.txt"

# Each phrase word is drawn uniformly and independently, so an 8-word phrase carries
# 8 * log2(len(recovery_words())) bits. Shrinking the list below this floor fails the tests.
MIN_PHRASE_BITS = 84.0


@functools.cache
def denied() -> frozenset[str]:
    """The deny list, lower case; ``#`` starts a comment."""
    lines = DENY_FILE.read_text(encoding="utf-8").splitlines()
    words = (line.split("#", 1)[0].strip().lower() for line in lines)
    return frozenset(word for word in words if word)


def is_denied(word: str) -> bool:
    return word.lower() in denied()


def kept(words: Iterable[str]) -> tuple[str, ...]:
    """``words`` without the denied ones, in their order."""
    return tuple(word for word in words if not is_denied(word))


@functools.cache
def bip39_words() -> tuple[str, ...]:
    """The full BIP-39 English list (2,048 words): what phrases were drawn from before."""
    return tuple(Mnemonic("english").wordlist)


@functools.cache
def recovery_words() -> tuple[str, ...]:
    """The words new recovery phrases are drawn from: BIP-39 English less the deny list."""
    return kept(bip39_words())


def phrase_bits(word_count: int, vocabulary: int | None = None) -> float:
    """Entropy in bits of ``word_count`` words drawn uniformly from ``vocabulary`` words
    (the recovery list by default)."""
    size = len(recovery_words()) if vocabulary is None else vocabulary
    return word_count * math.log2(size)
