"""Real services for end-to-end tests: a fresh PostgreSQL database and a Redis namespace per
test session, and real ``chatserver serve`` processes. Absent services fail in CI."""

from __future__ import annotations

import secrets
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

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


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    require_service("PostgreSQL on 127.0.0.1:5432", _reachable(5432))
    import psycopg

    name = f"chat_e2e_{secrets.token_hex(4)}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield f"postgres://postgres@127.0.0.1:5432/{name}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def redis_env() -> dict[str, str]:
    require_service("Redis on 127.0.0.1:6379", _reachable(6379))
    return {"REDIS_URL": REDIS_URL, "CHANNEL_PREFIX": f"e2e{secrets.token_hex(3)}"}


@pytest.fixture
def cluster(
    tmp_path: Path, postgres_url: str, redis_env: dict[str, str]
) -> Iterator[list[ServerProcess]]:
    """Two server processes sharing PostgreSQL and Redis, like the compose deployment."""
    env = {
        "DATABASE_URL": postgres_url,
        **redis_env,
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
