"""Thousands of member sockets spread over worker processes, each with its own asyncio loop.

One Python process is a poor client for 10,000 websockets: every handshake costs it CPU that
then shows up as server latency, and every socket is a file descriptor. A ``Fleet`` starts
``workers`` processes; each holds a share of the members' sockets in a ``FleetAgent`` (a
subclass per driver says what a socket does with its frames) and runs the methods the driver
calls on all of them at once (``await fleet.call("connect", ...)``), answering with plain data.
Times are ``time.monotonic()``, which is one clock for every process of the machine.

The sockets behave as ``docs/protocol.md`` asks of a client and as a browser does: a member's
session cookie and the site's Origin, no websocket pings of their own.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import json
import math
import multiprocessing
import os
import time
import traceback
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from bench.harness import CpuMeter, raise_nofile, rss_kb, service_meter
from bench.loadgen import (
    BenchClient,
    ConnectRefused,
    abort,
    create_rooms,
    members_via_orm,
    open_member,
    percentile,
)
from bench.servers import ServerProcess

SPAWN = multiprocessing.get_context("spawn")


@dataclass(frozen=True)
class Seat:
    """One member socket to open: the room (its number and slug), the member's place in it,
    and the member's session."""

    room: int
    slug: str
    index: int
    session_key: str


def seats_of(members: dict[str, list[BenchClient]], slugs: Sequence[str]) -> list[Seat]:
    """Every member of every room, rooms interleaved (so each worker and each stretch of a
    connect burst holds members of every room)."""
    per_room = max(len(members[s]) for s in slugs)
    return [
        Seat(room=r, slug=slug, index=i, session_key=members[slug][i].session_key or "")
        for i in range(per_room)
        for r, slug in enumerate(slugs)
        if i < len(members[slug])
    ]


def make_members(
    proc: ServerProcess, slugs: Sequence[str], per_room: int
) -> tuple[dict[str, list[BenchClient]], list[Seat]]:
    """``per_room`` members in each of ``slugs`` (new rooms), made straight in the server's
    database as ``run_chat --setup orm`` does; and their seats."""
    create_rooms(proc.env, slugs, capacity=per_room)
    members = members_via_orm(proc.env, proc.base_url, slugs, per_room)
    return members, seats_of(members, slugs)


def failure_kind(exc: BaseException) -> str:
    if isinstance(exc, ConnectRefused):
        return f"refused {exc}"
    if isinstance(exc, ConnectionClosed):
        return f"closed {exc.rcvd.code if exc.rcvd else 'without a frame'}"
    if isinstance(exc, OSError) and exc.errno is not None:
        return f"{type(exc).__name__} errno {exc.errno}"
    cause = exc.__cause__ or exc.__context__
    if cause is not None:  # e.g. a handshake cut off: InvalidMessage from EOFError
        return f"{type(exc).__name__} ({type(cause).__name__}: {cause})"
    return type(exc).__name__


class MemberSocket:
    """A member's socket in a worker: ``attach`` gives it an open connection and starts a
    reader that hands every frame, with its arrival time, to ``on_frame``. The object
    outlives its connection, so a subclass can keep state across a reconnect."""

    def __init__(self, seat: Seat, base_url: str) -> None:
        self.seat = seat
        self.client = BenchClient(base_url, session_key=seat.session_key)
        self.ws: ClientConnection | None = None
        self.reader: asyncio.Task[None] | None = None
        self.frames: Counter[str] = Counter()
        self.early = 0  # frames that came before a welcome

    def attach(
        self, ws: ClientConnection, welcome: dict[str, Any], early: list[dict[str, Any]]
    ) -> None:
        """A new connection: ``early`` frames (before the welcome) are handed to
        ``on_frame`` after it, as a client applies them."""
        self.ws = ws
        self.early += len(early)
        now = time.monotonic()
        for frame in early:
            self.frames[str(frame.get("type"))] += 1
            self.on_frame(frame, now)
        self.reader = asyncio.get_running_loop().create_task(self._read(ws))

    async def _read(self, ws: ClientConnection) -> None:
        with contextlib.suppress(ConnectionClosed):
            async for raw in ws:
                frame = json.loads(raw)
                self.frames[str(frame.get("type"))] += 1
                self.on_frame(frame, time.monotonic())

    def on_frame(self, frame: dict[str, Any], now: float) -> None:
        """Called for every frame after ``welcome``; the base class only counts them."""

    async def send(self, frame: dict[str, Any]) -> None:
        if self.ws is not None:
            with contextlib.suppress(ConnectionClosed):
                await self.ws.send(json.dumps(frame))

    def drop(self) -> None:
        if self.ws is not None:
            abort(self.ws)
        if self.reader is not None:
            self.reader.cancel()
        self.ws = self.reader = None


