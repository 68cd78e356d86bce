"""The send path's message policies and the entry checks: what the apps built on the chat core
add to it without the core importing them.

The chat core stores messages; what else must happen to a message as it is stored (themes to
blur by, a room's blocked terms holding it back, a risky message raising an escalation) belongs
to the features that want it. Each registers a ``MessagePolicy`` when its app starts
(``AppConfig.ready``), in one call that spells out the order, and ``rooms.services`` runs the
chain: ``themes`` before the transaction (pure work on the text), then, inside the send
transaction with the room row locked, ``hold`` until a policy keeps the message back, then
``stored`` on every policy after the insert (or the hold), so an escalation commits with its
message or not at all. docs/architecture.md lists the chain as installed.

Entry checks run when a staff user joins or a socket is let in (a facilitator must hold current
training); they raise a ``ServiceError`` to refuse.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from django.contrib.auth.models import User

    from rooms.models import Membership, Message, Room


@dataclass(frozen=True)
class Draft:
    """A message on its way in: who sends it, its text, and what the risk detector found
    (a ``moderation.risk.Assessment``: the pure detector both apps may use)."""

    membership: Membership
    client_id: str
    body: str
    cw: bool
    assessment: Any


@dataclass(frozen=True)
class HeldBack:
    """A policy kept the message back for review: why, and what its sender is told. A
    ``released_seq`` means a copy with this client id was released earlier (a duplicate)."""

    reason: str
    message: str
    created_at: dt.datetime
    duplicate: bool
    released_seq: int | None = None


class MessagePolicy:
    """One step of the send path. Override what applies; every step does nothing by default."""

    name = "policy"

    def themes(self, draft: Draft) -> Iterable[str]:
        """Themes to blur the message by (pure: no database, before the transaction)."""
        return ()

    def hold(self, room: Room, draft: Draft, *, themes: str, now: dt.datetime) -> HeldBack | None:
        """Keep the message back instead of publishing it (in the send transaction, the room
        row locked). The first policy that holds wins."""
        return None

    def stored(self, room: Room, draft: Draft, message: Message | None) -> None:
        """After the message is stored (``message``) or newly held (None), in the same
        transaction: anything here commits with the message or not at all."""


_CHAIN: list[MessagePolicy] = []
EntryCheck = Callable[["Membership", "User | None"], None]
_ENTRY_CHECKS: list[EntryCheck] = []


def install(*policies: MessagePolicy) -> None:
    """Append policies to the chain, in the order given (each app once, at start-up)."""
    names = {p.name for p in _CHAIN}
    _CHAIN.extend(p for p in policies if p.name not in names)


def chain() -> tuple[MessagePolicy, ...]:
    return tuple(_CHAIN)


def install_entry_check(check: EntryCheck) -> None:
    if check not in _ENTRY_CHECKS:
        _ENTRY_CHECKS.append(check)


def check_entry(membership: Membership, user: User | None) -> None:
    """Run every entry check; the first refusal raises."""
    for check in _ENTRY_CHECKS:
        check(membership, user)
