"""What the learned model reads: n-grams of the normalised text, and what the rules found.

One function each, shared by the trainer and the scorer, so that training and serving can
never disagree on a feature.

* Character n-grams (3 to 5; 1 to 3 for Han) inside space-padded words of the *normalised* text
  (moderation/risk/normalise.py: case, accents, leetspeak, repeated letters and Arabic
  letter forms folded). They are script-agnostic: Chinese needs no segmenter (a run of
  Han characters is one "word" whose bigrams are the features), and "unalive", "unaliving"
  and "un-alive" share most of their grams. Word unigrams and bigrams add the phrase.
* What the rules found, as a handful of dense features: the severity of each category's
  finding, and which survivor-aware guards discounted a cue (the past, a negation, an
  idiom, reported speech...). The model learns how far to trust each, per category, from
  lines the rules were never tuned on; the rules stay the explanation.
* The conversation: whether the line is short, identifies with the message before it
  ("same", "我也是") or says goodbye, for the model to weigh against the risk of the
  messages before it.
"""

from __future__ import annotations

import itertools
import re
from typing import Final

from moderation.risk.types import CATEGORIES, SEVERITIES, Assessment

CHAR_LOW: Final = 3
CHAR_HIGH: Final = 5
WORD_PREFIX: Final = "\x01"
CUE_PREFIX: Final = "\x02"
GUARDS: Final = (
    "past",
    "negation",
    "idiom",
    "reported",
    "hypothetical",
    "third_party",
    "media",
    "jest",
    "weak",
)
RULE_FEATURES: Final = (
    *(f"rule:{c}:{s}" for c in CATEGORIES for s in SEVERITIES),
    *(f"guard:{g}" for g in GUARDS),
    "short",
    "identifies",
    "farewell",
    "no_cue",
)
_RULE_INDEX: Final = {name: i for i, name in enumerate(RULE_FEATURES)}
_SHORT_INDEX: Final = _RULE_INDEX["short"]
_HAN: Final = re.compile(r"[\u2e80-\u9fff\uf900-\ufaff]")
_UNSPACED_FROM: Final = 0x2E80  # CJK and later: a "word" may be a whole clause


def grams(normalised: str) -> list[str]:
    """The n-grams of a normalised message, duplicates kept (the scorer counts presence):
    3- to 5-grams of Latin and Arabic script words, 1- to 3-grams of Han runs (where one
    or two characters are already a word)."""
    out: list[str] = []
    words = normalised.replace(".", " ").replace(",", " ").split()
    for word in words:
        padded = f" {word} "
        length = len(padded)
        low, high = (1, 3) if _HAN.search(word) else (CHAR_LOW, CHAR_HIGH)
        for n in range(low, high + 1):
            if length < n:
                break
            out.extend([padded[i : i + n] for i in range(length - n + 1)])
    out.extend([WORD_PREFIX + w for w in words])
    out.extend([f"{WORD_PREFIX}{a} {b}" for a, b in itertools.pairwise(words)])
    return out


# What the model reads of the text: the normalised text, and tokens for the rules' cues.
Document = tuple[str, tuple[str, ...]]


def document(normalised: str, rules: Assessment) -> Document:
    """The normalised text, and a token per lexicon cue that matched: counted (``c:``) or
    discounted and why (``s:``), by cue and by cue class across languages
    (``en.suicide.passive`` and ``pl.suicide.passive`` share ``suicide.passive``). The cues
    are hand-written knowledge of how people say these things in seven languages; as
    features they reach phrasing the training lines never used, and the model learns from
    unseen writers how far each deserves trust, and in which guard's shadow."""
    tokens: list[str] = []
    for finding in rules.findings:
        for evidence in finding.evidence:
            cue_class = evidence.rule.partition(".")[2]
            tokens += [f"{CUE_PREFIX}c:{evidence.rule}", f"{CUE_PREFIX}c:{cue_class}"]
    for suppressed in rules.suppressed:
        cue_class = suppressed.rule.partition(".")[2]
        tokens += [
            f"{CUE_PREFIX}s:{cue_class}:{suppressed.reason}",
            f"{CUE_PREFIX}s:{suppressed.category}:{suppressed.reason}",
            f"{CUE_PREFIX}h:{cue_class}",
        ]
    return normalised, tuple(tokens)


def document_grams(doc: Document) -> list[str]:
    return [*grams(doc[0]), *doc[1]]


def is_short(text: str) -> bool:
    """A chat line of at most three words, or, in an unspaced script, six characters."""
    words = text.split()
    if len(words) > 3:
        return False
    if len(words) > 1:
        return True
    stripped = text.strip()
    return len(stripped) <= 6 or not any(ord(c) >= _UNSPACED_FROM for c in stripped)


def rule_vector(rules: Assessment, *, text: str, identifies: bool, farewell: bool) -> list[float]:
    """The dense features: what the rules found and discounted, and the line's shape."""
    vector = [0.0] * len(RULE_FEATURES)
    for finding in rules.findings:
        vector[_RULE_INDEX[f"rule:{finding.category}:{finding.severity}"]] = 1.0
    for suppressed in rules.suppressed:
        index = _RULE_INDEX.get(f"guard:{suppressed.reason}")
        if index is not None:
            vector[index] = 1.0
    vector[_SHORT_INDEX] = 1.0 if is_short(text) else 0.0
    vector[_RULE_INDEX["identifies"]] = 1.0 if identifies else 0.0
    vector[_RULE_INDEX["farewell"]] = 1.0 if farewell else 0.0
    # No cue of any category matched, counted or discounted: most of a room's traffic.
    vector[_RULE_INDEX["no_cue"]] = 0.0 if rules.findings or rules.suppressed else 1.0
    return vector
