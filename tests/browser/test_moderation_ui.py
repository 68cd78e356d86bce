"""Room moderation on the member page, in a real browser against a real server: facilitators
hide, mute, review held messages and run a session's waiting room; members fold away
content warnings, blur themes, report and ignore. A facilitator is a staff user (with a
current training record) who signs in at /staff/ and opens the room on the same page.
axe-core checks the page with the facilitator's panels open, and the screenshots for
docs/web-client.md are taken here."""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from playwright.sync_api import Page, ViewportSize, expect

from bench.servers import ServerProcess
from tests.browser.conftest import start_server
from tests.browser.helpers import (
    ROOM_TITLE,
    Member,
    create_room,
    create_staff_membership,
    enter_room,
    message_by_author,
    options,
    sign_in_as_staff,
)
from tests.browser.test_accessibility import AXE, DESKTOP, PHONE, SCREENSHOTS, serious_violations

pytestmark = pytest.mark.browser

HELD_WORD = "pineapple"  # this module's room holds messages with this word for review
CIRCLE_TITLE = "Evening circle"
CIRCLE_AGREEMENT = "1. What is shared here stays here.\n2. Be kind.\n3. Speak for yourself."
FACILITATOR_NAMES = (f"Steady Oak {n}" for n in itertools.count(1))


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """This module's server (it replaces conftest's, so ``members`` use it too): the demo
    room, which holds messages with HELD_WORD for review, and a room run as sessions."""
    process = start_server(tmp_path_factory.mktemp("moderation-server"))
    try:
        from tests.browser.helpers import update_room

        update_room(process, "welcome", blocked_terms=HELD_WORD)
        create_room(
            process,
            "circle",
            CIRCLE_TITLE,
            CIRCLE_AGREEMENT,
            uses_sessions=True,
            schedule="Tuesdays, 7 to 8pm",
        )
        yield process
    finally:
        process.stop()


@pytest.fixture
def facilitators(server: ServerProcess, members: Callable[..., Member]) -> Callable[..., Member]:
    """``facilitators()``: a new facilitator (own staff account) signed in and in the demo
    room; ``facilitators(slug="circle", title=...)`` in another room."""

    def factory(
        *, slug: str = "welcome", title: str = ROOM_TITLE, role: str = "facilitator", **options: Any
    ) -> Member:
        account = create_staff_membership(
            server, slug, role=role, pseudonym=next(FACILITATOR_NAMES)
        )
        person = members(**options)
        sign_in_as_staff(person, account["username"])
        enter_room(person, title)
        expect(person.page.locator("#chat-role")).to_have_text(" (peer facilitator)")
        return person

    return factory


def joined(members: Callable[..., Member], **options: Any) -> Member:
    member = members(**options)
    member.open()
    member.join()
    return member


def test_hidden_message_is_gone_for_the_room_and_its_author_sees_why(
    facilitators: Callable[..., Member], members: Callable[..., Member]
) -> None:
    guide = facilitators()
    ana, ben = joined(members), joined(members)
    text = "My neighbour at 14 Elm Road is the one who did it"
    ana.send(text)
    expect(ben.message(text)).to_be_visible()

    panel = options(guide, guide.message(text))
    panel.get_by_role("button", name="Hide").click()
    panel.get_by_label("Why hide it?").select_option("identifying")
    panel.get_by_role("button", name="Hide message").click()
    expect(guide.page.locator("#action-status")).to_have_text(
        "The message is hidden. Its author has been told why."
    )

    # The other member: the text is gone from the page, a neutral line in its place.
    expect(ben.page.locator("#messages")).not_to_contain_text(text)
    expect(message_by_author(ben, ana.pseudonym).last).to_contain_text(
        "A facilitator hid this message."
    )
    # The author: the reason, on the message and privately.
    expect(message_by_author(ana, f"{ana.pseudonym} (you)").last).to_contain_text(
        "A facilitator hid this message because it could identify someone."
    )
    expect(ana.page.locator("#private-text")).to_have_text(
        "A facilitator hid one of your messages because it could identify someone."
    )
    expect(ana.page.locator("#messages")).not_to_contain_text(text)
    # The facilitator (not a moderator) sees that it is hidden, and why.
    expect(message_by_author(guide, ana.pseudonym).last).to_contain_text(
        "Hidden by a facilitator: Could identify someone."
    )

    # A reload (history from the server) shows the same to the other member.
    ben.page.reload()
    ben.wait_in_room()
    expect(ben.page.locator("#messages")).not_to_contain_text(text)
    expect(message_by_author(ben, ana.pseudonym).last).to_contain_text(
        "A facilitator hid this message."
    )


