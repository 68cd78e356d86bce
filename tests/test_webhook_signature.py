"""A known-answer test of the outgoing webhook's signature (hardening issue, row 18).

docs/escalation.md documents the scheme a receiver verifies: ``X-Chatserver-Signature`` is
HMAC-SHA256, in lower-case hex, over ``timestamp + "." + body`` with
``ESCALATION_WEBHOOK_SECRET``, and ``X-Chatserver-Timestamp`` is the Unix time in whole
seconds. The expected value below was computed outside the project from a fixed secret,
timestamp and body, so the test does not check the implementation against itself::

    printf '%s' "1735787045.$BODY" | openssl dgst -sha256 -hmac 'known-answer-test-secret'

The request is the one the outbox really sends, caught by a local HTTP receiver.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pytest
import time_machine
from django.utils import timezone

from moderation import outbox
from moderation.models import OutboxItem

SECRET = "known-answer-test-secret"
SENT_AT = dt.datetime(2025, 1, 2, 3, 4, 5, 600_000, tzinfo=dt.UTC)
TIMESTAMP = "1735787045"
PAYLOAD = {
    "event": "escalation.created",
    "escalation": 42,
    "category": "suicide",
    "severity": "critical",
    "room": "welcome",
    "pseudonym": "Quiet Heron",
    "renotified": 0,
    "created_at": "2025-01-02T03:04:00+00:00",
    "dashboard": "https://chat.example.org/#staff",
}
BODY = (
    b'{"category": "suicide", "created_at": "2025-01-02T03:04:00+00:00", '
    b'"dashboard": "https://chat.example.org/#staff", "escalation": 42, '
    b'"event": "escalation.created", "pseudonym": "Quiet Heron", "renotified": 0, '
    b'"room": "welcome", "severity": "critical"}'
)
SIGNATURE = "cde764bd9d8e021c5012bb1b907bc49ac5d4fb72aa7346b1189abd1a0e37c322"


@pytest.fixture
def receiver() -> Iterator[tuple[str, list[tuple[dict[str, str], bytes]]]]:
    received: list[tuple[dict[str, str], bytes]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append((dict(self.headers.items()), body))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/hook", received
    finally:
        server.shutdown()
        server.server_close()


def test_the_known_answer_follows_the_documented_scheme() -> None:
    """The constant is what the documented formula gives (a second, independent derivation,
    so a typo in the constant cannot pass for a fault in the code)."""
    expected = hmac.new(SECRET.encode(), TIMESTAMP.encode() + b"." + BODY, hashlib.sha256)
    assert expected.hexdigest() == SIGNATURE


@pytest.mark.django_db
def test_the_outgoing_webhook_carries_the_known_signature(
    settings: Any, receiver: tuple[str, list[tuple[dict[str, str], bytes]]]
) -> None:
    url, received = receiver
    settings.ESCALATION_WEBHOOK_URL = url
    settings.ESCALATION_WEBHOOK_SECRET = SECRET
    OutboxItem.objects.create(
        kind=OutboxItem.Kind.WEBHOOK,
        idempotency_key="esc-42-created-0-webhook",
        payload=PAYLOAD,
        next_attempt_at=SENT_AT,
        created_at=SENT_AT,
    )
    with time_machine.travel(SENT_AT, tick=False):
        assert outbox.outbox_deliver_due(now=timezone.now()) == (1, 0)

    [(headers, body)] = received
    assert body == BODY
    assert headers["X-Chatserver-Timestamp"] == TIMESTAMP
    assert headers["X-Chatserver-Signature"] == SIGNATURE
    assert headers["Idempotency-Key"] == "esc-42-created-0-webhook"
    assert headers["Content-Type"] == "application/json"
