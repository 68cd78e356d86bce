"""The page rides out a server restart: it reconnects with back-off, resumes from the last
sequence number it applied, and shows every message it missed exactly once, in order."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from playwright.sync_api import expect

from bench.servers import ServerProcess
from tests.browser.helpers import Member

pytestmark = pytest.mark.browser


def test_member_sees_every_missed_message_once_after_a_server_restart(
    fresh_server: Callable[..., ServerProcess], members: Callable[..., Member]
) -> None:
    first_server = fresh_server()
    away = members(base_url=first_server.base_url, tap=True)  # will miss messages
    here = members(base_url=first_server.base_url)  # will post them
    assert away.tap is not None
    for member in (away, here):
        member.open()
        member.join()
    here.send("Before the restart")
    expect(away.message("Before the restart")).to_be_visible()

    # The server goes away; `away` cannot get back in, even once it is up again.
    away.tap.refuse = True
    first_server.stop()
    for member in (away, here):
        expect(member.page.locator("#conn-status")).to_contain_text("Reconnecting")
    fresh_server(data_dir=first_server.data_dir, port=first_server.port, migrate=False)

    # `here` reconnects by itself and posts while `away` is still disconnected.
    expect(here.page.locator("#conn-status")).to_have_text("Connected again.", timeout=30_000)
    missed = ["Missed one", "Missed two", "Missed three"]
    for text in missed:
        here.send(text)
    expect(away.page.locator("#conn-status")).to_contain_text("Reconnecting")

    # The network comes back: the page reconnects at once (no waiting out the back-off),
    # resumes after the last seq it had, and shows each missed message once, in order.
    away.tap.refuse = False
    away.context.set_offline(True)
    away.context.set_offline(False)
    expect(away.page.locator("#conn-status")).to_have_text("Connected again.", timeout=30_000)
    expect(away.bodies()).to_have_text(["Before the restart", *missed])
    expect(here.bodies()).to_have_text(["Before the restart", *missed])
    # "Connected again." fades away once read.
    expect(here.page.locator("#conn-status")).to_have_text("", timeout=10_000)
    expect(away.page.locator("#presence-list")).to_contain_text(here.pseudonym)

    # By the protocol's rules: history once (the first visit), then resume after seq 1.
    kinds = [frame["type"] for frame in away.tap.frames]
    assert kinds.count("history") == 1
    assert {"type": "resume", "after": 1, "limit": 200} in away.tap.frames
