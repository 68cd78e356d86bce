"""Classes of expression the lexicon has to generalise over, each with positive lines and
hard negatives. The sentences here are written for these tests; none is copied from the
evaluation sets, so passing them says nothing about the held-out figures."""

from __future__ import annotations

import pytest

from moderation.risk import Detector


def _categories(detector: Detector, text: str) -> set[str]:
    return {f.category for f in detector.assess(text).findings}


CLASSES: dict[str, tuple[str, list[str], list[str]]] = {
    # Passive death wishes: sleep without waking, not being here, a wish to be dead.
    "passive_death_wish": (
        "suicide",
        [
            "some nights i just want to drift off and never wake up",
            "part of me hopes i can fall asleep and not wake up",
            "i wish i wasnt here anymore",
            "honestly wishing i had never been born",
            "i keep hoping a truck would just hit me on the motorway",
            "i wish i could vanish for good",
            "i'd rather not exist anymore",
            "i wish i could just die in my sleep",
        ],
        [
            "im going to sleep now, hope i wake up less anxious",
            "my toddler finally fell asleep and didnt wake up once, miracle",
            "i wish i was here for the group call last night",
            "i want to disappear into a good book this weekend",
            "there was a time i wished i could go to sleep and never wake up, not now though",
        ],
    ),
    # A counted number of tablets taken, with a drug word or "of my ...".
    "counted_overdose": (
        "medical_emergency",
        [
            "i just took 35 of my sleeping tablets",
            "swallowed about 18 codeine",
            "ive taken twenty of mums diazepam and feel weird",
            "popped like 12 of the tramadol he left behind",
        ],
        [
            "i took 2 of my pills this morning like the doctor said",
            "took 1 paracetamol and went to bed",
            "my gp put me on 50mg of sertraline",
            "the chemist only gave me 28 of my tablets",
            "it took 45 minutes to get my meds from the pharmacy",
        ],
    ),
    # An adult in a child's room or shut in with a child, with the door locked.
    "adult_shut_in_with_child": (
        "child_at_risk",
        [
            "my stepdad is in my little sister's room and he locked the door",
            "he went into the kids room and wont let me in",
            "my uncle locked himself in there with my niece",
        ],
        [
            "my mum is in my daughter's room braiding her hair",
            "my son locked the door of his room to play games lol",
            "grandad is in the kids room building lego with them",
        ],
    ),
    # A weapon got or carried, and its stated use on a person.
    "means_and_target": (
        "harm_to_others",
        [
            "i've got a knife in my bag and i'll use it on him if he shows up",
            "picked up a bat from the shed, gonna make him pay tonight",
            "i bought a gun, he isnt going to walk away from this",
        ],
        [
            "bought a new knife for cooking, the old one was blunt",
            "i got a bat for my son's baseball team",
            "we should make him pay child support at least",
            "i used to carry a knife to use on him if he came back, i dont anymore",
        ],
    ),
    # Past narratives: wanted / thought I was going to die / there was a time / used to.
    "past_narrative": (
        "none",
        [],
        [
            "there was a time i wanted to kill myself, therapy helped",
            "in those days i wanted to die constantly",
            "i honestly thought i was going to die when he had his hands on my throat",
            "when the car hit us i was sure i would die",
            "they helped me so much when i wanted to end my life",
            "at my lowest i cut myself every night",
        ],
    ),
    # "no thoughts / plans / intention of" is a negation.
    "no_thoughts_of": (
        "none",
        [],
        [
            "no thoughts of suicide right now, just low",
            "i have no plans to end my life, i just feel empty",
            "no intention of hurting myself, just needed to say it out loud",
            "not having any urges to cut this week",
            "no thoughts of harming him, im just furious",
        ],
    ),
}


@pytest.mark.parametrize(
    ("name", "text"),
    [(name, text) for name, (_, positives, _) in CLASSES.items() for text in positives],
)
def test_class_positive_fires_its_category(detector: Detector, name: str, text: str) -> None:
    category = CLASSES[name][0]
    assert category in _categories(detector, text), (name, detector.assess(text))


@pytest.mark.parametrize(
    ("name", "text"),
    [(name, text) for name, (_, _, negatives) in CLASSES.items() for text in negatives],
)
def test_class_hard_negative_does_not_fire(detector: Detector, name: str, text: str) -> None:
    result = detector.assess(text)
    assert not result.flagged, (name, result.findings)


def test_negation_straddling_the_cue_is_recorded(detector: Detector) -> None:
    result = detector.assess("no thoughts of ending it, just tired")
    assert not result.flagged
    assert "negation" in {s.reason for s in result.suppressed}


def test_present_marker_still_beats_a_past_narrative(detector: Detector) -> None:
    assert _categories(detector, "there was a time i coped, but now i want to die again") == {
        "suicide"
    }


def test_counted_overdose_is_critical(detector: Detector) -> None:
    top = detector.assess("swallowed 30 of my antidepressants").top
    assert top is not None
    assert (top.category, top.severity) == ("medical_emergency", "critical")


@pytest.mark.parametrize(
    "text",
    [
        "i had a nightmare he was standing over my bed",
        "i want to be gone from this job by summer",
        "my nan will kill me if i forget her birthday again",
    ],
)
def test_dreams_and_everyday_hyperbole_do_not_fire(detector: Detector, text: str) -> None:
    assert not detector.assess(text).flagged, detector.assess(text).findings


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("my partner just shoved me down the stairs", "immediate_danger"),
        ("i can hear him smashing the back door", "immediate_danger"),
        ("its been 20 minutes and it still wont stop bleeding", "medical_emergency"),
        ("i think i swallowed a ton of paracetamol", "medical_emergency"),
        ("had a bunch of my sleeping pills and my heart is racing", "medical_emergency"),
        ("my nephew is only 6 and his dad hits him", "child_at_risk"),
        ("im gonna torch his flat while he is asleep", "harm_to_others"),
        ("decided to do it tomorrow after work", "suicide"),
        ("my kids would be fine if i was gone", "suicide"),
    ],
)
def test_further_classes_fire(detector: Detector, text: str, category: str) -> None:
    assert category in _categories(detector, text), detector.assess(text)


@pytest.mark.parametrize(
    "text",
    [
        "he just hit me up asking to meet for coffee",
        "i cut it on purpose, wanted a shorter fringe",
        "the neighbours were banging the door so hard last night",
        "i put it in her porridge so she takes her antibiotics",
        "she just dragged me to a yoga class and i loved it",
    ],
)
def test_new_patterns_leave_everyday_lines_alone(detector: Detector, text: str) -> None:
    assert not detector.assess(text).flagged, detector.assess(text).findings
