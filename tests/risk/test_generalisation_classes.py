"""Mechanisms and classes added in lexicon 1.2.0 (see docs/risk-detection.md).

Each test here fails if its mechanism is taken out: the weak-signal rule in
``detector._accumulate_weak``, the two changes to ``context.preceded_in_clause`` (a marker
running into the cue; a first-person subject after a condition), the medical-emergency policy
in the manifest, and the new cue classes. The sentences are written for these tests; none is
copied from an evaluation file.
"""

from __future__ import annotations

import json

import pytest

from moderation.risk import Detector
from moderation.risk.lexicon import shipped_data_dir
from moderation.risk.matching import _joined


def _categories(detector: Detector, text: str) -> set[str]:
    return {f.category for f in detector.assess(text).findings}


def _rules(detector: Detector, text: str) -> set[str]:
    return {e.rule for f in detector.assess(text).findings for e in f.evidence}


# --- weak signals: count only in pairs of different classes --------------------------------


@pytest.mark.parametrize(
    ("text", "rules"),
    [
        ("i'm done. thanks for everything guys", {"weak_resolve", "weak_farewell"}),
        ("sorted out who gets my dog, my mind is made up", {"weak_arrangements", "weak_resolve"}),
        ("got 5 packets of paracetamol. nobody will find me in time", {"weak_means"}),
        ("been planning it for months, when my parents are at work", {"weak_act"}),
    ],
)
def test_two_different_weak_signals_make_a_finding(
    detector: Detector, text: str, rules: set[str]
) -> None:
    top = detector.assess(text).top
    assert top is not None, text
    assert (top.category, top.severity) == ("suicide", "high")
    found = {rule.rsplit(".", 1)[-1] for rule in _rules(detector, text)}
    assert rules <= found
    assert all(rule.startswith("en.suicide.weak_") for rule in _rules(detector, text))


@pytest.mark.parametrize(
    "text",
    [
        "love you all, night x",
        "thanks for everything today, you lot are the best",
        "everything is ready for the party tomorrow",
        "when my parents are at work i have the house to myself",
        # two hits of ONE weak class are still one signal
        "love you all and thank you for everything",
        # an everyday completion of "im done" is an idiom
        "im done for today, off to bed",
    ],
)
def test_one_weak_signal_alone_does_not_fire(detector: Detector, text: str) -> None:
    result = detector.assess(text)
    assert not result.flagged, result.findings


def test_single_weak_signal_is_recorded_as_weak(detector: Detector) -> None:
    result = detector.assess("thanks for everything today, you lot are the best")
    assert "weak" in {s.reason for s in result.suppressed}


def test_weak_signal_escalates_a_concern_to_high(detector: Detector) -> None:
    alone = detector.assess("i cant go on").top
    with_farewell = detector.assess("i cant go on. love you all").top
    assert alone is not None and alone.severity == "concern"
    assert with_farewell is not None and with_farewell.severity == "high"


def test_weak_signal_adds_nothing_beside_a_high_cue(detector: Detector) -> None:
    assert _rules(detector, "i want to die. love you all") == {"en.suicide.intent"}


def test_weak_cues_are_below_min_weight() -> None:
    data = json.loads((shipped_data_dir() / "en.json").read_text(encoding="utf-8"))
    manifest = json.loads((shipped_data_dir() / "manifest.json").read_text(encoding="utf-8"))
    weak = [c for c in data["cues"] if ".weak_" in c["id"]]
    assert len(weak) >= 8
    assert all(c["weight"] < manifest["scoring"]["min_weight"] for c in weak)


# --- context: markers running into the cue; conditions ended by a first-person subject ----


@pytest.mark.parametrize(
    "text",
    [
        "if he's outside your house ring 999 straight away",
        "if she ever turns up at your door, lock it and call us",
        "if you want to die please talk to us",
    ],
)
def test_supportive_conditionals_do_not_fire(detector: Detector, text: str) -> None:
    result = detector.assess(text)
    assert not result.flagged, result.findings


def test_marker_running_into_the_cue_is_recorded(detector: Detector) -> None:
    result = detector.assess("if he's outside your house ring 999 straight away")
    assert "hypothetical" in {s.reason for s in result.suppressed}


@pytest.mark.parametrize(
    "text",
    [
        "if he touches my daughter again i'll kill him",
        "if he comes round again im going to stab him",
    ],
)
def test_conditional_threat_in_the_writers_voice_fires(detector: Detector, text: str) -> None:
    assert "harm_to_others" in _categories(detector, text), detector.assess(text)


# --- policy: a medical emergency of a third party is still an emergency --------------------


