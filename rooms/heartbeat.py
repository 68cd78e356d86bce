"""One heartbeat per process, not one per socket.

Every ``CHAT_HEARTBEAT_SECONDS`` a single task makes one trip to the database for all of the
process's sockets: it refreshes their presence rows in one UPDATE and reads every room's
latest sequence number in one query. Then each socket is sent its room's ``latest_seq`` (so a
client that silently missed a fan-out notices and resumes). A per-socket heartbeat did the
same work as three queries and a write transaction per socket per beat (docs/performance.md).
Whether a socket's session still holds is checked more often, by rooms/watch.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from django.conf import settings
from django.utils import timezone

from rooms import events, protocol
from rooms.services import heartbeat_tick
from rooms.transport import db
from rooms.writer import writer

logger = logging.getLogger(__name__)
# The latest sequence numbers are read, then sent this much later: a message committed just
# before the read has had time to arrive by its fan-out, so a heartbeat does not make
# clients resume for messages that are merely in flight.
GRACE_SECONDS = 1.0


@dataclass
class Beat:
    room_id: int
    send: Callable[[str], Awaitable[None]]


def _announced(room_id: int, latest: int) -> int:
    """The latest sequence number to announce: not past a message this process stored but
    has not handed out yet. Under load the fan-out runs behind the commits; announcing those
    messages would send every client of the room to resume for what is already on its way,
    and the resumes' reads would slow the server further."""
    pending = writer.unpublished_from(events.room_group(room_id))
    return latest if pending is None else min(latest, pending - 1)


class HeartbeatHub:
    def __init__(self) -> None:
        self.beats: dict[str, Beat] = {}
        self.task: asyncio.Task[None] | None = None

    def register(self, channel_name: str, beat: Beat) -> None:
        loop = asyncio.get_running_loop()
        if self.task is not None and self.task.get_loop() is not loop:
            # A new event loop (tests run one per test): forget the old loop's sockets.
            self.task, self.beats = None, {}
        self.beats[channel_name] = beat
        if self.task is None or self.task.done():
            self.task = loop.create_task(self._run())

    def unregister(self, channel_name: str) -> None:
        self.beats.pop(channel_name, None)

    async def _run(self) -> None:
        while self.beats:
            await asyncio.sleep(settings.CHAT_HEARTBEAT_SECONDS)
            try:
                await self.beat_once()
            except Exception:
                logger.exception("heartbeat failed; will retry")

    async def beat_once(self) -> None:
        beats = dict(self.beats)
        if not beats:
            return
        tick = await db(heartbeat_tick)(
            channel_names=list(beats),
            room_ids={b.room_id for b in beats.values()},
        )
        await asyncio.sleep(min(GRACE_SECONDS, settings.CHAT_HEARTBEAT_SECONDS / 2))
        ts = timezone.now()
        frames = {
            room_id: protocol.encode(protocol.Heartbeat(latest_seq=_announced(room_id, seq), ts=ts))
            for room_id, seq in tick.latest.items()
        }
        for beat in beats.values():
            with contextlib.suppress(Exception):  # a socket closing meanwhile
                if beat.room_id in frames:
                    await beat.send(frames[beat.room_id])


hub = HeartbeatHub()
