"""Issue 13, row 3, through a real server process: 16 concurrent new sessions once took a
server from 297 MB to 1.77 GB (an argon2 hash of 100 MiB each). Now a member session costs a
keyed hash, a burst past the limit is refused with Retry-After, and staff password checks,
still argon2, run at most ``SLOW_HASH_CONCURRENCY`` at a time."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from http.cookiejar import CookieJar
from pathlib import Path

import pytest

from bench.servers import ServerProcess

pytestmark = pytest.mark.e2e
MIB = 1024 * 1024
ARGON2_BYTES = 100 * MIB  # Django's default argon2 memory cost


def peak_rss(pid: int) -> int:
    """The process's high-water resident size (VmHWM), in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM")


def post(base: str, path: str, body: dict[str, str]) -> tuple[int, dict[str, object], str | None]:
    """A fresh browser: fetch the CSRF cookie, then POST. Returns status, body, Retry-After."""
    jar = CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    with opener.open(base + "/api/session", timeout=60) as resp:
        resp.read()
    token = next(c.value for c in jar if c.name == "csrftoken")
    headers = {
        "Content-Type": "application/json",
        "X-CSRFToken": token,
        "Origin": base,
        "Referer": base + "/",
    }
    request = urllib.request.Request(
        base + path, data=json.dumps(body).encode(), method="POST", headers=headers
    )
    try:
        with opener.open(request, timeout=120) as resp:
            return resp.status, json.loads(resp.read()), resp.headers.get("Retry-After")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read()), exc.headers.get("Retry-After")


def test_bursts_of_sessions_and_sign_ins_keep_memory_bounded(tmp_path: Path) -> None:
    server = ServerProcess(
        data_dir=tmp_path,
        env={
            "THROTTLE_SESSION_CREATES": "10",
            "THROTTLE_STAFF_SIGNINS": "100",
            "SLOW_HASH_CONCURRENCY": "2",
            "SLOW_HASH_WAIT_SECONDS": "60",
        },
    )
    with server:
        assert server.process is not None
        pid = server.process.pid
        post(server.base_url, "/api/session/recover", {"phrase": "warm up " * 4})
        before = peak_rss(pid)

        with ThreadPoolExecutor(16) as pool:
            members = list(pool.map(lambda _: post(server.base_url, "/api/session", {}), range(16)))
        statuses = sorted(status for status, _, _ in members)
        assert statuses == [201] * 10 + [429] * 6, statuses
        for status, body, retry_after in members:
            if status == 429:
                assert body["error"]["code"] == "rate_limited"  # type: ignore[index]
                assert retry_after is not None and int(retry_after) >= 1
        after_members = peak_rss(pid)
        assert after_members - before < 32 * MIB, (before, after_members)

        # Staff sign-ins still hash with argon2 (an unknown name costs one hash too, so
        # the answer's timing does not tell which names exist): at most two at once.
        def sign_in(n: int) -> tuple[int, dict[str, object], str | None]:
            body = {"username": f"nobody{n}", "password": "a guess that is wrong"}
            return post(server.base_url, "/api/staff/login", body)

        with ThreadPoolExecutor(16) as pool:
            sign_ins = list(pool.map(sign_in, range(16)))
        assert {status for status, _, _ in sign_ins} == {400}, sign_ins
        after_staff = peak_rss(pid)
    # Sixteen at once would need 1.6 GB more; two slots need about 200 MiB.
    grown = after_staff - before
    assert grown < 2 * ARGON2_BYTES + 96 * MIB, grown / MIB
