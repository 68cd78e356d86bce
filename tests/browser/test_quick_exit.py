"""Quick exit, by the button and by Esc twice: the page is replaced by the neutral site,
Back does not return to the chat, web storage is empty and the session is logged out."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Callable

import pytest
from playwright.sync_api import expect

from tests.browser.helpers import ARRIVED_FROM_URL, NEUTRAL_URL, Member

pytestmark = pytest.mark.browser


def _member_on_server(base_url: str, session_id: str) -> bool:
    """Whether the server still knows this session as a member (asked with the old cookie)."""
    request = urllib.request.Request(
        base_url + "/api/session", headers={"Cookie": f"sessionid={session_id}"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return bool(json.loads(response.read())["member"])


@pytest.mark.parametrize("how", ["button", "escape twice", "button in the help panel"])
def test_quick_exit_leaves_no_way_back(members: Callable[..., Member], how: str) -> None:
    member = members()
    page = member.page
    page.goto(ARRIVED_FROM_URL)  # where the member came from
    member.open()
    member.join()
    member.send(f"Something private, before leaving by {how}")
    # Anything the page (or anything else on this origin) kept must go.
    page.evaluate(
        "() => { localStorage.setItem('probe', '1'); sessionStorage.setItem('probe', '1'); }"
    )
    session_id = next(c["value"] for c in member.context.cookies() if c["name"] == "sessionid")
    assert _member_on_server(member.base_url, session_id)

    if how == "button":
        page.get_by_role("link", name="Quick exit").click()
    elif how == "button in the help panel":
        # A modal panel makes the page behind it inert: the way out must be inside it too.
        page.get_by_role("button", name="Get help now").click()
        dialog = page.get_by_role("dialog", name="Get help now")
        expect(dialog).to_be_visible()
        dialog.get_by_role("link", name="Quick exit").click()
    else:
        page.keyboard.press("Escape")
        page.keyboard.press("Escape")

    page.wait_for_url(NEUTRAL_URL)
    expect(page.locator("h1")).to_have_text("Weather forecast")

    # Logged out on the server: the old cookie is worth nothing now. The logout is fire and
    # forget, so poll briefly for it.
    for _ in range(50):
        if not _member_on_server(member.base_url, session_id):
            break
        page.wait_for_timeout(100)
    assert not _member_on_server(member.base_url, session_id)
    answer = member.context.request.get(member.base_url + "/api/session").json()
    assert answer["member"] is False

    # Back goes to where the member came from, not to the chat.
    page.go_back()
    page.wait_for_url(ARRIVED_FROM_URL)
    assert not page.url.startswith(member.base_url)

    # This tab's storage for the site is empty (sessionStorage is per tab, so look here).
    page.goto(member.base_url + "/healthz")
    assert page.evaluate("() => [localStorage.length, sessionStorage.length]") == [0, 0]
