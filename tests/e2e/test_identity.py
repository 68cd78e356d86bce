"""Who someone is, through a real daphne process on PostgreSQL (issue rows 5, 10, 11, 13).

* A staff sign-in in a browser that holds a member session ends that member session first:
  its socket closes, and no session row ever holds both the member and the account.
* The password alone enrols no authenticator (an admin's set-up code is needed), and a right
  password without its code costs a try.
* A dump of the database holds no live session key, no staff outcome, none of the words the
  detector matched and none of a recovery phrase's words; each search is shown able to find
  what it looks for where it does exist (the digests of the keys, the message's words sent).
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from django.core import signing
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from bench.client import ApiError, ChatClient, recv_until, send_json
from bench.servers import ROOT, ServerProcess
from chatserver.sessions import session_digest
from tests.e2e.conftest import staff_sign_in

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]

SECRET_KEY = "identity-e2e-" + "i" * 50
PASSWORD = "a long staff password 42"
FACILITATOR_PASSWORD = "a facilitator's password 7"
RISKY = "I'm going to kill myself tonight. I've saved up the pills and I'm ready."
OUTCOME = "Rang her back: she is at her sister's tonight, GP in the morning"
FACILITATOR = """
from django.contrib.auth.models import Group, User
user = User.objects.create_user(username="fran", password={password!r})
user.groups.add(Group.objects.get_or_create(name="facilitator")[0])
"""


def chatserver(server: ServerProcess, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "chatserver.cli", *args],
        cwd=ROOT,
        env=server.env,
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    )
    return done.stdout


@pytest.fixture
def server(tmp_path: Path, fresh_postgres_url: str) -> Iterator[tuple[ServerProcess, str]]:
    env = {
        "DATABASE_URL": fresh_postgres_url,
        "SECRET_KEY": SECRET_KEY,
        "CHATSERVER_KEYS": "e2e1:" + "D" * 43 + "=",
        "DJANGO_SUPERUSER_PASSWORD": PASSWORD,
    }
    process = ServerProcess(data_dir=tmp_path, env=env, extra_args=["--demo"]).start()
    try:
        chatserver(
            process, "createsuperuser", "--noinput", "--username", "nurse", "--email", "n@x.org"
        )
        chatserver(process, "shell", "-c", FACILITATOR.format(password=FACILITATOR_PASSWORD))
        yield process, fresh_postgres_url
    finally:
        process.stop()


def rows(database_url: str, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    with psycopg.connect(database_url) as conn:
        return list(conn.execute(sql, args).fetchall())


def cookie(client: ChatClient, name: str = "sessionid") -> str:
    return next(c.value for c in client.jar if c.name == name)


def session_data(database_url: str) -> list[dict[str, Any]]:
    """Every session row's data, opened as the server opens it (with its secret)."""
    return [
        signing.loads(
            data,
            key=SECRET_KEY,
            salt="django.contrib.sessions.SessionStore",
            serializer=signing.JSONSerializer,
        )
        for (data,) in rows(database_url, "SELECT session_data FROM chatserver_session")
    ]


async def closed_within(ws: ClientConnection, seconds: float) -> int:
    started = time.monotonic()
    try:
        while time.monotonic() - started < seconds:
            await asyncio.wait_for(ws.recv(), seconds)
    except (ConnectionClosed, TimeoutError):
        pass
    assert ws.close_code is not None, f"still open {seconds} s later"
    return ws.close_code


async def test_a_staff_sign_in_ends_the_member_session_of_the_same_browser(
    server: tuple[ServerProcess, str],
) -> None:
    process, database_url = server
    browser = ChatClient(process.base_url)
    await browser.astart_and_join("welcome")
    member_key = cookie(browser)
    async with await browser.connect("welcome") as ws:
        await recv_until(ws, "welcome")
        signed_in = await asyncio.to_thread(
            browser.request,
            "POST",
            "/api/staff/login",
            {"username": "fran", "password": FACILITATOR_PASSWORD},
        )
        assert signed_in["member_session_ended"] is True
        assert await closed_within(ws, 8.0) == 4011  # the member's socket: session ended
    assert cookie(browser) != member_key
    now = await asyncio.to_thread(browser.request, "GET", "/api/session")
    assert now["member"] is False and now["staff"]["username"] == "fran"
    digests = {d for (d,) in rows(database_url, "SELECT key_digest FROM chatserver_session")}
    assert session_digest(member_key, server_secret=SECRET_KEY) not in digests
    sessions = session_data(database_url)
    assert any("_auth_user_id" in s for s in sessions)
    assert not [s for s in sessions if "member_id" in s and "_auth_user_id" in s]
    # And the other way round: no member session is added to the staff session.
    with pytest.raises(ApiError) as refused:
        await asyncio.to_thread(browser.request, "POST", "/api/session", {})
    assert refused.value.status == 409
    assert not [s for s in session_data(database_url) if "member_id" in s and "_auth_user_id" in s]


