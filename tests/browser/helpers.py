"""A member driving the web page in their own browser context, and a tap on their room
socket for the states a healthy server rarely produces (a late ack, a refused send, a
connection that cannot get through, a signpost frame)."""

from __future__ import annotations

import json
import re
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

# The neutral site of the quick exit (the page's <meta name="quick-exit-url">) and the site
# a member arrived from. Both are answered locally: the tests need no network.
NEUTRAL_URL = "https://www.bbc.co.uk/weather"
NEUTRAL_PAGE = "<!doctype html><title>Weather</title><h1>Weather forecast</h1>"
ARRIVED_FROM_URL = "https://search.example/"
ARRIVED_FROM_PAGE = "<!doctype html><title>Search</title><h1>Search results</h1>"

ROOM_TITLE = "Welcome room"


class SocketTap:
    """Sits between the page and the server on every room socket of one context
    (Playwright's WebSocketRoute). By default it passes frames through unchanged."""

    def __init__(self, context: BrowserContext) -> None:
        self.refuse = False  # close new connections at once, as an unreachable server would
        self.hold = False  # keep server frames back until release()
        self.fail_sends = 0  # answer this many sends with an error frame instead of the server
        self.frames: list[dict[str, Any]] = []  # every frame the page sent
        self.sends: list[dict[str, Any]] = []
        self._held: list[tuple[WebSocketRoute, str | bytes]] = []
        self._pages: list[WebSocketRoute] = []
        context.route_web_socket(re.compile(r"/ws/rooms/"), self._route)

    def _route(self, page_side: WebSocketRoute) -> None:
        if self.refuse:
            page_side.close(code=1011, reason="unreachable")
            return
        server_side = page_side.connect_to_server()
        self._pages.append(page_side)
        page_side.on_message(lambda message: self._to_server(page_side, server_side, message))
        server_side.on_message(lambda message: self._to_page(page_side, message))

    def _to_server(
        self, page_side: WebSocketRoute, server_side: WebSocketRoute, message: str | bytes
    ) -> None:
        frame = json.loads(message)
        self.frames.append(frame)
        if frame.get("type") == "send":
            self.sends.append(frame)
            if self.fail_sends:
                self.fail_sends -= 1
                refusal = {
                    "type": "error",
                    "code": "internal_error",
                    "message": "something went wrong; please retry",
                    "ref": frame["client_id"],
                }
                page_side.send(json.dumps(refusal))
                return
        server_side.send(message)

    def _to_page(self, page_side: WebSocketRoute, message: str | bytes) -> None:
        if self.hold:
            self._held.append((page_side, message))
        else:
            page_side.send(message)

    def release(self) -> None:
        self.hold = False
        for page_side, message in self._held:
            page_side.send(message)
        self._held.clear()

    def inject(self, frame: dict[str, Any]) -> None:
        """Send a frame to the page as if the server had sent it."""
        self._pages[-1].send(json.dumps(frame))


@dataclass
class Member:
    context: BrowserContext
    page: Page
    base_url: str
    tap: SocketTap | None = None
    pseudonym: str = ""
    phrase: str = ""
    blocked: list[str] = field(default_factory=list)
    # Uncaught exceptions in the page's scripts: none is expected, whatever a test does.
    script_errors: list[str] = field(default_factory=list)

    @classmethod
    def create(
        cls, browser: Browser, base_url: str, *, tap: bool = False, **options: Any
    ) -> Member:
        options.setdefault("viewport", {"width": 1280, "height": 800})
        context = browser.new_context(base_url=base_url, **options)
        context.set_default_timeout(10_000)
        member = cls(context=context, page=context.new_page(), base_url=base_url)
        member.page.on("pageerror", lambda error: member.script_errors.append(str(error)))
        context.route("**/*", member._only_this_server)
        if tap:
            member.tap = SocketTap(context)
        return member

    def _only_this_server(self, route: Route) -> None:
        url = route.request.url
        if url.startswith(self.base_url + "/"):
            route.fallback()
        elif url.startswith(NEUTRAL_URL):
            route.fulfill(status=200, content_type="text/html", body=NEUTRAL_PAGE)
        elif url.startswith(ARRIVED_FROM_URL):
            route.fulfill(status=200, content_type="text/html", body=ARRIVED_FROM_PAGE)
        else:
            self.blocked.append(url)
            route.abort()

    def close(self) -> None:
        self.context.close()

    # --- the flow -----------------------------------------------------------------------------

    def open(self) -> None:
        self.page.goto(self.base_url + "/")
        expect(self.page.locator("#room-list .room").first).to_be_visible()

    def open_room(self, title: str = ROOM_TITLE) -> None:
        self.page.get_by_role(
            "button", name=re.compile(rf"^(Read the agreement|Enter the room) \({title}\)$")
        ).click()

    def accept_agreement(self) -> None:
        expect(self.page.locator("#view-agreement")).to_be_visible()
        self.page.get_by_label("I have read the group agreement and I agree to it").check()
        self.page.get_by_role("button", name="Join anonymously").click()
        expect(self.page.locator("#view-phrase")).to_be_visible()
        self.phrase = self.page.locator("#phrase-words").inner_text()
        self.pseudonym = self.page.locator("#phrase-pseudonym").inner_text()

    def wait_in_room(self) -> None:
        expect(self.page.locator("#view-chat")).to_be_visible()
        expect(self.page.locator("#presence-list")).to_contain_text(f"{self.pseudonym} (you)")

    def join(self, title: str = ROOM_TITLE) -> None:
        """From the room list: agreement, phrase ("I have saved it"), then into the room."""
        self.open_room(title)
        self.accept_agreement()
        self.page.get_by_role("button", name="I have saved it").click()
        self.wait_in_room()

    # --- the chat -----------------------------------------------------------------------------

    def write(self, text: str) -> None:
        self.page.locator("#message-input").fill(text)
        self.page.locator("#message-input").press("Enter")

    def send(self, text: str) -> None:
        """Send and wait until the server has acknowledged it."""
        self.write(text)
        expect(self.message(text)).to_have_attribute("data-state", "sent")

    def message(self, text: str) -> Locator:
        """The stored message (in the room's log, not the outbox) whose body is ``text``."""
        exact = re.compile(f"^{re.escape(text)}$")
        return self.page.locator("#messages li.msg").filter(
            has=self.page.locator(".msg-body", has_text=exact)
        )

    def bodies(self) -> Locator:
        return self.page.locator("#messages .msg-body")

    def storage(self) -> str:
        """Everything in this origin's web storage, as one string."""
        return str(
            self.page.evaluate(
                "() => JSON.stringify("
                "[Object.entries(localStorage), Object.entries(sessionStorage)])"
            )
        )


