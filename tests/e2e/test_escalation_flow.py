"""The safety promise end to end, through a real daphne process on PostgreSQL and Redis:
a risky message reaches the staff socket and the member's private signposting frame; the
e-mail reaches a real local SMTP sink; the webhook, down at first, is delivered once it comes
back (signed, idempotent); and the SLA re-notification fires under a controlled clock."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from bench.client import ChatClient, recv_until, send_json
from bench.servers import ROOT, ServerProcess, free_port
from chatserver.crypto import sign_webhook
from tests.e2e.conftest import staff_sign_in

pytestmark = [pytest.mark.e2e, pytest.mark.postgres, pytest.mark.redis]

RISKY = "I'm going to kill myself tonight. I've saved up the pills and I'm ready."
SECRET = "webhook-shared-secret"


class Mailbox:
    def __init__(self) -> None:
        self.messages: list[str] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(envelope.content.decode(errors="replace"))
        return "250 OK"


class Receiver:
    """A webhook receiver that verifies signatures and drops repeats by idempotency key."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.accepted: dict[str, dict[str, Any]] = {}
        self.server: ThreadingHTTPServer | None = None

    def start(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                expected = sign_webhook(SECRET, self.headers["X-Chatserver-Timestamp"], body)
                if self.headers["X-Chatserver-Signature"] != expected:
                    self.send_response(401)
                else:
                    receiver.accepted.setdefault(self.headers["Idempotency-Key"], json.loads(body))
                    self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self.server:
            self.server.shutdown()
            self.server.server_close()


async def eventually(check: Any, timeout: float = 30.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.2)


@pytest.fixture
def alerting_server(
    tmp_path: Path, fresh_postgres_url: str, redis_env: dict[str, str]
) -> Iterator[tuple[ServerProcess, Mailbox, Receiver]]:
    mailbox = Mailbox()
    smtp_port = free_port()
    smtp = Controller(mailbox, hostname="127.0.0.1", port=smtp_port)
    smtp.start()
    receiver = Receiver(free_port())
    env = {
        "DATABASE_URL": fresh_postgres_url,
        **redis_env,
        "SECRET_KEY": "alerting-e2e-" + "s" * 50,
        "CHATSERVER_KEYS": "e2e1:" + "B" * 43 + "=",
        "ESCALATION_ONCALL_EMAILS": "oncall@example.org",
        "EMAIL_HOST": "127.0.0.1",
        "EMAIL_PORT": str(smtp_port),
        "ESCALATION_WEBHOOK_URL": f"http://127.0.0.1:{receiver.port}/hook",
        "ESCALATION_WEBHOOK_SECRET": SECRET,
        "ESCALATION_TICK_SECONDS": "0.3",
        "DJANGO_SUPERUSER_PASSWORD": "a long staff password 42",
    }
    server = ServerProcess(data_dir=tmp_path, env=env, extra_args=["--demo"]).start()
    subprocess.run(
        [
            sys.executable,
            "-m",
            "chatserver.cli",
            "createsuperuser",
            "--noinput",
            "--username",
            "nurse",
            "--email",
            "n@example.org",
        ],
        cwd=ROOT,
        env=server.env,
        check=True,
        capture_output=True,
        timeout=60,
    )
    try:
        yield server, mailbox, receiver
    finally:
        server.stop()
        smtp.stop()
        receiver.stop()


async def test_risk_reaches_staff_member_mail_webhook_and_sla(alerting_server: Any) -> None:
    server, mailbox, receiver = alerting_server
    staff = ChatClient(server.base_url)
    await asyncio.to_thread(staff_sign_in, staff, "nurse", "a long staff password 42", server)
    member = ChatClient(server.base_url)
    await member.astart_and_join("welcome")

    async with (
        await staff.connect_path("/ws/staff/") as queue,
        await member.connect("welcome") as ws,
    ):
        assert (await recv_until(queue, "escalations"))["items"] == []
        await recv_until(ws, "welcome")
        await send_json(ws, {"type": "send", "client_id": "r1", "body": RISKY})
        signpost = await recv_until(ws, "signpost")
        assert any(r["contact"] == "116 123" for r in signpost["resources"])
        item = (await recv_until(queue, "escalation"))["item"]
        assert item["severity"] == "critical" and item["status"] == "open"

        # The e-mail goes out at once; the webhook receiver is down, so it is retried.
        await eventually(lambda: any("escalation" in m for m in mailbox.messages))
        assert RISKY not in "".join(mailbox.messages)
        await asyncio.sleep(1.0)
        assert receiver.accepted == {}
        receiver.start()
        await eventually(lambda: len(receiver.accepted) == 1, timeout=30)
        payload = next(iter(receiver.accepted.values()))
        assert payload["escalation"] == item["id"] and RISKY not in json.dumps(payload)

        # Nobody acknowledged: with the clock moved past the SLA, it is re-notified.
        later = dt.datetime.fromisoformat(item["created_at"].replace("Z", "+00:00")) + dt.timedelta(
            minutes=3
        )
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "chatserver.cli",
                "escalations-tick",
                "--now",
                later.isoformat(),
            ],
            cwd=ROOT,
            env={**os.environ, **server.env},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert "sla breaches: 1" in result.stdout, result.stdout + result.stderr
        renotified = (await recv_until(queue, "escalation"))["item"]
        assert renotified["id"] == item["id"] and renotified["renotified"] == 1
        await eventually(lambda: any("NOT ACKNOWLEDGED" in m for m in mailbox.messages))


async def test_a_reply_in_context_raises_a_concern_for_the_replier(alerting_server: Any) -> None:
    """Two members in one room of a real server: another member's risky message, then a
    one-word "same" that alone means nothing. The send path passes the room's recent
    messages to the detector, so the replier gets an escalation of their own."""
    server, _, _ = alerting_server
    staff = ChatClient(server.base_url)
    await asyncio.to_thread(staff_sign_in, staff, "nurse", "a long staff password 42", server)
    writer, replier = ChatClient(server.base_url), ChatClient(server.base_url)
    await writer.astart_and_join("welcome")
    await replier.astart_and_join("welcome")
    async with (
        await staff.connect_path("/ws/staff/") as queue,
        await writer.connect("welcome") as first,
        await replier.connect("welcome") as second,
    ):
        await recv_until(queue, "escalations")
        own_name = (await recv_until(second, "welcome"))["you"]["pseudonym"]
        await recv_until(first, "welcome")
        await send_json(second, {"type": "send", "client_id": "c0", "body": "same"})
        await recv_until(second, "ack")
        await send_json(first, {"type": "send", "client_id": "c1", "body": RISKY})
        item = (await recv_until(queue, "escalation"))["item"]
        assert item["pseudonym"] != own_name
        await recv_until(second, "message")
        await send_json(second, {"type": "send", "client_id": "c2", "body": "same"})
        await recv_until(second, "ack")
        reply = (await recv_until(queue, "escalation"))["item"]
        assert reply["pseudonym"] == own_name
        assert reply["category"] in ("suicide", "medical_emergency")
