"""Facilitator tools across two real server processes (PostgreSQL, Redis): a facilitator on
one process acts, and members on the other see the effect at once; a member's report reaches
the facilitator on the other process without naming the reporter; a waiting member on one
process is admitted by a facilitator on the other."""

from __future__ import annotations

import asyncio
import secrets
import subprocess
import sys
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed

from bench.client import ChatClient, recv_json, recv_until, send_json
from bench.servers import ROOT, ServerProcess
from tests.e2e.conftest import staff_sign_in

pytestmark = [pytest.mark.e2e, pytest.mark.postgres, pytest.mark.redis]

PASSWORD = "a long facilitator password 7"
SETUP = """
import datetime as dt
from django.conf import settings
from django.contrib.auth.models import Group, User
from django.utils import timezone
from moderation.models import TrainingRecord
from rooms.models import Agreement, Room

user = User.objects.create_user(username="{username}", password="{password}")
user.groups.add(Group.objects.get_or_create(name="facilitator")[0])
today = timezone.localdate()
TrainingRecord.objects.create(
    user=user, course=settings.FACILITATOR_TRAINING_COURSE,
    completed_on=today - dt.timedelta(days=10), expires_on=today + dt.timedelta(days=300),
)
room, _ = Room.objects.get_or_create(
    slug="evening-circle", defaults={{"title": "Evening circle", "uses_sessions": True}}
)
Agreement.objects.get_or_create(room=room, version=1, defaults={{"text": "We keep it here."}})
"""


def _create_facilitator(server: ServerProcess, username: str) -> None:
    code = SETUP.format(username=username, password=PASSWORD)
    subprocess.run(
        [sys.executable, "-m", "chatserver.cli", "shell", "-c", code],
        cwd=ROOT,
        env=server.env,
        check=True,
        capture_output=True,
        timeout=60,
    )


async def _facilitator(server: ServerProcess, name: str, slug: str) -> ChatClient:
    # The cluster's database lives for the whole test session: a fresh name each time.
    token = secrets.token_hex(4)
    username = f"{name}-{token}"
    await asyncio.to_thread(_create_facilitator, server, username)
    client = ChatClient(server.base_url)
    await asyncio.to_thread(staff_sign_in, client, username, PASSWORD)
    # Staff choose the name they go by in rooms before joining one (letters only).
    in_rooms = "Guide " + token.translate(str.maketrans("0123456789", "ghijklmnop")).title()
    await asyncio.to_thread(client.request, "POST", "/api/staff/name", {"name": in_rooms})
    await asyncio.to_thread(client.join, slug)
    return client


async def _member(server: ServerProcess, slug: str) -> ChatClient:
    client = ChatClient(server.base_url)
    await client.astart_and_join(slug)
    return client


async def _answer(ws: Any, ref: str) -> dict[str, Any]:
    """The ``done`` or ``error`` answering the action with ``ref``."""
    while True:
        frame = await recv_json(ws)
        if frame["type"] in {"done", "error"} and frame.get("ref") == ref:
            return frame


async def _first_error(ws: Any) -> dict[str, Any]:
    return await recv_until(ws, "error")


