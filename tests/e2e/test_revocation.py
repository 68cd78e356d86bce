"""Revocation with Redis stopped (issue 13, row 2), through two real daphne processes on
PostgreSQL.

The finding: with Redis down, a staff member who signed out kept both staff sockets open for
over 75 s and could still open escalations with their decrypted excerpts; a member's socket
stayed open 16 s after logout and a send on it was acknowledged and stored; a staff socket
outlived its session's expiry. Here the processes share a Redis server of the test's own,
which is stopped once everyone is connected (the shared Redis of the machine is left alone).
Then every revocation must close its sockets on both processes within a few seconds, and a
frame sent just after it must be refused: no ack, no stored message, no decrypted excerpt.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from bench.client import ChatClient, recv_until, send_json
from bench.servers import ROOT, ServerProcess, free_port, wait_for_port
from chatserver.sessions import session_digest
from tests.conftest import require_service
from tests.e2e.conftest import staff_sign_in

pytestmark = [pytest.mark.e2e, pytest.mark.postgres, pytest.mark.redis]

RISKY = "I'm going to kill myself tonight. I've saved up the pills and I'm ready."
PASSWORD = "a long staff password 42"
# The session watch runs every 2 s; the rest is slack for a busy two-core machine.
CLOSE_WITHIN = 6.0
SECRET_KEY = "revocation-e2e-" + "r" * 50


class PrivateRedis:
    """A Redis server for this test alone, so it can be stopped like an outage."""

    def __init__(self, data_dir: Path) -> None:
        self.port = free_port()
        self.data_dir = data_dir
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = shutil.which("redis-server")
        require_service("the redis-server program", binary is not None)
        assert binary is not None
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            [
                binary,
                *("--port", str(self.port), "--bind", "127.0.0.1"),
                *("--save", "", "--appendonly", "no", "--dir", str(self.data_dir)),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for_port(self.port, timeout=15)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)


@pytest.fixture
def outage(
    tmp_path: Path, fresh_postgres_url: str
) -> Iterator[tuple[ServerProcess, ServerProcess, PrivateRedis, str]]:
    redis = PrivateRedis(tmp_path / "redis")
    redis.start()
    env = {
        "DATABASE_URL": fresh_postgres_url,
        "REDIS_URL": redis.url,
        "CHATSERVER_KEYS": "e2e1:" + "C" * 43 + "=",
        "SECRET_KEY": SECRET_KEY,
        "DJANGO_SUPERUSER_PASSWORD": PASSWORD,
    }
    one = ServerProcess(data_dir=tmp_path / "one", env=env, extra_args=["--demo"], name="one")
    two = ServerProcess(data_dir=tmp_path / "two", env=env, migrate=False, name="two")
    one.start()
    two.start()
    try:
        for username in ("nurse", "medic"):
            subprocess.run(
                [
                    *(sys.executable, "-m", "chatserver.cli", "createsuperuser", "--noinput"),
                    *("--username", username, "--email", f"{username}@example.org"),
                ],
                cwd=ROOT,
                env=one.env,
                check=True,
                capture_output=True,
                timeout=60,
            )
        yield one, two, redis, fresh_postgres_url
    finally:
        one.stop()
        two.stop()
        redis.stop()


def on_server(client: ChatClient, server: ServerProcess) -> ChatClient:
    """The same browser (its cookies) talking to another server process."""
    other = ChatClient(server.base_url)
    for cookie in client.jar:
        other.jar.set_cookie(cookie)
    return other


def session_key(client: ChatClient) -> str:
    return next(c.value for c in client.jar if c.name == "sessionid")


async def until_closed(
    ws: ClientConnection, started: float, frame: dict[str, Any] | None = None
) -> tuple[list[dict[str, Any]], int, float]:
    """Send ``frame`` (if given and the socket is still open), then read until the server
    closes the socket. Returns what came back, the close code and the seconds since
    ``started``."""
    if frame is not None:
        with contextlib.suppress(ConnectionClosed):
            await send_json(ws, frame)
    frames: list[dict[str, Any]] = []
    deadline = started + CLOSE_WITHIN + 5
    try:
        while True:
            left = max(deadline - time.monotonic(), 0.01)
            frames.append(json.loads(await asyncio.wait_for(ws.recv(), left)))
    except ConnectionClosed:
        pass
    except TimeoutError:
        raise AssertionError(f"still open {CLOSE_WITHIN + 5:.0f} s later, after {frames}") from None
    assert ws.close_code is not None
    return frames, ws.close_code, time.monotonic() - started


def query(database_url: str, sql: str, *args: Any) -> Any:
    with psycopg.connect(database_url) as conn:
        row = conn.execute(sql, args).fetchone()
        conn.commit()
        return row[0] if row else None


async def test_sign_out_and_expiry_close_sockets_with_redis_stopped(outage: Any) -> None:
    """Each revocation has a socket on each process: an idle one, which the session watch
    must close on its own, and one that sends a frame at once, which must be refused."""
    one, two, redis, database_url = outage
    member = ChatClient(one.base_url)
    await member.astart_and_join("welcome")
    nurse = ChatClient(one.base_url)
    await asyncio.to_thread(staff_sign_in, nurse, "nurse", PASSWORD, one)
    medic = ChatClient(two.base_url)
    await asyncio.to_thread(staff_sign_in, medic, "medic", PASSWORD, two)

    async with (
        await member.connect("welcome") as member_one,
        await on_server(member, two).connect("welcome") as member_two,
        await nurse.connect_path("/ws/staff/") as nurse_one,
        await on_server(nurse, two).connect_path("/ws/staff/") as nurse_two,
        await on_server(medic, one).connect_path("/ws/staff/") as medic_one,
        await medic.connect_path("/ws/staff/") as medic_two,
    ):
        for room_ws in (member_one, member_two):
            await recv_until(room_ws, "welcome")
        for staff_ws in (nurse_one, nurse_two, medic_one, medic_two):
            await recv_until(staff_ws, "escalations")
        # While Redis is up: a risky message raises an escalation seen on both processes.
        await send_json(member_one, {"type": "send", "client_id": "r1", "body": RISKY})
        await recv_until(member_one, "ack")
        escalation = (await recv_until(nurse_one, "escalation"))["item"]["id"]
        await recv_until(nurse_two, "escalation")

        redis.stop()
        # The sockets still work without Redis: the nurse may read the excerpt (audited).
        await send_json(nurse_two, {"type": "esc_view", "id": escalation, "ref": "before"})
        detail = await recv_until(nurse_two, "escalation_detail")
        assert "pills" in (detail["excerpt"] or "")

        # The member signs out on process one.
        started = time.monotonic()
        await asyncio.to_thread(member.request, "DELETE", "/api/session")
        send = {"type": "send", "client_id": "after-sign-out", "body": "are you still there?"}
        (sent, sent_code, _), (_, idle_code, idle_took) = await asyncio.gather(
            until_closed(member_one, started, send), until_closed(member_two, started)
        )
        assert sent_code == idle_code == 4011
        assert idle_took < CLOSE_WITHIN, idle_took
        assert not [f for f in sent if f["type"] in {"ack", "held"}], sent
        stored = "SELECT count(*) FROM rooms_message WHERE client_id = %s"
        assert query(database_url, stored, "after-sign-out") == 0

        # The nurse signs out on process one: both staff sockets close, nothing more is read.
        started = time.monotonic()
        await asyncio.to_thread(nurse.request, "POST", "/api/staff/logout")
        view = {"type": "esc_view", "id": escalation, "ref": "after-sign-out"}
        (viewed, viewed_code, _), (idle, idle_code, idle_took) = await asyncio.gather(
            until_closed(nurse_one, started, view), until_closed(nurse_two, started)
        )
        assert viewed_code == idle_code == 4011
        assert idle_took < CLOSE_WITHIN, idle_took
        assert not [f for f in viewed + idle if f["type"] == "escalation_detail"], viewed

        # The medic's session expires (as SESSION_COOKIE_AGE makes it): both sockets close
        # with 4001 and nothing more is read.
        started = time.monotonic()
        query(
            database_url,
            "UPDATE chatserver_session SET expire_date = now() - interval '1 second' "
            "WHERE key_digest = %s RETURNING 1",
            session_digest(session_key(medic), server_secret=SECRET_KEY),
        )
        view = {"type": "esc_view", "id": escalation, "ref": "after-expiry"}
        (viewed, viewed_code, _), (idle, idle_code, idle_took) = await asyncio.gather(
            until_closed(medic_two, started, view), until_closed(medic_one, started)
        )
        assert viewed_code == idle_code == 4001
        assert idle_took < CLOSE_WITHIN, idle_took
        assert not [f for f in viewed + idle if f["type"] == "escalation_detail"], viewed

    views = "SELECT count(*) FROM moderation_auditentry WHERE action = 'escalation.view_content'"
    assert query(database_url, views) == 1  # the one read while signed in
