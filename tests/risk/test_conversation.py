"""Reading the conversation: ``assess(text, context=...)`` with the preceding messages as
(text, same_author) pairs, oldest first. These lines are written here, not taken from the
corpus, so they test the behaviour and not a memorised line."""

from __future__ import annotations

import pytest

from moderation.risk import Detector, assess
from moderation.risk.model import RiskModel

RISKY_OTHER = (
    ("i've been saving my tablets for weeks and tonight i'm going to take them all", False),
)
HOPELESS_OWN = (
    ("nothing is ever going to get better for me", True),
    ("i'm so tired of being a burden to everyone", True),
)


@pytest.mark.parametrize("reply", ["same", "omg same", "this ^", "me too honestly"])
def test_a_short_line_alone_raises_nothing(full_detector: Detector, reply: str) -> None:
    assert not full_detector.assess(reply).flagged


@pytest.mark.parametrize("reply", ["same", "me too honestly", "same tbh"])
def test_a_short_reply_identifying_with_anothers_risk_is_a_concern_for_the_replier(
    full_detector: Detector, reply: str
) -> None:
    found = full_detector.assess(reply, context=RISKY_OTHER)
    assert found.flagged
    assert found.top is not None and found.top.category in ("suicide", "medical_emergency")
    evidence = found.top.evidence[0]
    assert evidence.rule == "conversation" or "context" in evidence.cue


@pytest.mark.parametrize(
    "reply",
    [
        "please reach out to samaritans on 116 123, you deserve support right now",
        "sending you so much love, can you message the facilitator so they can help?",
    ],
)
def test_a_supportive_reply_after_a_risky_message_raises_nothing(
    full_detector: Detector, reply: str
) -> None:
    assert not full_detector.assess(reply, context=RISKY_OTHER).flagged


def test_a_goodbye_after_the_writers_own_hopeless_messages_alerts(
    full_detector: Detector,
) -> None:
    goodbye = "thank you all for everything, take care of yourselves"
    assert not full_detector.assess(goodbye).flagged
    found = full_detector.assess(goodbye, context=HOPELESS_OWN)
    assert found.action == "alert"
    assert found.top is not None and found.top.category == "suicide"


def test_a_short_line_after_benign_messages_raises_nothing(full_detector: Detector) -> None:
    context = (("the group is on thursday this week", False), ("thanks for the reminder", True))
    assert not full_detector.assess("same", context=context).flagged


def test_only_the_last_four_messages_count(full_detector: Detector) -> None:
    benign = (
        ("did anyone watch the match last night", False),
        ("my cat knocked the plant over again", False),
        ("the kettle is on if anyone wants tea", False),
        ("see you all on thursday", False),
    )
    assert not full_detector.assess("same", context=RISKY_OTHER + benign).flagged


def test_module_level_assess_takes_context_and_still_works_alone() -> None:
    assert assess("same").flagged is False
    assert assess("same", context=RISKY_OTHER).flagged is True


def test_context_probabilities_are_remembered_per_text(full_detector: Detector) -> None:
    model = full_detector.model
    assert isinstance(model, RiskModel)
    full_detector.assess("same", context=RISKY_OTHER)
    remembered = model.recall(RISKY_OTHER[0][0])
    assert remembered is not None and remembered[0] >= model.threshold
