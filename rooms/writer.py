"""Group commit for the message path.

Every socket of the process hands its sends to one writer. While a batch is being stored
(in the database thread), new sends queue; the next batch takes all of them in one
transaction. After it commits, the writer publishes the batch's messages in sequence order.
At low load a batch is one message and nothing waits; under load the disk flush per commit
is shared by many messages instead of paid by each. Each message is acknowledged only after
the transaction holding it has committed.

Before a batch is stored, the grants of the sockets that sent it are held against the
database in one go (rooms/grants.py): a send on a session that has signed out, expired, been
erased or lost its role is refused, never stored or acknowledged, even if the socket's close
event was lost and the session watch has not come round yet. That is one indexed query per
batch, not per message.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from typing import Any

from django.db import InterfaceError, OperationalError

from rooms import services
from rooms.errors import Overloaded, StoreUnavailable
from rooms.grants import Grant, SessionRevoked, grants_check
from rooms.hub import hub
from rooms.transport import db, scan

logger = logging.getLogger(__name__)

MAX_BATCH = 200
# Sends waiting for their batch beyond which new ones are refused with ``rate_limited``: at
# overload the server slows senders down (each is told when to resend) instead of letting
# every ack fall seconds behind. Two full batches: a burst is absorbed, a flood is not.
MAX_PENDING = 2 * MAX_BATCH
# And beyond which expected wait for an ack (seconds). A socket handles its frames one at a
# time, so letting acks fall further behind would only queue its later frames unseen.
MAX_WAIT_SECONDS = 0.75


def store_batch(
    prepared: list[services.Prepared], grants: list[Grant | None]
) -> list[services.Sent | Exception]:
    """Refuse the sends whose grant no longer holds (their result is ``SessionRevoked``) and
    store the rest in one transaction. Runs in the database thread, as one call."""
    revoked = grants_check(g for g in grants if g is not None)
    results: list[services.Sent | Exception | None] = [
        SessionRevoked(revoked[g]) if g is not None and g in revoked else None for g in grants
    ]
    keep = [i for i, result in enumerate(results) if result is None]
    if keep:
        stored = services.message_store([prepared[i] for i in keep])
        for i, result in zip(keep, stored, strict=True):
            results[i] = result
    return [r if r is not None else RuntimeError("not processed") for r in results]


# How long a sender is asked to wait before resending while the database is unreachable.
RETRY_AFTER_UNAVAILABLE = 2.0


def _unavailable() -> StoreUnavailable:
    return StoreUnavailable(
        "messages cannot be saved just now; yours was not sent, please resend in a moment",
        retry_after=RETRY_AFTER_UNAVAILABLE,
    )


class MessageWriter:
    def __init__(self) -> None:
        self.pending: list[
            tuple[services.SendRequest, Grant | None, asyncio.Future[services.Sent]]
        ] = []
        self.task: asyncio.Task[None] | None = None
        self.outgoing: dict[str, deque[dict[str, Any]]] = {}
        self.publishers: dict[str, asyncio.Task[None]] = {}
        self.last_batch_seconds = 0.0

    async def send(
        self, request: services.SendRequest, *, grant: Grant | None = None
    ) -> services.Sent:
        """Store one message with the next batch; ``grant`` is the sending socket's, held
        against the database first (None for callers that checked already)."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[services.Sent] = loop.create_future()
        if self.task is not None and self.task.get_loop() is not loop:
            # A new event loop (tests run one per test): the old queue belongs to the old one.
            self.task, self.pending = None, []
            self.publishers, self.outgoing = {}, {}
        if len(self.pending) >= MAX_PENDING or self._expected_wait() > MAX_WAIT_SECONDS:
            raise Overloaded(
                "the server is busy; please resend in a moment",
                retry_after=self._drain_estimate(),
            )
        self.pending.append((request, grant, future))
        if self.task is None or self.task.done():
            self.task = loop.create_task(self._drain())
        return await future

    def _expected_wait(self) -> float:
        """How long a send queued now would wait for its ack: the batch being stored, then
        the ones queued before it, at the pace of the last batch."""
        if self.task is None or self.task.done():
            return 0.0
        return (1 + len(self.pending) / MAX_BATCH) * self.last_batch_seconds

    def _drain_estimate(self) -> float:
        """Seconds until the queue has room, from how long the last batch took."""
        batches = len(self.pending) / MAX_BATCH
        return round(min(5.0, max(0.5, batches * self.last_batch_seconds)), 3)

    async def _drain(self) -> None:
        while self.pending:
            batch, self.pending = self.pending[:MAX_BATCH], self.pending[MAX_BATCH:]
            started = time.monotonic()
            try:
                # The detector reads the batch in its own thread, so the database thread is
                # free meanwhile for everything else the sockets ask of it.
                prepared = await scan(services.message_prepare)([r for r, _, _ in batch])
                results = await db(store_batch)(prepared, [g for _, g, _ in batch])
            except (OperationalError, InterfaceError) as exc:  # the database is unreachable
                # Expected during an outage: no traceback, and not the driver's text (it
                # names the database's address).
                logger.warning("%s messages not stored: %s", len(batch), type(exc).__name__)
                results = [_unavailable()] * len(batch)
            except Exception as exc:  # the whole transaction failed: nothing was stored
                logger.exception("a batch of %s messages failed to store", len(batch))
                results = [exc] * len(batch)
            self.last_batch_seconds = time.monotonic() - started
            # Acknowledge before fanning out: each sender's socket is woken first, so its
            # ``ack`` goes out before the hub hands the same message to this process's sockets.
            for (_, _, future), result in zip(batch, results, strict=True):
                if future.done():
                    continue
                if isinstance(result, Exception):
                    future.set_exception(result)
                else:
                    future.set_result(result)
            self._queue_fan_out(results)

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
        """Committed by now: a failed publish is recovered by the receivers' resume. The
        process's own sockets get each frame straight from the hub."""
        queue = self.outgoing[group]
        while queue:
            await hub.publish(group, queue[0])  # still counted as unpublished meanwhile
            queue.popleft()
        self.outgoing.pop(group, None)

    def unpublished_from(self, group: str) -> int | None:
        """The first sequence number this process has stored in the group's room but not yet
        handed out, if any: the heartbeat must not announce it (rooms/heartbeat.py)."""
        for event in self.outgoing.get(group, ()):
            if event.get("seq"):
                return int(event["seq"])
        return None


writer = MessageWriter()
