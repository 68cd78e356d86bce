"""The two writes of the message path in plain SQL, portable between PostgreSQL and SQLite
(3.35+: ``RETURNING`` and ``ON CONFLICT DO NOTHING``). Values are prepared by the model's own
fields, so types are converted exactly as the ORM would."""

from __future__ import annotations

import datetime as dt
import functools
from typing import Any

from django.db import connection
from django.db.models import Field

from rooms.models import Message, Room

# Model field names; foreign keys are given as ids.
_MESSAGE_FIELDS = (
    "room",
    "seq",
    "kind",
    "author_pseudonym",
    "author",
    "client_id",
    "created_at",
    "data_key",
    "ciphertext",
    "themes",
    "cw",
    "hidden_reason",
    "author_role",
    "care",
)
_FOREIGN_KEYS = {"room", "author", "data_key"}


def _field(name: str) -> Field[Any, Any]:
    field = Message._meta.get_field(name)
    assert isinstance(field, Field)
    return field


@functools.cache
def _insert_sql(vendor: str) -> str:
    quote = connection.ops.quote_name
    fields = [_field(name) for name in _MESSAGE_FIELDS]
    columns = ", ".join(quote(f.column) for f in fields)
    marks = ", ".join(["%s"] * len(fields))
    # Names come from the model's metadata; every value is a bound parameter.
    table = quote(Message._meta.db_table)
    pk = quote(Message._meta.pk.column)  # type: ignore[union-attr]
    insert = f"INSERT INTO {table} ({columns}) VALUES ({marks})"  # noqa: S608
    return f"{insert} ON CONFLICT DO NOTHING RETURNING {pk}"


def _prepare(values: dict[str, Any]) -> list[Any]:
    params = []
    for name in _MESSAGE_FIELDS:
        value = values[name]
        if name in _FOREIGN_KEYS or value is None:
            params.append(value)
        else:
            params.append(_field(name).get_db_prep_save(value, connection))
    return params


def insert_message(
    *,
    room_id: int,
    seq: int,
    author_id: int,
    author_pseudonym: str,
    client_id: str,
    created_at: dt.datetime,
    data_key_id: int,
    ciphertext: bytes,
    themes: str = "",
    cw: bool = False,
    kind: str = Message.Kind.MESSAGE.value,
    author_role: str = "",
    care: str = "",
) -> int | None:
    """Insert one message; None when its (room, author, client id) was stored before."""
    values = {
        "room": room_id,
        "seq": seq,
        "kind": kind,
        "author_pseudonym": author_pseudonym,
        "author": author_id,
        "client_id": client_id,
        "created_at": created_at,
        "data_key": data_key_id,
        "ciphertext": ciphertext,
        "themes": themes,
        "cw": cw,
        "hidden_reason": "",
        "author_role": author_role,
        "care": care,
    }
    with connection.cursor() as cursor:
        cursor.execute(_insert_sql(connection.vendor), _prepare(values))
        row = cursor.fetchone()
    return int(row[0]) if row else None


def set_last_seq(*, room_id: int, seq: int) -> None:
    quote = connection.ops.quote_name
    table, column = quote(Room._meta.db_table), quote(Room._meta.get_field("last_seq").column)
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {table} SET {column} = %s WHERE id = %s", [seq, room_id])  # noqa: S608