def test_muted_member_cannot_write_until_the_mute_is_lifted(
    facilitators: Callable[..., Member], members: Callable[..., Member]
) -> None:
    guide = facilitators()
    ana = joined(members)
    ana.send("Sorry, I keep posting the same thing")

    panel = options(guide, guide.message("Sorry, I keep posting the same thing"))
    panel.get_by_role("button", name=f"Mute {ana.pseudonym}").click()
    panel.get_by_label("For how long?").select_option("15")
    # The button says what it will do.
    panel.get_by_role("button", name=f"Mute {ana.pseudonym} for 15 minutes").click()
    expect(guide.page.locator("#action-status")).to_contain_text(
        f"{ana.pseudonym} can't post for 15 minutes."
    )

    page = ana.page
    expect(page.locator("#message-input")).to_be_disabled()
    expect(page.get_by_role("button", name="Send")).to_be_disabled()
    expect(page.locator("#composer-status")).to_contain_text(
        "A facilitator has paused your messages until"
    )
    expect(page.locator("#composer-status")).to_contain_text("You can still read the room.")
    expect(page.locator("#private-text")).to_contain_text(
        "A facilitator has paused your messages for a while."
    )
    # Still muted after a reload: the welcome carries muted_until.
    page.reload()
    ana.wait_in_room()
    expect(page.locator("#message-input")).to_be_disabled()

    panel = options(guide, guide.message("Sorry, I keep posting the same thing"))
    panel.get_by_role("button", name=f"Mute {ana.pseudonym}").click()
    panel.get_by_label("For how long?").select_option("0")
    panel.get_by_role("button", name=f"Lift the mute on {ana.pseudonym}").click()
    expect(page.locator("#message-input")).to_be_enabled()
    expect(page.locator("#private-text")).to_have_text("You can post again.")
    ana.send("Thank you, I'll slow down")


def test_content_warning_and_blurred_themes_fold_messages_away(
    members: Callable[..., Member],
) -> None:
    ana, ben = joined(members), joined(members)

    # Ana's own warning: she picks a theme, and the box is reset after sending.
    ana.page.get_by_label("Content warning").check()
    ana.page.locator("#composer").get_by_label("self-harm").check()
    ana.send("I want to talk about what I used to do to cope, years ago")
    expect(ana.page.get_by_label("Content warning")).not_to_be_checked()

    folded = message_by_author(ben, ana.pseudonym).last
    expect(folded).to_contain_text("Content warning: self-harm")
    body = folded.locator(".msg-body")
    expect(body).to_be_hidden()
    show = folded.get_by_role("button", name="Show")
    expect(show).to_have_attribute("aria-expanded", "false")
    show.click()
    expect(body).to_be_visible()
    expect(body).to_have_text("I want to talk about what I used to do to cope, years ago")
    expect(folded.get_by_role("button", name="Hide again")).to_have_attribute(
        "aria-expanded", "true"
    )
    # The author's own copy is never folded.
    expect(ana.message("I want to talk about what I used to do to cope, years ago")).to_be_visible()

    # Ben's own choice: blur a theme; a message about it (no warning) starts folded too.
    ben.page.get_by_text("My settings").click()
    ben.page.locator("#settings").get_by_label("alcohol or drugs").check()
    ben.page.get_by_role("button", name="Save").click()
    expect(ben.page.locator("#blur-status")).to_have_text("Saved.")
    ana.send("I was drunk most of last weekend")
    blurred = message_by_author(ben, ana.pseudonym).last
    expect(blurred).to_contain_text("Blurred by your settings: alcohol or drugs")
    expect(blurred.locator(".msg-body")).to_be_hidden()
    blurred.get_by_role("button", name="Show").click()
    expect(blurred.locator(".msg-body")).to_have_text("I was drunk most of last weekend")


