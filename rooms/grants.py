"""What an open socket was let in as, held against the database while it stays open.

A socket is let in once (``rooms.access.socket_identify`` for a room,
``moderation.accounts.staff_socket_grant`` for the staff queue) and keeps a ``Grant``: its
session, its staff role, its place in the room. ``grants_check`` holds grants against the
database: for all of a process's sockets at once every ``CHAT_SESSION_CHECK_SECONDS``
(rooms/watch.py), before every write or privileged frame (the consumers), and before every
batch of sends (rooms/writer.py).

Why the database and not only the channel layer: signing out, session expiry, erasure, bans,
removal, role changes and deactivation are all rows (the session row deleted or past its
``expire_date``; ``Member.erased_at`` and ``banned_at``; the membership's ``banned_at`` and
``agreement_version``; the user's ``is_active``, ``is_superuser`` and groups). The close event
sent through the channel layer is a fast path that is lost when Redis is down: a staff member
who had signed out kept reading decrypted escalations for over a minute, and a signed-out
member's send was stored (issue 13, row 2). Holding grants against these rows closes that
whatever happens to Redis, for one indexed query per process per check.

Not held here: a staff session's second factor is checked when the socket opens, not again;
removing an account's authenticator does not end its open sessions (sign it out everywhere,
or take its role away, which does).
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, NamedTuple

from django.contrib.auth.models import Group, User
from django.db import connection
from django.utils import timezone

from chatserver.codes import Close, ErrorCode
from chatserver.models import StoredSession
from chatserver.sessions import session_digest
from rooms.errors import RoomError
from rooms.models import Member, Membership
from rooms.roles import role_from

# Grants per query: three parameters each, well under every database's limit.
CHUNK = 500


@dataclass(frozen=True)
class Grant:
    """What a socket was let in as. ``user_id`` and ``role`` are set for a staff account (the
    role it held when the socket opened: any change closes the socket, so it reconnects with
    the new one or is refused); ``membership_id`` for a room socket, and ``agreed`` when that
    participant had accepted an agreement (removal and leaving reset it to 0)."""

    session_key: str
    user_id: int | None = None
    role: str | None = None
    membership_id: int | None = None
    agreed: bool = False

    @functools.cached_property
    def session_digest(self) -> str:
        """What the session's row is keyed by (chatserver/sessions.py), worked out once."""
        return session_digest(self.session_key)


@dataclass(frozen=True)
class Revoked:
    """Why a grant no longer holds: the close code its sockets get (docs/protocol.md) and
    words for the person."""

    code: int
    reason: str


class SessionRevoked(RoomError):
    """A frame arrived on a socket whose grant no longer holds. The frame is not acted on;
    the client is answered with ``session_ended`` and the socket closed with ``close_code``."""

    code = ErrorCode.SESSION_ENDED
    http_status = 401

    def __init__(self, revoked: Revoked) -> None:
        super().__init__(revoked.reason)
        self.close_code = revoked.code


class _Row(NamedTuple):
    """What the database says about one grant (see ``_check_sql``)."""

    session: int  # _LIVE, _EXPIRED or _GONE
    participant: bool  # the membership row exists
    banned: bool
    agreement_version: int | None
    erased: bool
    member_banned: bool


_LIVE, _EXPIRED, _GONE = 1, 2, 0


def _column(model: Any, name: str) -> str:
    return str(connection.ops.quote_name(model._meta.get_field(name).column))


def _table(model: Any) -> str:
    return str(connection.ops.quote_name(model._meta.db_table))


@functools.cache
def _check_sql(vendor: str, rows: int, staff: bool) -> str:
    """One statement for a whole batch of grants, portable between PostgreSQL and SQLite:
    the grants as a VALUES list, joined to their session, room participant (with its
    member) and, when ``staff``, staff account (with its groups: one row per group).

    Why plain SQL: the ORM needs a query per table, and its per-query cost was most of the
    check's; and why two shapes: the account joins double the planning time of a statement
    that is otherwise a few index lookups (measured on PostgreSQL: about 0.2 ms for members
    alone, 0.5 ms with the account joins, 1 ms for the same reads through the ORM), and
    most batches of sends are members' only."""
    c, t = _column, _table
    membership, member, session, through = Membership, Member, StoredSession, User.groups.through
    values = ", ".join(["(CAST(%s AS BIGINT), CAST(%s AS BIGINT), %s)"] * rows)
    account = "NULL, NULL, NULL, NULL"
    account_joins = ""
    if staff:
        account = (
            f"u.{c(User, 'id')}, u.{c(User, 'is_active')}, u.{c(User, 'is_superuser')}, "
            f"gr.{c(Group, 'name')}"
        )
        account_joins = (
            f"LEFT JOIN {t(User)} u ON u.{c(User, 'id')} = g.user_id "
            f"LEFT JOIN {t(through)} ug ON ug.{c(through, 'user')} = u.{c(User, 'id')} "
            f"LEFT JOIN {t(Group)} gr ON gr.{c(Group, 'id')} = ug.{c(through, 'group')}"
        )
    # Names come from the models' metadata; every value is a bound parameter.
    return (
        f"WITH g (membership_id, user_id, session_digest) AS (VALUES {values}) "  # noqa: S608
        "SELECT g.membership_id, g.user_id, g.session_digest, "
        f"CASE WHEN s.{c(session, 'key_digest')} IS NULL THEN {_GONE} "
        f"WHEN s.{c(session, 'expire_date')} > %s THEN {_LIVE} ELSE {_EXPIRED} END, "
        f"CASE WHEN m.{c(membership, 'id')} IS NULL THEN 0 ELSE 1 END, "
        f"CASE WHEN m.{c(membership, 'banned_at')} IS NULL THEN 0 ELSE 1 END, "
        f"m.{c(membership, 'agreement_version')}, "
        f"CASE WHEN mb.{c(member, 'erased_at')} IS NULL THEN 0 ELSE 1 END, "
        f"CASE WHEN mb.{c(member, 'banned_at')} IS NULL THEN 0 ELSE 1 END, "
        f"{account} FROM g "
        f"LEFT JOIN {t(session)} s ON s.{c(session, 'key_digest')} = g.session_digest "
        f"LEFT JOIN {t(membership)} m ON m.{c(membership, 'id')} = g.membership_id "
        f"LEFT JOIN {t(member)} mb ON mb.{c(member, 'id')} = m.{c(membership, 'member')} "
        f"{account_joins}"
    )


