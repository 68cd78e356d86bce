"""The session store (``SESSION_ENGINE``): Django's database sessions, with the key hashed.

Why: Django's database sessions keep each session key, which is the cookie's whole value, in
clear in ``django_session``. Whoever could read the database (a stolen backup, a curious
operator, an SQL injection anywhere) could copy a live key into a cookie and be that member,
or that member of staff, until the session expired. Here the row holds only an HMAC-SHA256
of the key, under a key derived from ``SECRET_KEY`` for this purpose alone
(``chatserver.crypto.keyed_digest``): the cookie still carries the key, the database never
does, and without the server secret a digest cannot be turned back into a cookie. Session
keys are 32 random characters (165 bits), so a keyed hash needs no slowing down.

Everything else is Django's database store unchanged: the same signed session data, expiry,
``cycle_key`` at every sign-in, ``flush`` at sign-out, ``clearsessions``. The session checks
that sockets run (rooms/grants.py, rooms/access.py) read rows through ``session_digest``.

``SECRET_KEY_FALLBACKS`` are honoured as Django honours them for signed data: a session
hashed under a retired secret is still found, and moved to the current secret's digest the
first time it is read.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib.sessions.backends.db import SessionStore as DatabaseSessionStore
from django.core.exceptions import SuspiciousOperation
from django.db.models import QuerySet
from django.utils import timezone

from chatserver.crypto import keyed_digest
from chatserver.models import StoredSession

_PURPOSE = "session-key"


def session_digest(session_key: str, *, server_secret: str | None = None) -> str:
    """What the database holds for ``session_key``: its HMAC-SHA256 in hex (64 characters)."""
    secret = settings.SECRET_KEY if server_secret is None else server_secret
    return keyed_digest(_PURPOSE, session_key, server_secret=secret)


def _digests(session_key: str) -> list[str]:
    """The digest under the current secret first, then under each fallback."""
    secrets = [settings.SECRET_KEY, *settings.SECRET_KEY_FALLBACKS]
    return [session_digest(session_key, server_secret=s) for s in secrets]


def session_row(session_key: str) -> QuerySet[StoredSession]:
    """The row of ``session_key`` (empty if there is none), for checks and tests."""
    return StoredSession.objects.filter(key_digest=session_digest(session_key))


def session_is_live(session_key: str) -> bool:
    return session_row(session_key).filter(expire_date__gt=timezone.now()).exists()


def sessions_delete(digests: Iterable[str]) -> int:
    """End the sessions whose digests are given (kept elsewhere, e.g. a staff account's list
    of sessions, which holds digests too); returns how many rows went."""
    deleted, _ = StoredSession.objects.filter(key_digest__in=list(digests)).delete()
    return deleted


class SessionStore(DatabaseSessionStore):
    """Django's database store over ``StoredSession``, which is keyed by the digest.

    The class keeps Django's name: the signing salt of session data is derived from it, so
    data written by Django's store opens here unchanged (migration chatserver.0003 moves
    live sessions across)."""

    @classmethod
    def get_model_class(cls) -> Any:
        return StoredSession

    def _found(self, row: StoredSession | None) -> StoredSession | None:
        if row is None:
            self._session_key = None
            return None
        current = session_digest(str(self.session_key))
        if row.key_digest != current:  # hashed under a retired secret: move it over
            StoredSession.objects.filter(key_digest=row.key_digest).update(key_digest=current)
            row.key_digest = current
        return row

    def _get_session_from_db(self) -> StoredSession | None:
        if self.session_key is None:
            return None
        try:
            row = (
                StoredSession.objects.filter(
                    key_digest__in=_digests(self.session_key), expire_date__gt=timezone.now()
                )
                .order_by("-expire_date")
                .first()
            )
        except SuspiciousOperation as exc:
            logging.getLogger(f"django.security.{exc.__class__.__name__}").warning(str(exc))
            row = None
        return self._found(row)

    async def _aget_session_from_db(self) -> StoredSession | None:
        return await sync_to_async(self._get_session_from_db)()

    def exists(self, session_key: str) -> bool:
        return StoredSession.objects.filter(key_digest__in=_digests(session_key)).exists()

    async def aexists(self, session_key: str) -> bool:
        return await sync_to_async(self.exists)(session_key)

    # The stubs type the model as Django's own and do not know the key's getters.
    def create_model_instance(self, data: dict[str, Any]) -> Any:
        key = self._get_or_create_session_key()  # type: ignore[attr-defined]
        return StoredSession(
            key_digest=session_digest(key),
            session_data=self.encode(data),
            expire_date=self.get_expiry_date(),
        )

    async def acreate_model_instance(self, data: dict[str, Any]) -> Any:
        key = await self._aget_or_create_session_key()  # type: ignore[attr-defined]
        return StoredSession(
            key_digest=session_digest(key),
            session_data=self.encode(data),
            expire_date=await self.aget_expiry_date(),
        )

    def delete(self, session_key: str | None = None) -> None:
        if session_key is None:
            if self.session_key is None:
                return
            session_key = self.session_key
        StoredSession.objects.filter(key_digest__in=_digests(session_key)).delete()

    async def adelete(self, session_key: str | None = None) -> None:
        await sync_to_async(self.delete)(session_key)