def test_report_reaches_the_facilitator_without_the_reporters_name(
    facilitators: Callable[..., Member], members: Callable[..., Member]
) -> None:
    guide = facilitators()
    ana, ben = joined(members), joined(members)
    ana.send("You're all making this up")

    panel = options(ben, ben.message("You're all making this up"))
    panel.get_by_role("button", name="Report").click()
    panel.get_by_label("Why are you reporting it?").select_option("harassment")
    panel.get_by_label("Anything else they should know? (optional)").fill("It upset me")
    panel.get_by_role("button", name="Send report").click()
    expect(ben.page.locator("#action-status")).to_contain_text("Thank you for telling us.")
    expect(ben.page.locator("#my-reports")).to_be_visible()
    expect(ben.page.locator("#my-report-list")).to_contain_text("It's hurtful or harassing")
    expect(ben.page.locator("#my-report-list")).to_contain_text("“You're all making this up”")

    alerts = guide.page.locator("#fac-alerts")
    expect(alerts).to_contain_text(
        f"A message from {ana.pseudonym} was reported: It's hurtful or harassing."
    )
    expect(alerts).not_to_contain_text(ben.pseudonym)
    # The badge counts what waits: at least this report (the room is shared with earlier
    # tests, and the risk model may read this line in their messages' context).
    expect(guide.page.locator("#facilitator summary")).to_contain_text(
        re.compile(r"[1-9]\d* to look at")
    )
    # "Show message" takes the facilitator to it.
    report = alerts.locator("li", has_text="was reported")
    report.get_by_role("button", name=re.compile(r"^Show message #")).click()
    expect(guide.message("You're all making this up")).to_be_focused()

    # A member cannot report their own message: the option is not offered.
    ana_own = ana.message("You're all making this up")
    expect(ana_own.get_by_role("button", name=re.compile("^Options for "))).to_have_count(0)


def test_a_message_the_safety_check_cannot_read_is_shown_to_the_facilitator(
    facilitators: Callable[..., Member], members: Callable[..., Member]
) -> None:
    guide = facilitators()
    ana, ben = joined(members), joined(members)
    portuguese = "Hoje foi um dia muito difícil e não consigo dormir nada"
    ana.send(portuguese)
    alerts = guide.page.locator("#fac-alerts")
    expect(alerts).to_contain_text(
        f"A message from {ana.pseudonym} is in a language our safety check can't read. "
        "Please read it yourself."
    )
    # The count says what waits (alerts still open from earlier tests in this room come too,
    # as they would for a facilitator arriving).
    expect(guide.page.locator("#facilitator summary")).to_contain_text("1 to read")
    notice = alerts.locator("li", has_text="in a language our safety check can't read")
    notice.get_by_role("button", name=re.compile(r"^Show message #")).click()
    expect(guide.message(portuguese)).to_be_focused()
    # Members see the message and nothing about the notice.
    expect(ben.message(portuguese)).to_be_visible()
    expect(ben.page.locator("#fac-alerts li")).to_have_count(0)