async def test_facilitator_actions_reach_members_on_the_other_process(
    cluster: list[ServerProcess],
) -> None:
    one, two = cluster
    fac = await _facilitator(one, "fac-one", "welcome")
    alice, bob = await _member(two, "welcome"), await _member(two, "welcome")
    f = await fac.connect("welcome")
    a = await alice.connect("welcome")
    b = await bob.connect("welcome")
    try:
        me_a = (await recv_until(a, "welcome"))["you"]["pseudonym"]
        me_b = (await recv_until(b, "welcome"))["you"]["pseudonym"]
        await recv_until(f, "welcome")

        await send_json(a, {"type": "send", "client_id": "a1", "body": "my street is Elm Road"})
        seq = (await recv_until(a, "ack"))["seq"]
        await send_json(f, {"type": "hide", "seq": seq, "reason": "identifying", "ref": "h"})
        assert (await _answer(f, "h"))["type"] == "done"
        assert (await recv_until(b, "hidden"))["target"] == seq
        assert (await recv_until(a, "moderated"))["action"] == "hidden"

        await send_json(b, {"type": "send", "client_id": "b1", "body": "that was unkind"})
        reported = (await recv_until(b, "ack"))["seq"]
        await send_json(a, {"type": "report", "seq": reported, "reason": "harassment", "ref": "r"})
        assert (await _answer(a, "r"))["type"] == "done"
        notice = await recv_until(f, "report_notice")
        assert notice["seq"] == reported and notice["author"] == me_b
        assert me_a not in str(notice)  # the reporter is never named

        await send_json(f, {"type": "mute", "pseudonym": me_a, "minutes": 5, "ref": "m"})
        await _answer(f, "m")
        assert (await recv_until(a, "moderated"))["action"] == "muted"
        await send_json(a, {"type": "send", "client_id": "a2", "body": "still here"})
        assert (await _first_error(a))["code"] == "muted"

        await send_json(f, {"type": "set_room_state", "state": "paused", "ref": "p"})
        assert (await recv_until(b, "room_state"))["state"] == "paused"
        await send_json(f, {"type": "set_room_state", "state": "open", "ref": "o"})
        assert (await recv_until(b, "room_state"))["state"] == "open"

        await send_json(f, {"type": "announce", "body": "Five minutes left.", "ref": "n"})
        announced = await recv_until(b, "message")
        assert announced["announcement"] is True and announced["body"] == "Five minutes left."
        await send_json(f, {"type": "pin", "seq": announced["seq"], "ref": "pin"})
        pinned = (await recv_until(b, "pins"))["items"]
        assert {
            "seq": announced["seq"],
            "author": announced["author"],
            "body": "Five minutes left.",
        } in pinned

        await send_json(f, {"type": "remove", "pseudonym": me_a, "ref": "x"})
        await _answer(f, "x")
        with pytest.raises(ConnectionClosed) as closed:
            while True:
                await asyncio.wait_for(a.recv(), 10)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4012
    finally:
        for ws in (f, a, b):
            await ws.close()


async def test_waiting_member_is_admitted_from_the_other_process(
    cluster: list[ServerProcess],
) -> None:
    one, two = cluster
    fac = await _facilitator(one, "fac-two", "evening-circle")
    alice = await _member(two, "evening-circle")
    f = await fac.connect("evening-circle")
    a = await alice.connect("evening-circle")
    try:
        await recv_until(f, "welcome")
        waiting = await recv_until(a, "waiting")
        assert waiting["session"] == "none" and waiting["agreement"] == "We keep it here."
        await send_json(f, {"type": "session", "action": "open", "ref": "o"})
        assert (await _answer(f, "o"))["type"] == "done"
        assert (await recv_until(a, "waiting"))["session"] == "open"
        await send_json(a, {"type": "agree", "version": 1})
        assert (await recv_until(a, "waiting"))["agreed"] is True
        me = None
        while me is None:
            room = await recv_until(f, "waiting_room")
            me = next((m["pseudonym"] for m in room["members"] if m["agreed"]), None)
        await send_json(f, {"type": "admit", "pseudonym": me, "ref": "a"})
        assert (await _answer(f, "a"))["type"] == "done"
        assert (await recv_until(a, "welcome"))["you"]["pseudonym"] == me
        await send_json(a, {"type": "send", "client_id": "c1", "body": "glad to be here"})
        assert (await recv_until(f, "message"))["body"] == "glad to be here"
        await send_json(f, {"type": "session", "action": "close", "ref": "c"})
        with pytest.raises(ConnectionClosed) as closed:
            while True:
                await asyncio.wait_for(a.recv(), 10)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4013
    finally:
        await f.close()
        await a.close()
