"""The abuse limits of docs/security.md ("Abuse limits that keep anonymity") through a real
daphne process on PostgreSQL and Redis, with real websocket clients.

- Row 7, many sockets to multiply the message rate: the rate limit was per socket with no cap
  on sockets, so one member with 10 sockets had 80 messages accepted in about a second. Now a
  session opens at most ``CHAT_MAX_SOCKETS_PER_SESSION`` room sockets (one more gets
  ``too_many_sockets`` and close 4030), and a member's sends share one bucket across their
  sockets.
- Row 6, filling a room for good: capacity counted every membership ever made, so sessions
  that joined once kept everyone else out. Now members count while here, or for
  ``CHAT_ROOM_ACTIVE_MINUTES`` after they joined or wrote.

- Row 17, limits turned against senders by a stall: frames are counted when they arrive, so a
  backlog sent at the allowed rate while the room's writes stall is accepted as it was sent.
"""

from __future__ import annotations

import asyncio
import secrets
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from bench.client import ApiError, ChatClient, recv_json, recv_until, send_json
from bench.servers import ROOT, ServerProcess

pytestmark = [pytest.mark.e2e, pytest.mark.postgres, pytest.mark.redis]

MAX_SOCKETS = 3
BURST = 4
# One token back every 100 s: nothing refills during a quick round of sends.
RATE = 0.01


def limited_server(
    tmp_path_factory: pytest.TempPathFactory,
    postgres_url: str,
    redis_env: dict[str, str],
    name: str,
    limits: dict[str, str],
) -> ServerProcess:
    """A real server on the shared PostgreSQL and Redis, with the limits under test."""
    env = {
        "DATABASE_URL": postgres_url,
        **redis_env,
        "SECRET_KEY": f"abuse-limits-{name}-" + "a" * 50,
        "CHATSERVER_KEYS": "e2e1:" + "D" * 43 + "=",
        **limits,
    }
    return ServerProcess(
        data_dir=tmp_path_factory.mktemp(name), env=env, extra_args=["--demo"], name=name
    )


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, postgres_url: str, redis_env: dict[str, str]
) -> Iterator[ServerProcess]:
    limits = {
        "CHAT_MAX_SOCKETS_PER_SESSION": str(MAX_SOCKETS),
        "CHAT_RATE_PER_SECOND": str(RATE),
        "CHAT_RATE_BURST": str(BURST),
        "CHAT_ROOM_ACTIVE_MINUTES": "1",
    }
    with limited_server(tmp_path_factory, postgres_url, redis_env, "limits", limits) as process:
        yield process


ROOM_SETUP = """
from rooms.models import Agreement, Room

room = Room.objects.create(slug="{slug}", title="Small circle", capacity={capacity})
Agreement.objects.create(room=room, version=1, text="We keep it here.")
"""


def create_room(server: ServerProcess, capacity: int) -> str:
    """A room of the test's own (the database is shared with other end-to-end tests)."""
    slug = f"circle-{secrets.token_hex(4)}"
    code = ROOM_SETUP.format(slug=slug, capacity=capacity)
    subprocess.run(
        [sys.executable, "-m", "chatserver.cli", "shell", "-c", code],
        cwd=ROOT,
        env=server.env,
        check=True,
        capture_output=True,
        timeout=60,
    )
    return slug


def query(database_url: str, sql: str, *args: Any) -> Any:
    with psycopg.connect(database_url) as conn:
        row = conn.execute(sql, args).fetchone()
        conn.commit()
        return row[0] if row else None


async def wait_for_count(database_url: str, sql: str, *args: Any, want: int) -> None:
    """Poll until ``sql`` counts ``want`` (a socket's clean-up runs after its close)."""
    deadline = time.monotonic() + 10
    while (got := await asyncio.to_thread(query, database_url, sql, *args)) != want:
        assert time.monotonic() < deadline, f"{sql} still counts {got}, not {want}"
        await asyncio.sleep(0.1)


async def until_closed(ws: ClientConnection) -> tuple[list[dict[str, Any]], int | None]:
    """What a socket the server should refuse gets before it closes; a ``welcome`` means it
    was let in (the socket is then closed by the client, without a close code of the server's)."""
    frames: list[dict[str, Any]] = []
    try:
        while True:
            frames.append(await recv_json(ws))
            if frames[-1]["type"] == "welcome":
                await ws.close()
                return frames, None
    except ConnectionClosed:
        pass
    return frames, ws.close_code