def test_waiting_room_agree_then_admitted_then_session_ends(
    facilitators: Callable[..., Member], members: Callable[..., Member]
) -> None:
    guide = facilitators(slug="circle", title=CIRCLE_TITLE)
    tools = guide.page.locator("#facilitator")
    expect(tools.locator("#session-state")).to_contain_text("No session is running.")
    tools.get_by_role("button", name="Open a session").click()
    expect(tools.locator("#session-state")).to_contain_text("A session is open.")

    member = members()
    member.open()
    # The room list says when the room meets and that it starts in a waiting room.
    listed = member.page.locator("#room-list .room", has_text=CIRCLE_TITLE)
    expect(listed.locator(".room-schedule")).to_have_text("When: Tuesdays, 7 to 8pm")
    expect(listed.locator(".room-sessions")).to_contain_text("waiting room")
    member.open_room(CIRCLE_TITLE)
    member.accept_agreement()
    member.page.get_by_role("button", name="I have saved it").click()
    page = member.page
    expect(page.locator("#view-waiting")).to_be_visible()
    expect(page.locator("#waiting-title")).to_be_focused()
    expect(page.locator("#waiting-agreement")).to_have_text(CIRCLE_AGREEMENT)
    expect(page.locator("#waiting-schedule")).to_have_text("Sessions: Tuesdays, 7 to 8pm")
    expect(tools.locator("#waiting-list")).to_contain_text(
        f"{member.pseudonym} is reading the agreement"
    )

    page.get_by_role("button", name="I agree").click()
    expect(page.locator("#waiting-status")).to_contain_text(
        "You're waiting for a facilitator to let you in."
    )
    expect(page.locator("#waiting-agreement-box")).to_be_hidden()

    tools.get_by_role("button", name=f"Admit {member.pseudonym}").click()
    expect(page.locator("#view-chat")).to_be_visible()
    expect(page.locator("#presence-list")).to_contain_text(f"{member.pseudonym} (you)")
    expect(page.locator("#announcer")).to_have_text("You're in the room now. Welcome.")
    expect(page.locator("#conn-status")).to_have_text("")  # not "Connected again."
    member.send("Hello, thank you for letting me in")
    expect(guide.message("Hello, thank you for letting me in")).to_be_visible()

    # The facilitator closes the session: the member is told, and not reconnected.
    tools.get_by_role("button", name="Close the session").click()
    tools.get_by_role("button", name="Yes, close it").click()
    expect(page.locator("#view-rooms")).to_be_visible()
    expect(page.locator("#notice")).to_contain_text("This session has ended.")
    expect(page.locator("#messages li")).to_have_count(0)
    expect(tools.locator("#session-state")).to_contain_text("No session is running.")


def test_ignored_author_is_not_shown_until_unignored(members: Callable[..., Member]) -> None:
    ana, ben, cai = joined(members), joined(members), joined(members)
    ana.send("First message from Ana")
    expect(ben.message("First message from Ana")).to_be_visible()

    panel = options(ben, ben.message("First message from Ana"))
    panel.get_by_role("button", name=f"Ignore {ana.pseudonym}").click()
    expect(panel).to_contain_text("They aren't told.")
    panel.get_by_role("button", name=f"Ignore {ana.pseudonym}").click()
    expect(ben.page.locator("#action-status")).to_contain_text(f"You're ignoring {ana.pseudonym}.")
    # What was already on the page goes too.
    expect(ben.page.locator("#messages")).not_to_contain_text("First message from Ana")

    ana.send("Second message from Ana")
    cai.send("A message from Cai after Ana's")
    expect(ben.message("A message from Cai after Ana's")).to_be_visible()
    expect(ben.page.locator("#messages")).not_to_contain_text("Second message from Ana")
    expect(cai.message("Second message from Ana")).to_be_visible()
    expect(ben.page.locator("#typing")).to_have_text("")

    # Undo it from My settings: new messages are shown again.
    ben.page.get_by_text("My settings").click()
    ben.page.get_by_role("button", name=f"Stop ignoring {ana.pseudonym}").click()
    expect(ben.page.locator("#ignore-status")).to_contain_text(
        f"You'll see new messages from {ana.pseudonym} again."
    )
    ana.send("Third message from Ana")
    expect(ben.message("Third message from Ana")).to_be_visible()


