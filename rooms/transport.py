"""What the project's websocket consumers share."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, TypeVar

from channels.db import database_sync_to_async

_T = TypeVar("_T")

logger = logging.getLogger(__name__)


class DirectDispatchMixin:
    """Dispatch without Channels 4.3's thread hop before every frame and delivery.

    Channels closes stale database connections in a thread before each handler. All our
    database work already runs through ``database_sync_to_async``, which does that itself, so
    the hop is pure overhead on the hot path (about a quarter of the CPU in a profile). An
    event type with no handler is logged, not raised: events are built by the server only.
    """

    async def dispatch(self, message: dict[str, Any]) -> None:
        handler = getattr(self, message["type"].replace(".", "_"), None)
        if handler is None:
            logger.error("no handler for event type %s", message["type"])
            return
        await handler(message)


def db(fn: Callable[..., _T]) -> Callable[..., Awaitable[_T]]:
    """Run database work in the process's database thread (Channels' thread-sensitive
    executor), which closes stale connections around each call. One thread keeps SQLite's
    single writer simple; a pool for PostgreSQL is a measured next step (docs/performance.md)."""
    return database_sync_to_async(fn)  # type: ignore[no-any-return]


async def leave_groups(layer: Any, groups: Iterable[str], channel_name: str) -> None:
    """Leave every group on disconnect, whatever happens to each. With Redis down a discard
    fails; the rest of the socket's clean-up (its presence row) must still run, and a group
    membership left behind expires with the channel."""
    for group in groups:
        try:
            await layer.group_discard(group, channel_name)
        except Exception as exc:
            logger.debug("could not leave group on disconnect: %s", type(exc).__name__)
