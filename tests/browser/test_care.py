"""Care around an alert, on a phone (390 by 844) in a real browser against a real server: a
risky message is folded for another member behind a care note; its writer gets the help panel
(its Quick exit always in view) and then a lasting status that says honestly whether anyone
is on call, and follows staff acknowledging it; a facilitator arriving later sees the room's
open alerts and reports, with markers in the history; facilitators carry a role badge.
axe-core checks each of these views; the screenshots for docs/web-client.md are taken here."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, Locator, Page, expect

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
from tests.browser.staff_helpers import (
    RISKY,
    Authenticator,
    Dashboard,
    create_facilitator,
    create_staff_user,
)
from tests.browser.test_accessibility import AXE, SCREENSHOTS, serious_violations

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}
STAFF_PASSWORD = "quiet-lantern-harbour-7"  # test-only
ARRIVAL = "Thursday group"
ON_A_PHONE: dict[str, Any] = {"viewport": PHONE, "is_mobile": True, "has_touch": True}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """This module's server: the demo room and a staff account (the admin role)."""
    process = start_server(
        tmp_path_factory.mktemp("care-server"), env={"ESCALATION_TICK_SECONDS": "1"}
    )
    try:
        create_staff_user(process)
        yield process
    finally:
        process.stop()


def joined(members: Callable[..., Member], title: str = ROOM_TITLE, **options: Any) -> Member:
    member = members(**{**ON_A_PHONE, **options})
    member.open()
    member.join(title)
    return member


def inside_viewport(page: Page, target: Locator) -> bool:
    box = target.bounding_box()
    size = page.viewport_size
    assert box is not None and size is not None
    return (
        box["x"] >= 0
        and box["y"] >= 0
        and box["x"] + box["width"] <= size["width"] + 1
        and box["y"] + box["height"] <= size["height"] + 1
    )


def axe_clean(page: Page, name: str) -> None:
    page.add_script_tag(path=AXE)
    problems = serious_violations(page)
    assert problems == [], f"axe found problems in {name}: {problems}"


