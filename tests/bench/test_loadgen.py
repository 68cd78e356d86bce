"""The load generator works end to end against real servers, with tiny parameters: if it
miscounted, every figure in docs/performance.md would be wrong."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.bare.server import BareServer
from bench.loadgen import LoadGenerator, StepResult, create_rooms, members_via_api, room_slugs
from bench.servers import ServerProcess

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(60)]

ROOMS, CLIENTS, RATE, SECONDS = 2, 3, 2.0, 2.0


async def _run(gen: LoadGenerator) -> StepResult:
    await gen.connect()
    try:
        await gen.prime(timeout=20)
        return await gen.run_step(rate=RATE, duration=SECONDS, warmup=0.5, drain=3.0)
    finally:
        await gen.close()


def _check(result: StepResult) -> None:
    assert result.sent > 0
    assert result.expected == result.sent * CLIENTS  # the sender receives its own broadcast
    assert result.lost == 0, result
    assert result.delivered + result.late == result.expected, result
    assert result.delivered_per_s > 0
    assert result.p99_ms is not None and result.p99_ms > 0


async def test_loadgen_against_our_server(tmp_path: Path) -> None:
    server = ServerProcess(
        data_dir=tmp_path, env={"CHAT_RATE_PER_SECOND": "1000", "CHAT_RATE_BURST": "1000"}
    )
    for name in ("DATABASE_URL", "REDIS_URL"):  # SQLite and the in-memory layer
        server.env.pop(name, None)
    with server:
        slugs = room_slugs("smoke", ROOMS)
        create_rooms(server.env, slugs, capacity=CLIENTS)
        members = await members_via_api(server.base_url, slugs, CLIENTS)
        gen = LoadGenerator(
            dialect="chat", base_url=server.base_url, slugs=slugs, clients=CLIENTS, members=members
        )
        result = await _run(gen)
    _check(result)
    assert result.acked == result.sent
    assert result.record_missing == 0
    assert not result.errors


async def test_loadgen_against_the_bare_baseline(tmp_path: Path) -> None:
    with BareServer(log_dir=tmp_path, env={"REDIS_URL": ""}) as server:
        gen = LoadGenerator(
            dialect="bare",
            base_url=server.base_url,
            slugs=room_slugs("smoke", ROOMS),
            clients=CLIENTS,
        )
        result = await _run(gen)
    _check(result)