async def test_the_password_alone_enrols_nothing_and_a_right_one_costs_a_try(
    server: tuple[ServerProcess, str],
) -> None:
    process, database_url = server
    thief = ChatClient(process.base_url)
    await asyncio.to_thread(thief.request, "GET", "/api/session")
    for extra in ({}, {"enrol_code": "aaaa-bbbb-cccc-dddd"}):
        with pytest.raises(ApiError) as refused:
            await asyncio.to_thread(
                thief.request,
                "POST",
                "/api/staff/login",
                {"username": "nurse", "password": PASSWORD, **extra},
            )
        assert refused.value.body["error"]["code"] == "enrol_code_required"
        assert "otp_setup" not in refused.value.body
    assert rows(database_url, "SELECT count(*) FROM otp_totp_totpdevice") == [(0,)]

    # The nurse, with the code an admin issued, enrols and signs in.
    nurse = ChatClient(process.base_url)
    assert await asyncio.to_thread(staff_sign_in, nurse, "nurse", PASSWORD, process)
    # A right password without the code is counted like a wrong one.
    with pytest.raises(ApiError) as missing:
        await asyncio.to_thread(
            thief.request, "POST", "/api/staff/login", {"username": "nurse", "password": PASSWORD}
        )
    assert missing.value.body["error"]["code"] == "otp_required"
    factors = [
        json.loads(detail)["factor"] if isinstance(detail, str) else detail["factor"]
        for (detail,) in rows(
            database_url,
            "SELECT detail FROM moderation_auditentry WHERE action = 'staff.login_failed' "
            "ORDER BY seq",
        )
    ]
    # The thief's two, the nurse's own first step (she then gave the code), the thief's last.
    assert factors == ["enrol_code", "enrol_code", "enrol_code", "otp_missing"]


async def test_the_database_holds_no_session_key_outcome_matched_word_or_phrase_word(
    server: tuple[ServerProcess, str],
) -> None:
    process, database_url = server
    member = ChatClient(process.base_url)
    await member.astart_and_join("welcome")
    assert member.recovery_phrase is not None
    lookup = " ".join(member.recovery_phrase.split()[:3])
    nurse = ChatClient(process.base_url)
    await asyncio.to_thread(staff_sign_in, nurse, "nurse", PASSWORD, process)
    async with (
        await nurse.connect_path("/ws/staff/") as queue,
        await member.connect("welcome") as ws,
    ):
        await recv_until(queue, "escalations")
        await recv_until(ws, "welcome")
        await send_json(ws, {"type": "send", "client_id": "r1", "body": RISKY})
        await recv_until(ws, "ack")
        item = (await recv_until(queue, "escalation"))["item"]
        resolve = {"type": "esc_resolve", "id": item["id"], "ref": "r", "outcome": OUTCOME}
        await send_json(queue, resolve)
        while item["status"] != "resolved":
            item = (await recv_until(queue, "escalation"))["item"]
        assert item["outcome"] == OUTCOME  # the dashboard still shows what it was told

    dump = subprocess.run(
        ["pg_dump", "--no-owner", database_url], capture_output=True, timeout=60, check=True
    ).stdout
    for key in (cookie(member), cookie(nurse)):
        assert session_digest(key, server_secret=SECRET_KEY).encode() in dump  # control
        assert key.encode() not in dump
    assert b"Welcome room" in dump  # control: the dump reads real rows
    assert "myself" in RISKY  # what the detector matched ("kil myself")
    for clear in (OUTCOME, "myself", lookup):
        assert clear.encode() not in dump, clear
