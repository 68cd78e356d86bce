"""Private rooms through a real daphne process (PostgreSQL, Redis), as issue 13 found them:
a facilitator signed in with a password alone joined a private support room by its name and
read it, support-room names were support-<escalation id>-<HHMMSS>, and the join answer told
which names existed. Now the name is random, and to everyone outside the room it answers
exactly as a name no room has, over HTTP and over the socket."""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed

from bench.client import ApiError, ChatClient, recv_until, send_json
from bench.servers import ROOT, ServerProcess
from tests.e2e.conftest import staff_sign_in

pytestmark = [pytest.mark.e2e, pytest.mark.postgres, pytest.mark.redis]

RISKY = "I'm going to kill myself tonight. I've saved up the pills and I'm ready."
STAFF_PASSWORD = "a long staff password 42"
FACILITATOR_PASSWORD = "a long facilitator password 7"
SETUP = f"""
import datetime as dt
from django.conf import settings
from django.contrib.auth.models import Group, User
from django.utils import timezone
from moderation.models import TrainingRecord
from rooms.models import Agreement, Room

nurse = User.objects.create_user(username="nurse", password="{STAFF_PASSWORD}")
nurse.groups.add(Group.objects.get_or_create(name="staff")[0])
fac = User.objects.create_user(username="fac", password="{FACILITATOR_PASSWORD}")
fac.groups.add(Group.objects.get_or_create(name="facilitator")[0])
today = timezone.localdate()
TrainingRecord.objects.create(
    user=fac, course=settings.FACILITATOR_TRAINING_COURSE,
    completed_on=today - dt.timedelta(days=10), expires_on=today + dt.timedelta(days=300),
)
group = Room.objects.create(slug="survivors-group", title="Survivors' group", visibility="invite")
Agreement.objects.create(room=group, version=1, text="What is said here stays here.")
"""
NO_SUCH_ROOM = "no-room-has-this-name"


@pytest.fixture
def server(
    tmp_path: Path, fresh_postgres_url: str, redis_env: dict[str, str]
) -> Iterator[ServerProcess]:
    env = {
        "DATABASE_URL": fresh_postgres_url,
        **redis_env,
        "SECRET_KEY": "private-rooms-e2e-" + "s" * 50,
        "CHATSERVER_KEYS": "e2e1:" + "C" * 43 + "=",
    }
    process = ServerProcess(data_dir=tmp_path, env=env, extra_args=["--demo"]).start()
    subprocess.run(
        [sys.executable, "-m", "chatserver.cli", "shell", "-c", SETUP],
        cwd=ROOT,
        env=process.env,
        check=True,
        capture_output=True,
        timeout=60,
    )
    try:
        yield process
    finally:
        process.stop()


def _http_answers(client: ChatClient, slug: str) -> list[tuple[int, Any]]:
    """What every HTTP door of a room answers this client: its page, joining it (with the
    current agreement version and a wrong one), and its history."""
    answers = []
    for method, path, body in [
        ("GET", f"/api/rooms/{slug}", None),
        ("POST", f"/api/rooms/{slug}/join", {"agreement_version": 1}),
        ("POST", f"/api/rooms/{slug}/join", {"agreement_version": 9}),
        ("GET", f"/api/rooms/{slug}/messages", None),
    ]:
        try:
            answers.append((200, client.request(method, path, body)))
        except ApiError as exc:
            answers.append((exc.status, exc.body))
    return answers


async def _socket_answer(client: ChatClient, slug: str) -> tuple[str, int]:
    """The first frame and the close code of the room's socket."""
    async with await client.connect(slug) as ws:
        first = await asyncio.wait_for(ws.recv(), 10)
        try:
            await asyncio.wait_for(ws.recv(), 10)
        except ConnectionClosed as closed:
            assert closed.rcvd is not None
            return str(first), closed.rcvd.code
    raise AssertionError("the socket stayed open")


async def _assert_looks_like_no_room(client: ChatClient, slug: str) -> None:
    nowhere = await asyncio.to_thread(_http_answers, client, NO_SUCH_ROOM)
    assert [status for status, _ in nowhere] == [404] * 4
    assert await asyncio.to_thread(_http_answers, client, slug) == nowhere
    socket_nowhere = await _socket_answer(client, NO_SUCH_ROOM)
    assert socket_nowhere[1] == 4004
    assert await _socket_answer(client, slug) == socket_nowhere


async def test_a_support_room_is_closed_to_all_but_its_two_people(server: ServerProcess) -> None:
    staff = ChatClient(server.base_url)
    await asyncio.to_thread(staff_sign_in, staff, "nurse", STAFF_PASSWORD, server)
    facilitator = ChatClient(server.base_url)
    await asyncio.to_thread(staff_sign_in, facilitator, "fac", FACILITATOR_PASSWORD)
    writer = ChatClient(server.base_url)
    await writer.astart_and_join("welcome")
    stranger = ChatClient(server.base_url)
    await stranger.astart_and_join("welcome")

    async with (
        await staff.connect_path("/ws/staff/") as queue,
        await writer.connect("welcome") as ws,
    ):
        await recv_until(queue, "escalations")
        await recv_until(ws, "welcome")
        await send_json(ws, {"type": "send", "client_id": "r1", "body": RISKY})
        item = (await recv_until(queue, "escalation"))["item"]
        await send_json(queue, {"type": "esc_support", "id": item["id"], "ref": "s1"})
        offer = await recv_until(ws, "support_offer")
    slug = offer["room"]
    # 128 random bits; nothing of the escalation's number or the time is in the name.
    assert re.fullmatch(r"support-[a-z2-7]{26}", slug), slug
    assert str(item["id"]) not in slug.removeprefix("support-")

    # The facilitator (password only) and another member: the room does not exist for them,
    # and neither does the invite-only group they were never invited to.
    for outsider in (facilitator, stranger):
        await _assert_looks_like_no_room(outsider, slug)
        await _assert_looks_like_no_room(outsider, "survivors-group")

    # The two people it was made for go in, and only they read it.
    await asyncio.to_thread(writer.join, slug)
    await asyncio.to_thread(staff.join, slug)
    async with await writer.connect(slug) as member_ws, await staff.connect(slug) as staff_ws:
        await recv_until(member_ws, "welcome")
        await recv_until(staff_ws, "welcome")
        await send_json(member_ws, {"type": "send", "client_id": "p1", "body": "thank you"})
        assert (await recv_until(staff_ws, "message"))["body"] == "thank you"
    await _assert_looks_like_no_room(facilitator, slug)
