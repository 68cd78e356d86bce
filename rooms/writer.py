"""Group commit for the message path.

Every socket of the process hands its sends to one writer. While a batch is being stored
(in the database thread), new sends queue; the next batch takes all of them in one
transaction. After it commits, the writer publishes the batch's messages in sequence order.
At low load a batch is one message and nothing waits; under load the disk flush per commit
is shared by many messages instead of paid by each. Each message is acknowledged only after
the transaction holding it has committed.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from typing import Any

from channels.layers import get_channel_layer

from rooms import services
from rooms.transport import db

logger = logging.getLogger(__name__)

MAX_BATCH = 200


class MessageWriter:
    def __init__(self) -> None:
        self.pending: list[tuple[services.SendRequest, asyncio.Future[services.Sent]]] = []
        self.task: asyncio.Task[None] | None = None
        self.outgoing: dict[str, deque[dict[str, Any]]] = {}
        self.publishers: dict[str, asyncio.Task[None]] = {}

    async def send(self, request: services.SendRequest) -> services.Sent:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[services.Sent] = loop.create_future()
        if self.task is not None and self.task.get_loop() is not loop:
            # A new event loop (tests run one per test): the old queue belongs to the old one.
            self.task, self.pending = None, []
            self.publishers, self.outgoing = {}, {}
        self.pending.append((request, future))
        if self.task is None or self.task.done():
            self.task = loop.create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        while self.pending:
            batch, self.pending = self.pending[:MAX_BATCH], self.pending[MAX_BATCH:]
            try:
                results = await db(services.message_send_batch)([r for r, _ in batch])
            except Exception as exc:  # the whole transaction failed: nothing was stored
                logger.exception("a batch of %s messages failed to store", len(batch))
                results = [exc] * len(batch)
            self._queue_fan_out(results)
            for (_, future), result in zip(batch, results, strict=True):
                if future.done():
                    continue
                if isinstance(result, Exception):
                    future.set_exception(result)
                else:
                    future.set_result(result)

    def _queue_fan_out(self, results: list[services.Sent | Exception]) -> None:
        """Hand the batch's broadcasts to one publisher task per room: the next batch is
        written while this one is published, rooms publish concurrently, and each room's
        messages go out one at a time in sequence order."""
        sent = [r for r in results if isinstance(r, services.Sent) and r.fanout is not None]
        loop = asyncio.get_running_loop()
        for result in sorted(sent, key=lambda r: (r.fanout[0], r.seq)):  # type: ignore[index]
            group, event = result.fanout  # type: ignore[misc]
            self.outgoing.setdefault(group, deque()).append(event)
            publisher = self.publishers.get(group)
            if publisher is None or publisher.done():
                self.publishers[group] = loop.create_task(self._publish(group))

    async def _publish(self, group: str) -> None:
        """Committed by now: a failed publish is recovered by the receivers' resume."""
        layer = get_channel_layer()
        queue = self.outgoing[group]
        while queue:
            event = queue.popleft()
            try:
                await layer.group_send(group, event)
            except Exception:
                logger.exception("fan-out failed; clients will resume from the record")
        self.outgoing.pop(group, None)


writer = MessageWriter()