def test_held_message_is_reviewed_by_a_facilitator(
    facilitators: Callable[..., Member], members: Callable[..., Member]
) -> None:
    guide = facilitators()
    ana, ben = joined(members), joined(members)

    ana.write(f"Does anyone else like {HELD_WORD} on pizza?")
    pending = ana.page.locator("#outbox li.msg")
    expect(pending).to_have_attribute("data-state", "held")
    expect(pending).to_contain_text("Waiting for review")
    expect(pending).to_contain_text("Your message is waiting for a facilitator to look at it")

    queue = guide.page.locator("#held-list")
    expect(queue).to_contain_text(f"Does anyone else like {HELD_WORD} on pizza?")
    expect(guide.page.locator("#held-count")).to_have_text("1")
    queue.get_by_role("button", name=f"Release from {ana.pseudonym}").click()
    expect(ana.message(f"Does anyone else like {HELD_WORD} on pizza?")).to_have_attribute(
        "data-state", "sent"
    )
    expect(ben.message(f"Does anyone else like {HELD_WORD} on pizza?")).to_be_visible()
    expect(guide.page.locator("#held-count")).to_have_text("0")

    ana.write(f"{HELD_WORD} again")
    expect(queue).to_contain_text(f"{HELD_WORD} again")
    queue.get_by_role("button", name=f"Don't publish from {ana.pseudonym}").click()
    rejected = ana.page.locator("#outbox li.msg")
    expect(rejected).to_have_attribute("data-state", "rejected")
    expect(rejected).to_contain_text("A facilitator decided not to share this message.")
    rejected.get_by_role("button", name="Remove").click()
    expect(ana.page.locator("#outbox li")).to_have_count(0)
    expect(ben.page.locator("#messages")).not_to_contain_text(f"{HELD_WORD} again")


def test_room_controls_pause_slow_mode_announce_and_pin(
    facilitators: Callable[..., Member], members: Callable[..., Member]
) -> None:
    guide = facilitators()
    ana = joined(members)
    tools = guide.page.locator("#facilitator")
    try:
        tools.get_by_role("button", name="Pause the room").click()
        expect(ana.page.locator("#composer-status")).to_have_text(
            "The room is paused just now. You can read, but not post."
        )
        expect(ana.page.locator("#message-input")).to_be_disabled()
        tools.get_by_role("button", name="Reopen the room").click()
        expect(ana.page.locator("#message-input")).to_be_enabled()

        tools.get_by_label("Slow mode (for members)").select_option("30")
        tools.get_by_role("button", name="Set slow mode").click()
        expect(ana.page.locator("#composer-status")).to_have_text(
            "Slow mode is on: one message every 30 seconds."
        )
        ana.send("One message")
        ana.write("And another straight away")
        failed = ana.page.locator("#outbox li.msg")
        expect(failed).to_have_attribute("data-state", "failed")
        expect(failed).to_contain_text("The room is in slow mode. You can send again in")
    finally:
        tools.get_by_label("Slow mode (for members)").select_option("0")
        tools.get_by_role("button", name="Set slow mode").click()
        expect(tools.locator("#fac-status")).to_have_text("Slow mode is off.")

    tools.get_by_label("Announcement").fill("We'll take a short break at the top of the hour.")
    tools.get_by_role("button", name="Post announcement").click()
    announcement = ana.message("We'll take a short break at the top of the hour.")
    expect(announcement).to_contain_text("Announcement")

    panel = options(guide, guide.message("One message"))
    panel.get_by_role("button", name="Pin").click()
    expect(ana.page.locator("#pins")).to_be_visible()
    expect(ana.page.locator("#pin-list")).to_contain_text("One message")
    expect(ana.message("One message")).to_contain_text("Pinned")
    guide.page.locator("#pin-list").get_by_role("button", name="Unpin").click()
    expect(ana.page.locator("#pins")).to_be_hidden()

    # A peer facilitator is not offered bans (moderators and up are).
    panel = options(guide, guide.message("One message"))
    expect(panel.get_by_role("button", name=re.compile("^Ban "))).to_have_count(0)
    panel.press("Escape")
    expect(panel).to_be_hidden()

    # What the server refuses is shown with its reason, in place.
    guide.send("I'm here if anyone wants to talk")
    panel = options(ana, ana.message("I'm here if anyone wants to talk"))
    panel.get_by_role("button", name=f"Ignore {guide.pseudonym}").click()
    panel.get_by_role("button", name=f"Ignore {guide.pseudonym}").click()
    expect(panel.get_by_role("alert")).to_contain_text("Facilitators and staff cannot be ignored")


