"""The room socket's action frames: each frame type and the one service call it stands for.

The chat core's own actions are the table below. The apps built on it (moderation: flags,
mutes, hides, pins, reports, held messages) add theirs when they start, through ``register``,
so the socket dispatches them without importing them. Each handler runs in the database
thread with the acting membership and the parsed frame, and returns what to send back to the
acting socket after ``done`` as a list (most return no list: their effect reaches every
client through the fan-out). ``entry_values`` is what the apps add to the welcome of a
(re)connecting socket.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import msgspec

from rooms import preferences as prefs
from rooms import protocol, sittings

# A handler returns a list of values to send back, or anything else (ignored).
Handler = Callable[[Any, Any], object]
EntryProvider = Callable[[Any, Any], Iterable[msgspec.Struct]]


def _session_control(m: Any, f: protocol.SessionControl) -> None:
    sittings.session_control(actor=m, action=f.action)  # its effect is fanned out


def _set_blur(m: Any, f: protocol.Preferences) -> None:
    prefs.set_blur(membership=m, themes=list(f.blur))  # every device gets ``you`` again


_CORE: dict[type, Handler] = {
    protocol.Admit: lambda m, f: sittings.admit(actor=m, pseudonym=f.pseudonym),
    protocol.SessionControl: _session_control,
    protocol.Ignore: lambda m, f: prefs.ignore(membership=m, pseudonym=f.pseudonym),
    protocol.Unignore: lambda m, f: prefs.unignore(membership=m, pseudonym=f.pseudonym),
    protocol.Preferences: _set_blur,
    protocol.Leave: lambda m, f: prefs.leave(membership=m),
}
_REGISTERED: dict[type, Handler] = {}
_ENTRY: list[EntryProvider] = []


def register(table: dict[type, Handler]) -> None:
    """Add an app's action frames. A frame type has one handler: the core's are not replaced."""
    clash = set(table) & (set(_CORE) | set(_REGISTERED))
    if clash - {t for t in clash if _REGISTERED.get(t) is table.get(t)}:
        raise ValueError(f"frames already handled: {sorted(t.__name__ for t in clash)}")
    _REGISTERED.update(table)


def register_entry(provider: EntryProvider) -> None:
    if provider not in _ENTRY:
        _ENTRY.append(provider)


def handler_for(frame_type: type) -> Handler | None:
    return _CORE.get(frame_type) or _REGISTERED.get(frame_type)


def replies(result: object) -> list[msgspec.Struct]:
    """What a handler's result asks to send back to the acting socket."""
    return list(result) if isinstance(result, list) else []


def entry_values(membership: Any, room: Any) -> list[msgspec.Struct]:
    """What the installed apps add to a socket's welcome (their queues, the member's own
    reports), in the order they registered."""
    return [value for provider in _ENTRY for value in provider(membership, room)]