def test_a_risky_message_is_folded_for_others_and_its_writer_is_told_honestly(
    browser: Browser, server: ServerProcess, members: Callable[..., Member]
) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    ana = joined(members, bypass_csp=True, reduced_motion="reduce")
    ben = joined(members, bypass_csp=True, reduced_motion="reduce")
    ana.write(RISKY)

    # The writer: the help panel opens; its Quick exit stays on screen however far it scrolls.
    page = ana.page
    dialog = page.locator("#help-dialog")
    expect(dialog).to_be_visible()
    leave = dialog.get_by_role("link", name="Quick exit")
    expect(leave).to_be_visible()
    assert inside_viewport(page, leave)
    help_list = dialog.locator("#help-list")
    expect(help_list).to_contain_text("press 55")
    expect(help_list).to_contain_text("Childline (under 19)")
    expect(help_list.get_by_role("link", name="Text SHOUT to 85258")).to_have_attribute(
        "href", "sms:85258?body=SHOUT"
    )
    dialog.evaluate("(d) => { d.scrollTop = d.scrollHeight; }")
    page.wait_for_timeout(100)
    assert dialog.evaluate("(d) => d.scrollTop") > 0, "the panel fits: nothing to scroll"
    assert inside_viewport(page, leave), "Quick exit scrolled away with the list"
    axe_clean(page, "the help panel after a risky message")
    page.screenshot(path=SCREENSHOTS / "care-help-scrolled-phone.png")
    dialog.get_by_role("button", name="Close").click()

    # Then a lasting status: a person was told, and honestly, nobody is on call just now.
    care = page.locator("#care")
    expect(care).to_be_visible()
    expect(care.locator("#care-title")).to_have_text("A trained person has been told.")
    expect(care).to_contain_text("Nobody from our support team is on call right now.")
    expect(care).not_to_contain_text("Someone from our support team is on call now")
    expect(care.locator("#care-resources")).to_contain_text("999")
    expect(care.locator("#care-resources")).to_contain_text("116 123")
    expect(ana.message(RISKY)).to_be_visible()  # never folded for its writer
    expect(ana.message(RISKY).locator(".msg-cw")).to_have_count(0)
    axe_clean(page, "the writer's care status")
    page.screenshot(path=SCREENSHOTS / "care-status-phone.png")

    # Another member: folded behind a care note, not hidden.
    folded = message_by_author(ben, ana.pseudonym).last
    note = folded.locator(".msg-cw-care")
    expect(note).to_contain_text(
        "This message talks about suicide. A trained member of our team has been told about it."
    )
    expect(folded.locator(".msg-body")).to_be_hidden()
    expect(ben.page.locator("#care")).to_be_hidden()
    axe_clean(ben.page, "a message folded behind a care note")
    ben.page.screenshot(path=SCREENSHOTS / "care-folded-phone.png")
    show = folded.get_by_role("button", name="Show")
    expect(show).to_have_attribute("aria-expanded", "false")
    show.click()
    expect(folded.locator(".msg-body")).to_have_text(RISKY)

    # Someone who can act on alerts opens the dashboard: the writer's status says so.
    board = Dashboard.create(browser, server, authenticator=Authenticator(), bypass_csp=True)
    try:
        board.open()
        board.sign_in()
        expect(care).to_contain_text("Someone from our support team is on call now.")
        expect(care.locator("#care-resources li")).to_have_count(0)
        card = board.card(ana.pseudonym)
        card.get_by_role("button", name="Acknowledge").click()
        expect(care.locator("#care-title")).to_have_text("Someone has read it.")
        card.get_by_role("button", name="Open support room").click()
        expect(care.locator("#care-title")).to_have_text("A private space is open for you.")
        support_title = f"Private support for {ana.pseudonym}"
        go = care.get_by_role("button", name=re.compile(f"^Go to “{support_title} \\("))
        expect(go).to_be_visible()
        # The dashboard links to the room, where staff talk with the member.
        way_in = card.get_by_role("link", name="Go to the support room")
        expect(way_in).to_have_attribute("href", re.compile(r"^/#chat/support-[a-z0-9]+$"))
        # The service figures: linked from the dashboard, in its look, dates as in the UK.
        board.page.get_by_role("link", name="Service figures").click()
        figures = board.page
        expect(figures.get_by_role("heading", level=1)).to_have_text("Service figures")
        expect(figures.locator("#range")).to_have_text(
            re.compile(r"^From \d{1,2} [A-Z][a-z]+ \d{4} to \d{1,2} [A-Z][a-z]+ \d{4}$")
        )
        expect(figures.locator("#by-category")).to_contain_text("Suicide risk")
        expect(figures.locator("#by-severity")).to_contain_text("Critical")
        axe_clean(figures, "the service figures")
        figures.screenshot(path=SCREENSHOTS / "figures-desktop.png", full_page=True)
        figures.get_by_role("link", name="Back to the queue").click()
        board.wait_live()
        assert board.script_errors == []
    finally:
        board.close()
    # The last person on call left: the writer is told that too.
    expect(care).to_contain_text("Nobody from our support team is on call right now.")
    # After a reload the status is still there (it lasts while the alert is open).
    page.reload()
    ana.wait_in_room()
    expect(care.locator("#care-title")).to_have_text("A private space is open for you.")
    care.get_by_role("button", name=re.compile(f"^Go to “{support_title} \\(")).click()
    expect(page.locator("#agreement-title")).to_contain_text(support_title)


def test_a_facilitator_arriving_sees_what_came_before_and_carries_a_badge(
    server: ServerProcess, members: Callable[..., Member]
) -> None:
    # A room of its own: the detector reads a message with the few before it.
    create_room(server, "arrival", ARRIVAL, "Be kind.")
    ana, ben = joined(members, ARRIVAL), joined(members, ARRIVAL)
    ben.send("You're all making this up")
    panel = options(ana, ana.message("You're all making this up"))
    panel.get_by_role("button", name="Report").click()
    panel.get_by_label("Why are you reporting it?").select_option("harassment")
    panel.get_by_role("button", name="Send report").click()
    expect(ana.page.locator("#action-status")).to_contain_text("Thank you for telling us.")
    ana.write(RISKY)
    expect(ana.page.locator("#help-dialog")).to_be_visible()
    ana.page.locator("#help-dialog").get_by_role("button", name="Close").click()

    # A facilitator comes in afterwards, on a phone.
    account = create_staff_membership(server, "arrival", pseudonym="Steady Oak")
    guide = members(**ON_A_PHONE, bypass_csp=True, reduced_motion="reduce")
    sign_in_as_staff(guide, account["username"])
    enter_room(guide, ARRIVAL)
    tools = guide.page.locator("#facilitator")
    summary = tools.locator("summary")
    # Folded on a phone; its summary counts what waits.
    expect(summary).to_contain_text("2 to look at (1 safety alert, 1 report)")
    expect(tools.locator("#fac-alerts")).to_be_hidden()
    summary.click()
    alerts = tools.locator("#fac-alerts")
    expect(alerts).to_contain_text(f"Possible risk in a message from {ana.pseudonym}")
    expect(alerts).to_contain_text(
        f"A message from {ben.pseudonym} was reported: It's hurtful or harassing."
    )
    expect(alerts).not_to_contain_text(ana.pseudonym + " reported")
    expect(tools.locator("#fac-alerts-empty")).to_be_hidden()
    # The history marks them, for the facilitator only; the risky one is not folded for them.
    risky = guide.message(RISKY)
    expect(risky.locator(".msg-marker-risk")).to_have_text("Safety alert: Suicide, critical")
    expect(risky.locator(".msg-cw")).to_have_count(0)
    reported = guide.message("You're all making this up")
    expect(reported.locator(".msg-marker", has_text=re.compile("^Reported$"))).to_have_count(1)
    expect(ben.page.locator(".msg-marker")).to_have_count(0)
    axe_clean(guide.page, "a facilitator's view on arrival")
    guide.page.screenshot(path=SCREENSHOTS / "care-facilitator-arrival-phone.png")

    # The facilitator's badge: on their messages and in presence, for every member.
    guide.send("Hello, I'm one of the peer facilitators here.")
    mine = ben.message("Hello, I'm one of the peer facilitators here.")
    expect(mine.locator(".role-badge")).to_have_text("Peer facilitator")
    ben.page.locator("#presence summary").click()
    present = ben.page.locator("#presence-list li", has_text="Steady Oak")
    expect(present.locator(".role-badge")).to_have_text("Peer facilitator")
    expect(ben.message("You're all making this up").locator(".role-badge")).to_have_count(0)