async def answers(ws: ClientConnection, client_ids: set[str]) -> dict[str, dict[str, Any]]:
    """The server's answer (``ack`` or ``error``) to each send of ``client_ids`` on ``ws``,
    skipping broadcasts (the member's other sockets' messages, presence)."""
    found: dict[str, dict[str, Any]] = {}
    while set(found) != client_ids:
        frame = await recv_json(ws)
        key = frame.get("client_id") if frame["type"] == "ack" else frame.get("ref")
        if frame["type"] in {"ack", "error"} and key in client_ids:
            found[key] = frame
    return found


# --- row 7: sockets per session and a shared send rate ----------------------------------------

# The member's open room sockets, as the server records them (pseudonyms are unique in a room).
OPEN_SOCKETS = (
    "SELECT count(*) FROM rooms_connection c "
    "JOIN rooms_membership m ON m.id = c.membership_id "
    "JOIN rooms_room r ON r.id = m.room_id "
    "WHERE r.slug = %s AND m.pseudonym = %s"
)


async def test_a_session_opens_at_most_the_cap_of_room_sockets(
    server: ServerProcess, postgres_url: str
) -> None:
    slug = create_room(server, capacity=30)
    member = ChatClient(server.base_url)
    pseudonym = (await member.astart_and_join(slug))["pseudonym"]
    sockets = [await member.connect(slug) for _ in range(MAX_SOCKETS)]
    try:
        for ws in sockets:
            await recv_until(ws, "welcome")  # each is counted once it is in the room
        await wait_for_count(postgres_url, OPEN_SOCKETS, slug, pseudonym, want=MAX_SOCKETS)

        # One more socket of the same session: an error frame, then 4030.
        extra = await member.connect(slug)
        frames, code = await until_closed(extra)
        assert code == 4030, (code, frames)
        assert [f["code"] for f in frames if f["type"] == "error"] == ["too_many_sockets"]
        assert not [f for f in frames if f["type"] == "welcome"], frames

        # The cap counts open sockets: once one has closed, another may open.
        await sockets.pop().close()
        await wait_for_count(postgres_url, OPEN_SOCKETS, slug, pseudonym, want=MAX_SOCKETS - 1)
        sockets.append(await member.connect(slug))
        await recv_until(sockets[-1], "welcome")
        await wait_for_count(postgres_url, OPEN_SOCKETS, slug, pseudonym, want=MAX_SOCKETS)
    finally:
        for ws in sockets:
            await ws.close()


async def test_sends_over_all_sockets_share_one_burst(
    server: ServerProcess, postgres_url: str
) -> None:
    slug = create_room(server, capacity=30)
    member = ChatClient(server.base_url)
    await member.astart_and_join(slug)
    sockets = [await member.connect(slug) for _ in range(MAX_SOCKETS)]
    try:
        for ws in sockets:
            await recv_until(ws, "welcome")
        prefix = secrets.token_hex(4)
        # A quick round: the burst's worth on every socket, interleaved.
        sent: list[set[str]] = [set() for _ in sockets]
        for i in range(BURST):
            for n, ws in enumerate(sockets):
                client_id = f"{prefix}-s{n}-{i}"
                await send_json(ws, {"type": "send", "client_id": client_id, "body": f"hi {i}"})
                sent[n].add(client_id)
        replies: dict[str, dict[str, Any]] = {}
        for ws, ids in zip(sockets, sent, strict=True):
            replies.update(await answers(ws, ids))
    finally:
        for ws in sockets:
            await ws.close()

    accepted = sorted(k for k, f in replies.items() if f["type"] == "ack")
    refused = {k: f for k, f in replies.items() if f["type"] == "error"}
    # Per socket, each would have had its own burst (12 accepted); shared, the member gets one.
    assert len(accepted) == BURST, replies
    assert len(refused) == (MAX_SOCKETS - 1) * BURST, replies
    for frame in refused.values():
        assert frame["code"] == "rate_limited", frame
        assert frame["retry_after"] > 0, frame
    stored = "SELECT count(*) FROM rooms_message WHERE client_id LIKE %s"
    assert query(postgres_url, stored, f"{prefix}-%") == BURST


# --- row 6: room capacity counts members who are here or were lately ---------------------------

MOVE_BACK = (
    "UPDATE rooms_membership m SET joined_at = now() - interval '2 minutes', "
    "agreement_accepted_at = now() - interval '2 minutes' "
    "FROM rooms_room r WHERE r.id = m.room_id AND r.slug = %s RETURNING 1"
)
IN_ROOM = (
    "SELECT count(*) FROM rooms_connection c JOIN rooms_room r ON r.id = c.room_id "
    "WHERE r.slug = %s"
)


