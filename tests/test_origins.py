"""Both websockets accept only the site's origins, by scheme, host and port (hardening issue,
row 9): ``CSRF_TRUSTED_ORIGINS`` when it is set, else the socket's own origin. Through real
daphne processes in ``tests/e2e/test_origins.py`` and ``tests/e2e/test_tls.py``."""

from __future__ import annotations

from typing import Any

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator

from chatserver.origins import Origin, origin_allowed, parse_origin, trusted_patterns
from tests.conftest import session_for


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("http://localhost", Origin("http", "localhost", 80)),
        ("https://Chat.Example.org", Origin("https", "chat.example.org", 443)),
        ("https://chat.example.org:443", Origin("https", "chat.example.org", 443)),
        ("http://127.0.0.1:8000", Origin("http", "127.0.0.1", 8000)),
        ("http://[::1]:8000", Origin("http", "::1", 8000)),
        ("null", None),
        ("", None),
        ("file://", None),
        ("chrome-extension://abcdef", None),
        ("ws://localhost", None),
        ("http://localhost:99999", None),
        ("http://localhost:port", None),
        ("http://user@localhost", None),
        ("http://localhost/path", None),
        ("http://localhost?x=1", None),
    ],
)
def test_origins_are_read_as_a_browser_writes_them(text: str, expected: Origin | None) -> None:
    assert parse_origin(text) == expected


def scope(origin: str | None, host: str = "localhost", scheme: str | None = None) -> dict[str, Any]:
    headers = [(b"host", host.encode())]
    if origin is not None:
        headers.append((b"origin", origin.encode()))
    result: dict[str, Any] = {"type": "websocket", "headers": headers}
    if scheme:
        result["scheme"] = scheme
    return result


@pytest.mark.parametrize(
    ("origin", "host", "scheme", "allowed"),
    [
        # The laptop start: the page and its sockets come from one server.
        ("http://localhost", "localhost", None, True),
        ("http://127.0.0.1:8000", "127.0.0.1:8000", "ws", True),
        ("http://[::1]:8000", "[::1]:8000", "ws", True),
        ("https://127.0.0.1:8443", "127.0.0.1:8443", "wss", True),
        # The finding: another scheme or port is another site.
        ("https://127.0.0.1:9999", "127.0.0.1:8000", "ws", False),
        ("http://127.0.0.1:9999", "127.0.0.1:8000", "ws", False),
        ("https://127.0.0.1:8000", "127.0.0.1:8000", "ws", False),
        ("http://127.0.0.1:8443", "127.0.0.1:8443", "wss", False),
        ("http://localhost:8000", "127.0.0.1:8000", "ws", False),
        ("https://evil.example", "localhost", None, False),
        ("null", "localhost", None, False),
        (None, "localhost", None, False),
        # A Host the server does not answer to opens no socket (DNS rebinding).
        ("http://rebound.example:8000", "rebound.example:8000", "ws", False),
    ],
)
def test_without_trusted_origins_only_the_sockets_own_origin(
    settings: Any, origin: str | None, host: str, scheme: str | None, allowed: bool
) -> None:
    settings.CSRF_TRUSTED_ORIGINS = []
    settings.ALLOWED_HOSTS = ["localhost", "127.0.0.1", "[::1]"]
    assert origin_allowed(scope(origin, host, scheme)) is allowed


@pytest.mark.parametrize(
    ("origin", "allowed"),
    [
        ("https://chat.example.org", True),
        ("https://chat.example.org:443", True),
        ("http://chat.example.org", False),
        ("https://chat.example.org:8443", False),
        ("https://evil.chat.example.org", False),
        ("https://chat.example.org.evil.example", False),
        # Configured origins replace the default: the socket's own origin is not enough.
        ("http://chat.example.org:8000", False),
    ],
)
def test_trusted_origins_are_the_only_origins(settings: Any, origin: str, allowed: bool) -> None:
    settings.CSRF_TRUSTED_ORIGINS = ["https://chat.example.org"]
    settings.ALLOWED_HOSTS = ["chat.example.org"]
    assert origin_allowed(scope(origin, "chat.example.org:8000")) is allowed


def test_a_wildcard_trusts_subdomains_as_it_does_for_csrf(settings: Any) -> None:
    settings.CSRF_TRUSTED_ORIGINS = ["https://*.example.org"]
    settings.ALLOWED_HOSTS = [".example.org"]
    assert origin_allowed(scope("https://chat.example.org", "chat.example.org"))
    assert origin_allowed(scope("https://example.org", "chat.example.org"))
    assert not origin_allowed(scope("http://chat.example.org", "chat.example.org"))
    assert not origin_allowed(scope("https://example.org.evil.example", "chat.example.org"))
    [pattern] = trusted_patterns(settings.CSRF_TRUSTED_ORIGINS)
    assert pattern.subdomains and pattern.origin == Origin("https", "example.org", 443)


def test_a_trusted_proxy_header_gives_the_scheme(settings: Any) -> None:
    settings.CSRF_TRUSTED_ORIGINS = []
    settings.ALLOWED_HOSTS = ["chat.example.org"]
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    behind = scope("https://chat.example.org", "chat.example.org", "ws")
    behind["headers"].append((b"x-forwarded-proto", b"https"))
    assert origin_allowed(behind)
    plain = scope("http://chat.example.org", "chat.example.org", "ws")
    plain["headers"].append((b"x-forwarded-proto", b"https"))
    assert not origin_allowed(plain)


# --- both sockets, through the ASGI application ------------------------------------------------


async def _handshake(application: Any, path: str, origin: bytes, cookie: str | None) -> bool:
    headers = [(b"origin", origin), (b"host", b"localhost")]
    if cookie:
        headers.append((b"cookie", f"sessionid={cookie}".encode()))
    communicator = WebsocketCommunicator(application, path, headers=headers)
    try:
        connected, _ = await communicator.connect()
        return bool(connected)
    finally:
        await communicator.disconnect()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "origin", [b"https://localhost", b"http://localhost:9999", b"https://localhost:9999"]
)
async def test_both_sockets_refuse_another_scheme_or_port(
    application: Any, make_membership: Any, staff_user: Any, origin: bytes
) -> None:
    from tests.conftest import login_session

    member = await database_sync_to_async(make_membership)()
    member_key = await database_sync_to_async(session_for)(member.member)
    staff_key = await database_sync_to_async(login_session)(staff_user)
    room = f"/ws/rooms/{member.room.slug}/"
    assert await _handshake(application, room, b"http://localhost", member_key)
    assert not await _handshake(application, room, origin, member_key)
    assert await _handshake(application, "/ws/staff/", b"http://localhost", staff_key)
    assert not await _handshake(application, "/ws/staff/", origin, staff_key)
