"""Real services for end-to-end tests: a fresh PostgreSQL database and a Redis namespace per
test session, and real ``chatserver serve`` processes. Absent services fail in CI."""

from __future__ import annotations

import secrets
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.client import ApiError, ChatClient
from bench.servers import ServerProcess
from tests.conftest import require_service

PG_ADMIN = "postgres://postgres@127.0.0.1:5432/test"
REDIS_URL = "redis://127.0.0.1:6379/3"


def _reachable(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def _fresh_database() -> Iterator[str]:
    require_service("PostgreSQL on 127.0.0.1:5432", _reachable(5432))
    import psycopg

    name = f"chat_e2e_{secrets.token_hex(4)}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield f"postgres://postgres@127.0.0.1:5432/{name}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """One database for the session's tests that do not care what else is in it."""
    yield from _fresh_database()


@pytest.fixture
def fresh_postgres_url() -> Iterator[str]:
    """An empty database of the test's own, for tests that assert on everything in it."""
    yield from _fresh_database()


@pytest.fixture(scope="session")
def redis_env() -> dict[str, str]:
    require_service("Redis on 127.0.0.1:6379", _reachable(6379))
    return {"REDIS_URL": REDIS_URL, "CHANNEL_PREFIX": f"e2e{secrets.token_hex(3)}"}


@pytest.fixture(params=["pubsub", "core"])
def cluster(
    request: pytest.FixtureRequest, tmp_path: Path, postgres_url: str, redis_env: dict[str, str]
) -> Iterator[list[ServerProcess]]:
    """Two server processes sharing PostgreSQL and Redis, like the compose deployment; run
    once with each Redis channel layer (pub/sub, the default, and the core layer)."""
    env = {
        "DATABASE_URL": postgres_url,
        **redis_env,
        "CHANNEL_LAYER_KIND": request.param,
        "CHATSERVER_KEYS": "e2e1:" + "A" * 43 + "=",
        # Every replica must share the secret, or sessions signed by one are empty on another.
        "SECRET_KEY": "e2e-shared-secret-" + "k" * 40,
        "CHAT_HEARTBEAT_SECONDS": "1",
        "CHAT_RATE_PER_SECOND": "50",
        "CHAT_RATE_BURST": "100",
    }
    first = ServerProcess(data_dir=tmp_path / "one", env=env, extra_args=["--demo"], name="one")
    second = ServerProcess(data_dir=tmp_path / "two", env=env, migrate=False, name="two")
    first.start()
    second.start()
    try:
        yield [first, second]
    finally:
        first.stop()
        second.stop()


def enrol_code(server: ServerProcess, username: str) -> str:
    """The one-time set-up code an admin issues for ``username`` (``chatserver
    staff-enrol-code``), run against the server's own database."""
    import re
    import subprocess
    import sys

    from bench.servers import ROOT

    done = subprocess.run(
        [sys.executable, "-m", "chatserver.cli", "staff-enrol-code", username],
        cwd=ROOT,
        env=server.env,
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    )
    found = re.search(r"Set-up code for \S+: (\S+)", done.stdout)
    assert found is not None, done.stdout
    return found.group(1)


def staff_sign_in(
    client: ChatClient, username: str, password: str, server: ServerProcess | None = None
) -> bytes | None:
    """Sign a staff account in as a person would the first time: password and the set-up
    code an admin issued (through ``server``), enrol the authenticator from the provisioning
    URI, confirm with its first code. A role without a second factor needs neither. Returns
    the authenticator's key, if one was set up."""
    import base64
    from urllib.parse import parse_qs, urlparse

    from django_otp.oath import totp

    client.request("GET", "/api/session")
    body = {"username": username, "password": password}
    try:
        client.request("POST", "/api/staff/login", body)
        return None  # a role without a second factor
    except ApiError as exc:
        if exc.body.get("error", {}).get("code") != "enrol_code_required" or server is None:
            raise
    try:
        client.request(
            "POST", "/api/staff/login", {**body, "enrol_code": enrol_code(server, username)}
        )
        raise AssertionError("a new authenticator must be confirmed first")
    except ApiError as exc:
        if exc.body.get("error", {}).get("code") != "otp_setup_required":
            raise
        uri = exc.body["otp_setup"]["provisioning_uri"]
    secret = parse_qs(urlparse(uri).query)["secret"][0]
    key = base64.b32decode(secret + "=" * (-len(secret) % 8))
    client.request("POST", "/api/staff/otp/confirm", {"code": f"{totp(key):06d}"})
    return key
