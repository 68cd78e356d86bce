"""Two real daphne processes on the real PostgreSQL and Redis: cross-process delivery,
resume after a process dies, gap-free numbering under concurrent writers, and logout
closing sockets on the other process."""

from __future__ import annotations

import asyncio
import time

import pytest
from websockets.exceptions import ConnectionClosed

from bench.client import ChatClient, recv_json, recv_until, send_json
from bench.servers import ServerProcess

pytestmark = [pytest.mark.e2e, pytest.mark.postgres, pytest.mark.redis]


async def member(server: ServerProcess) -> ChatClient:
    client = ChatClient(server.base_url)
    await client.astart_and_join("welcome")
    return client


async def test_messages_cross_processes(cluster: list[ServerProcess]) -> None:
    one, two = cluster
    alice, bob = await member(one), await member(two)
    async with await alice.connect("welcome") as a, await bob.connect("welcome") as b:
        await recv_until(a, "welcome")
        await recv_until(b, "welcome")
        await send_json(a, {"type": "send", "client_id": "x1", "body": "from process one"})
        got = await recv_until(b, "message")
        assert got["body"] == "from process one"
        await send_json(b, {"type": "send", "client_id": "y1", "body": "from process two"})
        own = await recv_until(a, "message")
        assert own["body"] == "from process one"  # the sender gets its own broadcast too
        other = await recv_until(a, "message")
        assert other["body"] == "from process two" and other["seq"] == got["seq"] + 1


async def test_resume_on_another_process_after_a_crash_loses_nothing(
    cluster: list[ServerProcess],
) -> None:
    one, two = cluster
    alice, bob = await member(one), await member(two)
    b = await bob.connect("welcome")
    await recv_until(b, "welcome")
    a = await alice.connect("welcome")
    await recv_until(a, "welcome")
    await send_json(b, {"type": "send", "client_id": "before", "body": "before the crash"})
    last_seen = (await recv_until(a, "message"))["seq"]
    one.stop(kill=True)  # alice's process dies without a goodbye
    with pytest.raises(ConnectionClosed):
        while True:
            await asyncio.wait_for(a.recv(), 10)
    for n in range(5):
        await send_json(b, {"type": "send", "client_id": f"gap{n}", "body": f"missed {n}"})
        await recv_until(b, "ack")
    alice.base_url = two.base_url  # reconnect through the surviving process, same cookie
    async with await alice.connect("welcome") as again:
        welcome = await recv_json(again)
        assert welcome["type"] == "welcome", welcome
        assert welcome["latest_seq"] == last_seen + 5
        await send_json(again, {"type": "resume", "after": last_seen})
        resumed = await recv_until(again, "resumed")
        assert [m["seq"] for m in resumed["messages"]] == list(range(last_seen + 1, last_seen + 6))
        assert [m["body"] for m in resumed["messages"]] == [f"missed {n}" for n in range(5)]
    await b.close()


async def test_concurrent_writers_on_both_processes_get_gap_free_numbers(
    cluster: list[ServerProcess],
) -> None:
    clients = [await member(cluster[n % 2]) for n in range(6)]
    sockets = [await c.connect("welcome") for c in clients]
    try:
        for ws in sockets:
            await recv_until(ws, "welcome")

        async def burst(index: int) -> list[int]:
            ws = sockets[index]
            for n in range(10):
                await send_json(ws, {"type": "send", "client_id": f"w{index}-{n}", "body": "x"})
            return [(await recv_until(ws, "ack"))["seq"] for _ in range(10)]

        seqs = [s for chunk in await asyncio.gather(*(burst(i) for i in range(6))) for s in chunk]
        assert sorted(seqs) == list(range(min(seqs), min(seqs) + 60))
        await send_json(sockets[0], {"type": "resume", "after": min(seqs) - 1})
        resumed = await recv_until(sockets[0], "resumed")
        assert [m["seq"] for m in resumed["messages"]] == sorted(seqs)
    finally:
        for ws in sockets:
            await ws.close()


async def test_logout_closes_sockets_on_every_process_within_two_seconds(
    cluster: list[ServerProcess],
) -> None:
    one, two = cluster
    alice = await member(one)
    sockets = [await alice.connect("welcome")]
    alice.base_url = two.base_url
    sockets.append(await alice.connect("welcome"))
    for ws in sockets:
        await recv_until(ws, "welcome")
    started = time.monotonic()
    await asyncio.to_thread(alice.request, "DELETE", "/api/session")
    for ws in sockets:
        with pytest.raises(ConnectionClosed) as closed:
            while True:
                await asyncio.wait_for(ws.recv(), 2.5)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4011
    assert time.monotonic() - started < 2.0
