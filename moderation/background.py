"""The periodic work every server process does: SLA re-notification, outbox delivery, and
keeping its staff sockets counted as on call (moderation/care.py).

Runs in a daemon thread beside daphne's event loop (both jobs are synchronous database and
network work). Several processes may run it at once: both jobs claim rows with SKIP LOCKED.
"""

from __future__ import annotations

import logging
import threading

from django.conf import settings
from django.db import close_old_connections

from moderation.care import refresh_local
from moderation.escalations import escalations_check_sla
from moderation.outbox import outbox_deliver_due

logger = logging.getLogger(__name__)


def _loop(stop: threading.Event, interval: float) -> None:
    while not stop.wait(interval):
        try:
            close_old_connections()
            escalations_check_sla()
            outbox_deliver_due()
            refresh_local()
        except Exception:
            logger.exception("background escalation work failed; will retry")
        finally:
            close_old_connections()


def start_background_work() -> threading.Event:
    stop = threading.Event()
    thread = threading.Thread(
        target=_loop, args=(stop, settings.ESCALATION_TICK_SECONDS), name="escalations", daemon=True
    )
    thread.start()
    return stop
