from __future__ import annotations

import pytest

from moderation.risk import Detector


@pytest.fixture(scope="session")
def detector() -> Detector:
    return Detector.default()
