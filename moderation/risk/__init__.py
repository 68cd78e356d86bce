"""Risk detection for chat messages: suicide, self-harm, immediate danger, a child at risk,
harm to others and medical emergencies, told apart from the survivor disclosures, supportive
replies, reported speech and idioms that fill a peer-support room.

Pure Python (no Django): the chat consumer calls :func:`assess` on every message before
fan-out. See docs/risk-detection.md.
"""

from moderation.risk.detector import Detector, assess
from moderation.risk.lexicon import LexiconError
from moderation.risk.types import (
    CATEGORIES,
    SEVERITIES,
    Action,
    Assessment,
    Category,
    Evidence,
    Finding,
    Severity,
    Suppressed,
)

__all__ = [
    "CATEGORIES",
    "SEVERITIES",
    "Action",
    "Assessment",
    "Category",
    "Detector",
    "Evidence",
    "Finding",
    "LexiconError",
    "Severity",
    "Suppressed",
    "assess",
]
