"""A token bucket: the flood-control decision, pure and clock-injected so it is easy to test.

One bucket per connection, kept in the consumer. Limits are per connection rather than per
member across processes: a member who opens many sockets to get around it is caught by the
connection-count cap at join and by moderators; a shared Redis counter would put a network
round trip on every message for little gain.
"""

from __future__ import annotations

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
            self.tokens = min(float(self.burst), self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            self.strikes = 0
            return 0.0
        self.strikes += 1
        return (1.0 - self.tokens) / self.rate

    @property
    def abusive(self) -> bool:
        return self.strikes >= self.strikes_allowed
