"""The bare baseline under daphne, started and stopped like the chat server (its own port,
environment and log file): a ``ServerProcess`` with another command."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from bench.servers import ROOT, ServerProcess


class BareServer(ServerProcess):
    """``python -m daphne bench.bare.asgi:application`` on a free port."""

    def __init__(self, *, log_dir: Path, env: dict[str, str] | None = None) -> None:
        super().__init__(data_dir=log_dir, name="bare")
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "bench.bare.settings",
            "PYTHONPATH": str(ROOT),
            "PYTHONUNBUFFERED": "1",
            **(env or {}),
        }

    def command(self) -> list[str]:
        return [
            sys.executable,
            "-m",
            "daphne",
            "-b",
            "127.0.0.1",
            "-p",
            str(self.port),
            "-v",
            "0",
            "bench.bare.asgi:application",
        ]
