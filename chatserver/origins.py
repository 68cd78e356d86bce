"""Which pages may open the websockets: the site's own origins, by scheme, host and port.

For an anonymous service the session cookie is the identity, so a page on another origin must
not open a socket with it (cross-site websocket hijacking). Channels'
``AllowedHostsOriginValidator`` compared the Origin's host with ``ALLOWED_HOSTS`` and nothing
else, so ``https://127.0.0.1:9999`` or ``http://`` on another port (another site, to a
browser) could open both sockets with a member's or a staff member's cookie.

The allowed origins are ``CSRF_TRUSTED_ORIGINS``, the list Django already holds every POST
to, so an operator names the site's origin once (``https://chat.example.org``; a
``https://*.example.org`` entry allows the subdomains, as it does for CSRF). Without it, the
laptop start, where one server serves the page and its sockets, allows one origin: the
socket's own, the scheme it was opened with (``https`` for ``wss``, or what a trusted proxy
says in ``SECURE_PROXY_SSL_HEADER``) with its ``Host``. Either way the ``Host`` must be one
the server answers to (``ALLOWED_HOSTS``), as for HTTP.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from channels.security.websocket import WebsocketDenier
from django.conf import settings
from django.http.request import split_domain_port, validate_host

logger = logging.getLogger(__name__)

DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True)
class Origin:
    scheme: str
    host: str  # lower case; an IPv6 address without its brackets
    port: int


@dataclass(frozen=True)
class OriginPattern:
    """One entry of ``CSRF_TRUSTED_ORIGINS``: an origin, or with ``*.`` its subdomains too."""

    origin: Origin
    subdomains: bool

    def matches(self, origin: Origin) -> bool:
        mine = self.origin
        if (origin.scheme, origin.port) != (mine.scheme, mine.port):
            return False
        if origin.host == mine.host:
            return True
        return self.subdomains and origin.host.endswith("." + mine.host)


def parse_origin(text: str) -> Origin | None:
    """An origin as a browser serialises it (``scheme://host[:port]``), else None: ``null``,
    another scheme, a path, credentials or a malformed port are nobody's origin."""
    try:
        parts = urlsplit(text.strip())
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS or not parts.hostname or "@" in parts.netloc:
        return None
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        return None
    return Origin(scheme, parts.hostname.lower(), port or DEFAULT_PORTS[scheme])


def trusted_patterns(entries: Iterable[str]) -> list[OriginPattern]:
    patterns = []
    for entry in entries:
        subdomains = "://*." in entry
        origin = parse_origin(entry.replace("://*.", "://", 1))
        if origin is not None:
            patterns.append(OriginPattern(origin, subdomains))
    return patterns


def _header(scope: dict[str, Any], name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return bytes(value).decode("latin-1")
    return None


def _secure(scope: dict[str, Any]) -> bool:
    """As Django's ``request.is_secure()``: a trusted proxy's header, else the connection."""
    proxy = getattr(settings, "SECURE_PROXY_SSL_HEADER", None)
    if proxy:
        name, secure_value = proxy
        header = name.removeprefix("HTTP_").lower().replace("_", "-").encode()
        value = _header(scope, header)
        if value is not None:
            return value.split(",", 1)[0].strip() == secure_value
    return scope.get("scheme") in ("wss", "https")


def _allowed_host(host: str) -> bool:
    allowed = settings.ALLOWED_HOSTS
    if settings.DEBUG and not allowed:
        allowed = [".localhost", "127.0.0.1", "[::1]"]  # as Django's HTTP side allows
    domain, _port = split_domain_port(host)
    return bool(domain) and validate_host(domain, allowed)


def origin_allowed(scope: dict[str, Any]) -> bool:
    host = _header(scope, b"host")
    if host is None or not _allowed_host(host):
        return False
    raw = _header(scope, b"origin")
    origin = parse_origin(raw) if raw is not None else None
    if origin is None:
        return False
    configured = trusted_patterns(settings.CSRF_TRUSTED_ORIGINS)
    if configured:
        return any(pattern.matches(origin) for pattern in configured)
    own = parse_origin(("https://" if _secure(scope) else "http://") + host)
    return origin == own


class SiteOriginValidator:
    """ASGI middleware for the websocket stack: a socket from any other origin is refused at
    the handshake (HTTP 403), before a session is looked up."""

    def __init__(self, application: Any) -> None:
        self.application = application

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        if origin_allowed(scope):
            return await self.application(scope, receive, send)
        logger.info(
            "refused a websocket from an origin that is not the site's "
            "(CSRF_TRUSTED_ORIGINS names the site's origins)"
        )
        return await WebsocketDenier()(scope, receive, send)
