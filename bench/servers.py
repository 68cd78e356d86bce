"""Start and stop real server processes (``chatserver serve``) for end-to-end tests and
benchmarks, each with its own port, data directory and environment."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import IO, Self

ROOT = Path(__file__).resolve().parent.parent


# A server gets its database, channel layer and keys from its caller, never from the
# environment of the test run (where DATABASE_URL may point at the test runner's database).
SERVER_OWN_SETTINGS = {
    "DATABASE_URL",
    "REDIS_URL",
    "SECRET_KEY",
    "CHATSERVER_KEYS",
    "CHATSERVER_KEY_FILE",
    "CHANNEL_ENCRYPTION_KEY",
    "DEBUG",
}


# Load generators and tests make every member and sign-in from one address, so the
# per-address throttles (rooms/throttles.py) are lifted out of their way unless the caller (or
# its environment) sets them.
LOAD_GENERATOR_LIMITS = {
    "THROTTLE_SESSION_CREATES": "1000000",
    "THROTTLE_RECOVERIES": "1000000",
    "THROTTLE_STAFF_SIGNINS": "1000000",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(
    port: int, *, timeout: float = 30.0, process: subprocess.Popen[bytes] | None = None
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode} before listening")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"nothing listening on port {port} after {timeout}s")


class ServerProcess:
    """One ``chatserver serve`` process. Its output goes to ``log_path`` so tests can read
    what a real run logged."""

    def __init__(
        self,
        *,
        data_dir: Path,
        env: dict[str, str] | None = None,
        port: int | None = None,
        migrate: bool = True,
        extra_args: list[str] | None = None,
        name: str = "server",
    ) -> None:
        self.port = port or free_port()
        self.data_dir = data_dir
        self.log_path = data_dir / f"{name}-{self.port}.log"
        inherited = {k: v for k, v in os.environ.items() if k not in SERVER_OWN_SETTINGS}
        self.env = {
            **LOAD_GENERATOR_LIMITS,
            **inherited,
            "DEBUG": "true",
            "CHATSERVER_DATA_DIR": str(data_dir),
            "PYTHONUNBUFFERED": "1",
            **(env or {}),
        }
        self.migrate = migrate
        self.extra_args = extra_args or []
        self.process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def base_url(self) -> str:
        scheme = "https" if "--ssl-cert" in self.extra_args else "http"
        return f"{scheme}://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        args = [sys.executable, "-m", "chatserver.cli", "serve", "--port", str(self.port)]
        if not self.migrate:
            args.append("--no-migrate")
        return args + self.extra_args

    def start(self, timeout: float = 60.0) -> Self:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            self.command(),
            cwd=ROOT,
            env=self.env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        wait_for_port(self.port, timeout=timeout, process=self.process)
        return self

    def stop(self, *, kill: bool = False) -> None:
        if self.process is not None and self.process.poll() is None:
            if kill:
                self.process.kill()
            else:
                self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        if self._log is not None:
            self._log.close()
            self._log = None

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
