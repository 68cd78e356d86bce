"""Start and stop the bare baseline under daphne, the way ``bench.servers.ServerProcess``
starts the chat server: its own port, environment and log file."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import IO

from bench.servers import ROOT, free_port, wait_for_port


class BareServer:
    """``python -m daphne bench.bare.asgi:application`` on a free port."""

    def __init__(self, *, log_dir: Path, env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.log_path = log_dir / f"bare-{self.port}.log"
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "bench.bare.settings",
            "PYTHONPATH": str(ROOT),
            "PYTHONUNBUFFERED": "1",
            **(env or {}),
        }
        self.process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> BareServer:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        args = [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(self.port)]
        args += ["-v", "0", "bench.bare.asgi:application"]
        self.process = subprocess.Popen(
            args, cwd=ROOT, env=self.env, stdout=self._log, stderr=subprocess.STDOUT
        )
        wait_for_port(self.port, timeout=timeout, process=self.process)
        return self

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
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

    def __enter__(self) -> BareServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
