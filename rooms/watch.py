"""One session watch per process: every open socket's grant is held against the database
every ``CHAT_SESSION_CHECK_SECONDS`` (2 by default), in one batch for the whole process.

Both consumers register here when they let a socket in. Each round reads the sessions, room
participants and staff accounts of all registered sockets in one query per 500 sockets
(rooms/grants.py) and closes every socket whose grant no longer holds, with the close code
that says why. This does not depend on the channel layer, so signing out, expiry, erasure,
bans and role changes end sockets on every process within the interval even with Redis down;
the channel-layer close event, when it arrives, is only faster.

If the database cannot be read, the round is skipped and sockets stay open: every write and
privileged frame checks its own grant first (and fails with the database), so an outage never
lets a revoked session act, it only delays closing one that merely reads.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from django.conf import settings

from rooms.grants import Grant, grants_check
from rooms.transport import db

logger = logging.getLogger(__name__)


@dataclass
class Watched:
    grant: Grant
    close: Callable[[int, str], Awaitable[None]]


class SessionWatch:
    def __init__(self) -> None:
        self.sockets: dict[str, Watched] = {}
        self.task: asyncio.Task[None] | None = None
        self.failing = False

    def register(
        self, channel_name: str, grant: Grant, close: Callable[[int, str], Awaitable[None]]
    ) -> None:
        loop = asyncio.get_running_loop()
        if self.task is not None and self.task.get_loop() is not loop:
            # A new event loop (tests run one per test): forget the old loop's sockets.
            self.task, self.sockets = None, {}
        self.sockets[channel_name] = Watched(grant=grant, close=close)
        if self.task is None or self.task.done():
            self.task = loop.create_task(self._run())

    def unregister(self, channel_name: str) -> None:
        self.sockets.pop(channel_name, None)

    async def _run(self) -> None:
        """Rounds start every interval (not an interval after the last one ended), so a slow
        database does not stretch the promise; a round that overruns is followed at once."""
        loop = asyncio.get_running_loop()
        next_round = loop.time() + settings.CHAT_SESSION_CHECK_SECONDS
        while self.sockets:
            await asyncio.sleep(max(0.0, next_round - loop.time()))
            next_round = loop.time() + settings.CHAT_SESSION_CHECK_SECONDS
            try:
                await self.check_once()
            except Exception:
                if not self.failing:  # once per outage, not every round
                    logger.exception("session check failed; open sockets stay open until it works")
                self.failing = True
            else:
                self.failing = False

    async def check_once(self) -> None:
        watched = dict(self.sockets)
        if not watched:
            return
        revoked = await db(grants_check)([w.grant for w in watched.values()])
        if not revoked:
            return
        for channel_name, socket in watched.items():
            verdict = revoked.get(socket.grant)
            if verdict is None or self.sockets.get(channel_name) is not socket:
                continue
            del self.sockets[channel_name]
            with contextlib.suppress(Exception):  # the socket closing meanwhile
                await socket.close(verdict.code, verdict.reason)


watch = SessionWatch()
