"""Crypto-shredding against a real server on PostgreSQL: after ``chatserver erase-member`` the
member's key rows hold NULL at the database level, the running server (which had their key
cached) shows their messages as deleted and still shows everyone else's."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from bench.client import ChatClient, recv_until, send_json
from bench.servers import ROOT, ServerProcess

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]


async def say(client: ChatClient, client_id: str, body: str) -> None:
    async with await client.connect("welcome") as ws:
        await recv_until(ws, "welcome")
        await send_json(ws, {"type": "send", "client_id": client_id, "body": body})
        await recv_until(ws, "ack")


async def history(client: ChatClient) -> list[dict[str, object]]:
    async with await client.connect("welcome") as ws:
        await recv_until(ws, "welcome")
        await send_json(ws, {"type": "history"})
        return list((await recv_until(ws, "history"))["messages"])


def key_rows(url: str, pseudonym: str) -> list[tuple[object, object]]:
    with psycopg.connect(url) as conn:
        return conn.execute(
            "SELECT k.wrapped, k.destroyed_at FROM rooms_datakey k"
            " JOIN rooms_membership m ON m.id = k.membership_id WHERE m.pseudonym = %s",
            [pseudonym],
        ).fetchall()


async def test_erased_members_keys_are_null_in_postgres(
    tmp_path: Path, fresh_postgres_url: str
) -> None:
    env = {
        "DATABASE_URL": fresh_postgres_url,
        "SECRET_KEY": "s" * 60,
        "CHATSERVER_KEYS": "shred1:" + "B" * 43 + "=",
    }
    with ServerProcess(data_dir=tmp_path, env=env, extra_args=["--demo"]) as server:
        alice, bob = ChatClient(server.base_url), ChatClient(server.base_url)
        alice_name = str((await alice.astart_and_join("welcome"))["pseudonym"])
        bob_name = str((await bob.astart_and_join("welcome"))["pseudonym"])
        await say(alice, "a1", "alice's words")
        await say(bob, "b1", "bob's words")
        assert [m["body"] for m in await history(bob)] == ["alice's words", "bob's words"]
        assert all(wrapped is not None for wrapped, _ in key_rows(fresh_postgres_url, alice_name))

        command = ["erase-member", "--pseudonym", alice_name, "--room", "welcome", "--yes"]
        erase = subprocess.run(
            [sys.executable, "-m", "chatserver.cli", *command],
            cwd=ROOT,
            env=server.env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert erase.returncode == 0, erase.stderr
        assert "1 data keys destroyed" in erase.stdout

        rows = key_rows(fresh_postgres_url, alice_name)
        assert rows and all(wrapped is None and destroyed for wrapped, destroyed in rows)
        assert all(wrapped is not None for wrapped, _ in key_rows(fresh_postgres_url, bob_name))
        # The server had alice's key cached from the first history read.
        entries = await history(bob)
        assert [(m["author"], m["body"], m.get("deleted")) for m in entries] == [
            (alice_name, None, True),
            (bob_name, "bob's words", None),
        ]
