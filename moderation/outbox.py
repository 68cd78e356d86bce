"""The transactional outbox for notifications beyond the websocket: e-mail to the on-call
list and a signed webhook.

Items are written in the same transaction as the escalation they announce, then delivered by
``outbox_deliver_due`` (run by every server process's background loop and by
``chatserver outbox-deliver``). A failed delivery is retried with exponential back-off, so if
the mail server or the webhook receiver is down nothing is lost: it is delivered when it comes
back. Delivery is at-least-once; every item carries an idempotency key so the receiving side
can drop repeats. Payloads never contain message text.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import urllib.error
import urllib.request
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone

from chatserver.crypto import sign_webhook
from moderation.models import OutboxItem

if TYPE_CHECKING:
    from moderation.models import Escalation

logger = logging.getLogger(__name__)

MAX_BACKOFF_SECONDS = 3600
BATCH = 50


def _payload(e: Escalation, event: str) -> dict[str, Any]:
    return {
        "event": f"escalation.{event}",
        "escalation": e.pk,
        "category": e.category,
        "severity": e.severity,
        "room": e.room.slug,
        "pseudonym": e.pseudonym,
        "renotified": e.renotified,
        "created_at": e.created_at.isoformat(),
        "dashboard": f"{settings.SITE_URL.rstrip('/')}/#staff",
    }


def enqueue_escalation(e: Escalation, *, event: str, now: dt.datetime) -> None:
    payload = _payload(e, event)
    base = f"esc-{e.pk}-{event}-{e.renotified}"
    kinds = []
    if settings.ESCALATION_ONCALL_EMAILS:
        kinds.append(OutboxItem.Kind.EMAIL)
    if settings.ESCALATION_WEBHOOK_URL:
        kinds.append(OutboxItem.Kind.WEBHOOK)
    for kind in kinds:
        OutboxItem.objects.get_or_create(
            idempotency_key=f"{base}-{kind}",
            defaults={"kind": kind, "payload": payload, "next_attempt_at": now, "created_at": now},
        )


def backoff(attempts: int) -> dt.timedelta:
    return dt.timedelta(seconds=min(5 * 2 ** max(attempts - 1, 0), MAX_BACKOFF_SECONDS))


def _send_email(item: OutboxItem) -> None:
    p = item.payload
    subject = (
        f"[{p['severity'].upper()}] {p['category'].replace('_', ' ')} escalation {p['escalation']}"
    )
    if p["event"] == "escalation.sla_breach":
        subject = f"NOT ACKNOWLEDGED: {subject}"
    body = (
        f"An escalation needs attention.\n\nRoom: {p['room']}\nMember: {p['pseudonym']}\n"
        f"Category: {p['category']}\nSeverity: {p['severity']}\n"
        f"Re-notified: {p['renotified']} time(s)\n\nOpen the staff dashboard: {p['dashboard']}\n"
        f"Reference: {item.idempotency_key}\n"
    )
    send_mail(
        subject,
        body,
        settings.DEFAULT_FROM_EMAIL,
        settings.ESCALATION_ONCALL_EMAILS,
        fail_silently=False,
    )


def _send_webhook(item: OutboxItem) -> None:
    body = json.dumps(item.payload, sort_keys=True).encode()
    timestamp = str(int(timezone.now().timestamp()))
    request = urllib.request.Request(  # noqa: S310 - settings allow http(s) URLs only
        settings.ESCALATION_WEBHOOK_URL,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "Idempotency-Key": item.idempotency_key,
            "X-Chatserver-Timestamp": timestamp,
            "X-Chatserver-Signature": sign_webhook(
                settings.ESCALATION_WEBHOOK_SECRET, timestamp, body
            ),
        },
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - configured URL
        if response.status >= 300:
            raise urllib.error.HTTPError(
                item.idempotency_key, response.status, "refused", response.headers, None
            )


def _deliver(item: OutboxItem) -> None:
    if item.kind == OutboxItem.Kind.EMAIL:
        _send_email(item)
    else:
        _send_webhook(item)


def outbox_deliver_due(*, now: dt.datetime | None = None) -> tuple[int, int]:
    """Deliver what is due. Returns (delivered, failed). Rows are claimed with SKIP LOCKED
    so several processes can run this at once without sending twice."""
    now = now or timezone.now()
    delivered = failed = 0
    with transaction.atomic():
        items = list(
            OutboxItem.objects.select_for_update(skip_locked=True)
            .filter(delivered_at__isnull=True, next_attempt_at__lte=now)
            .order_by("next_attempt_at")[:BATCH]
        )
        for item in items:
            item.attempts += 1
            try:
                _deliver(item)
            except Exception as exc:  # any transport failure: retry later
                item.last_error = type(exc).__name__[:200]
                item.next_attempt_at = now + backoff(item.attempts)
                failed += 1
                logger.warning(
                    "outbox item %s (%s) failed, attempt %s: %s",
                    item.pk,
                    item.kind,
                    item.attempts,
                    type(exc).__name__,
                )
            else:
                item.delivered_at = timezone.now()
                item.last_error = ""
                delivered += 1
            item.save(update_fields=["attempts", "last_error", "next_attempt_at", "delivered_at"])
    return delivered, failed