def test_leave_room_ends_the_membership(members: Callable[..., Member]) -> None:
    ana = joined(members)
    ana.page.get_by_role("button", name="Leave room").click()
    # It asks first; "Stay" keeps them in the room.
    ana.page.get_by_role("button", name="Stay").click()
    expect(ana.page.locator("#leave-confirm")).to_be_hidden()
    expect(ana.page.locator("#view-chat")).to_be_visible()
    ana.page.get_by_role("button", name="Leave room").click()
    ana.page.get_by_role("button", name="Yes, leave").click()
    expect(ana.page.locator("#view-rooms")).to_be_visible()
    expect(ana.page.locator("#notice")).to_contain_text(f"You've left {ROOM_TITLE}.")
    expect(
        ana.page.get_by_role("button", name=f"Read the agreement ({ROOM_TITLE})")
    ).to_be_visible()


def test_delete_all_my_data_asks_first_and_signs_out(members: Callable[..., Member]) -> None:
    ana = joined(members)
    ana.page.get_by_role("button", name="Leave room").click()
    ana.page.get_by_role("button", name="Yes, leave").click()
    page = ana.page
    page.get_by_role("button", name="Delete all my data").click()
    expect(page.locator("#delete-data-confirm")).to_contain_text("This can't be undone.")
    page.get_by_role("button", name="Keep my data").click()
    expect(page.locator("#delete-data-confirm")).to_be_hidden()
    page.get_by_role("button", name="Delete all my data").click()
    page.get_by_role("button", name="Yes, delete everything").click()
    expect(page.locator("#notice")).to_contain_text("Your data has been deleted.")
    expect(page.locator("#session-box")).to_be_hidden()


# --- accessibility and screenshots ----------------------------------------------------------


SIZES: tuple[tuple[str, ViewportSize], ...] = (
    ("desktop", ViewportSize(width=DESKTOP["width"], height=DESKTOP["height"])),
    ("phone", ViewportSize(width=PHONE["width"], height=PHONE["height"])),
    ("smallest", ViewportSize(width=320, height=640)),
)

# Visible elements that stick out past the right edge of the window (no reflow at 320 px).
OVERFLOWING = """() => [...document.querySelectorAll("body *")]
  .filter((e) => e.getClientRects().length && !e.closest(".visually-hidden, [hidden]"))
  .filter((e) => e.getBoundingClientRect().right > window.innerWidth + 1)
  .map((e) => e.tagName.toLowerCase() + (e.id ? "#" + e.id : "") + "." + e.className)"""


def photograph(page: Page, name: str, *, before_each: Callable[[], None] | None = None) -> None:
    """axe at both widths (no serious or critical violations), a screenshot of each, and
    nothing wider than a 320 px screen."""
    problems: list[dict[str, Any]] = []
    for width, size in SIZES:
        page.set_viewport_size(size)
        page.wait_for_timeout(200)  # the page's own reaction to the new width comes first
        if before_each:
            before_each()
        if width == "smallest":
            assert page.evaluate(OVERFLOWING) == [], f"{name} does not fit 320 px"
            continue
        problems += [{**v, "width": width} for v in serious_violations(page)]
        page.screenshot(path=SCREENSHOTS / f"{name}-{width}.png")
    page.set_viewport_size(SIZES[0][1])
    assert problems == [], f"axe found problems in {name}: {problems}"