class FleetAgent:
    """The worker side: its seats' sockets and the methods a driver calls. Subclasses set
    ``socket_class`` and add their own methods (async, keyword arguments, plain-data
    answers)."""

    socket_class: type[MemberSocket] = MemberSocket

    def __init__(self, *, worker: int, base_url: str, seats: list[Seat]) -> None:
        self.worker = worker
        self.nofile = raise_nofile()
        self.sockets = [self.socket_class(seat, base_url) for seat in seats]

    async def hello(self) -> dict[str, Any]:
        soft, hard = self.nofile
        return {"pid": os.getpid(), "seats": len(self.sockets), "nofile": [soft, hard]}

    async def open(self, sock: MemberSocket, timeout: float) -> None:
        sock.attach(
            *await open_member(
                sock.client, sock.seat.slug, timeout=timeout, ping_interval=None, max_queue=None
            )
        )

    async def connect(self, *, concurrency: int, timeout: float) -> dict[str, Any]:
        """Open every socket, at most ``concurrency`` handshakes in flight, each waited for
        until its ``welcome`` (or ``timeout``). Failures are counted by kind, not retried."""
        gate = asyncio.Semaphore(max(concurrency, 1))
        failures: Counter[str] = Counter()
        took: list[float] = []
        failed_after: list[float] = []

        async def one(sock: MemberSocket) -> None:
            async with gate:
                started = time.monotonic()
                try:
                    await self.open(sock, timeout)
                except Exception as exc:
                    failures[failure_kind(exc)] += 1
                    failed_after.append(time.monotonic() - started)
                else:
                    took.append(time.monotonic() - started)

        start = time.monotonic()
        await asyncio.gather(*(one(s) for s in self.sockets))
        return {
            "start": start,
            "end": time.monotonic(),
            "opened": len(took),
            "failures": dict(failures),
            "connect_s": took,
            "failed_after_s": failed_after,
        }

    async def frames(self) -> dict[str, int]:
        """Frames received by every socket, by type (``before welcome``: how many overtook
        a welcome)."""
        total: Counter[str] = Counter()
        for sock in self.sockets:
            total.update(sock.frames)
            total["before welcome"] += sock.early
        return dict(total)

    async def rss(self) -> int:
        return rss_kb(os.getpid())

    async def close(self) -> None:
        for sock in self.sockets:
            if sock.ws is not None:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(sock.ws.close(), 2)
            if sock.reader is not None:
                sock.reader.cancel()


def _worker_main(conn: Connection, agent: str, init: dict[str, Any]) -> None:
    module, _, name = agent.partition(":")
    cls = getattr(importlib.import_module(module), name)
    asyncio.run(_serve(conn, cls, init))


async def _serve(conn: Connection, cls: type[FleetAgent], init: dict[str, Any]) -> None:
    agent = cls(**init)
    loop = asyncio.get_running_loop()
    while True:
        request = await loop.run_in_executor(None, conn.recv)
        if request is None:
            return
        method, kwargs = request
        try:
            conn.send(("ok", await getattr(agent, method)(**kwargs)))
        except Exception:
            conn.send(("error", traceback.format_exc()))


