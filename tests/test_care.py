"""The room around an alert: a risky message is folded for other members behind a care note
(never for its writer or facilitators), its writer gets a lasting private status that says
honestly whether anyone is on call and follows what staff do, a facilitator arriving late sees
the room's open alerts and reports, the history marks them for facilitators only, and every
facilitator's message and presence carry their role."""

from __future__ import annotations

from typing import Any

import pytest
from channels.db import database_sync_to_async

from moderation import care, reports
from moderation.models import Escalation, StaffPresence
from rooms.models import Room
from tests.conftest import login_session
from tests.factories import staff_membership
from tests.wsutil import answer_to, next_frame

RISKY = "I have the pills in front of me and I'm going to take them all tonight."
ws_db = pytest.mark.django_db(transaction=True)


async def _fac(room: Room, role: str = "facilitator") -> tuple[Any, str]:
    def make() -> tuple[Any, str]:
        membership = staff_membership(room, role=role, pseudonym=f"Steady {role.title()}")
        return membership, login_session(membership.user)

    return await database_sync_to_async(make)()


async def _frames_until(ws: Any, *types: str) -> dict[str, dict[str, Any]]:
    """Read until a frame of each of ``types`` has come (the last of each kept)."""
    seen: dict[str, dict[str, Any]] = {}
    while not set(types) <= set(seen):
        frame = await ws.receive_json_from(timeout=5)
        assert frame["type"] != "error", frame
        seen[frame["type"]] = frame
    return seen


async def _message(ws: Any, body: str) -> dict[str, Any]:
    while (frame := await next_frame(ws, "message"))["body"] != body:
        pass
    return frame


async def _quiet(ws: Any) -> list[str]:
    seen = []
    while not await ws.receive_nothing(timeout=0.3):
        seen.append((await ws.receive_json_from())["type"])
    return seen


@ws_db
async def test_writer_is_told_a_person_knows_and_honestly_that_nobody_is_on_call(
    connect: Any, connect_staff: Any, make_membership: Any, staff_user: Any
) -> None:
    alice = await database_sync_to_async(make_membership)(pseudonym="Alice")
    bob = await database_sync_to_async(make_membership)(pseudonym="Bob")
    async with connect(alice) as a, connect(bob) as b:
        await a.send_json_to({"type": "send", "client_id": "c1", "body": RISKY})
        got = await _frames_until(a, "ack", "signpost", "care_status")
        status = got["care_status"]
        # Nobody has the staff dashboard open: it must never say someone is coming.
        assert status["state"] == "told" and status["on_call"] is False
        assert status["seq"] == got["ack"]["seq"]
        assert "nobody is on call right now" in status["message"]
        assert "999" in status["message"] and "55" in status["message"]
        assert {r["contact"] for r in status["resources"]} >= {"999", "116 123"}
        # Other members see the message (folded by their page), never the writer's status.
        assert (await next_frame(b, "message"))["care"] == "suicide"
        assert "care_status" not in await _quiet(b)

        # Someone who can act on alerts opens the dashboard: the writer is told at once.
        async with connect_staff(staff_user) as staff:
            assert (await staff.connect())[0]
            on_call = await next_frame(a, "care_status")
            assert on_call["state"] == "told" and on_call["on_call"] is True
            assert "someone is on call now" in on_call["message"]
            assert "resources" not in on_call
            (item,) = (await next_frame(staff, "escalations"))["items"]

            await staff.send_json_to({"type": "esc_ack", "id": item["id"], "ref": "r1"})
            acknowledged = await next_frame(a, "care_status")
            assert acknowledged["state"] == "acknowledged"
            assert "has read the alert" in acknowledged["message"]

            await staff.send_json_to({"type": "esc_support", "id": item["id"], "ref": "r2"})
            done = await answer_to(staff, "r2")
            offered = await next_frame(a, "care_status")
            assert offered["state"] == "support_offered"
            assert offered["support_room"] == done["room"] and offered["support_title"]

        # The writer comes back later: the status is there again on entering the room.
    async with connect(alice) as again:
        status = await next_frame(again, "care_status")
        assert status["state"] == "support_offered"

        escalation = await database_sync_to_async(Escalation.objects.get)()

        def resolve() -> None:
            from moderation.escalations import escalation_resolve

            escalation_resolve(
                user=staff_user, escalation_id=escalation.pk, outcome="talked", false_alarm=False
            )

        await database_sync_to_async(resolve)()
        closed = await next_frame(again, "care_status")
        assert closed["state"] == "closed" and "closed the alert" in closed["message"]
    # Once closed, it is no longer sent on entering.
    async with connect(alice) as later:
        assert "care_status" not in await _quiet(later)
    assert await database_sync_to_async(StaffPresence.objects.count)() == 0


@ws_db
def test_on_call_counts_only_fresh_staff_sockets_of_roles_that_act_on_alerts(
    room: Room, staff_user: Any, settings: Any
) -> None:
    import datetime as dt

    from django.utils import timezone

    assert care.staff_on_call() is False
    fac = staff_membership(room, role="facilitator")
    care.staff_arrived(channel_name="fac.1", user_id=fac.user_id, role="facilitator")
    assert care.staff_on_call() is False  # a peer facilitator cannot act on an alert
    care.staff_arrived(channel_name="nurse.1", user_id=staff_user.pk, role="staff")
    assert care.staff_on_call() is True
    # A process that died leaves its row behind: it ages out.
    StaffPresence.objects.filter(channel_name="nurse.1").update(
        last_seen=timezone.now() - dt.timedelta(minutes=5)
    )
    assert care.staff_on_call() is False
    care.refresh_local(["nurse.1"])  # its own process keeps it fresh
    assert care.staff_on_call() is True
    care.staff_left(channel_name="nurse.1")
    assert care.staff_on_call() is False


