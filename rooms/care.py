"""What other members see of a message in which the risk detector found high or critical risk.

By default such a message is folded for other members behind a care note: what it talks
about, that a trained person has been told, and "Show". It is not hidden (anyone may choose
to read it) and never folded for its writer or for facilitators. A room may instead hold such
messages for a facilitator's review first (moderation/held.py; a released one is folded too)
or show them as written (``Room.risky_messages``). Staff are alerted in every case.

The core decides this from the detector's assessment (the pure detector both apps may use)
and the room's setting, and stores only the category, a label.
"""

from __future__ import annotations

from typing import Any, Final

from rooms.models import Room

CARE_SEVERITIES: Final = frozenset({"high", "critical"})


def care_finding(assessment: Any) -> Any | None:
    """The detector's top finding when it is high or critical risk, else None."""
    top = assessment.top
    return top if top is not None and top.severity in CARE_SEVERITIES else None


def care_of(room: Room, assessment: Any) -> str:
    """The category other members see the message folded behind, or "" (shown as written)."""
    finding = care_finding(assessment)
    if finding is None or room.risky_messages == Room.RiskyMessages.SHOW:
        return ""
    return str(finding.category)