def join_refusal(client: ChatClient, slug: str) -> tuple[int, str]:
    try:
        client.join(slug)
    except ApiError as exc:
        return exc.status, exc.body.get("error", {}).get("code", "")
    raise AssertionError("the join was accepted")


async def test_members_who_left_stop_filling_a_room(
    server: ServerProcess, postgres_url: str
) -> None:
    slug = create_room(server, capacity=2)
    first, second, third = (ChatClient(server.base_url) for _ in range(3))
    await first.astart_and_join(slug)
    await second.astart_and_join(slug)
    await asyncio.to_thread(third.start_session)
    # Two members who have just joined fill the room.
    assert await asyncio.to_thread(join_refusal, third, slug) == (409, "room_full")

    async with await first.connect(slug) as one, await second.connect(slug) as two:
        await recv_until(one, "welcome")
        await recv_until(two, "welcome")
        await wait_for_count(postgres_url, IN_ROOM, slug, want=2)
        # They joined longer ago than CHAT_ROOM_ACTIVE_MINUTES, but they are here.
        await asyncio.to_thread(query, postgres_url, MOVE_BACK, slug)
        assert await asyncio.to_thread(join_refusal, third, slug) == (409, "room_full")

    # They left: their memberships remain, but no longer keep anyone out.
    await wait_for_count(postgres_url, IN_ROOM, slug, want=0)
    memberships = (
        "SELECT count(*) FROM rooms_membership m JOIN rooms_room r ON r.id = m.room_id "
        "WHERE r.slug = %s"
    )
    assert await asyncio.to_thread(query, postgres_url, memberships, slug) == 2
    joined = await asyncio.to_thread(third.join, slug)
    assert joined["role"] == "member", joined
    async with await third.connect(slug) as three:
        await recv_until(three, "welcome")


# --- row 17: limits count arrivals, so a stall does not turn a backlog into refusals ----------

STALL_SECONDS = 3.0


@pytest.fixture(scope="module")
def paced_server(
    tmp_path_factory: pytest.TempPathFactory, postgres_url: str, redis_env: dict[str, str]
) -> Iterator[ServerProcess]:
    """A server whose limit is 4 sends a second with no burst to speak of."""
    limits = {"CHAT_RATE_PER_SECOND": "4", "CHAT_RATE_BURST": "1"}
    with limited_server(tmp_path_factory, postgres_url, redis_env, "paced", limits) as process:
        yield process


def hold_room_row(database_url: str, slug: str, locked: Any, seconds: float) -> None:
    """Stall the room's writes as a slow database would: hold its row lock for a while."""
    with psycopg.connect(database_url) as conn:
        conn.execute("SELECT id FROM rooms_room WHERE slug = %s FOR UPDATE", (slug,))
        locked.set()
        time.sleep(seconds)
        conn.commit()


async def test_sends_at_the_allowed_rate_during_a_stall_are_all_accepted(
    paced_server: ServerProcess, postgres_url: str
) -> None:
    """Hardening row 17: after an 11 s database stall, 97 sends made at the allowed rate were
    refused and later every active sender was closed as flooding, because the limit counted
    frames when they were handled. Here the room's row is held for 3 s while a member sends
    one message every 0.3 s (under 4 a second): every one is acknowledged once the stall
    ends, none refused, the socket stays open."""
    slug = create_room(paced_server, capacity=30)
    member = ChatClient(paced_server.base_url)
    await member.astart_and_join(slug)
    ws = await member.connect(slug)
    locked = threading.Event()
    try:
        await recv_until(ws, "welcome")
        stall = asyncio.create_task(
            asyncio.to_thread(hold_room_row, postgres_url, slug, locked, STALL_SECONDS)
        )
        await asyncio.to_thread(locked.wait, 10)
        prefix = secrets.token_hex(4)
        ids = {f"{prefix}-{n}" for n in range(8)}
        for client_id in sorted(ids):
            await send_json(ws, {"type": "send", "client_id": client_id, "body": "still here"})
            await asyncio.sleep(0.3)
        await stall
        replies = await asyncio.wait_for(answers(ws, ids), timeout=20)
    finally:
        await ws.close()
    assert {k for k, f in replies.items() if f["type"] == "ack"} == ids, replies
