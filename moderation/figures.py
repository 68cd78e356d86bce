"""Service figures for funders, trustees and the team: anonymous aggregates only.

Why suppression: a room may hold a handful of people, and a count of 1 to 4 (say, "2
escalations about a child at risk this week") can point at a person. Every count that is about
people or what they did is shown as "<5" when it is between 1 and 4; 0 stays 0, because
"nothing happened" singles no one out. A median over fewer than five events is withheld for
the same reason. Where a breakdown has a suppressed cell, its total is withheld too, so the
cell cannot be recovered by subtraction from the total.

Definitions (also in docs/governance.md):

* **rooms**: rooms that exist now (open or paused; closed rooms are counted apart).
* **sessions held**: room-days with conversation: distinct (room, UTC calendar day) pairs
  on which at least one message was posted in the period.
* **facilitated sessions**: sessions of rooms that run them (with a waiting room) opened in
  the period (rooms/sittings.py). A count of sittings, not of people, so never suppressed.
* **participants**: distinct anonymous members who posted at least one message in the period
  (staff and facilitators are not counted).
* **messages**: messages posted in the period (deletion entries are not messages).
* **reports**: reports of messages made in the period (moderation/reports.py).
* **escalations**: raised in the period, by category and by severity.
* **median time to acknowledge**: over escalations raised in the period that were
  acknowledged, in seconds.
"""

from __future__ import annotations

import datetime as dt
import statistics
from typing import Any

from django.db.models import Count
from django.db.models.functions import TruncDate
from django.utils import timezone

from moderation.models import Escalation, Report
from rooms.models import Message, Room, RoomSession

SMALL = 5
SUPPRESSED = "<5"
WITHHELD = "withheld"

Figure = int | str


def suppress(count: int) -> Figure:
    """0 as 0, 1 to 4 as "<5", anything else as itself."""
    return SUPPRESSED if 0 < count < SMALL else count


def _breakdown(counts: dict[str, int]) -> tuple[dict[str, Figure], Figure]:
    cells = {key: suppress(value) for key, value in sorted(counts.items())}
    total = sum(counts.values())
    hidden = any(cell == SUPPRESSED for cell in cells.values())
    return cells, (WITHHELD if hidden and total >= SMALL else suppress(total))


def service_figures(*, days: int = 30, now: dt.datetime | None = None) -> dict[str, Any]:
    """The figures for the ``days`` before ``now``; JSON-ready."""
    end = now or timezone.now()
    start = end - dt.timedelta(days=days)
    messages = Message.objects.filter(
        kind=Message.Kind.MESSAGE, created_at__gte=start, created_at__lt=end
    )
    sessions_held = (
        messages.annotate(day=TruncDate("created_at")).values("room_id", "day").distinct().count()
    )
    participants = (
        messages.filter(author__member__isnull=False).values("author__member_id").distinct().count()
    )
    escalations = Escalation.objects.filter(created_at__gte=start, created_at__lt=end)
    by_category = dict(
        escalations.values_list("category").annotate(n=Count("pk")).values_list("category", "n")
    )
    by_severity = dict(
        escalations.values_list("severity").annotate(n=Count("pk")).values_list("severity", "n")
    )
    categories, total = _breakdown(by_category)
    severities, severity_total = _breakdown(by_severity)
    if WITHHELD in (total, severity_total):
        total = WITHHELD
    waits = [
        (acked - created).total_seconds()
        for created, acked in escalations.filter(acknowledged_at__isnull=False).values_list(
            "created_at", "acknowledged_at"
        )
        if acked is not None
    ]
    median: float | str | None
    if not waits:
        median = None
    elif len(waits) < SMALL:
        median = WITHHELD
    else:
        median = round(statistics.median(waits), 1)
    return {
        "period": {"from": start.isoformat(), "to": end.isoformat(), "days": days},
        "rooms": {
            "open": Room.objects.exclude(state=Room.State.CLOSED).count(),
            "closed": Room.objects.filter(state=Room.State.CLOSED).count(),
        },
        "sessions_held": suppress(sessions_held),
        "facilitated_sessions": RoomSession.objects.filter(
            opened_at__gte=start, opened_at__lt=end
        ).count(),
        "participants": suppress(participants),
        "messages": suppress(messages.count()),
        "reports": suppress(
            Report.objects.filter(created_at__gte=start, created_at__lt=end).count()
        ),
        "escalations": {
            "total": total,
            "by_category": categories,
            "by_severity": severities,
            "median_seconds_to_acknowledge": median,
            "acknowledged": suppress(len(waits)),
        },
        "suppression": {
            "small_counts": f"counts from 1 to {SMALL - 1} are shown as {SUPPRESSED!r}",
            "withheld": "a total or median that could reveal a small count is withheld",
        },
    }