class Fleet:
    """``len(inits)`` worker processes, each running ``agent`` (``"module:Class"``) made with
    its own ``init`` keyword arguments."""

    def __init__(self, agent: str, inits: Sequence[dict[str, Any]]) -> None:
        self.conns: list[Connection] = []
        self.procs: list[multiprocessing.process.BaseProcess] = []
        for init in inits:
            parent, child = SPAWN.Pipe()
            proc = SPAWN.Process(target=_worker_main, args=(child, agent, dict(init)), daemon=True)
            proc.start()
            child.close()
            self.conns.append(parent)
            self.procs.append(proc)

    @classmethod
    def of(cls, agent: str, base_url: str, seats: Sequence[Seat], workers: int) -> Fleet:
        """``seats`` dealt round-robin over ``workers`` processes running ``agent``."""
        return cls(
            agent,
            [
                {"worker": i, "base_url": base_url, "seats": part}
                for i, part in enumerate(split(seats, workers))
            ],
        )

    async def connect(self, *, concurrency: int, timeout: float) -> dict[str, Any]:
        """Every worker opens its sockets, ``concurrency`` handshakes in flight in all;
        answers ``connect_summary``."""
        per_worker = math.ceil(concurrency / len(self.conns))
        return connect_summary(await self.call("connect", concurrency=per_worker, timeout=timeout))

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self.procs if p.pid is not None]

    def meter(self, args: argparse.Namespace, server_pid: int) -> CpuMeter:
        """CPU of the server process, these client processes and the services (the driver's
        ``--layer``, ``--redis-url``, ``--database-url``)."""
        clients = self.pids
        return service_meter(
            layer=args.layer,
            redis_url=args.redis_url,
            database_url=args.database_url,
            server=lambda: [server_pid],
            clients=lambda: clients,
        )

    async def call(
        self, method: str, per_worker: Sequence[dict[str, Any]] | None = None, **kwargs: Any
    ) -> list[Any]:
        """Call ``method`` on every worker at once (``per_worker`` adds each one's own
        arguments) and return their answers in worker order."""
        for i, conn in enumerate(self.conns):
            conn.send((method, {**kwargs, **(per_worker[i] if per_worker else {})}))
        replies = await asyncio.gather(*(asyncio.to_thread(c.recv) for c in self.conns))
        for i, (status, value) in enumerate(replies):
            if status != "ok":
                raise RuntimeError(f"client worker {i} failed in {method}:\n{value}")
        return [value for _, value in replies]

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.call("close"), 30)
        for conn in self.conns:
            with contextlib.suppress(OSError):
                conn.send(None)
        for proc in self.procs:
            proc.join(timeout=10)
            if proc.is_alive():
                proc.kill()
                proc.join(timeout=5)


def split(items: Sequence[Any], parts: int) -> list[list[Any]]:
    """Deal ``items`` round-robin into ``parts`` lists."""
    return [list(items[i::parts]) for i in range(parts)]


def connect_summary(replies: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The fleet's connect answers as one: sockets opened, failures by kind, the burst's
    duration (first handshake started to last welcome) and per-socket connect times, a
    failed socket counting as infinitely slow."""
    failures: Counter[str] = Counter()
    took: list[float] = []
    failed: list[float] = []
    for reply in replies:
        failures.update(reply["failures"])
        took += reply["connect_s"]
        failed += reply["failed_after_s"]
    took_ms = sorted(t * 1000 for t in took)
    expected = len(took) + len(failed)  # every socket either opened or failed
    return {
        "opened": len(took),
        "failures": sum(failures.values()),
        "failure_kinds": dict(failures),
        "burst_s": round(max(r["end"] for r in replies) - min(r["start"] for r in replies), 2),
        "connect_p50_ms": percentile(took_ms, expected, 0.50),
        "connect_p99_ms": percentile(took_ms, expected, 0.99),
        "connect_max_ms": round(took_ms[-1], 1) if took_ms else None,
        # how long the failed attempts took (a constant one points at a timeout)
        "failed_after_ms": [round(min(failed) * 1000), round(max(failed) * 1000)]
        if failed
        else None,
    }