def test_moderation_views_pass_axe_and_are_photographed(
    facilitators: Callable[..., Member], members: Callable[..., Member]
) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    guide = facilitators(bypass_csp=True, reduced_motion="reduce")
    ana = joined(members, bypass_csp=True, reduced_motion="reduce")
    ben = joined(members)
    ben.send("Hello everyone. I'm glad this room exists.")
    ben.page.get_by_label("Content warning").check()
    ben.page.locator("#composer").get_by_label("sexual violence").check()
    ben.send("It happened at a party two years ago and I still think about it every day.")
    ana.send("Thank you for sharing that. You're not alone here.")
    ben.write(f"Has anyone tried {HELD_WORD} tea for sleep?")
    panel = options(ana, ana.message("Hello everyone. I'm glad this room exists."))
    panel.get_by_role("button", name="Report").click()
    panel.get_by_label("Why are you reporting it?").select_option("spam")
    panel.get_by_role("button", name="Send report").click()
    expect(guide.page.locator("#fac-alerts li", has_text="was reported: Spam")).to_have_count(1)
    expect(guide.page.locator("#held-list li")).to_have_count(1)

    # The facilitator: tools open, a message's options open on the Hide form.
    page = guide.page
    page.add_script_tag(path=AXE)

    def open_facilitator_panels() -> None:
        page.evaluate(
            "() => { for (const d of document.querySelectorAll('#facilitator')) d.open = true; }"
        )
        menu = guide.message("Thank you for sharing that. You're not alone here.").locator(
            ".msg-menu"
        )
        if menu.is_hidden():
            panel = options(
                guide, guide.message("Thank you for sharing that. You're not alone here.")
            )
            panel.get_by_role("button", name="Hide").click()

    photograph(page, "moderation-facilitator", before_each=open_facilitator_panels)

    # A member: a folded message, settings open, a report listed.
    page = ana.page
    page.add_script_tag(path=AXE)

    def open_member_panels() -> None:
        for panel in ("#settings", "#my-reports"):
            page.locator(panel).evaluate("(d) => { d.open = true; }")
        expect(message_by_author(ana, ben.pseudonym).nth(1)).to_contain_text(
            "Content warning: sexual violence"
        )

    photograph(page, "moderation-member", before_each=open_member_panels)

    # Muted: the composer says why.
    gpanel = options(guide, guide.message("Thank you for sharing that. You're not alone here."))
    gpanel.get_by_role("button", name=f"Mute {ana.pseudonym}").click()
    gpanel.get_by_role("button", name=f"Mute {ana.pseudonym} for 5 minutes").click()
    expect(page.locator("#message-input")).to_be_disabled()
    page.locator(".side-panel").evaluate_all("(all) => all.forEach((d) => { d.open = false; })")
    assert serious_violations(page) == []
    page.emulate_media(color_scheme="dark")
    page.set_viewport_size(SIZES[1][1])
    assert serious_violations(page) == []
    page.screenshot(path=SCREENSHOTS / "moderation-muted-dark-phone.png")


def test_waiting_room_passes_axe_and_is_photographed(
    facilitators: Callable[..., Member], members: Callable[..., Member]
) -> None:
    guide = facilitators(slug="circle", title=CIRCLE_TITLE, bypass_csp=True)
    tools = guide.page.locator("#facilitator")
    if tools.get_by_role("button", name="Open a session").count() == 0:
        tools.get_by_role("button", name="Close the session").click()
        tools.get_by_role("button", name="Yes, close it").click()
    tools.get_by_role("button", name="Open a session").click()
    member = members(bypass_csp=True, reduced_motion="reduce")
    member.open()
    member.open_room(CIRCLE_TITLE)
    member.accept_agreement()
    member.page.get_by_role("button", name="I have saved it").click()
    page = member.page
    expect(page.locator("#view-waiting")).to_be_visible()
    page.add_script_tag(path=AXE)
    photograph(page, "waiting-room")

    expect(tools.locator("#waiting-list")).to_contain_text(member.pseudonym)
    page.get_by_role("button", name="I agree").click()
    expect(tools.get_by_role("button", name=f"Admit {member.pseudonym}")).to_be_visible()
    guide.page.add_script_tag(path=AXE)
    photograph(
        guide.page,
        "waiting-room-facilitator",
        before_each=lambda: guide.page.evaluate(
            "() => { document.getElementById('facilitator').open = true; "
            "document.getElementById('session-section').scrollIntoView(); }"
        ),
    )
    tools.get_by_role("button", name="Close the session").click()
    tools.get_by_role("button", name="Yes, close it").click()
    # Someone still waiting stays in the waiting room, told there is no session now.
    expect(page.locator("#waiting-status")).to_contain_text("There's no session running just now.")
    expect(page.locator("#waiting-agreement-box")).to_be_hidden()


