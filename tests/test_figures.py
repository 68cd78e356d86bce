"""Service figures: the definitions, small-count suppression, who may see them, and the page."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.contrib.auth.models import Group, User
from django.test import Client
from django_otp.plugins.otp_totp.models import TOTPDevice

from moderation.figures import SUPPRESSED, WITHHELD, service_figures, suppress
from moderation.models import Escalation
from rooms.models import Message, Room
from tests.factories import MembershipFactory, RoomFactory

pytestmark = pytest.mark.django_db
NOW = dt.datetime(2026, 3, 10, 12, 0, tzinfo=dt.UTC)


def message(membership: Any, when: dt.datetime, kind: str = Message.Kind.MESSAGE) -> None:
    room = membership.room
    room.last_seq += 1
    room.save(update_fields=["last_seq"])
    Message.objects.create(
        room=room,
        seq=room.last_seq,
        kind=kind,
        author=membership,
        author_pseudonym=membership.pseudonym,
        created_at=when,
    )


def escalation(room: Room, category: str, severity: str, ack_after: float | None) -> None:
    created = NOW - dt.timedelta(days=1)
    Escalation.objects.create(
        room=room,
        pseudonym="Calm Heron",
        category=category,
        severity=severity,
        queue="staff",
        created_at=created,
        sla_due_at=created + dt.timedelta(minutes=2),
        acknowledged_at=None if ack_after is None else created + dt.timedelta(seconds=ack_after),
    )


def test_suppress() -> None:
    assert [suppress(n) for n in (0, 1, 4, 5, 120)] == [0, SUPPRESSED, SUPPRESSED, 5, 120]


def test_empty_service_shows_zeros_not_suppression() -> None:
    figures = service_figures(days=30, now=NOW)
    assert figures["sessions_held"] == 0 and figures["participants"] == 0
    assert figures["messages"] == 0 and figures["reports"] == 0
    assert figures["escalations"]["total"] == 0
    assert figures["escalations"]["median_seconds_to_acknowledge"] is None


def test_definitions_and_suppression() -> None:
    circle, evening = RoomFactory(), RoomFactory()
    RoomFactory(state=Room.State.CLOSED)
    members = [MembershipFactory(room=circle) for _ in range(6)]
    for i, m in enumerate(members):
        message(m, NOW - dt.timedelta(days=1, minutes=i))  # one room-day
        message(m, NOW - dt.timedelta(days=2, minutes=i))  # another room-day
    message(members[0], NOW - dt.timedelta(days=40))  # outside the period
    message(members[0], NOW - dt.timedelta(days=1), kind=Message.Kind.DELETION)  # not a message
    few = [MembershipFactory(room=evening) for _ in range(2)]
    for m in few:
        message(m, NOW - dt.timedelta(hours=3))
    # A staff member's message is a message, but staff are not participants.
    staff = User.objects.create_user(username="sue", password="x" * 20)
    staff_membership = MembershipFactory(room=evening, member=None, user=staff, role="staff")
    message(staff_membership, NOW - dt.timedelta(hours=2))

    figures = service_figures(days=30, now=NOW)
    assert figures["rooms"] == {"open": 2, "closed": 1}
    assert figures["sessions_held"] == SUPPRESSED  # 3 room-days: two in circle, one in evening
    assert figures["participants"] == 8
    assert figures["messages"] == 6 * 2 + 2 + 1
    assert figures["reports"] == 0
    assert figures["facilitated_sessions"] == 0

    narrow = service_figures(days=1, now=NOW)
    assert narrow["participants"] == SUPPRESSED  # the evening room's two members
    assert narrow["messages"] == SUPPRESSED


def test_escalation_breakdowns_median_and_withheld_totals() -> None:
    room = RoomFactory()
    for seconds in (30, 60, 90, 120, 600):
        escalation(room, "suicide", "critical", seconds)
    escalation(room, "self_harm", "high", None)
    escalation(room, "self_harm", "high", None)
    figures = service_figures(days=30, now=NOW)["escalations"]
    assert figures["by_category"] == {"self_harm": SUPPRESSED, "suicide": 5}
    assert figures["by_severity"] == {"critical": 5, "high": SUPPRESSED}
    # 7 in all, but with a suppressed cell the total would give it away.
    assert figures["total"] == WITHHELD
    assert figures["median_seconds_to_acknowledge"] == 90.0
    assert figures["acknowledged"] == 5


def test_a_median_over_few_escalations_is_withheld() -> None:
    room = RoomFactory()
    for _ in range(5):
        escalation(room, "suicide", "critical", None)
    escalation(room, "suicide", "critical", 45)
    figures = service_figures(days=30, now=NOW)["escalations"]
    assert figures["total"] == 6 and figures["by_category"] == {"suicide": 6}
    assert figures["median_seconds_to_acknowledge"] == WITHHELD
    assert figures["acknowledged"] == SUPPRESSED


# --- the endpoint and the page -------------------------------------------------------------------


def signed_in(role: str | None, *, verified: bool = True) -> Client:
    user = User.objects.create_user(username=f"u-{role}", password="x" * 20)
    if role:
        user.groups.add(Group.objects.get_or_create(name=role)[0])
    client = Client()
    client.force_login(user)
    if verified:
        device = TOTPDevice.objects.create(user=user, name="app", confirmed=True)
        session = client.session
        session["otp_device_id"] = device.persistent_id
        session.save()
    return client


@pytest.mark.parametrize("role", ["staff", "admin"])
def test_staff_and_admins_get_figures(role: str) -> None:
    answer = signed_in(role).get("/api/figures?days=7")
    assert answer.status_code == 200
    body = answer.json()
    assert body["period"]["days"] == 7
    assert set(body) >= {"rooms", "sessions_held", "participants", "messages", "reports"}
    assert answer.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize("role", ["facilitator", "moderator"])
def test_other_roles_are_refused(role: str) -> None:
    answer = signed_in(role).get("/api/figures")
    assert answer.status_code == 403
    assert answer.json()["error"]["code"] == "forbidden"
    assert "service figures" in answer.json()["error"]["message"]


def test_signed_out_or_unverified_staff_are_refused() -> None:
    assert Client().get("/api/figures").status_code == 401
    unverified = signed_in("staff", verified=False).get("/api/figures")
    assert unverified.status_code == 401
    assert unverified.json()["error"]["code"] == "not_authenticated"


@pytest.mark.parametrize("days", ["0", "-1", "abc", "99999"])
def test_bad_period_is_a_clear_error(days: str) -> None:
    answer = signed_in("staff").get(f"/api/figures?days={days}")
    assert answer.status_code == 400 and "days must be" in answer.json()["error"]["message"]


def test_figures_page_is_static_with_no_inline_script() -> None:
    page = Client().get("/figures/")
    assert page.status_code == 200
    html = page.content.decode()
    assert '<script type="module" src="/static/js/figures.js"></script>' in html
    assert html.count("<script") == 1
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]


def test_facilitated_sessions_count_sittings_opened_in_the_period() -> None:
    from rooms.models import RoomSession

    room = RoomFactory(uses_sessions=True)
    for days_ago in (1, 3, 45):
        RoomSession.objects.create(
            room=room, state="closed", opened_at=NOW - dt.timedelta(days=days_ago)
        )
    assert service_figures(days=30, now=NOW)["facilitated_sessions"] == 2
