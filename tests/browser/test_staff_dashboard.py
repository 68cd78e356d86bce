"""The staff dashboard (/staff/) in a real browser, against a real server process: a risky
message from a member reaches the live queue within seconds; acknowledge, note, view and
resolve; nothing lost or doubled across a dropped connection; the SLA countdown turns
overdue; axe-core finds no serious problems; screenshots for docs/staff-dashboard.md."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from bench.servers import ROOT, ServerProcess
from tests.browser.conftest import start_server
from tests.browser.helpers import ROOM_TITLE, Member
from tests.browser.staff_helpers import (
    RISKY,
    STAFF_PASSWORD,
    Authenticator,
    Dashboard,
    chatserver,
    create_facilitator,
    create_staff_user,
)

pytestmark = pytest.mark.browser

AXE = Path(__file__).parent / "vendor" / "axe.min.js"
SCREENSHOTS = ROOT / "docs" / "screenshots"
PHONE = {"width": 360, "height": 740}
DESKTOP = {"width": 1280, "height": 800}
SLA_CRITICAL_SECONDS = 10
NEW_ITEM_SECONDS = 5_000  # "within a few seconds"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """This module's server (it replaces conftest's, so ``members`` use it too): the demo
    room, a short SLA for critical items, and a staff account."""
    process = start_server(
        tmp_path_factory.mktemp("staff-server"),
        env={"ESCALATION_SLA_CRITICAL": str(SLA_CRITICAL_SECONDS), "ESCALATION_TICK_SECONDS": "1"},
    )
    try:
        create_staff_user(process)
        yield process
    finally:
        process.stop()


@pytest.fixture(scope="module")
def authenticator() -> Authenticator:
    return Authenticator()


@pytest.fixture(scope="module")
def staff_session(
    browser: Browser, server: ServerProcess, authenticator: Authenticator
) -> dict[str, Any]:
    """Sign in once through the page, setting up the authenticator app from the key it shows
    (moderators, staff and admins need a one-time code). The other tests reuse this session,
    as a reloaded dashboard would; a TOTP code is good only once per 30 seconds."""
    board = Dashboard.create(browser, server, authenticator=authenticator)
    try:
        board.open()
        expect(board.page).to_have_title("Dashboard")
        board.sign_in()
        expect(board.page.locator("#who-name")).to_have_text("Signed in as nurse")
        assert board.blocked == []
        assert board.script_errors == []
        return board.context.storage_state()
    finally:
        board.close()


@pytest.fixture
def dashboards(
    browser: Browser,
    server: ServerProcess,
    authenticator: Authenticator,
    staff_session: dict[str, Any],
) -> Iterator[Callable[..., Dashboard]]:
    """``dashboards()`` opens the dashboard, signed in, in a new browser context;
    ``dashboards(signed_in=False)`` at the sign-in form."""
    created: list[Dashboard] = []

    def factory(*, signed_in: bool = True, **options: Any) -> Dashboard:
        if signed_in:
            options["storage_state"] = staff_session
        board = Dashboard.create(browser, server, authenticator=authenticator, **options)
        created.append(board)
        board.open_signed_in() if signed_in else board.open()
        return board

    yield factory
    for board in created:
        board.close()
    for board in created:
        assert board.blocked == [], f"the dashboard tried to reach other sites: {board.blocked}"
        assert board.script_errors == [], f"the dashboard's scripts failed: {board.script_errors}"
        refused = [e for e in board.console_errors if "Content Security Policy" in e]
        assert refused == [], f"the page broke its own CSP: {refused}"


def member_in_room(members: Callable[..., Member]) -> Member:
    member = members()
    member.open()
    member.join()
    return member


def test_risky_message_reaches_the_queue_and_is_handled_to_resolution(
    members: Callable[..., Member], dashboards: Callable[..., Dashboard]
) -> None:
    board = dashboards()
    expect(board.page).to_have_title("Dashboard")
    before = set(board.ids())

    member = member_in_room(members)
    member.send(RISKY)
    # The member is gently offered help at once (their page handles the signpost frame).
    expect(member.page.locator("#help-dialog")).to_be_visible()

    card = board.card(member.pseudonym)
    expect(card).to_have_count(1, timeout=NEW_ITEM_SECONDS)
    expect(card.locator(".sev")).to_have_text("Critical")
    expect(card).to_have_attribute("data-severity", "critical")
    expect(card.locator(".esc-title")).to_have_text("Suicide risk")
    expect(card.locator(".esc-room")).to_have_text(ROOM_TITLE)
    expect(card.locator(".esc-status")).to_have_text("Not acknowledged yet")
    expect(card.locator(".esc-sla")).to_have_text(re.compile(r"^\d\d:\d\d left to acknowledge$"))
    expect(board.page.locator("#announcer")).to_contain_text(
        f"New critical escalation in {ROOM_TITLE}"
    )
    (new_id,) = set(board.ids()) - before

    # Acknowledge: the status changes and the clock stops.
    card.get_by_role("button", name="Acknowledge").click()
    expect(card.locator(".esc-status")).to_have_text("Acknowledged")
    expect(card.locator(".esc-sla")).to_contain_text("Clock stopped")
    expect(card.get_by_role("button", name="Acknowledge")).to_be_hidden()
    # Focus does not fall to the top of the page when the button goes.
    expect(card.get_by_role("button", name="In progress")).to_be_focused()

    card.get_by_role("button", name="In progress").click()
    expect(card.locator(".esc-status")).to_have_text("In progress")

    # Add a note, with the keyboard.
    card.get_by_role("button", name="Add note").click()
    dialog = board.page.get_by_role("dialog", name="Add a note")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_label("Note")).to_be_focused()
    board.page.keyboard.type("Called back; they are with a friend tonight.")
    dialog.get_by_role("button", name="Save note").click()
    expect(dialog).to_be_hidden()
    expect(card.locator(".esc-result")).to_have_text("Note added.")
    expect(card.get_by_role("button", name="Add note")).to_be_focused()

    # View: the excerpt and the note, and a word that the view is audited.
    card.get_by_role("button", name="View message").click()
    view = board.page.get_by_role("dialog", name="Message and notes")
    expect(view.locator("#view-excerpt")).to_have_text(RISKY)
    expect(view.locator("#view-notes")).to_contain_text(
        "Called back; they are with a friend tonight."
    )
    expect(view.locator("#view-notes")).to_contain_text("nurse")
    expect(view).to_contain_text("recorded in the audit log")
    board.page.keyboard.press("Escape")
    expect(view).to_be_hidden()
    expect(card.get_by_role("button", name="View message")).to_be_focused()

    # Resolve as a false alarm: it leaves the open list for "recently resolved".
    card.get_by_role("button", name="Resolve").click()
    resolve = board.page.get_by_role("dialog", name="Resolve")
    resolve.get_by_label("Outcome").fill("Song lyrics quoted; checked in, no current risk")
    resolve.get_by_label("False alarm").check()
    resolve.get_by_role("button", name="Resolve").click()
    expect(resolve).to_be_hidden()
    expect(board.page.locator(f'#queue li[data-id="{new_id}"]')).to_have_count(0)
    recent = board.page.locator(f'#recent li[data-id="{new_id}"]')
    expect(recent).to_contain_text("False alarm: Song lyrics quoted")
    expect(recent).to_contain_text(member.pseudonym)


def test_open_support_room_shows_the_room(
    members: Callable[..., Member], dashboards: Callable[..., Dashboard]
) -> None:
    board = dashboards()
    member = member_in_room(members)
    member.send("I've taken all my pills and I'm going to die tonight")
    card = board.card(member.pseudonym)
    expect(card).to_have_count(1, timeout=NEW_ITEM_SECONDS)
    card.get_by_role("button", name="Open support room").click()
    expect(card.locator(".esc-result")).to_contain_text(
        "Support room opened. The member has been offered it privately."
    )
    way_in = card.locator(".esc-result").get_by_role("link", name="Go to the support room")
    expect(way_in).to_have_attribute("href", re.compile(r"^/#chat/support-[a-z2-7]{26}$"))
    expect(card.locator(".esc-status")).to_have_text("In progress")
    # Only the member is offered it, and they choose.
    expect(member.page.locator("#offer")).to_be_visible()


def test_nothing_is_lost_or_doubled_across_a_dropped_connection(
    members: Callable[..., Member], dashboards: Callable[..., Dashboard]
) -> None:
    first = member_in_room(members)
    second = member_in_room(members)
    board = dashboards()

    first.send(f"{RISKY}. I mean it.")
    expect(board.card(first.pseudonym)).to_have_count(1, timeout=NEW_ITEM_SECONDS)
    connections = board.gate.connections

    # The connection drops and cannot get back while the second member writes.
    board.gate.cut()
    expect(board.page.locator("#conn")).to_have_text("Reconnecting…")
    expect(board.page.locator("#stale")).to_be_visible()
    second.send("I'm going to end my life tonight, I have the rope ready")
    board.page.wait_for_timeout(1500)  # a few refused attempts with back-off
    expect(board.card(second.pseudonym)).to_have_count(0)

    board.gate.refuse = False
    board.wait_live(timeout=20_000)
    assert board.gate.connections > connections
    expect(board.page.locator("#stale")).to_be_hidden()
    expect(board.card(second.pseudonym)).to_have_count(1)
    expect(board.card(first.pseudonym)).to_have_count(1)
    ids = board.ids()
    assert len(ids) == len(set(ids)), f"an item is shown twice: {ids}"
    expect(board.page.locator("#announcer")).to_contain_text(
        f"New critical escalation in {ROOM_TITLE}"
    )

    # Updates after the reconnect still arrive, once.
    board.card(first.pseudonym).get_by_role("button", name="Acknowledge").click()
    expect(board.card(first.pseudonym).locator(".esc-status")).to_have_text("Acknowledged")
    ids = board.ids()
    assert len(ids) == len(set(ids)), f"an item is shown twice: {ids}"


def test_sla_countdown_turns_overdue_and_is_announced_once(
    members: Callable[..., Member], dashboards: Callable[..., Dashboard]
) -> None:
    board = dashboards()
    member = member_in_room(members)
    member.send(f"{RISKY}. Sorry everyone.")
    card = board.card(member.pseudonym)
    expect(card).to_have_count(1, timeout=NEW_ITEM_SECONDS)
    sla = card.locator(".esc-sla")
    expect(sla).to_have_text(re.compile(r"^00:(0\d|10) left to acknowledge$"))
    expect(sla).not_to_have_text(sla.inner_text(), timeout=2_000)  # it ticks

    expect(card).to_have_attribute(
        "data-overdue", "true", timeout=(SLA_CRITICAL_SECONDS + 5) * 1000
    )
    expect(sla).to_contain_text("Overdue")
    # The server re-notifies and moves the deadline on; the item stays marked overdue.
    expect(card.locator(".esc-renotified")).not_to_have_text("0", timeout=5_000)
    expect(sla).to_contain_text("Overdue")
    announcer = board.page.locator("#announcer")
    expect(announcer).to_contain_text("Overdue: critical escalation")
    line = f"Overdue: critical escalation in {ROOM_TITLE} is not acknowledged yet."
    board.page.wait_for_timeout(1500)
    overdue_lines = [t for t in announcer.locator("p").all_inner_texts() if t == line]
    # One line per overdue item, never one per second (earlier tests' items may be overdue too).
    open_overdue = board.page.locator('#queue li[data-overdue="true"]').count()
    assert 1 <= len(overdue_lines) <= open_overdue

    card.get_by_role("button", name="Acknowledge").click()
    expect(card).to_have_attribute("data-overdue", "false")


def run_axe(page: Page) -> list[dict[str, Any]]:
    found = page.evaluate(
        """async () => {
          const results = await axe.run(document, {resultTypes: ["violations"]});
          return results.violations.map((v) => ({
            id: v.id, impact: v.impact, nodes: v.nodes.map((n) => n.target.join(" ")),
          }));
        }"""
    )
    return [v for v in found if v["impact"] in ("serious", "critical")]


def check_and_photograph(page: Page, view: str) -> list[dict[str, Any]]:
    problems: list[dict[str, Any]] = []
    for name, size in (("phone", PHONE), ("desktop", DESKTOP)):
        page.set_viewport_size(size)
        problems += [{**v, "width": name} for v in run_axe(page)]
        # Nothing sideways-scrolls at 360 px.
        overflow = page.evaluate("() => document.documentElement.scrollWidth - innerWidth")
        assert overflow <= 0, f"{view} scrolls sideways at {size['width']} px"
        page.screenshot(path=SCREENSHOTS / f"staff-{view}-{name}.png")
    return problems


def test_sign_in_and_queue_pass_axe_and_are_photographed(
    members: Callable[..., Member], dashboards: Callable[..., Dashboard]
) -> None:
    assert AXE.read_text(encoding="utf-8").startswith("/*! axe v4"), "vendored axe-core is missing"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    member = member_in_room(members)

    board = dashboards(signed_in=False, bypass_csp=True, reduced_motion="reduce")
    page = board.page
    page.add_script_tag(path=AXE)
    problems = check_and_photograph(page, "signin")

    # A wrong password is explained, in words, and focus goes back to the field.
    page.get_by_label("Username").fill("nurse")
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#signin-error")).to_contain_text("didn't match")
    expect(page.get_by_label("Password")).to_be_focused()

    board.sign_in()
    member.send("I want to die, I have the pills in front of me")
    expect(board.card(member.pseudonym)).to_have_count(1, timeout=NEW_ITEM_SECONDS)
    # Keyboard: the first card's actions are reachable with Tab and show their focus.
    page.locator("#queue-title").focus()
    page.keyboard.press("Tab")
    first_action = board.cards().first.locator("button:visible").first
    expect(first_action).to_be_focused()
    outline = first_action.evaluate("(b) => getComputedStyle(b).outlineStyle")
    assert outline != "none", "focus is not visible"
    page.locator("#queue-title").focus()
    problems += check_and_photograph(page, "queue")
    page.set_viewport_size(DESKTOP)
    assert problems == [], f"axe found problems: {problems}"

    # Signing out leaves nothing from the queue on screen.
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_label("Username")).to_be_visible()
    expect(page.locator("#queue > li")).to_have_count(0)
    expect(page.locator("#recent > li")).to_have_count(0)


def test_no_client_module_parses_server_text_as_html() -> None:
    # The dashboard's modules, the member page's and the core both import.
    js = ROOT / "static" / "js"
    paths = sorted(js.rglob("*.js"))
    assert {path.parent.name for path in paths} >= {"js", "core", "staff"}
    for path in paths:
        text = path.read_text(encoding="utf-8")
        for banned in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write"):
            assert banned not in text, f"{path.relative_to(js)} uses {banned}"


# --- members' reports ------------------------------------------------------------------------

REPORTED_WORDS = "Nobody here believes you. <b>Stop</b> posting."
REPORT_NOTE = "They keep saying this to me & it <i>hurts</i>."
REPORT_REPLY = "Thank you for telling us. We have hidden it and spoken to them."
NARROW = {"width": 320, "height": 1200}  # tall enough to photograph a whole card


def report_through_the_room_socket(reporter: Member, seq: int) -> None:
    """The reporter reports message ``seq`` over a room socket of their own session (the
    frame a member's page sends); frames that socket receives are kept on ``window``."""
    reporter.page.evaluate(
        """async ({seq, note}) => {
          const scheme = location.protocol === "https:" ? "wss" : "ws";
          const ws = new WebSocket(`${scheme}://${location.host}/ws/rooms/welcome/`);
          window.reportFrames = [];
          ws.addEventListener("message", (e) => window.reportFrames.push(JSON.parse(e.data)));
          await new Promise((resolve, reject) => {
            ws.addEventListener("open", resolve);
            ws.addEventListener("error", reject);
          });
          window.reportSocket = ws;
          ws.send(JSON.stringify({type: "report", seq, reason: "harassment", note, ref: "rep1"}));
        }""",
        {"seq": seq, "note": REPORT_NOTE},
    )
    reporter.page.wait_for_function(
        "() => window.reportFrames.some((f) => f.ref === 'rep1')", timeout=10_000
    )
    answers = reporter.page.evaluate("() => window.reportFrames.filter((f) => f.ref === 'rep1')")
    assert [a["type"] for a in answers] == ["done"], answers


def test_a_report_reaches_the_dashboard_is_read_answered_privately_and_closed(
    members: Callable[..., Member], dashboards: Callable[..., Dashboard]
) -> None:
    board = dashboards()
    author = member_in_room(members)
    reporter = member_in_room(members)
    author.send(REPORTED_WORDS)
    seen = reporter.message(REPORTED_WORDS)
    expect(seen).to_have_count(1)
    seq = int(seen.get_attribute("data-seq") or 0)
    assert seq > 0

    report_through_the_room_socket(reporter, seq)

    # It appears at once, with the message's author and never the person who reported it.
    card = board.page.locator("#reports > li.report-card")
    expect(card).to_have_count(1, timeout=NEW_ITEM_SECONDS)
    expect(card.locator(".report-title")).to_have_text("Harassment or bullying")
    expect(card.locator(".report-room")).to_have_text(ROOM_TITLE)
    expect(card.locator(".report-seq")).to_have_text(f"No. {seq}")
    expect(card.locator(".report-author")).to_have_text(author.pseudonym)
    expect(card.locator(".report-status")).to_have_text("Open")
    expect(board.page.locator("#reports-count")).to_have_text("(1 open)")
    expect(board.page.locator("#announcer")).to_contain_text(
        f"New report of message {seq} in {ROOM_TITLE} (Harassment or bullying)"
    )
    assert reporter.pseudonym not in board.page.locator("body").inner_text()
    # The list carries no text until someone reads it.
    expect(card.locator(".report-content")).to_be_hidden()

    # Read: the message and the note, as text (markup in them stays characters).
    read = card.get_by_role("button", name="Read message")
    read.click()
    expect(card.locator(".report-body")).to_have_text(REPORTED_WORDS)
    expect(card.locator(".report-note")).to_have_text(REPORT_NOTE)
    assert card.locator(".report-content b, .report-content i").count() == 0
    expect(card.locator(".esc-result")).to_contain_text("recorded in the audit log")
    hide = card.get_by_role("button", name="Hide message")
    expect(hide).to_have_attribute("aria-expanded", "true")
    expect(hide).to_be_focused()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    card.screenshot(path=SCREENSHOTS / "staff-report-desktop.png")

    # Reply privately: only the reporter's own sockets get it.
    card.get_by_role("button", name="Reply privately").click()
    dialog = board.page.get_by_role("dialog", name="Reply privately")
    expect(dialog.get_by_label("Your reply to the person who made this report")).to_be_focused()
    board.page.keyboard.type(REPORT_REPLY)
    dialog.get_by_role("button", name="Send reply").click()
    expect(dialog).to_be_hidden()
    expect(card.locator(".esc-result")).to_have_text(
        "Reply sent privately to the person who made the report."
    )
    expect(card.locator(".report-replies")).to_have_text("1")
    expect(card.get_by_role("button", name="Reply privately")).to_be_focused()
    reporter.page.wait_for_function(
        "() => window.reportFrames.some((f) => f.type === 'moderator_reply')", timeout=10_000
    )
    (reply,) = reporter.page.evaluate(
        "() => window.reportFrames.filter((f) => f.type === 'moderator_reply')"
    )
    assert reply == {
        "type": "moderator_reply",
        "report_id": reply["report_id"],
        "seq": seq,
        "text": REPORT_REPLY,
    }

    # Hiding takes the text off the page.
    hide.click()
    expect(card.locator(".report-content")).to_be_hidden()
    assert REPORTED_WORDS not in board.page.content()

    # Accessible and no sideways scrolling at 320 px, with the text shown (a second
    # dashboard, as axe is injected as a script).
    a11y = dashboards(bypass_csp=True, viewport=NARROW)
    a11y.page.add_script_tag(path=AXE)
    other_card = a11y.page.locator("#reports > li.report-card")
    expect(other_card).to_have_count(1)
    other_card.get_by_role("button", name="Read message").click()
    expect(other_card.locator(".report-body")).to_have_text(REPORTED_WORDS)
    assert run_axe(a11y.page) == []
    other_card.screenshot(path=SCREENSHOTS / "staff-report-phone.png")
    overflow = a11y.page.evaluate("() => document.documentElement.scrollWidth - innerWidth")
    assert overflow <= 0, "the reports scroll sideways at 320 px"

    # Close with an outcome: the card leaves every dashboard; focus does not fall to the top.
    card.get_by_role("button", name="Close report").click()
    closing = board.page.get_by_role("dialog", name="Close the report")
    closing.get_by_label("Outcome").fill("Message hidden; reminded them of the agreement")
    closing.get_by_role("button", name="Close report").click()
    expect(closing).to_be_hidden()
    expect(card).to_have_count(0)
    expect(board.page.locator("#reports-empty")).to_be_visible()
    expect(board.page.locator("#reports-title")).to_be_focused()
    expect(other_card).to_have_count(0)
    expect(a11y.page.locator("#announcer")).to_contain_text("Closed by a colleague")


def test_a_facilitator_signs_in_and_files_a_debrief_asking_for_support(
    browser: Browser, server: ServerProcess
) -> None:
    create_facilitator(server, "peer-fran", "a long facilitator password 9")
    board = Dashboard.create(browser, server, bypass_csp=True)
    try:
        board.open()
        page = board.page
        page.get_by_label("Username").fill("peer-fran")
        page.get_by_label("Password").fill("a long facilitator password 9")
        page.get_by_role("button", name="Sign in").click()
        # No queue for a peer facilitator: the way to the rooms, and the debrief.
        expect(page.locator("#view-facilitator")).to_be_visible()
        expect(page.get_by_role("link", name="Go to the rooms")).to_have_attribute("href", "/")
        expect(page.locator("#view-queue")).to_be_hidden()
        page.add_script_tag(path=AXE)
        problems = check_and_photograph(page, "facilitator")

        page.locator("#debrief-open-main").click()
        expect(page.get_by_label("Your debrief")).to_be_focused()
        page.get_by_role("button", name="File debrief").click()
        expect(page.locator("#debrief-error")).to_contain_text("Write a few words")
        page.get_by_label("Room (optional)").fill("no-such-room")
        page.get_by_label("Your debrief").fill("A hard evening; <b>I</b> held it together.")
        page.get_by_label("I would like support myself").check()
        problems += [v for v in run_axe(page)]
        page.get_by_role("button", name="File debrief").click()
        expect(page.locator("#debrief-error")).to_contain_text("no room")
        page.get_by_label("Room (optional)").fill("")
        page.get_by_role("button", name="File debrief").click()
        expect(page.locator("#debrief-dialog")).not_to_be_visible()
        expect(page.locator("#announcer")).to_contain_text("A supervisor will reach out")
        assert problems == [], f"axe found problems: {problems}"
        stored = chatserver(
            server,
            "shell",
            "-c",
            "from moderation.models import Debrief; "
            "print(Debrief.objects.filter(needs_support=True, facilitator__username='peer-fran')"
            ".count())",
        )
        assert stored.strip().splitlines()[-1] == "1"
        # A reload keeps the facilitator's view (the session says who is signed in).
        page.reload()
        expect(page.locator("#view-facilitator")).to_be_visible()
        expect(page.locator("#who-name")).to_have_text("Signed in as peer-fran")
        assert board.script_errors == [], f"the dashboard's scripts failed: {board.script_errors}"
    finally:
        board.close()


def test_a_member_who_signs_in_as_staff_is_told_and_the_two_stay_apart(
    server: ServerProcess, members: Callable[..., Member]
) -> None:
    """Issue rows 5 and 13 in the page. In a browser where someone is in a room as a member,
    the sign-in form says first that signing in ends that member session; an account without
    an authenticator is asked for the set-up code an administrator issued before any key is
    shown; once signed in, the member session is gone, and the notice says why."""
    from tests.browser.staff_helpers import StaffSocketGate

    create_staff_user(server, "medic")
    person = member_in_room(members)
    page = person.page
    board = Dashboard(
        person.context,
        page,
        server.base_url,
        StaffSocketGate(person.context),
        Authenticator(),
        server=server,
    )
    board.open()
    expect(page.locator("#signin-member-note")).to_be_visible()
    expect(page.locator("#signin-member-note")).to_contain_text("ends that member session")

    # The password alone: the page asks for the set-up code and shows no key.
    page.get_by_label("Username").fill("medic")
    page.get_by_label("Password").fill(STAFF_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_label("Set-up code")).to_be_focused()
    expect(page.locator("#otp-setup")).to_be_hidden()
    page.get_by_label("Set-up code").fill("aaaa-bbbb-cccc-dddd")
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#signin-error")).to_contain_text("That set-up code didn't work")
    expect(page.locator("#otp-setup")).to_be_hidden()

    board.open()
    board.sign_in("medic", STAFF_PASSWORD)
    expect(page.locator("#notice")).to_contain_text("Your member session in this browser has ended")
    session = page.request.get(server.base_url + "/api/session").json()
    assert session["member"] is False and session["staff"]["username"] == "medic"
