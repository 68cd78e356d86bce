# ruff: noqa: RUF001 - look-alike and invisible characters are the test input.
"""Behaviour of the detector on realistic lines: every category fires, survivor talk does not,
context rules work in every language, and nothing crashes on any input."""

from __future__ import annotations

import pytest

from moderation.risk import Assessment, Detector, assess
from moderation.risk.types import CATEGORIES


def categories(a: Assessment) -> set[str]:
    return {f.category for f in a.findings}


@pytest.mark.parametrize(
    ("text", "category", "severity"),
    [
        ("i honestly just want to die", "suicide", "high"),
        ("gonna kms fr", "suicide", "high"),
        ("I want to unalive myself", "suicide", "high"),
        ("I have the pills here and tonight is the night", "suicide", "critical"),
        ("this is my last message, thank you all", "suicide", "critical"),
        ("i don't want to live anymore", "suicide", "concern"),
        ("cut myself again last night, deeper this time", "self_harm", "high"),
        ("the urge to self harm is unbearable", "self_harm", "high"),
        ("he's outside my door right now", "immediate_danger", "critical"),
        ("my ex is banging on the door and screaming", "immediate_danger", "critical"),
        ("he said he'd kill me if i leave", "immediate_danger", "high"),
        ("my daughter told me her stepdad touches her", "child_at_risk", "high"),
        ("im 14 and my stepdad comes into my room at night", "child_at_risk", "high"),
        ("i'm going to kill him when he gets home", "harm_to_others", "high"),
        ("i took all my pills an hour ago", "medical_emergency", "critical"),
        ("mixed my sleeping pills with vodka", "medical_emergency", "critical"),
    ],
)
def test_each_category_fires(detector: Detector, text: str, category: str, severity: str) -> None:
    result = detector.assess(text)
    assert result.flagged
    finding = next(f for f in result.findings if f.category == category)
    assert finding.severity == severity
    assert 0 < finding.score <= 1
    assert finding.evidence


def test_all_categories_are_reachable(detector: Detector) -> None:
    reachable = {c.category for c in detector.cues()}
    assert reachable == set(CATEGORIES)


@pytest.mark.parametrize(
    "text",
    [
        # past disclosures
        "When I was 12 I tried to kill myself",
        "When I was 12, I tried to kill myself. I'm okay now.",
        "last year I self-harmed a lot",
        "he used to beat me",
        "years ago i overdosed and ended up in hospital",
        "I'm a survivor of a suicide attempt",
        # negation
        "I'm not going to hurt myself, I just need to vent",
        "I would never kill myself",
        "i'm not suicidal, just sad",
        "i got through the night without hurting myself",
        # reported speech
        "she told me to kill myself",
        "my therapist asked if I was suicidal",
        # supportive / hypothetical
        "if you ever feel suicidal, call the crisis line",
        "are you thinking about killing yourself? you can tell us",
        # idioms
        "this commute is killing me",
        "I could murder a pizza",
        "dying of laughter",
        "my feet are killing me",
        "my mom is gonna kill me lol",
        "i literally cut myself shaving",
        # media
        "the movie had a suicide scene that upset me",
        # everyday
        "I'm proud of myself",
        "took all day to write my statement",
    ],
)
def test_hard_negatives_do_not_fire(detector: Detector, text: str) -> None:
    result = detector.assess(text)
    assert not result.flagged, result.findings
    assert result.action == "none"


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("When I was 12 I tried to kill myself", "past"),
        ("I'm not going to kill myself", "negation"),
        ("she told me to kill myself", "reported"),
        ("if you want to die please call someone", "hypothetical"),
        ("my friend is suicidal", "third_party"),
        ("想死你了", "idiom"),
        ("im going to kill him lol", "jest"),
    ],
)
def test_suppression_reason_is_recorded(detector: Detector, text: str, reason: str) -> None:
    result = detector.assess(text)
    assert not result.flagged
    assert reason in {s.reason for s in result.suppressed}


def test_present_marker_overrides_past(detector: Detector) -> None:
    assert detector.assess("I was raped years ago and now I want to die").flagged
    assert detector.assess("i used to cut myself and i started cutting again last night").flagged
    assert not detector.assess("i used to want to die every day").flagged


def test_negation_does_not_reach_past_a_new_subject(detector: Detector) -> None:
    assert detector.assess("im not ok i want to die").flagged
    assert not detector.assess("i dont want to die").flagged


