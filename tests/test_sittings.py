"""Rooms that run sessions: members wait until admitted, accept the agreement at every
session, receive nothing of the room while waiting; lock keeps newcomers out; close ends the
members' places."""

from __future__ import annotations

from typing import Any

import pytest
from channels.db import database_sync_to_async

from chatserver.models import AuditEntry
from rooms.models import Room
from tests.conftest import login_session
from tests.factories import staff_membership
from tests.wsutil import answer_to, closed_with, next_error, next_frame

pytestmark = pytest.mark.django_db(transaction=True)


async def _session_room(room: Room) -> tuple[Any, str]:
    def make() -> tuple[Any, str]:
        Room.objects.filter(pk=room.pk).update(uses_sessions=True, schedule="Tuesdays 7pm")
        fac = staff_membership(room, pseudonym="Fac Jo")
        return fac, login_session(fac.user)

    return await database_sync_to_async(make)()


async def _first(ws: Any) -> dict[str, Any]:
    await ws.connect()
    return await ws.receive_json_from(timeout=5)


async def test_member_waits_agrees_is_admitted_then_chats(
    connect: Any, make_membership: Any, room: Room
) -> None:
    fac, key = await _session_room(room)
    alice = await database_sync_to_async(make_membership)(pseudonym="Alice")
    async with connect(fac, session_key=key) as f:
        assert (await next_frame(f, "waiting_room"))["session"] == "none"
        await _send_fac_message(f)
        async with connect(alice, expect_welcome=False) as a:
            waiting = await _first(a)
            assert waiting["type"] == "waiting" and waiting["session"] == "none"
            assert waiting["schedule"] == "Tuesdays 7pm" and waiting["agreement"] == "Be kind."
            # Nothing of the room while waiting: no history, no sending.
            await a.send_json_to({"type": "history"})
            assert (await next_error(a))["code"] == "waiting"
            await a.send_json_to({"type": "send", "client_id": "c1", "body": "hi"})
            assert (await next_error(a))["code"] == "waiting"

            await f.send_json_to({"type": "session", "action": "open", "ref": "o1"})
            assert (await answer_to(f, "o1"))["type"] == "done"
            waiting = await next_frame(a, "waiting")
            assert waiting["session"] == "open" and waiting["agreed"] is False
            listed = await next_frame(f, "waiting_room")
            while listed["members"] != [{"pseudonym": "Alice", "agreed": False}]:
                listed = await next_frame(f, "waiting_room")
            # Not agreed yet: cannot be admitted.
            await f.send_json_to({"type": "admit", "pseudonym": "Alice", "ref": "x"})
            assert (await answer_to(f, "x"))["code"] == "agreement_required"
            await a.send_json_to({"type": "agree", "version": 1})
            assert (await next_frame(a, "waiting"))["agreed"] is True
            await f.send_json_to({"type": "admit", "pseudonym": "Alice", "ref": "a1"})
            assert (await answer_to(f, "a1"))["type"] == "done"
            welcome = await next_frame(a, "welcome")
            assert welcome["latest_seq"] == 1  # the facilitator's message before admission
            await a.send_json_to({"type": "send", "client_id": "c2", "body": "hello"})
            assert (await next_frame(a, "ack"))["seq"] == 2
            assert (await next_frame(f, "message"))["body"] == "hello"
    actions = await database_sync_to_async(
        lambda: set(AuditEntry.objects.values_list("action", flat=True))
    )()
    assert {"session.open", "session.admit"} <= actions


async def _send_fac_message(f: Any) -> None:
    await f.send_json_to({"type": "send", "client_id": "f1", "body": "Welcome, all."})
    await next_frame(f, "ack")


async def test_waiting_member_gets_no_room_broadcasts(
    connect: Any, make_membership: Any, room: Room
) -> None:
    fac, key = await _session_room(room)
    alice = await database_sync_to_async(make_membership)(pseudonym="Alice")
    async with connect(fac, session_key=key) as f:
        await f.send_json_to({"type": "session", "action": "open", "ref": "o1"})
        await answer_to(f, "o1")
        async with connect(alice, expect_welcome=False) as a:
            assert (await _first(a))["type"] == "waiting"
            await f.send_json_to({"type": "send", "client_id": "f1", "body": "private talk"})
            await next_frame(f, "ack")
            seen = []
            while not await a.receive_nothing(timeout=0.4):
                seen.append(await a.receive_json_from())
            assert not [s for s in seen if s["type"] in {"message", "presence", "heartbeat"}]


