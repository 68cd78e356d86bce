"""The staff side of the browser tests: a staff account on a real server process, a
dashboard in its own browser context (which may only reach the server under test), and a
gate on its staff socket to simulate a dropped connection."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import struct
import subprocess
import sys
import time
from dataclasses import dataclass, field
from typing import Any

from playwright.sync_api import (
    Browser,
    BrowserContext,
    Locator,
    Page,
    Route,
    WebSocketRoute,
    expect,
)

from bench.servers import ROOT, ServerProcess

STAFF_USERNAME = "nurse"
STAFF_PASSWORD = "calm-harbour-lantern-42"  # test-only
RISKY = "I'm going to kill myself tonight, I've saved up the pills"


def chatserver(server: ServerProcess, *args: str, env: dict[str, str] | None = None) -> str:
    """Run a ``chatserver`` management command against the server's data directory."""
    done = subprocess.run(
        [sys.executable, "-m", "chatserver.cli", *args],
        cwd=ROOT,
        env={**server.env, **(env or {})},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, f"chatserver {args[0]} failed: {done.stdout}\n{done.stderr}"
    return done.stdout


def create_staff_user(server: ServerProcess, username: str = STAFF_USERNAME) -> None:
    """A superuser (the admin role), created the way an operator would."""
    chatserver(
        server,
        "createsuperuser",
        "--noinput",
        "--username",
        username,
        "--email",
        "n@example.org",
        env={"DJANGO_SUPERUSER_PASSWORD": STAFF_PASSWORD},
    )


def enrol_code(server: ServerProcess, username: str) -> str:
    """The one-time set-up code an admin issues so the account may enrol an authenticator."""
    output = chatserver(server, "staff-enrol-code", username)
    found = re.search(r"Set-up code for \S+: (\S+)", output)
    assert found is not None, output
    return found.group(1)


FACILITATOR_SETUP = """
import datetime as dt
from django.conf import settings
from django.contrib.auth.models import Group, User
from django.utils import timezone
from moderation.models import TrainingRecord

user = User.objects.create_user(username={username!r}, password={password!r})
user.groups.add(Group.objects.get_or_create(name="facilitator")[0])
today = timezone.localdate()
TrainingRecord.objects.create(
    user=user, course=settings.FACILITATOR_TRAINING_COURSE,
    completed_on=today - dt.timedelta(days=10), expires_on=today + dt.timedelta(days=300),
)
"""


def create_facilitator(server: ServerProcess, username: str, password: str) -> None:
    """A trained peer facilitator (no second factor needed for this role)."""
    chatserver(
        server, "shell", "-c", FACILITATOR_SETUP.format(username=username, password=password)
    )


# --- the second factor -------------------------------------------------------------------


def totp(key: bytes, *, step: int = 30, digits: int = 6, at: float | None = None) -> str:
    """RFC 6238 (HMAC-SHA1 over the time step), as authenticator apps compute it."""
    counter = int((time.time() if at is None else at) // step)
    digest = hmac.new(key, struct.pack(">Q", counter), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    value = struct.unpack(">I", digest[offset : offset + 4])[0] & 0x7FFFFFFF
    return str(value % 10**digits).zfill(digits)


@dataclass
class Authenticator:
    """The staff member's authenticator app: set up from the key the dashboard shows once.
    A code is good for one sign-in only (the server refuses a time step already used), so a
    second sign-in waits for the next step."""

    key: bytes = b""
    step: int = 30
    digits: int = 6
    last_counter: int = -1

    def set_up(self, shown_key: str) -> None:
        secret = re.sub(r"\s+", "", shown_key).upper()
        self.key = base64.b32decode(secret + "=" * (-len(secret) % 8))

    def code(self) -> str:
        assert self.key, "the authenticator has not been set up"
        now = time.time()
        # Never the last two seconds of a step (it must still be good when it arrives), and
        # never a step already used.
        while now % self.step > self.step - 2 or int(now // self.step) <= self.last_counter:
            time.sleep(0.5)
            now = time.time()
        self.last_counter = int(now // self.step)
        return totp(self.key, step=self.step, digits=self.digits, at=now)


# --- the dashboard ----------------------------------------------------------------------------


class StaffSocketGate:
    """Sits on the dashboard's staff socket. ``cut()`` drops the live connection (as a network
    outage would); while ``refuse`` is set, new connections are closed at once."""

    def __init__(self, context: BrowserContext) -> None:
        self.refuse = False
        self.connections = 0
        self._pages: list[WebSocketRoute] = []
        context.route_web_socket(re.compile(r"/ws/staff/"), self._route)

    def _route(self, page_side: WebSocketRoute) -> None:
        if self.refuse:
            page_side.close(code=1011, reason="unreachable")
            return
        self.connections += 1
        server_side = page_side.connect_to_server()
        self._pages.append(page_side)
        page_side.on_message(server_side.send)
        server_side.on_message(page_side.send)

    def cut(self) -> None:
        self.refuse = True
        for page_side in self._pages:
            page_side.close(code=1011, reason="network gone")
        self._pages.clear()


@dataclass
class Dashboard:
    context: BrowserContext
    page: Page
    base_url: str
    gate: StaffSocketGate
    authenticator: Authenticator | None = None
    blocked: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    # Uncaught exceptions in the page's scripts: none is expected, whatever a test does.
    script_errors: list[str] = field(default_factory=list)
    server: ServerProcess | None = None

    @classmethod
    def create(
        cls,
        browser: Browser,
        server: ServerProcess,
        *,
        authenticator: Authenticator | None = None,
        **options: Any,
    ) -> Dashboard:
        options.setdefault("viewport", {"width": 1280, "height": 800})
        context = browser.new_context(base_url=server.base_url, **options)
        context.set_default_timeout(10_000)
        page = context.new_page()
        board = cls(
            context, page, server.base_url, StaffSocketGate(context), authenticator, server=server
        )
        context.route("**/*", board._only_this_server)
        page.on("console", lambda m: m.type == "error" and board.console_errors.append(m.text))
        page.on("pageerror", lambda error: board.script_errors.append(str(error)))
        return board

    def _only_this_server(self, route: Route) -> None:
        if route.request.url.startswith(self.base_url + "/"):
            route.fallback()
        else:
            self.blocked.append(route.request.url)
            route.abort()

    def close(self) -> None:
        self.context.close()

    def open(self) -> None:
        """Open the dashboard signed out: the sign-in form."""
        self.page.goto(self.base_url + "/staff/")
        expect(self.page.get_by_label("Username")).to_be_visible()

    def open_signed_in(self) -> None:
        """Open the dashboard with a session that is already signed in (as after a reload)."""
        self.page.goto(self.base_url + "/staff/")
        self.wait_live()

    def sign_in(self, username: str = STAFF_USERNAME, password: str = STAFF_PASSWORD) -> None:
        page = self.page
        page.get_by_label("Username").fill(username)
        page.get_by_label("Password").fill(password)
        page.get_by_role("button", name="Sign in").click()
        otp = page.get_by_label("One-time code")
        either = page.locator(
            "#otp-field:not([hidden]), #enrol-field:not([hidden]), #view-queue:not([hidden])"
        )
        expect(either.first).to_be_visible()
        if page.locator("#enrol-field").is_visible():  # first sign-in: an admin's set-up code
            assert self.server is not None, "the server asks for a set-up code"
            page.get_by_label("Set-up code").fill(enrol_code(self.server, username))
            page.get_by_role("button", name="Sign in").click()
            expect(page.locator("#otp-setup")).to_be_visible()
        if otp.is_visible():
            assert self.authenticator is not None, "the server asks for a one-time code"
            if page.locator("#otp-setup").is_visible():  # first sign-in: set up the app
                # The key comes as a QR code too, drawn by the server (no request elsewhere).
                qr = page.locator("#otp-qr")
                expect(qr).to_be_visible()
                assert qr.evaluate("(img) => img.complete && img.naturalWidth > 0")
                assert (qr.get_attribute("src") or "").startswith("data:image/svg+xml")
                self.authenticator.set_up(page.locator("#otp-secret").inner_text())
            otp.fill(self.authenticator.code())
            page.get_by_role("button", name="Sign in").click()
        self.wait_live()

    def wait_live(self, timeout: float = 10_000) -> None:
        expect(self.page.locator("#view-queue")).to_be_visible(timeout=timeout)
        expect(self.page.locator("#conn")).to_have_text("Live", timeout=timeout)

    def cards(self) -> Locator:
        return self.page.locator("#queue > li.esc")

    def card(self, pseudonym: str) -> Locator:
        return self.cards().filter(has=self.page.locator(".esc-pseudonym", has_text=pseudonym))

    def ids(self) -> list[str]:
        return [str(i) for i in self.cards().evaluate_all("(els) => els.map((e) => e.dataset.id)")]

    def announcements(self) -> str:
        return self.page.locator("#announcer").inner_text()
