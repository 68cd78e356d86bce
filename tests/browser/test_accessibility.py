"""Every view checked with axe-core (no serious or critical violations) and photographed at
phone and desktop widths for docs/web-client.md.

axe-core comes from the npm registry and is vendored as tests/browser/vendor/axe.min.js
(MPL-2.0, licence header intact). Injecting it needs ``bypass_csp``: the page's own policy
rightly refuses scripts it did not ship. Only this test's context bypasses it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from bench.servers import ServerProcess
from tests.browser.helpers import Member

pytestmark = pytest.mark.browser

AXE = Path(__file__).parent / "vendor" / "axe.min.js"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 360, "height": 740}

AXE_RUN = """async () => {
  const results = await axe.run(document, {resultTypes: ["violations"]});
  return results.violations.map((v) => ({
    id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => n.target.join(" ")),
  }));
}"""


def serious_violations(page: Page) -> list[dict[str, Any]]:
    return [v for v in page.evaluate(AXE_RUN) if v["impact"] in ("serious", "critical")]


def check_and_photograph(page: Page, view: str) -> None:
    """axe at both widths, and a screenshot of each, named ``<view>-<width>.png``."""
    problems: list[dict[str, Any]] = []
    for width, size in (("desktop", DESKTOP), ("phone", PHONE)):
        page.set_viewport_size(size)
        problems += [{**v, "width": width} for v in serious_violations(page)]
        page.screenshot(path=SCREENSHOTS / f"{view}-{width}.png")
    page.set_viewport_size(DESKTOP)
    assert problems == [], f"axe found problems in the {view} view: {problems}"


def test_every_view_passes_axe_and_is_photographed(
    fresh_server: Callable[..., ServerProcess], members: Callable[..., Member]
) -> None:
    assert AXE.read_text(encoding="utf-8").startswith("/*! axe v4"), "vendored axe-core is missing"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    server = fresh_server()  # an empty room, so the pictures show only this conversation

    # Someone already in the room, so the chat has a conversation in it.
    guide = members(base_url=server.base_url)
    guide.open()
    guide.join()
    guide.send("Hello, and welcome. There's no pressure to share: reading along is fine too.")

    member = members(base_url=server.base_url, bypass_csp=True, reduced_motion="reduce")
    page = member.page
    member.open()
    page.add_script_tag(path=AXE)  # the page is one document: injected once, used in every view
    check_and_photograph(page, "rooms")

    member.open_room()
    expect(page.locator("#view-agreement")).to_be_visible()
    check_and_photograph(page, "agreement")

    member.accept_agreement()
    check_and_photograph(page, "phrase")

    page.get_by_role("button", name="I have saved it").click()
    member.wait_in_room()
    member.send("Hi. I'm new here, and a bit nervous.")
    guide.send("That's completely understandable. Take all the time you need.")
    expect(
        member.message("That's completely understandable. Take all the time you need.")
    ).to_be_visible()
    check_and_photograph(page, "chat")

    page.get_by_role("button", name="Get help now").click()
    expect(page.locator("#help-dialog")).to_be_visible()
    check_and_photograph(page, "help")

    # The dark scheme (prefers-color-scheme) must keep its contrast too.
    page.get_by_role("button", name="Close").click()
    page.emulate_media(color_scheme="dark")
    page.set_viewport_size(PHONE)
    assert serious_violations(page) == []
    page.screenshot(path=SCREENSHOTS / "chat-dark-phone.png")


def test_a_keyboard_alone_is_enough(members: Callable[..., Member]) -> None:
    member = members()
    page = member.page
    member.open()
    keyboard = page.keyboard

    # Each view puts focus on its heading, so the next Tab is the view's first control.
    expect(page.locator("#rooms-title")).to_be_focused()
    keyboard.press("Tab")
    expect(page.locator("#room-list button").first).to_be_focused()
    keyboard.press("Enter")
    expect(page.locator("#agreement-title")).to_be_focused()
    keyboard.press("Tab")
    expect(page.locator("#agree")).to_be_focused()
    keyboard.press("Space")
    keyboard.press("Tab")
    expect(page.get_by_role("button", name="Join anonymously")).to_be_focused()
    keyboard.press("Enter")
    expect(page.locator("#phrase-title")).to_be_focused()
    keyboard.press("Tab")
    expect(page.get_by_role("button", name="Give me another name")).to_be_focused()
    keyboard.press("Tab")
    saved = page.get_by_role("button", name="I have saved it")
    expect(saved).to_be_focused()
    # Focus is plainly visible.
    assert saved.evaluate("(el) => getComputedStyle(el).outlineStyle") == "solid"
    keyboard.press("Enter")
    expect(page.locator("#chat-title")).to_be_focused()

    for _ in range(10):
        if page.evaluate("() => document.activeElement.id") == "message-input":
            break
        keyboard.press("Tab")
    expect(page.locator("#message-input")).to_be_focused()
    keyboard.type("Sent with the keyboard alone")
    keyboard.press("Enter")
    expect(page.locator("#messages li[data-state=sent]").last).to_contain_text(
        "Sent with the keyboard alone"
    )

    # The help panel: focus moves in, Esc closes it, focus goes back to its button.
    page.get_by_role("button", name="Get help now").focus()
    keyboard.press("Enter")
    expect(page.locator("#help-title")).to_be_focused()
    keyboard.press("Escape")
    expect(page.locator("#help-dialog")).to_be_hidden()
    expect(page.get_by_role("button", name="Get help now")).to_be_focused()
    page.locator("#message-input").focus()

    # Shift+Enter is a new line, not a send.
    keyboard.type("first line")
    keyboard.press("Shift+Enter")
    keyboard.type("second line")
    expect(page.locator("#message-input")).to_have_value("first line\nsecond line")
