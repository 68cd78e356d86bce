from __future__ import annotations

import pytest

from moderation.risk import Detector
from moderation.risk.lexicon import load_lexicon, shipped_data_dir


@pytest.fixture(scope="session")
def detector() -> Detector:
    """The lexicon alone: the tests of its cue classes, context rules and hard negatives
    are about what the rules do. The shipped detector (lexicon and learned model) is
    ``full_detector``; tests/risk/test_model.py covers how the two combine."""
    return Detector(load_lexicon(shipped_data_dir()))


@pytest.fixture(scope="session")
def full_detector() -> Detector:
    return Detector.default()