@ws_db
async def test_a_facilitator_arriving_sees_open_alerts_reports_and_markers(
    connect: Any, make_membership: Any, room: Room
) -> None:
    alice = await database_sync_to_async(make_membership)(pseudonym="Alice")
    bob = await database_sync_to_async(make_membership)(pseudonym="Bob")
    async with connect(alice) as a, connect(bob) as b:
        await a.send_json_to({"type": "send", "client_id": "c1", "body": RISKY})
        risky_seq = (await next_frame(a, "ack"))["seq"]
        await b.send_json_to({"type": "send", "client_id": "c2", "body": "You're lying"})
        rude_seq = (await next_frame(b, "ack"))["seq"]
        report = {"type": "report", "seq": rude_seq, "reason": "harassment", "ref": "r"}
        await a.send_json_to(report)
        assert (await answer_to(a, "r"))["type"] == "done"

    fac, key = await _fac(room)
    async with connect(fac, session_key=key) as f:
        alerts = (await next_frame(f, "room_alerts"))["items"]
        assert [(i["kind"], i["seq"], i["author"]) for i in alerts] == [
            ("report", rude_seq, "Bob"),
            ("risk", risky_seq, "Alice"),
        ]
        report, risk = alerts
        assert report["reason"] == "harassment" and report["status"] == "open"
        assert risk["category"] == "suicide" and risk["severity"] == "critical"
        assert "Alice" not in str(report)  # never who reported it
        await f.send_json_to({"type": "history"})
        page = {m["seq"]: m for m in (await next_frame(f, "history"))["messages"]}
        assert page[risky_seq]["risk"] == {"category": "suicide", "severity": "critical"}
        assert page[risky_seq]["care"] == "suicide"
        assert page[rude_seq]["reports"] == 1 and "risk" not in page[rude_seq]

    # Members never see the markers (the care note is theirs to fold by).
    async with connect(bob) as b:
        assert "room_alerts" not in await _quiet(b)
        await b.send_json_to({"type": "history"})
        page = {m["seq"]: m for m in (await next_frame(b, "history"))["messages"]}
        assert "risk" not in page[risky_seq] and "reports" not in page[rude_seq]
        assert page[risky_seq]["care"] == "suicide"


@ws_db
async def test_a_report_about_a_facilitator_is_not_marked_for_facilitators(
    connect: Any, make_membership: Any, room: Room
) -> None:
    alice = await database_sync_to_async(make_membership)(pseudonym="Alice")
    fac, key = await _fac(room)
    async with connect(fac, session_key=key) as f:
        await f.send_json_to({"type": "send", "client_id": "c1", "body": "Welcome, everyone"})
        seq = (await next_frame(f, "ack"))["seq"]
    await database_sync_to_async(reports.report_make)(reporter=alice, seq=seq, reason="other")
    async with connect(fac, session_key=key) as f:
        assert "room_alerts" not in await _quiet(f)
        await f.send_json_to({"type": "history"})
        (message,) = (await next_frame(f, "history"))["messages"]
        assert "reports" not in message


@ws_db
async def test_facilitators_messages_and_presence_carry_their_role(
    connect: Any, make_membership: Any, room: Room
) -> None:
    alice = await database_sync_to_async(make_membership)(pseudonym="Alice")
    fac, key = await _fac(room)
    async with connect(alice) as a, connect(fac, session_key=key) as f:
        presence = await next_frame(a, "presence")
        while len(presence["members"]) < 2:
            presence = await next_frame(a, "presence")
        roles = {m["pseudonym"]: m["role"] for m in presence["members"]}
        assert roles == {"Alice": "member", "Steady Facilitator": "facilitator"}
        await f.send_json_to({"type": "send", "client_id": "c1", "body": "I'm here for you"})
        live = await next_frame(a, "message")
        assert live["role"] == "facilitator"
        await a.send_json_to({"type": "send", "client_id": "c2", "body": "Thank you"})
        assert "role" not in await _message(f, "Thank you")
        await f.send_json_to({"type": "announce", "body": "A short break soon", "ref": "r"})
        announced = await _message(a, "A short break soon")
        assert announced["announcement"] is True and announced["role"] == "facilitator"
        await a.send_json_to({"type": "history"})
        roles_in_history = [m.get("role") for m in (await next_frame(a, "history"))["messages"]]
        assert roles_in_history == ["facilitator", None, "facilitator"]


@pytest.mark.django_db
def test_one_list_of_crisis_resources_for_the_page_the_api_and_the_signpost(client: Any) -> None:
    from moderation.crisis import signpost

    listed = client.get("/api/help").json()
    sent = signpost()
    assert listed["message"] == sent.message
    assert [r["name"] for r in listed["resources"]] == [r.name for r in sent.resources]
    by_contact = {r["contact"]: r for r in listed["resources"]}
    assert "press 55" in by_contact["999"]["note"]
    assert by_contact["Text SHOUT to 85258"]["href"] == "sms:85258?body=SHOUT"
    assert any("under 19" in r["name"] for r in listed["resources"])  # Childline
    assert all(r["href"].startswith(("tel:", "sms:")) for r in listed["resources"])
    # The page carries the same list in its help panel, before any script runs.
    page = client.get("/").content.decode()
    assert "<!-- crisis resources -->" not in page
    for r in listed["resources"]:
        assert f'href="{r["href"]}"' in page
    assert "Childline (under 19)" in page