def test_message_options_work_with_the_keyboard(members: Callable[..., Member]) -> None:
    ana, ben = joined(members), joined(members)
    ana.send("Is it normal to feel numb?")
    message = ben.message("Is it normal to feel numb?")
    toggle = message.get_by_role("button", name=f"Options for the message from {ana.pseudonym}")
    keyboard = ben.page.keyboard

    toggle.focus()
    keyboard.press("Enter")
    expect(toggle).to_have_attribute("aria-expanded", "true")
    expect(message.get_by_role("button", name="Report")).to_be_focused()
    keyboard.press("Tab")
    expect(message.get_by_role("button", name=f"Ignore {ana.pseudonym}")).to_be_focused()
    keyboard.press("Escape")
    expect(message.locator(".msg-menu")).to_be_hidden()
    expect(toggle).to_be_focused()
    expect(toggle).to_have_attribute("aria-expanded", "false")

    # Into a form and back out again.
    keyboard.press("Enter")
    keyboard.press("Enter")  # Report
    expect(message.get_by_label("Why are you reporting it?")).to_be_focused()
    message.get_by_role("button", name="Cancel").focus()
    keyboard.press("Enter")
    expect(message.get_by_role("button", name="Report")).to_be_focused()
    toggle.focus()
    assert toggle.evaluate("(el) => getComputedStyle(el).outlineStyle") == "solid"


def test_moderator_reads_hidden_text_and_bans_from_the_room(
    browser: Any, server: ServerProcess, members: Callable[..., Member]
) -> None:
    """A moderator signs in with an authenticator code; they still read a hidden message,
    and a room ban takes the member out with the server's words."""
    from tests.browser.staff_helpers import Authenticator, Dashboard

    account = create_staff_membership(
        server, "welcome", role="moderator", pseudonym=next(FACILITATOR_NAMES)
    )
    board = Dashboard.create(browser, server, authenticator=Authenticator())
    try:
        board.open()
        board.sign_in(account["username"], "long enough password")
        moderator = Member(context=board.context, page=board.page, base_url=server.base_url)
        moderator.open()
        enter_room(moderator)
        expect(moderator.page.locator("#chat-role")).to_have_text(" (moderator)")

        ana = joined(members)
        ana.send("Everyone here is lying")
        panel = options(moderator, moderator.message("Everyone here is lying"))
        panel.get_by_role("button", name="Hide").click()
        panel.get_by_label("Why hide it?").select_option("harassment")
        panel.get_by_role("button", name="Hide message").click()
        hidden = moderator.message("Everyone here is lying")
        expect(hidden).to_contain_text("Hidden from the room: Hurtful to someone in the room.")

        panel = options(moderator, message_by_author(moderator, ana.pseudonym).last)
        panel.get_by_role("button", name=f"Ban {ana.pseudonym}").click()
        scope = panel.get_by_label("Ban them from")
        expect(scope.locator("option")).to_have_count(1)  # the service: staff and admins only
        panel.get_by_role("button", name=f"Ban {ana.pseudonym}").click()
        expect(moderator.page.locator("#action-status")).to_have_text(
            f"{ana.pseudonym} is banned from this room."
        )
        expect(ana.page.locator("#view-rooms")).to_be_visible()
        expect(ana.page.locator("#notice")).to_have_text(
            "You can no longer take part in this room."
        )
        assert board.blocked == []
    finally:
        board.close()
