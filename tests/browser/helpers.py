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

    @classmethod
    def create(
        cls, browser: Browser, base_url: str, *, tap: bool = False, **options: Any
    ) -> Member:
        options.setdefault("viewport", {"width": 1280, "height": 800})
        context = browser.new_context(base_url=base_url, **options)
        context.set_default_timeout(10_000)
        member = cls(context=context, page=context.new_page(), base_url=base_url)
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
