"""The session store keeps only a keyed hash of each session key (chatserver/sessions.py):
the database never holds a key that could be replayed as a cookie, and sessions behave as
Django's database sessions did (rotation at sign-in, expiry, sign-out)."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone

from chatserver.models import StoredSession
from chatserver.sessions import SessionStore, session_digest, session_is_live, session_row
from rooms.access import MEMBER_SESSION_KEY

pytestmark = pytest.mark.django_db


def every_stored_value() -> str:
    """Everything in every table of the database, as text (the tables are small here)."""
    parts: list[str] = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")
            parts.extend(repr(row) for row in cursor.fetchall())
    return "\n".join(parts)


def test_the_table_holds_a_keyed_hash_of_the_key_and_the_session_still_opens() -> None:
    store = SessionStore()
    store[MEMBER_SESSION_KEY] = "a member"
    store.create()
    key = str(store.session_key)
    (row,) = StoredSession.objects.all()
    assert row.key_digest == session_digest(key) != key
    assert len(row.key_digest) == 64
    assert key not in every_stored_value()
    assert SessionStore(session_key=key)[MEMBER_SESSION_KEY] == "a member"
    assert session_is_live(key)
    assert not session_is_live(key[:-1] + ("a" if key[-1] != "a" else "b"))


def test_the_hash_is_keyed_by_the_server_secret(settings: Any) -> None:
    key = "k" * 32
    first = session_digest(key)
    settings.SECRET_KEY = "another-server-secret-" + "x" * 40
    assert session_digest(key) != first


def test_an_expired_session_does_not_open() -> None:
    store = SessionStore()
    store["x"] = 1
    store.create()
    key = str(store.session_key)
    session_row(key).update(expire_date=timezone.now() - dt.timedelta(seconds=1))
    reopened = SessionStore(session_key=key)
    assert reopened.load() == {} and reopened.session_key is None
    assert not session_is_live(key)
    SessionStore.clear_expired()
    assert not StoredSession.objects.exists()


def test_a_new_member_session_and_a_recovery_rotate_the_key_and_logout_deletes_it() -> None:
    client = Client()
    created = client.post("/api/session", data="{}", content_type="application/json")
    assert created.status_code == 201
    first = client.cookies["sessionid"].value
    assert session_row(first).exists()
    phrase = created.json()["recovery_phrase"]
    other = Client()
    answer = other.post(
        "/api/session/recover", data=json.dumps({"phrase": phrase}), content_type="application/json"
    )
    assert answer.status_code == 200
    second = other.cookies["sessionid"].value
    assert second != first and session_row(second).exists()
    assert client.delete("/api/session").status_code == 200
    assert not session_row(first).exists()
    assert StoredSession.objects.count() == 1
    assert first not in every_stored_value() and second not in every_stored_value()


def test_a_session_hashed_under_a_retired_secret_is_found_and_moved(settings: Any) -> None:
    old_secret = settings.SECRET_KEY
    store = SessionStore()
    store["x"] = "kept"
    store.create()
    key = str(store.session_key)
    settings.SECRET_KEY = "the-new-server-secret-" + "n" * 40
    assert SessionStore(session_key=key).load() == {}, "without the fallback it is gone"
    settings.SECRET_KEY_FALLBACKS = [old_secret]
    assert SessionStore(session_key=key)["x"] == "kept"
    (row,) = StoredSession.objects.all()
    assert row.key_digest == session_digest(key), "moved to the current secret's digest"
    assert session_is_live(key)