def test_cant_stop_is_not_a_negation(detector: Detector) -> None:
    assert detector.assess("i can't stop thinking about killing myself").flagged


def test_urgency_escalates_to_critical(detector: Detector) -> None:
    assert detector.assess("i want to die").top.severity == "high"  # type: ignore[union-attr]
    assert detector.assess("i want to die tonight").top.severity == "critical"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("quiero morirme, ya no puedo más", "suicide"),
        ("me tomé todas las pastillas", "medical_emergency"),
        ("chcę umrzeć", "suicide"),
        ("połknęłam wszystkie tabletki", "medical_emergency"),
        ("我真的好想死", "suicide"),
        ("他在门外砸门", "immediate_danger"),
        ("main marna chahti hun", "suicide"),
        ("میں مرنا چاہتی ہوں", "suicide"),
        ("woh mujhe jaan se maar dega", "immediate_danger"),
        ("بدي اموت", "suicide"),
        ("ana badi amoot", "suicide"),
        ("رح اقتله", "harm_to_others"),
    ],
)
def test_languages_fire(detector: Detector, text: str, category: str) -> None:
    assert category in categories(detector.assess(text))


@pytest.mark.parametrize(
    "text",
    [
        "me muero de risa jajaja",
        "cuando tenía 14 intenté suicidarme, ahora estoy mejor",
        "umieram ze śmiechu",
        "想死你了，好久不见",
        "小时候我想过自杀",
        "hans hans ke mar gayi yaar",
        "اموت فيك يا قلبي",
        "لما كنت صغيرة كان ابوي يضربني، هلق انا منيحة",
    ],
)
def test_languages_hard_negatives(detector: Detector, text: str) -> None:
    assert not detector.assess(text).flagged


def test_evidence_spans_point_at_original_text(detector: Detector) -> None:
    text = "ugh. I'm sooo done, I just want to d1e tonight"
    finding = detector.assess(text).top
    assert finding is not None
    quoted = {text[e.start : e.end] for e in finding.evidence}
    assert "want to d1e" in quoted
    assert all(e.rule == "en.suicide.intent" for e in finding.evidence)


def test_findings_are_one_per_category_highest_first(detector: Detector) -> None:
    text = "he's outside my door. i took all my pills and i want to die"
    result = detector.assess(text)
    cats = [f.category for f in result.findings]
    assert len(cats) == len(set(cats))
    ranks = ["concern", "high", "critical"]
    severities = [ranks.index(f.severity) for f in result.findings]
    assert severities == sorted(severities, reverse=True)
    assert {"immediate_danger", "medical_emergency", "suicide"} <= set(cats)
    assert result.action == "alert"


def test_concern_goes_to_review_not_alert(detector: Detector) -> None:
    result = detector.assess("everyone would be better off without me")
    assert result.top is not None and result.top.severity == "concern"
    assert result.action == "review"


@pytest.mark.parametrize(
    "text",
    [
        "",
        " ",
        "\u200b\u200c\u200d\u2060",
        "🙂🔥💊🔪",
        "\u202eevil rtl override\u202c",
        "e\u0301\u0301\u0301\u0301",
        "\x00\x01\x7f",
        "\ud83d",  # a lone surrogate
        "ﷺ ﷽",
        "𠀀𠀁 ꙮ ᚠᛇᚻ",
        "..,,!!??",
        "a" * 4000,
        ("i want to die " * 300)[:4000],
        ("مرحبا 你好 hola cześć " * 200)[:4000],
    ],
)
def test_never_crashes(detector: Detector, text: str) -> None:
    result = detector.assess(text)
    assert isinstance(result, Assessment)
    for finding in result.findings:
        for evidence in finding.evidence:
            assert 0 <= evidence.start <= evidence.end <= len(text)


def test_long_message_still_detected_at_the_end(detector: Detector) -> None:
    text = "today was long and I talked about boundaries in group. " * 70 + "i want to die"
    assert len(text) > 3800
    assert detector.assess(text).flagged


def test_zero_width_and_rtl_do_not_hide_a_cue(detector: Detector) -> None:
    assert detector.assess("i want to k\u200bi\u200dll myself").flagged
    assert detector.assess("\u202bبدي اموت\u202c").flagged


def test_module_level_assess_uses_one_cached_detector() -> None:
    assert Detector.default() is Detector.default()
    assert assess("kms").flagged