async def test_lock_keeps_newcomers_out_and_close_ends_members_places(
    connect: Any, make_membership: Any, room: Room
) -> None:
    fac, key = await _session_room(room)
    alice = await database_sync_to_async(make_membership)(pseudonym="Alice")
    bob = await database_sync_to_async(make_membership)(pseudonym="Bob")
    async with connect(fac, session_key=key) as f:
        await f.send_json_to({"type": "session", "action": "open", "ref": "o1"})
        await answer_to(f, "o1")
        async with connect(alice, expect_welcome=False) as a:
            await _first(a)
            await a.send_json_to({"type": "agree", "version": 1})
            await next_frame(a, "waiting")
            await f.send_json_to({"type": "admit", "pseudonym": "Alice", "ref": "a1"})
            await next_frame(a, "welcome")
            await f.send_json_to({"type": "session", "action": "lock", "ref": "l1"})
            await answer_to(f, "l1")
            async with connect(bob, expect_welcome=False) as b:
                waiting = await _first(b)
                assert waiting["type"] == "waiting" and waiting["session"] == "locked"
                await b.send_json_to({"type": "agree", "version": 1})
                assert (await next_error(b))["code"] == "waiting"
                # Bob is not on the list; a locked session admits nobody.
                await f.send_json_to({"type": "admit", "pseudonym": "Bob", "ref": "a2"})
                assert (await answer_to(f, "a2"))["code"] == "room_locked"
                await f.send_json_to({"type": "session", "action": "close", "ref": "c1"})
                await answer_to(f, "c1")
                assert await closed_with(a) == 4013
                assert (await next_frame(b, "waiting"))["session"] == "none"
            # The facilitator stays; the member's reconnect waits for the next session.
            await f.send_json_to({"type": "ping"})
            assert (await next_frame(f, "pong"))["type"] == "pong"
        async with connect(alice, expect_welcome=False) as again:
            assert (await _first(again))["type"] == "waiting"


async def test_agreement_must_be_accepted_again_at_the_next_session(
    connect: Any, make_membership: Any, room: Room
) -> None:
    fac, key = await _session_room(room)
    alice = await database_sync_to_async(make_membership)(pseudonym="Alice")
    async with connect(fac, session_key=key) as f:
        for n in range(2):
            await f.send_json_to({"type": "session", "action": "open", "ref": f"o{n}"})
            await answer_to(f, f"o{n}")
            async with connect(alice, expect_welcome=False) as a:
                waiting = await _first(a)
                assert waiting["agreed"] is False, f"session {n} started already agreed"
                await a.send_json_to({"type": "agree", "version": 0})
                assert (await next_error(a))["code"] == "agreement_required"
                await a.send_json_to({"type": "agree", "version": 1})
                await next_frame(a, "waiting")
                await f.send_json_to({"type": "admit", "pseudonym": "Alice", "ref": f"a{n}"})
                await next_frame(a, "welcome")
            await f.send_json_to({"type": "session", "action": "close", "ref": f"c{n}"})
            await answer_to(f, f"c{n}")


async def test_members_cannot_run_sessions(connect: Any, make_membership: Any, room: Room) -> None:
    await _session_room(room)
    alice = await database_sync_to_async(make_membership)(pseudonym="Alice")
    async with connect(alice, expect_welcome=False) as a:
        await _first(a)
        await a.send_json_to({"type": "session", "action": "open", "ref": "o1"})
        assert (await next_error(a))["code"] == "waiting"


async def test_session_controls_refused_in_a_drop_in_room(connect: Any, room: Room) -> None:
    def make() -> tuple[Any, str]:
        fac = staff_membership(room)
        return fac, login_session(fac.user)

    fac, key = await database_sync_to_async(make)()
    async with connect(fac, session_key=key) as f:
        await f.send_json_to({"type": "session", "action": "open", "ref": "o1"})
        answer = await answer_to(f, "o1")
        assert answer["code"] == "forbidden" and "does not run sessions" in answer["message"]
