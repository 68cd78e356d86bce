"""A canary message written through a real server is nowhere in plaintext: not in the
SQLite file (nor its write-ahead log), not in a PostgreSQL dump, and not in the traffic
through Redis when the channel layer's encryption key is set. Each search is shown able to
find the canary where it does exist (the control), so a pass means something."""

from __future__ import annotations

import asyncio
import subprocess
import time
from pathlib import Path

import pytest

from bench.client import ChatClient, recv_until, send_json
from bench.servers import ServerProcess

pytestmark = pytest.mark.e2e


async def send_canary(server: ServerProcess, canary: str) -> None:
    client = ChatClient(server.base_url)
    await client.astart_and_join("welcome")
    async with await client.connect("welcome") as ws:
        await recv_until(ws, "welcome")
        await send_json(ws, {"type": "send", "client_id": "canary", "body": canary})
        await recv_until(ws, "ack")
        assert (await recv_until(ws, "message"))["body"] == canary  # it did go round


def raw_bytes(directory: Path) -> bytes:
    return b"".join(p.read_bytes() for p in directory.glob("chatserver.sqlite3*"))


async def test_sqlite_file_holds_no_plaintext(tmp_path: Path) -> None:
    canary = "canary-sqlite-5c1e"
    with ServerProcess(data_dir=tmp_path, extra_args=["--demo"]) as server:
        await send_canary(server, canary)
    data = raw_bytes(tmp_path)
    assert b"Welcome room" in data  # control: the search reads real rows
    assert canary.encode() not in data


@pytest.mark.postgres
async def test_postgres_dump_holds_no_plaintext(tmp_path: Path, postgres_url: str) -> None:
    canary = "canary-postgres-9d2b"
    env = {"DATABASE_URL": postgres_url, "SECRET_KEY": "p" * 60}
    with ServerProcess(data_dir=tmp_path, env=env, extra_args=["--demo"]) as server:
        await send_canary(server, canary)
    dump = subprocess.run(
        ["pg_dump", "--no-owner", postgres_url],
        capture_output=True,
        timeout=60,
        check=True,
    ).stdout
    assert b"Welcome room" in dump
    assert canary.encode() not in dump


async def redis_traffic(
    tmp_path: Path, redis_env: dict[str, str], canary: str, key: str | None
) -> bytes:
    monitor_log = tmp_path / f"monitor-{bool(key)}.log"
    with open(monitor_log, "wb") as out:
        monitor = subprocess.Popen(
            ["redis-cli", "-h", "127.0.0.1", "-p", "6379", "MONITOR"],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            time.sleep(0.3)
            env = {**redis_env, "SECRET_KEY": "r" * 60}
            if key:
                env["CHANNEL_ENCRYPTION_KEY"] = key
            data_dir = tmp_path / ("with-key" if key else "without-key")
            with ServerProcess(data_dir=data_dir, env=env, extra_args=["--demo"]) as server:
                await send_canary(server, canary)
                await asyncio.sleep(0.3)
        finally:
            monitor.terminate()
            monitor.wait(timeout=10)
    return monitor_log.read_bytes()


@pytest.mark.redis
async def test_redis_never_sees_message_text_with_the_layer_key(
    tmp_path: Path, redis_env: dict[str, str]
) -> None:
    control = await redis_traffic(tmp_path, redis_env, "canary-redis-open-41a7", key=None)
    assert b"canary-redis-open-41a7" in control  # without the key, Redis carries the text
    traffic = await redis_traffic(tmp_path, redis_env, "canary-redis-sealed-41a7", key="k" * 43)
    lowered = traffic.lower()
    assert b"publish" in lowered or b"zadd" in lowered  # we saw the fan-out
    assert b"canary-redis-sealed-41a7" not in traffic