def test_a_facilitator_chooses_their_name_once_and_is_known_by_it_and_their_badge(
    server: ServerProcess, members: Callable[..., Member]
) -> None:
    create_facilitator(server, "amara", STAFF_PASSWORD)
    guide = members(**ON_A_PHONE, bypass_csp=True, reduced_motion="reduce")
    page = guide.page
    page.goto(server.base_url + "/staff/")
    page.get_by_label("Username").fill("amara")
    page.get_by_label("Password").fill(STAFF_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    box = page.locator("#room-name")
    expect(box).to_be_visible()
    field = box.get_by_label("Name")
    for refused, why in (
        ("Amara\u200bOkafor", "invisible characters"),
        ("Quiet Heron", "looks like a member's name"),
        ("Moderator Amara", "can't name a role"),
        ("Steady 0ak", "letters only"),
    ):
        field.fill(refused)
        box.get_by_role("button", name="Use this name").click()
        expect(box.locator("#room-name-error")).to_contain_text(why)
    axe_clean(page, "choosing a name in rooms")
    page.screenshot(path=SCREENSHOTS / "staff-room-name-phone.png")
    field.fill("Amara Okafor")
    box.get_by_role("button", name="Use this name").click()
    expect(box).to_contain_text("Members see you as Amara Okafor")
    expect(box.get_by_label("Name")).to_be_hidden()

    # Into a room: under that name, with the badge, for everyone.
    guide.open()
    guide.open_room()
    expect(page.locator("#view-agreement")).to_be_visible()
    page.get_by_label("I have read the group agreement and I agree to it").check()
    page.get_by_role("button", name="Join anonymously").click()
    expect(page.locator("#chat-you")).to_have_text("Amara Okafor")
    expect(page.locator("#chat-role")).to_have_text(" (peer facilitator)")
    ana = joined(members)
    guide.pseudonym = "Amara Okafor"
    guide.send("Welcome, I'm here tonight if you want to talk.")
    seen = ana.message("Welcome, I'm here tonight if you want to talk.")
    expect(seen.locator(".msg-author")).to_have_text("Amara Okafor")
    expect(seen.locator(".role-badge")).to_have_text("Peer facilitator")


def test_with_the_keyboard_open_the_log_keeps_room_and_stays_at_the_newest(
    members: Callable[..., Member],
) -> None:
    ana = joined(members, bypass_csp=True, reduced_motion="reduce")
    ben = joined(members)
    story = (
        "It was a long evening, and I kept thinking about what to say here, and then about "
        "whether to say anything at all"
    )
    for n in range(1, 6):  # within the rate limit's burst
        ben.send(f"{story} ({n}).")
    ben.send("Line 12 of a long evening")
    page = ana.page
    expect(ana.message("Line 12 of a long evening")).to_be_visible()

    # The keyboard opens: the page is resized to what it leaves (interactive-widget).
    page.locator("#message-input").focus()
    page.set_viewport_size({"width": 390, "height": 400})
    page.wait_for_timeout(300)
    log_height = page.locator("#log").evaluate("(log) => log.clientHeight")
    assert log_height >= 0.4 * 400, f"the log is {log_height} px of 400"
    newest = ana.message("Line 12 of a long evening")
    log_box, newest_box = page.locator("#log").bounding_box(), newest.bounding_box()
    assert log_box and newest_box
    assert newest_box["y"] + newest_box["height"] <= log_box["y"] + log_box["height"] + 1
    assert inside_viewport(page, page.locator("#quick-exit"))
    assert inside_viewport(page, page.locator("#send"))
    axe_clean(page, "the chat with the keyboard open")
    page.screenshot(path=SCREENSHOTS / "keyboard-open-phone.png")
    # A new message from someone else, and one's own: still at the newest.
    ben.send("Line 13, while Ana is typing")
    expect(ana.message("Line 13, while Ana is typing")).to_be_in_viewport()
    ana.send("Thanks, I'm reading along")
    expect(ana.message("Thanks, I'm reading along")).to_be_in_viewport()

    # The keyboard closes: everything is back, still at the newest.
    page.locator("#log").focus()
    page.set_viewport_size(PHONE)
    expect(page.locator(".chat-side")).to_be_visible()
    expect(ana.message("Thanks, I'm reading along")).to_be_in_viewport()

    # A report opens as a sheet at the bottom of the screen, not inside the log.
    panel = options(ana, ana.message("Line 13, while Ana is typing"))
    panel.get_by_role("button", name="Report").click()
    sheet = panel.locator("form.sheet")
    expect(sheet).to_be_visible()
    expect(sheet.get_by_role("heading")).to_have_text(f"Report: the message from {ben.pseudonym}")
    box = sheet.bounding_box()
    assert box is not None
    assert abs(box["y"] + box["height"] - PHONE["height"]) <= 1 and box["width"] >= 389
    assert sheet.evaluate("(f) => getComputedStyle(f).position") == "fixed"
    expect(sheet.get_by_label("Why are you reporting it?")).to_be_focused()
    page.screenshot(path=SCREENSHOTS / "report-sheet-phone.png")
    sheet.get_by_role("button", name="Cancel").click()
    expect(sheet).to_have_count(0)


def test_another_name_before_going_in_and_quick_exit_explained_before_first_use(
    members: Callable[..., Member],
) -> None:
    ana = members(**ON_A_PHONE, bypass_csp=True, reduced_motion="reduce")
    ana.open()
    ana.open_room()
    ana.accept_agreement()
    page = ana.page
    # Before going in: the name can be drawn again, and Quick exit is explained.
    expect(page.locator("#view-phrase")).to_contain_text("signs you out on this device")
    first = ana.pseudonym
    page.get_by_role("button", name="Give me another name").click()
    expect(page.locator("#rename-status")).to_contain_text("You'll be called")
    expect(page.locator("#phrase-pseudonym")).not_to_have_text(first)
    ana.pseudonym = page.locator("#phrase-pseudonym").inner_text()
    axe_clean(page, "before going in")
    page.screenshot(path=SCREENSHOTS / "before-you-go-in-phone.png", full_page=True)
    # A reload goes into the room without saying "I have saved it": not yet told, so the
    # room says it, before first use, and offers a new phrase.
    page.reload()
    ana.wait_in_room()
    expect(page.locator("#chat-you")).to_have_text(ana.pseudonym)
    note = page.locator("#exit-note")
    expect(note).to_be_visible()
    expect(note).to_contain_text("signs you out on this device")
    note.get_by_role("button", name="Give me a new recovery phrase").click()
    words = note.locator("#exit-phrase")
    expect(words).to_have_text(re.compile(r"^(\w+ ){7}\w+$"))
    new_phrase = words.inner_text()
    axe_clean(page, "the Quick exit note with a new phrase")
    page.screenshot(path=SCREENSHOTS / "quick-exit-note-phone.png")
    note.get_by_role("button", name="I have saved it").click()
    expect(note).to_be_hidden()
    page.reload()
    ana.wait_in_room()
    expect(note).to_be_hidden()  # said once, not again
    # The new phrase brings them back on another device as themselves; the old one does not.
    other = members(**ON_A_PHONE)
    other.open()
    other.page.get_by_text("Use my recovery phrase on this device").click()
    other.page.get_by_label("Recovery phrase").fill(ana.phrase)
    other.page.get_by_role("button", name="Continue").click()
    expect(other.page.locator("#recover-error")).to_contain_text("doesn't match an account")
    other.page.get_by_label("Recovery phrase").fill(new_phrase)
    other.page.get_by_role("button", name="Continue").click()
    expect(other.page.locator("#notice")).to_contain_text("Welcome back")
    other.page.get_by_role("button", name=f"Enter the room ({ROOM_TITLE})").click()
    expect(other.page.locator("#chat-you")).to_have_text(ana.pseudonym)
    expect(other.page.locator("#exit-note")).to_be_hidden()
