"""Abuse limits at the doors that cost the server work or guard an account: creating an
anonymous session, recovering one, and staff sign-in; and the cap on concurrent slow
password hashes.

Why it looks like this:

* **No address is kept.** A counter is a cache entry (Redis when ``REDIS_URL`` is set) whose
  key is an HMAC, under a key derived from the server secret, of the scope, the window's
  number and the client's address; it expires when its window ends. Neither the address nor a
  plain hash of it (which anyone could recompute for every IPv4 address in minutes) is
  written anywhere, and a key is not linkable to the same address's key in the next window
  without the server secret. Nothing here logs an address or a key.
* **An IPv6 client is counted by its /64**, since one host is usually given a whole /64.
* **Fixed windows**: simple and atomic (Redis ``INCR``), at the price of letting up to twice
  the limit through around a window's edge. That is acceptable for limits meant to stop
  floods, not to meter.
* **A cache that cannot be reached lets requests through.** Refusing every survivor while
  Redis is down would be worse than an unthrottled door that no longer runs argon2; staff
  sign-in is still bounded by the lockouts in the database.
* **Without ``REDIS_URL``** the cache is per process (the laptop set-up, one process).
"""

from __future__ import annotations

import ipaddress
import logging
import math
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest

from chatserver.crypto import SLOW_HASH_GATE, SlowHashBusy, keyed_digest
from rooms.errors import Busy, RateLimited

logger = logging.getLogger(__name__)

SESSION_CREATE = "session_create"
RECOVERY = "recovery"
STAFF_SIGNIN = "staff_signin"
_SETTING_FOR_SCOPE = {
    SESSION_CREATE: "THROTTLE_SESSION_CREATES",
    RECOVERY: "THROTTLE_RECOVERIES",
    STAFF_SIGNIN: "THROTTLE_STAFF_SIGNINS",
}
_MESSAGES = {
    SESSION_CREATE: "too many new sessions from your network just now",
    RECOVERY: "too many recovery attempts from your network just now",
    STAFF_SIGNIN: "too many sign-in attempts from your network just now",
}


def client_address(request: HttpRequest) -> str:
    """The address to count, normalised: the proxy's header when one is configured, else the
    connection's address; an IPv6 address as its /64. Used only as a keyed-hash input."""
    header = settings.THROTTLE_CLIENT_ADDRESS_HEADER
    if header:
        raw = request.META.get("HTTP_" + header.upper().replace("-", "_"), "")
    else:
        raw = request.META.get("REMOTE_ADDR", "")
    try:
        address = ipaddress.ip_address(str(raw).split(",")[0].strip())
    except ValueError:
        return "unknown"
    if address.version == 6:
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


@dataclass(frozen=True)
class Window:
    """One fixed window: its number since the epoch and the seconds until it ends."""

    number: int
    remaining: float

    @classmethod
    def at(cls, now: float, length: int) -> Window:
        number = int(now // length)
        return cls(number=number, remaining=(number + 1) * length - now)


def window_count(*, scope: str, identity: str, length: int, peek: bool = False) -> int:
    """Count one event for ``identity`` in ``scope``'s current window and return the count so
    far (with ``peek``, return it without counting). 0 when the cache is unreachable."""
    window = Window.at(time.time(), length)
    digest = keyed_digest(
        "throttle", f"{scope}|{window.number}|{identity}", server_secret=settings.SECRET_KEY
    )
    key = f"throttle:{scope}:{digest[:40]}"
    try:
        if peek:
            return int(cache.get(key, 0))
        cache.add(key, 0, timeout=math.ceil(window.remaining) + 1)
        try:
            return int(cache.incr(key))
        except ValueError:  # expired between add and incr: a new window began
            cache.add(key, 1, timeout=length + 1)
            return 1
    except Exception:  # the cache is down: let the request through (module docstring)
        logger.warning("throttle: the cache is unreachable; %s is not limited", scope)
        return 0


def throttle_hit(*, scope: str, client: str) -> None:
    """Count one request from ``client`` in ``scope``; RateLimited past the scope's limit,
    with ``retry_after`` set to the end of the window."""
    length = settings.THROTTLE_WINDOW_SECONDS
    limit = int(getattr(settings, _SETTING_FOR_SCOPE[scope]))
    if window_count(scope=scope, identity=client, length=length) > limit:
        remaining = Window.at(time.time(), length).remaining
        raise RateLimited(
            f"{_MESSAGES[scope]}: please try again in {math.ceil(remaining / 60)} minutes",
            retry_after=math.ceil(remaining),
        )


@contextmanager
def slow_hash_slot() -> Iterator[None]:
    """Run a slow password hash within the process's cap; Busy (503) when every slot stays
    taken for ``SLOW_HASH_WAIT_SECONDS``."""
    try:
        with SLOW_HASH_GATE.slot(
            capacity=settings.SLOW_HASH_CONCURRENCY, wait=settings.SLOW_HASH_WAIT_SECONDS
        ):
            yield
    except SlowHashBusy:
        raise Busy(
            "the server is busy checking other sign-ins: please try again in a few seconds",
            retry_after=5,
        ) from None
