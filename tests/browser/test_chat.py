"""Members chatting through the real page in Chromium against a real server: real time,
presence and typing, text-only rendering, message states, the recovery phrase, history
paging and the signpost frame."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest
from playwright.sync_api import expect

from bench.client import ChatClient, recv_until, send_json
from bench.servers import ServerProcess
from tests.browser.helpers import ROOM_TITLE, Member

pytestmark = pytest.mark.browser

MARKUP = "<img src=x onerror=window.__pwned=1><script>window.__pwned=2</script><b>bold</b>"


def test_two_members_chat_in_real_time(members: Callable[..., Member]) -> None:
    ana, ben = members(), members()
    ana.open()
    ana.join()
    ben.open()
    ben.join()

    # Presence shows both, in both views.
    for member in (ana, ben):
        expect(member.page.locator("#presence-list")).to_contain_text(ana.pseudonym)
        expect(member.page.locator("#presence-list")).to_contain_text(ben.pseudonym)

    ana.send("Hello, is anyone around tonight?")
    expect(ben.message("Hello, is anyone around tonight?")).to_contain_text(ana.pseudonym)

    # Typing shows for the other member only.
    ben.page.locator("#message-input").press_sequentially("I'm")
    expect(ana.page.locator("#typing")).to_have_text(f"{ben.pseudonym} is typing…")
    expect(ben.page.locator("#typing")).to_have_text("")
    ben.send("I'm here. Take your time.")
    expect(ana.message("I'm here. Take your time.")).to_be_visible()
    expect(ana.page.locator("#typing")).to_have_text("")

    # The tab never tells what the site is, nor any message text.
    for member in (ana, ben):
        assert member.page.title() == "Notes"
        expect(member.page.locator('link[rel="icon"]')).to_have_attribute(
            "href", "/static/favicon.svg"
        )

    # Deleting your own message removes it for everyone.
    ana.message("Hello, is anyone around tonight?").get_by_role("button", name="Delete").click()
    ana.page.get_by_role("button", name="Yes, delete it").click()
    for member in (ana, ben):
        expect(member.page.locator("#messages")).not_to_contain_text(
            "Hello, is anyone around tonight?"
        )
        expect(member.page.locator("#messages")).to_contain_text("This message was deleted.")

    # Leaving goes back to the list; the other member sees them go.
    ana.page.get_by_role("button", name="Leave room").click()
    expect(ana.page.locator("#leave-confirm")).to_contain_text("Leave this room?")
    ana.page.get_by_role("button", name="Yes, leave").click()
    expect(ana.page.locator("#view-rooms")).to_be_visible()
    expect(ana.page.locator("#messages li")).to_have_count(0)  # no chat text left in the page
    expect(ben.page.locator("#presence-list")).not_to_contain_text(ana.pseudonym)


def test_markup_in_a_message_is_shown_as_text(members: Callable[..., Member]) -> None:
    sender, reader = members(), members()
    sender.open()
    sender.join()
    reader.open()
    reader.join()

    sender.send(MARKUP)

    expect(reader.message(MARKUP)).to_be_visible()
    expect(reader.message(MARKUP).locator(".msg-body")).to_have_text(MARKUP)
    for member in (sender, reader):
        assert member.page.evaluate("() => window.__pwned") is None
        log = member.page.locator("#log")
        expect(log.locator("b")).to_have_count(0)
        expect(log.locator("img")).to_have_count(0)
        expect(log.locator("script")).to_have_count(0)


def test_message_is_pending_until_ack_and_failed_send_retries_with_same_client_id(
    members: Callable[..., Member],
) -> None:
    member = members(tap=True)
    tap = member.tap
    assert tap is not None
    member.open()
    member.join()
    page = member.page

    # Held back: no ack yet, so the message is pending, in the outbox.
    tap.hold = True
    member.write("Waiting for the server")
    pending = page.locator("#outbox li.msg")
    expect(pending).to_have_attribute("data-state", "pending")
    expect(pending).to_contain_text("Sending…")
    tap.release()
    expect(member.message("Waiting for the server")).to_have_attribute("data-state", "sent")
    expect(member.message("Waiting for the server")).to_contain_text("Sent")
    expect(page.locator("#outbox li")).to_have_count(0)

    # Refused with an error frame whose ref is its client_id: failed, with a retry.
    tap.fail_sends = 1
    member.write("Second time lucky")
    failed = page.locator("#outbox li.msg")
    expect(failed).to_have_attribute("data-state", "failed")
    expect(failed).to_contain_text("Not sent")
    expect(failed).to_contain_text("Something went wrong on our side. Please try again.")
    failed.get_by_role("button", name="Try again").click()
    expect(member.message("Second time lucky")).to_have_attribute("data-state", "sent")
    expect(page.locator("#outbox li")).to_have_count(0)
    expect(member.message("Second time lucky")).to_have_count(1)
    client_ids = [frame["client_id"] for frame in tap.sends if frame["body"] == "Second time lucky"]
    assert len(client_ids) == 2
    assert client_ids[0] == client_ids[1]


def test_recovery_phrase_is_shown_once_never_stored_and_recovers_on_another_device(
    members: Callable[..., Member],
) -> None:
    first = members()
    first.open()
    first.open_room()
    first.accept_agreement()
    words = first.phrase.split()
    assert len(words) == 8, first.phrase
    assert first.phrase not in first.storage()
    first.page.get_by_role("button", name="I have saved it").click()
    first.wait_in_room()
    assert first.phrase not in first.page.content()
    assert first.phrase not in first.storage()

    # A reload goes back into the room; the phrase is never shown again.
    first.page.reload()
    first.wait_in_room()
    assert first.phrase not in first.page.content()

    # "Use my recovery phrase on this device" on a second device: the same member returns.
    second = members()
    second.open()
    second.page.get_by_text("Use my recovery phrase on this device").click()
    second.page.get_by_label("Recovery phrase").fill(f"  {first.phrase.upper()}  ")
    second.page.get_by_role("button", name="Continue").click()
    expect(second.page.locator("#notice")).to_contain_text("Welcome back")
    second.page.get_by_role("button", name=f"Enter the room ({ROOM_TITLE})").click()
    expect(second.page.locator("#chat-you")).to_have_text(first.pseudonym)
    assert first.phrase not in second.storage()

    # A wrong phrase is refused calmly.
    third = members()
    third.open()
    third.page.get_by_text("Use my recovery phrase on this device").click()
    third.page.get_by_label("Recovery phrase").fill("one two three four five six seven eight")
    third.page.get_by_role("button", name="Continue").click()
    expect(third.page.locator("#recover-error")).to_contain_text("doesn't match an account")


def test_signpost_frame_opens_the_help_panel(members: Callable[..., Member]) -> None:
    member = members(tap=True)
    assert member.tap is not None
    member.open()
    member.join()
    dialog = member.page.locator("#help-dialog")
    expect(dialog).to_be_hidden()

    member.tap.inject(
        {
            "type": "signpost",
            "message": "You mentioned feeling unsafe. These people can help right now.",
            "resources": [
                {"name": "Local helpline", "contact": "0800 123 456", "note": "Open all night"},
                {"name": "not a resource"},
            ],
        }
    )
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("You mentioned feeling unsafe.")
    expect(dialog.get_by_role("link", name="0800 123 456")).to_have_attribute(
        "href", "tel:0800123456"
    )
    expect(dialog.locator("#help-list li")).to_have_count(1)
    dialog.get_by_role("button", name="Close").click()
    expect(dialog).to_be_hidden()

    # Without resources of its own, the list the server put in the page is shown.
    member.tap.inject({"type": "signpost"})
    expect(dialog).to_be_visible()
    expect(dialog.get_by_role("link", name="116 123")).to_have_attribute("href", "tel:116123")
    expect(dialog).to_contain_text("Rape Crisis 24/7 Support Line")
    # A frame the page does not know is ignored without harm.
    member.tap.inject({"type": "from_the_future", "body": "<b>x</b>"})
    member.page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(member.page.locator("#view-chat")).to_be_visible()


def test_support_offer_is_offered_not_forced(members: Callable[..., Member]) -> None:
    member = members(tap=True)
    assert member.tap is not None
    member.open()
    member.join()
    offer = member.page.locator("#offer")

    member.tap.inject({"type": "support_offer", "room": "welcome", "title": "Private support"})
    expect(offer).to_contain_text("“Private support”")
    offer.get_by_role("button", name="Not now").click()
    expect(offer).to_be_hidden()
    expect(member.page.locator("#view-chat")).to_be_visible()

    # Accepting opens the offered room (here the same one, so it is entered afresh).
    member.tap.inject({"type": "support_offer", "room": "welcome", "title": "Private support"})
    offer.get_by_role("button", name="Go there now").click()
    expect(offer).to_be_hidden()
    member.wait_in_room()


async def _post(base_url: str, bodies: list[str]) -> None:
    client = ChatClient(base_url)
    await client.astart_and_join("welcome")
    async with await client.connect("welcome") as ws:
        await recv_until(ws, "welcome")
        for number, body in enumerate(bodies):
            await send_json(ws, {"type": "send", "client_id": f"seed-{number}", "body": body})
            await recv_until(ws, "ack")


def test_load_earlier_pages_back_through_history(
    fresh_server: Callable[..., ServerProcess], members: Callable[..., Member]
) -> None:
    # A server of its own, with a rate limit loose enough to seed 60 messages at once.
    server = fresh_server(env={"CHAT_RATE_PER_SECOND": "500", "CHAT_RATE_BURST": "500"})
    bodies = [f"Earlier message {n}" for n in range(1, 61)]
    # Playwright's sync API owns this thread's event loop: the seeding client gets its own.
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(lambda: asyncio.run(_post(server.base_url, bodies))).result(timeout=60)

    member = members(base_url=server.base_url)
    member.open()
    member.join()
    shown = member.bodies()
    expect(shown).to_have_count(50)
    expect(shown.first).to_have_text("Earlier message 11")
    expect(shown.last).to_have_text("Earlier message 60")

    member.page.get_by_role("button", name="Load earlier messages").click()
    expect(shown).to_have_count(60)
    expect(shown).to_have_text(bodies)
    expect(member.page.get_by_role("button", name=re.compile("Load earlier"))).to_be_hidden()


def test_long_messages_in_any_script_fill_every_history_page(
    fresh_server: Callable[..., ServerProcess], members: Callable[..., Member]
) -> None:
    """Issue 13, finding 16: default history failed with 25 messages of 4,000 CJK characters.
    The server now cuts pages to fit its frame limit (about five of these to a page); the
    page asks for the rest while has_more, so a member still sees 50, then all 60."""
    server = fresh_server(env={"CHAT_RATE_PER_SECOND": "500", "CHAT_RATE_BURST": "500"})
    bodies = [(f"长消息 {n} " + "我们在这里互相支持慢慢来" * 400)[:4000] for n in range(1, 61)]
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(lambda: asyncio.run(_post(server.base_url, bodies))).result(timeout=120)

    member = members(base_url=server.base_url)
    member.open()
    member.join()
    shown = member.bodies()
    expect(shown).to_have_count(50, timeout=30_000)
    expect(shown.first).to_have_text(bodies[10])
    expect(shown.last).to_have_text(bodies[59])

    member.page.get_by_role("button", name="Load earlier messages").click()
    expect(shown).to_have_count(60, timeout=30_000)
    expect(shown.first).to_have_text(bodies[0])
    expect(member.page.get_by_role("button", name=re.compile("Load earlier"))).to_be_hidden()
