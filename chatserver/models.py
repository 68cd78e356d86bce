"""The one table of the project itself rather than of an app: sessions (chatserver/sessions.py)."""

from __future__ import annotations

from django.db import models


class StoredSession(models.Model):
    """A browser's session: the anonymous member it stands for, or a signed-in staff account.

    The session key (the cookie's value) is never stored: only a keyed hash of it, so a copy
    of this table cannot be replayed as cookies. The data is Django's signed session data,
    as in ``django.contrib.sessions``.
    """

    key_digest = models.CharField(max_length=64, primary_key=True)
    session_data = models.TextField()
    expire_date = models.DateTimeField(db_index=True)

    class Meta:
        db_table = "chatserver_session"

    def __str__(self) -> str:
        return f"session {self.key_digest[:8]}"