# --- facilitators and rooms set up on the server under test --------------------------------

STAFF_PASSWORD = "long enough password"  # tests.factories.staff_membership's password


def run_on_server(server: Any, code: str) -> Any:
    """Run Python in ``chatserver shell`` against the server's data and return what it
    printed last, as JSON."""
    from tests.browser.staff_helpers import chatserver

    output = chatserver(server, "shell", "-c", code)
    return json.loads(output.strip().splitlines()[-1])


def create_staff_membership(
    server: Any, slug: str, *, pseudonym: str, role: str = "facilitator"
) -> dict[str, str]:
    """A staff user with ``role`` (and, for a facilitator, current training) holding a
    membership of room ``slug``: ``{"username", "pseudonym"}``."""
    code = f"""
import json
from rooms.models import Room
from tests.factories import staff_membership
m = staff_membership(Room.objects.get(slug={slug!r}), role={role!r}, pseudonym={pseudonym!r})
print(json.dumps({{"username": m.user.username, "pseudonym": m.pseudonym}}))
"""
    return dict(run_on_server(server, code))


def create_room(server: Any, slug: str, title: str, agreement: str, **fields: Any) -> None:
    """A room with a first agreement; ``fields`` are Room model fields (uses_sessions=True,
    schedule=..., blocked_terms=...)."""
    code = f"""
import json
from rooms.models import Agreement, Room
room = Room.objects.create(slug={slug!r}, title={title!r}, description="", **{fields!r})
Agreement.objects.create(room=room, version=1, text={agreement!r})
print(json.dumps(room.slug))
"""
    run_on_server(server, code)


def update_room(server: Any, slug: str, **fields: Any) -> None:
    code = f"""
import json
from rooms.models import Room
print(json.dumps(Room.objects.filter(slug={slug!r}).update(**{fields!r})))
"""
    assert run_on_server(server, code) == 1


def sign_in_as_staff(member: Member, username: str, password: str = STAFF_PASSWORD) -> None:
    """Sign in at /staff/ in this browser context (a facilitator needs no one-time code),
    then come back to the member page, where the room list says "Enter the room"."""
    page = member.page
    page.goto(member.base_url + "/staff/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    with page.expect_response(lambda r: r.url.endswith("/api/staff/login")) as answer:
        page.get_by_role("button", name="Sign in").click()
    assert answer.value.status == 200, answer.value.text()
    member.open()


def enter_room(member: Member, title: str = ROOM_TITLE) -> None:
    """From the room list, into a room this person already belongs to."""
    member.page.get_by_role("button", name=f"Enter the room ({title})").click()
    expect(member.page.locator("#view-chat")).to_be_visible()
    expect(member.page.locator("#chat-you")).not_to_have_text("")
    member.pseudonym = member.page.locator("#chat-you").inner_text()
    member.wait_in_room()


def options(member: Member, message: Locator) -> Locator:
    """Open the "⋯" options of ``message`` (from the start, if they were open); returns the
    panel."""
    toggle = message.get_by_role("button", name=re.compile(r"^Options for "))
    if toggle.get_attribute("aria-expanded") == "true":
        toggle.click()
    toggle.click()
    panel = message.locator(".msg-menu")
    expect(panel).to_be_visible()
    return panel


def message_by_author(member: Member, author: str) -> Locator:
    """Messages in the log written by ``author`` (whatever their body shows)."""
    return member.page.locator("#messages li.msg").filter(
        has=member.page.locator(".msg-author", has_text=re.compile(f"^{re.escape(author)}$"))
    )
