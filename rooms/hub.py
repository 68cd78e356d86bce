"""The process's room hub: one channel-layer subscription per room that has sockets here.

With one group membership per socket, the channel layer carries every room frame once per
reader: N deliveries through Redis, N deserialisations, N consumer wake-ups. The hub instead
subscribes once per room per process, receives each frame once (already encoded, once, by the
fan-out in ``rooms.events``) and hands it straight to each local socket's handler. What differs
per reader (a placeholder for an author the reader ignores) is decided in that handler, without
re-encoding the frame for anyone else.

Delivery stays at-most-once, as before: the database is the record, and a client that misses
a frame (a hub subscribing just after a message, a Redis restart) notices the gap from the
next sequence number or the heartbeat and resumes. Each room's frames are delivered in the
order the layer hands them over, one room's loop at a time, so sequence order is kept.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from channels.layers import get_channel_layer

from rooms import events

logger = logging.getLogger(__name__)

# How long a room's loop waits before listening again after the layer failed (Redis down):
# doubled up to the maximum, reset by the next frame.
RETRY_FIRST = 0.2
RETRY_MAX = 5.0

Handler = Callable[[dict[str, Any]], Awaitable[None]]


@dataclass
class _Room:
    room_id: int
    readers: dict[str, Handler] = field(default_factory=dict)
    channel: str = ""
    task: asyncio.Task[None] | None = None
    ready: asyncio.Event = field(default_factory=asyncio.Event)


class RoomHub:
    def __init__(self) -> None:
        self.rooms: dict[int, _Room] = {}
        self.loop: asyncio.AbstractEventLoop | None = None
        # Marks the frames this process published, so it does not deliver them twice.
        self.origin = secrets.token_hex(8)

    def _same_loop(self) -> None:
        loop = asyncio.get_running_loop()
        if self.loop is not loop:
            # A new event loop (tests run one per test): the old loop's rooms are gone.
            self.loop, self.rooms = loop, {}

    async def join(self, room_id: int, reader: str, handler: Handler) -> None:
        """Deliver the room's frames to ``handler`` (a socket's dispatch) from now on."""
        self._same_loop()
        room = self.rooms.get(room_id)
        if room is None:
            room = self.rooms[room_id] = _Room(room_id)
            room.readers[reader] = handler
            await self._subscribe(room)
        else:
            room.readers[reader] = handler
            await room.ready.wait()

    async def leave(self, room_id: int, reader: str) -> None:
        """Stop delivering to ``reader``; the last reader of a room unsubscribes it."""
        room = self.rooms.get(room_id)
        if room is None:
            return
        room.readers.pop(reader, None)
        if room.readers or not room.ready.is_set():
            return
        del self.rooms[room_id]
        if room.task is not None:
            room.task.cancel()
        layer = get_channel_layer()
        try:
            await layer.group_discard(events.room_group(room_id), room.channel)
        except Exception as exc:  # Redis down: the membership expires with the channel
            logger.debug("hub could not leave a room group: %s", type(exc).__name__)

    def readers(self, room_id: int) -> int:
        room = self.rooms.get(room_id)
        return len(room.readers) if room else 0

    async def publish(self, group: str, event: dict[str, Any]) -> None:
        """Publish a room frame from this process's event loop: its sockets here get it at
        once (even with Redis down), the other processes through the layer; the copy that
        comes back through the layer is skipped."""
        room_id = events.room_of(group)
        room = self.rooms.get(room_id) if room_id is not None else None
        if room is not None and room.readers:
            event = {**event, "origin": self.origin}
            await self._deliver(room, event)
        try:
            await get_channel_layer().group_send(group, event)
        except Exception:
            logger.warning("fan-out through the layer failed; other processes' clients resume")

    async def _subscribe(self, room: _Room) -> None:
        try:
            await self._listen(room)
        except Exception:
            # Without the layer the room still works from the record: the loop below keeps
            # trying, and clients resume from the heartbeat's latest sequence number.
            logger.warning("hub could not subscribe to a room; retrying")
        finally:
            room.ready.set()
        room.task = asyncio.get_running_loop().create_task(self._run(room))

    @staticmethod
    async def _listen(room: _Room) -> None:
        layer = get_channel_layer()
        # The layer's default prefix: channels-redis reads every process-local channel from one
        # list per process, named after that prefix (another would never be read).
        channel = await layer.new_channel()
        await layer.group_add(events.room_group(room.room_id), channel)
        room.channel = channel

    async def _run(self, room: _Room) -> None:
        layer = get_channel_layer()
        retry = RETRY_FIRST
        while True:
            try:
                if not room.channel:
                    await self._listen(room)
                event = await layer.receive(room.channel)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                logger.debug("hub receive failed (%s); retrying", type(exc).__name__)
                await asyncio.sleep(retry)
                retry = min(retry * 2, RETRY_MAX)
                continue
            retry = RETRY_FIRST
            if event.get("origin") != self.origin:  # this process's own were delivered already
                await self._deliver(room, event)

    @staticmethod
    async def _deliver(room: _Room, event: dict[str, Any]) -> None:
        for handler in list(room.readers.values()):
            try:
                await handler(event)
            except Exception as exc:  # a socket closing meanwhile; it resumes if it returns
                logger.debug("delivery to a socket failed: %s", type(exc).__name__)


hub = RoomHub()
