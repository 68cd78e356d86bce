"""A real run writes no client address, session token or message text to its logs."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest

from bench.client import ApiError, ChatClient, recv_until, send_json
from bench.servers import ServerProcess

pytestmark = pytest.mark.e2e

CANARY = "canary-7f3a-do-not-log"
CLIENT_ADDRESS = "127.0.0.2"  # clients connect from here, so the server's own address differs


async def test_logs_hold_no_address_token_or_text(tmp_path: Path) -> None:
    server = ServerProcess(
        data_dir=tmp_path,
        extra_args=["--demo", "--host", "0.0.0.0"],
        env={"LOG_LEVEL": "DEBUG", "ALLOWED_HOSTS": CLIENT_ADDRESS},
    )
    with server:
        base = f"http://{CLIENT_ADDRESS}:{server.port}"
        client = ChatClient(base, source_address=CLIENT_ADDRESS)
        await client.astart_and_join("welcome")
        async with await client.connect("welcome") as ws:
            await recv_until(ws, "welcome")
            await send_json(ws, {"type": "send", "client_id": "c1", "body": CANARY})
            await recv_until(ws, "ack")
            await ws.send("{not json " + CANARY)
            await recv_until(ws, "error")
        # An error path too: a request that fails, with a token-looking query string.
        with contextlib.suppress(ApiError):  # the 404 is the point
            client.request("GET", f"/api/rooms/nowhere?sessionid={CANARY}")
        session_key = next(c.value for c in client.jar if c.name == "sessionid")
    log = server.log_text()
    assert "chatserver listening" in log  # we really read the run's output
    assert CLIENT_ADDRESS not in log
    assert CANARY not in log
    assert session_key not in log
    assert (client.recovery_phrase or "x") not in log
