"""A token bucket: the flood-control decision, pure and clock-injected so it is easy to test.

A participant's sends are counted in one bucket per process, shared by all their sockets in
that room on the process (``SharedBuckets``): opening more sockets does not buy more sends.
Sockets per session are capped at connect (``CHAT_MAX_SOCKETS_PER_SESSION``), so across
processes a participant gets at most that many buckets; a shared Redis counter would put a
network round trip on every message for little gain.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field


@dataclass
class TokenBucket:
    rate: float  # tokens added per second
    burst: int  # bucket size
    strikes_allowed: int  # refusals in a row before the caller should disconnect
    tokens: float = field(init=False)
    updated: float | None = field(default=None, init=False)
    strikes: int = field(default=0, init=False)

    def __post_init__(self) -> None:
        self.tokens = float(self.burst)

    def take(self, now: float) -> float:
        """Take one token. Returns 0.0 when allowed, else the seconds until a token is
        available (the ``retry_after`` to tell the client)."""
        if self.updated is not None:
            elapsed = max(0.0, now - self.updated)  # stamps from several sockets interleave
            self.tokens = min(float(self.burst), self.tokens + elapsed * self.rate)
        self.updated = now if self.updated is None else max(self.updated, now)
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            self.strikes = 0
            return 0.0
        self.strikes += 1
        return (1.0 - self.tokens) / self.rate

    @property
    def abusive(self) -> bool:
        return self.strikes >= self.strikes_allowed


class SharedBuckets:
    """One bucket per key (a participant) for every socket of theirs on this process; the
    bucket goes when their last socket here does."""

    def __init__(self, factory: Callable[[], TokenBucket]) -> None:
        self.factory = factory
        self.buckets: dict[Hashable, TokenBucket] = {}
        self.users: Counter[Hashable] = Counter()

    def acquire(self, key: Hashable) -> TokenBucket:
        if key not in self.buckets:
            self.buckets[key] = self.factory()
        self.users[key] += 1
        return self.buckets[key]

    def release(self, key: Hashable) -> None:
        self.users[key] -= 1
        if self.users[key] <= 0:
            del self.users[key]
            self.buckets.pop(key, None)
