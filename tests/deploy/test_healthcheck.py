"""deploy/healthcheck.py, the replicas' health check, against a stand-in server.

The check runs as the container runs it (a separate Python process) and must pass only
on 200 from /healthz, asking with the Host and scheme that production settings accept.
"""

from __future__ import annotations

import importlib.util
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import ModuleType

import pytest

from tests.deploy.support import REPO

SCRIPT = REPO / "deploy" / "healthcheck.py"


@dataclass
class StandIn:
    """What the stand-in server answers, and what it was asked."""

    port: int
    status: int = 200
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)


@pytest.fixture
def server() -> Iterator[StandIn]:
    state = StandIn(port=0)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            state.requests.append((self.path, {k.lower(): v for k, v in self.headers.items()}))
            body = b'{"status": "ok"}' if state.status == 200 else b'{"status": "no"}'
            self.send_response(state.status)
            if state.status == 301:
                self.send_header("Location", "https://chat.example.org/healthz")
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass  # keep the test output clean

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.port = httpd.server_address[1]
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


def run_check(port: int, allowed_hosts: str | None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "ALLOWED_HOSTS"}
    env["HEALTHCHECK_PORT"] = str(port)
    if allowed_hosts is not None:
        env["ALLOWED_HOSTS"] = allowed_hosts
    return subprocess.run(
        [sys.executable, str(SCRIPT)], env=env, capture_output=True, text=True, timeout=30
    )


def load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("chatserver_healthcheck", SCRIPT)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_healthy_server_passes_and_is_asked_as_through_the_proxy(server: StandIn) -> None:
    result = run_check(server.port, "chat.example.org,www.example.org")
    assert result.returncode == 0, result.stdout + result.stderr
    [(path, headers)] = server.requests
    assert path == "/healthz"
    assert headers["host"] == "chat.example.org"
    assert headers["x-forwarded-proto"] == "https"


@pytest.mark.parametrize("status", [503, 500, 400, 301])
def test_anything_but_200_fails(server: StandIn, status: int) -> None:
    # 503: no database; 400: a Host the server refuses; 301: the HTTPS redirect, which a
    # check that followed redirects would wrongly count as health.
    server.status = status
    result = run_check(server.port, "chat.example.org")
    assert result.returncode == 1
    assert f"HTTP {status}" in result.stdout
    assert len(server.requests) == 1


def test_no_server_fails() -> None:
    # A port nothing listens on: bind one, note it, release it.
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result = run_check(port, "chat.example.org")
    assert result.returncode == 1
    assert "no answer" in result.stdout


@pytest.mark.parametrize(
    ("allowed_hosts", "expected"),
    [
        ("chat.example.org", "chat.example.org"),
        (" chat.example.org , other.example.org", "chat.example.org"),
        (".example.org", "example.org"),
        ("*,chat.example.org", "chat.example.org"),
        ("*", "localhost"),
        ("", "localhost"),
    ],
)
def test_host_header_comes_from_allowed_hosts(allowed_hosts: str, expected: str) -> None:
    assert load_script().health_host(allowed_hosts) == expected