def test_third_party_medical_emergency_fires(detector: Detector) -> None:
    assert "medical_emergency" in _categories(
        detector, "my friend is unresponsive after taking her pills"
    )
    assert not detector.assess(
        "my flatmate was unconscious for a bit after the crash years ago"
    ).flagged


def test_manifest_medical_policy_has_no_third_party() -> None:
    manifest = json.loads((shipped_data_dir() / "manifest.json").read_text(encoding="utf-8"))
    assert "third_party" not in manifest["categories"]["medical_emergency"]["suppressed_by"]


# --- matching: the fast path for characters below U+0E00 keeps word boundaries -------------


def test_word_join_fast_path() -> None:
    assert _joined("a", "b")
    assert not _joined("a", " ")
    assert _joined("ب", "ي")
    assert not _joined("我", "b")
    assert not _joined("a", "死")


# --- new cue classes: positives fire their category, hard negatives do not ----------------

CLASSES: dict[str, tuple[str, list[str], list[str]]] = {
    "harm_object_inside_verb": (
        "harm_to_others",
        [
            "im gonna run her over next time i see her",
            "i swear ill put him in hospital",
            "ill kick his head in when he gets out",
        ],
        ["my son wants to beat his brother at fifa", "they knocked him out of the quiz"],
    ),
    "poison_with_any_intent_wording": (
        "harm_to_others",
        ["i'm going to slip sleeping pills into his beer"],
        ["i slip my vitamins into my smoothie every morning"],
    ),
    "self_harm_tools_and_carving": (
        "self_harm",
        ["just took the blade out of a pencil sharpener", "scratched his initials into my forearm"],
        ["i need a new pencil sharpener for school", "i scratched my initials into the desk"],
    ),
    "assault_with_recent_time": (
        "immediate_danger",
        ["he slapped me across the face an hour ago"],
        ["he slapped me years ago and i still flinch"],
    ),
    "covert_contact_and_silent_call": (
        "immediate_danger",
        ["he doesnt know im on here, he checks my phone", "if i go quiet please call the police"],
        [
            "my mum doesnt know im on here but shes supportive anyway",
            "call the police if you see anything odd",
        ],
    ),
    "abuser_released": (
        "immediate_danger",
        ["my ex is out of prison and keeps messaging me"],
        ["he got out of prison years ago and lives abroad now"],
    ),
    "injury_with_red_flag": (
        "medical_emergency",
        ["he choked me and my voice is hoarse and it hurts to swallow"],
        ["my voice is hoarse from singing at the concert"],
    ),
    "carer_afraid_to_hurt_child": (
        "child_at_risk",
        ["im scared ill shake my baby, she wont stop screaming"],
        ["im scared my baby will catch the flu"],
    ),
    "minor_and_older_adult": (
        "child_at_risk",
        ["im 14 and a 26 year old guy wants me to stay at his tonight"],
        ["my niece is 13 and she wants to meet her favourite youtuber"],
    ),
    "heights_water_traffic": (
        "suicide",
        ["im going to jump off the top of the multi storey", "thinking of walking into the river"],
        [
            "the kids were jumping off the wall at the park",
            "we walked into the river to cool off, it was lovely",
        ],
    ),
    "topic_talk_and_inanimate_death": (
        "none",
        [],
        [
            "my phone is about to die",
            "we talked about self harm in group today and it helped",
            "i've got scars from cutting and i'm proud of how far i've come",
            "got a rope swing for the garden",
            "this is my last message before i go on holiday",
        ],
    ),
}


@pytest.mark.parametrize(
    ("name", "text"),
    [(name, text) for name, (_, positives, _) in CLASSES.items() for text in positives],
)
def test_new_class_positive_fires(detector: Detector, name: str, text: str) -> None:
    assert CLASSES[name][0] in _categories(detector, text), (name, detector.assess(text))


@pytest.mark.parametrize(
    ("name", "text"),
    [(name, text) for name, (_, _, negatives) in CLASSES.items() for text in negatives],
)
def test_new_class_hard_negative_does_not_fire(detector: Detector, name: str, text: str) -> None:
    result = detector.assess(text)
    assert not result.flagged, (name, result.findings)


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("está golpeando la puerta y grita", "immediate_danger"),
        ("estoy escondida en el armario", "immediate_danger"),
        ("ما عاد بدي عيش", "suicide"),
        ("أخوي يهددني", "immediate_danger"),
        ("我才12岁 他晚上摸我", "child_at_risk"),
        ("aaj raat zeher kha lungi", "suicide"),
        ("mujhe bachao", "immediate_danger"),
        ("jutro to zrobię", "suicide"),
    ],
)
def test_new_language_patterns_fire(detector: Detector, text: str, category: str) -> None:
    assert category in _categories(detector, text), detector.assess(text)