_Key = tuple[int | None, int | None, str]


def _key(grant: Grant) -> _Key:
    return (grant.membership_id, grant.user_id, grant.session_digest)


def _read(grants: list[Grant], now: dt.datetime) -> tuple[dict[_Key, _Row], dict[int, str | None]]:
    """The database's answer for each of ``grants`` (one statement), and each staff
    account's role now (a deleted account is absent: it has no role)."""
    keys = sorted({_key(g) for g in grants}, key=str)
    params: list[Any] = [value for key in keys for value in key]
    params.append(connection.ops.adapt_datetimefield_value(now))
    with connection.cursor() as cursor:
        staff = any(user_id is not None for _, user_id, _ in keys)
        cursor.execute(_check_sql(connection.vendor, len(keys), staff), params)
        rows = cursor.fetchall()
    found: dict[_Key, _Row] = {}
    flags: dict[int, tuple[bool, bool]] = {}
    groups: dict[int, list[str | None]] = {}
    for mid, uid, key, session, part, banned, version, erased, member_banned, *user in rows:
        found[(mid, uid, key)] = _Row(
            int(session), bool(part), bool(banned), version, bool(erased), bool(member_banned)
        )
        user_id, is_active, is_superuser, group = user
        if user_id is not None:
            flags[user_id] = (bool(is_active), bool(is_superuser))
            groups.setdefault(user_id, []).append(group)
    roles = {
        pk: role_from(is_active=active, is_superuser=superuser, groups=groups[pk])
        for pk, (active, superuser) in flags.items()
    }
    return found, roles


def _verdict(grant: Grant, row: _Row, roles: dict[int, str | None]) -> Revoked | None:
    if row.session == _GONE:
        return Revoked(Close.SESSION_ENDED, "you signed out, or your session was ended")
    if row.session == _EXPIRED:
        return Revoked(Close.UNAUTHENTICATED, "your session has expired")
    if grant.user_id is not None and roles.get(grant.user_id) != grant.role:
        return Revoked(Close.SESSION_ENDED, "your account's role has changed: sign in again")
    if grant.membership_id is None:
        return None
    if not row.participant:
        return Revoked(Close.FORBIDDEN, "you are no longer in this room")
    if row.erased:
        return Revoked(Close.SESSION_ENDED, "your data has been deleted")
    if row.member_banned:
        return Revoked(Close.FORBIDDEN, "you can no longer use this service")
    if row.banned:
        return Revoked(Close.FORBIDDEN, "you can no longer take part in this room")
    if grant.agreed and row.agreement_version == 0:
        return Revoked(Close.REMOVED, "you are no longer in this room")
    return None


def grants_check(
    grants: Iterable[Grant], *, now: dt.datetime | None = None
) -> dict[Grant, Revoked]:
    """The grants among ``grants`` that no longer hold, each with the close its sockets get.
    One indexed query per 500 grants, whatever their kind."""
    pending = list(set(grants))
    if not pending:
        return {}
    now = now or timezone.now()
    revoked: dict[Grant, Revoked] = {}
    for i in range(0, len(pending), CHUNK):
        chunk = pending[i : i + CHUNK]
        rows, roles = _read(chunk, now)
        for grant in chunk:
            verdict = _verdict(grant, rows[_key(grant)], roles)
            if verdict is not None:
                revoked[grant] = verdict
    return revoked


def grant_require(grant: Grant) -> None:
    """Raise ``SessionRevoked`` unless ``grant`` still holds: called before a write or a
    privileged frame, so nothing is done for a session that ended since the last check."""
    verdict = grants_check([grant]).get(grant)
    if verdict is not None:
        raise SessionRevoked(verdict)
