"""System checks that refuse dangerous combinations, like contrib/auth/checks.py does."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register

from chatserver.crypto import KeyConfigurationError


@register(Tags.security, deploy=True)
def check_channel_layer(app_configs: Any, **kwargs: Any) -> list[Warning | Error]:
    backend = str(settings.CHANNEL_LAYERS["default"]["BACKEND"])
    problems: list[Warning | Error] = []
    if backend.endswith("InMemoryChannelLayer"):
        problems.append(
            Warning(
                "The in-memory channel layer serves one process only.",
                hint="Set REDIS_URL to run several server processes.",
                id="chatserver.W001",
            )
        )
    elif not settings.CHANNEL_ENCRYPTION_KEY:
        problems.append(
            Warning(
                "Payloads through Redis are not encrypted.",
                hint="Set CHANNEL_ENCRYPTION_KEY so Redis never holds message text.",
                id="chatserver.W002",
            )
        )
    return problems


@register(Tags.security, deploy=True)
def check_keys(app_configs: Any, **kwargs: Any) -> list[Error]:
    from rooms.encryption import keyring

    try:
        ring = keyring()
    except KeyConfigurationError as exc:
        return [Error(str(exc), id="chatserver.E001")]
    if not settings.DEBUG and ring.active_id.startswith(("dev", "test")):
        return [
            Error(
                "A development key-encryption key is active with DEBUG off.",
                hint="Set CHATSERVER_KEY_FILE to a production key file.",
                id="chatserver.E002",
            )
        ]
    return []


@register()
def check_frame_limit(app_configs: Any, **kwargs: Any) -> list[Error]:
    """Every history or resume page holds at least one entry, so the frame limit must hold
    the largest message there can be; otherwise that page would be over the limit and the
    websocket layer would refuse it (issue 13, finding 16)."""
    from rooms.protocol import PAGE_ENVELOPE_BYTES, largest_entry_bytes

    needed = PAGE_ENVELOPE_BYTES + largest_entry_bytes(settings.CHAT_MAX_MESSAGE_CHARS)
    if needed <= settings.CHAT_MAX_FRAME_BYTES:
        return []
    return [
        Error(
            f"CHAT_MAX_FRAME_BYTES ({settings.CHAT_MAX_FRAME_BYTES}) cannot hold one message of "
            f"CHAT_MAX_MESSAGE_CHARS ({settings.CHAT_MAX_MESSAGE_CHARS}) characters.",
            hint=f"Set CHAT_MAX_FRAME_BYTES to at least {needed}, or allow fewer characters.",
            id="chatserver.E003",
        )
    ]


WEB_CLIENT_HINT = (
    "Install the package (the wheel ships the web client) or set CHATSERVER_STATIC_DIR to the "
    "folder that holds index.html."
)


@register()
def check_web_client(app_configs: Any, **kwargs: Any) -> list[Error]:
    """The page every member opens. An installation without it (``pip install .`` before the
    package shipped the client) answered every page with a 500."""
    if (settings.STATIC_DIR / "index.html").is_file():
        return []
    return [
        Error(
            f"The web client is not in {settings.STATIC_DIR}.",
            hint=WEB_CLIENT_HINT,
            id="chatserver.E004",
        )
    ]
