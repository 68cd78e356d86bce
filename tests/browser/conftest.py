"""Fixtures for the browser tests: one headless Chromium for the session, real server
processes (``bench.servers.ServerProcess``) with the demo room, and members, each in their
own browser context, whose requests may only go to the server under test."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Error, sync_playwright

from bench.servers import ServerProcess
from tests.browser.helpers import Member

CHROMIUM = Path(os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"))
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    # A missing browser is a failure, never a skip: these tests guard the member's safety.
    if not CHROMIUM.exists():
        pytest.fail(
            f"Chromium not found at {CHROMIUM}. Install it (apt-get install -y chromium) "
            "or set CHROMIUM_PATH to a Chromium binary.",
            pytrace=False,
        )
    with sync_playwright() as playwright:
        try:
            browser = playwright.chromium.launch(
                executable_path=str(CHROMIUM), headless=True, args=LAUNCH_ARGS
            )
        except Error as exc:
            pytest.fail(f"Chromium at {CHROMIUM} did not start: {exc}", pytrace=False)
        yield browser
        browser.close()


def start_server(data_dir: Path, **kwargs: object) -> ServerProcess:
    return ServerProcess(data_dir=data_dir, extra_args=["--demo"], **kwargs).start()  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """One server per test module, with the demo room ``welcome``."""
    process = start_server(tmp_path_factory.mktemp("browser-server"))
    yield process
    process.stop()


@pytest.fixture
def fresh_server(tmp_path: Path) -> Iterator[Callable[..., ServerProcess]]:
    """Start servers of the test's own (an empty room, or one to restart); all are stopped."""
    started: list[ServerProcess] = []

    def factory(**kwargs: object) -> ServerProcess:
        kwargs.setdefault("data_dir", tmp_path / "data")
        process = start_server(**kwargs)  # type: ignore[arg-type]
        started.append(process)
        return process

    yield factory
    for process in started:
        process.stop()


@pytest.fixture
def members(browser: Browser, server: ServerProcess) -> Iterator[Callable[..., Member]]:
    """``members()`` opens a new member (a fresh browser context) on the module's server;
    ``members(base_url=...)`` on another one."""
    created: list[Member] = []

    def factory(*, base_url: str = server.base_url, **options: object) -> Member:
        member = Member.create(browser, base_url, **options)  # type: ignore[arg-type]
        created.append(member)
        return member

    yield factory
    for member in created:
        member.close()
    for member in created:
        assert member.blocked == [], f"the page tried to reach other sites: {member.blocked}"
        assert member.script_errors == [], f"the page's scripts failed: {member.script_errors}"
