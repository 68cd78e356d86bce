"""Missed messages of any length and script come back, through a real daphne process
(PostgreSQL, Redis). Issue 13, finding 16: ``resume`` with its default limit over 3,000-
character messages answered internal_error every time (the frame was over the websocket
layer's limit), so a member who had been away could never read what they missed.

The reader's websocket library is told the limit the welcome announces (``max_frame_bytes``),
so a single frame over it would close the connection and fail the test."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bench.client import ChatClient, recv_json, recv_until, send_json
from bench.servers import ServerProcess

pytestmark = [pytest.mark.e2e, pytest.mark.postgres, pytest.mark.redis]

LATIN = "We hold each other up here, one day at a time. "
CJK = "我们在这里互相支持慢慢来"


@pytest.fixture
def server(
    tmp_path: Path, fresh_postgres_url: str, redis_env: dict[str, str]
) -> Iterator[ServerProcess]:
    env = {
        "DATABASE_URL": fresh_postgres_url,
        **redis_env,
        "SECRET_KEY": "long-history-e2e-" + "s" * 50,
        "CHATSERVER_KEYS": "e2e1:" + "D" * 43 + "=",
        # The writer posts 200 messages at once; the reader's pages keep the default limits.
        "CHAT_RATE_PER_SECOND": "500",
        "CHAT_RATE_BURST": "500",
    }
    process = ServerProcess(data_dir=tmp_path, env=env, extra_args=["--demo"]).start()
    try:
        yield process
    finally:
        process.stop()


async def _post_200(writer: ChatClient, text: str, tag: str) -> list[str]:
    bodies = [(f"{tag}{n} " + text * 4000)[:4000] for n in range(200)]
    async with await writer.connect("welcome") as ws:
        await recv_until(ws, "welcome")
        for n, body in enumerate(bodies):
            await send_json(ws, {"type": "send", "client_id": f"{tag}{n}", "body": body})
        acked = 0
        while acked < len(bodies):
            frame = await recv_json(ws, timeout=60)
            assert frame["type"] != "error", frame
            acked += frame["type"] == "ack"
    return bodies


async def _ask(ws: Any, request: dict[str, Any], answer: str) -> dict[str, Any]:
    """One page, as a client written from docs/protocol.md asks for it: waiting out
    ``rate_limited`` and asking again."""
    while True:
        await send_json(ws, request)
        while True:
            frame = json.loads(await asyncio.wait_for(ws.recv(), 30))
            if frame["type"] == answer:
                return frame
            if frame["type"] == "error":
                assert frame["code"] == "rate_limited", frame
                await asyncio.sleep(frame["retry_after"])
                break


async def _resume_all(reader: ChatClient, after: int, frame_limit: int) -> tuple[list[str], int]:
    """Reconnect and resume from ``after`` with the default limit, again while has_more."""
    bodies: list[str] = []
    async with await reader.connect("welcome", max_size=frame_limit) as ws:
        await recv_until(ws, "welcome")
        while True:
            page = await _ask(ws, {"type": "resume", "after": after}, "resumed")
            bodies += [m["body"] for m in page["messages"]]
            after = page["messages"][-1]["seq"]
            if not page["has_more"]:
                return bodies, after


async def _history_all(reader: ChatClient, frame_limit: int) -> list[int]:
    """A first visit: default history, then earlier pages while has_more."""
    seqs: list[int] = []
    request: dict[str, Any] = {"type": "history"}
    async with await reader.connect("welcome", max_size=frame_limit) as ws:
        await recv_until(ws, "welcome")
        while True:
            page = await _ask(ws, request, "history")
            seqs = [m["seq"] for m in page["messages"]] + seqs
            if not page["has_more"]:
                return seqs
            request = {"type": "history", "before": seqs[0]}


async def test_resume_brings_back_200_missed_long_messages_in_any_script(
    server: ServerProcess,
) -> None:
    writer, reader = ChatClient(server.base_url), ChatClient(server.base_url)
    await writer.astart_and_join("welcome")
    await reader.astart_and_join("welcome")
    async with await reader.connect("welcome") as ws:
        welcome = await recv_until(ws, "welcome")
    frame_limit = welcome["limits"]["max_frame_bytes"]
    last = welcome["latest_seq"]

    # Away while 200 messages of 4,000 characters are posted, then 200 of 4,000 CJK
    # characters (three bytes each): each time, resume brings back every one.
    for text, tag in ((LATIN, "l"), (CJK, "c")):
        posted = await _post_200(writer, text, tag)
        missed, last = await _resume_all(reader, last, frame_limit)
        assert missed == posted

    # A first visit on another device pages back through all 400 with default history.
    assert await _history_all(reader, frame_limit) == list(range(1, 401))
