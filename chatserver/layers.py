"""The in-memory channel layer, with its expiry sweep run at most once a second.

Channels' ``InMemoryChannelLayer`` walks every channel and every group membership of the
process on every ``receive`` and ``group_send`` to drop expired entries: O(sockets * groups)
per delivery, measured at 44% of the server's CPU under load (docs/performance.md). Expiry is
measured in minutes, so sweeping once a second loses nothing.
"""

from __future__ import annotations

import time

from channels.layers import InMemoryChannelLayer

SWEEP_INTERVAL = 1.0


class ThrottledInMemoryChannelLayer(InMemoryChannelLayer):  # type: ignore[misc]
    _last_sweep = 0.0

    def _clean_expired(self) -> None:
        now = time.monotonic()
        if now - self._last_sweep < SWEEP_INTERVAL:
            return
        self._last_sweep = now
        super()._clean_expired()
