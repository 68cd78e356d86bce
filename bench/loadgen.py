"""Load generator: R rooms x C clients, each sending S messages per second over a real
websocket, against a running server. It speaks two dialects: ``chat`` (this server's protocol,
docs/protocol.md: a member session per client, acks, sequence numbers, resume) and ``bare``
(the baseline in ``bench/bare``: send a body, get it broadcast back, nothing else).

What it measures, per step:

* delivered/s: broadcasts of measured messages received live, divided by the duration;
* fan-out latency: receive time minus the send time embedded in the body (one process, one
  clock: ``time.perf_counter_ns``). Percentiles are taken over every *expected* delivery
  (sent x room size, the sender included); a delivery that never arrived live counts as
  infinitely late, so drops cannot flatter the p99;
* lost: expected deliveries that never arrived. For ``chat`` every client then resumes from
  its last contiguous seq and one client per room re-reads the whole step from the record:
  an entry found only that way is *late* (the fast path dropped it, the record kept it); a
  message missing from the record is *lost*.

Sending is open loop (nobody waits for an ack before the next send), so a slow server
shows up as latency instead of silently lowering the offered load.

Usage against a server that is already running (the rooms must exist; ``--create-rooms``
creates them with ``chatserver shell``, which needs the server's environment)::

    python -m bench.loadgen --url http://127.0.0.1:8000 --rooms 5 --clients 10 --rate 0.5
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import random
import socket
import struct
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import websockets
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from bench.client import ChatClient
from bench.servers import ROOT

DIALECTS = ("chat", "bare")
CONNECT_BATCH = 50
SETUP_CONCURRENCY = 8


# --- setup: rooms and member sessions ---------------------------------------------------------


def _shell(env: dict[str, str], code: str, extra_env: dict[str, str]) -> str:
    """Run ``chatserver shell -c`` with the server's environment (same database, same keys):
    rooms are not something the public API can create."""
    done = subprocess.run(
        [sys.executable, "-m", "chatserver.cli", "shell", "-c", code],
        cwd=ROOT,
        env={**env, **extra_env},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"chatserver shell failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return done.stdout


_CREATE_ROOMS = """
import json, os
from rooms.models import Agreement, Room
capacity = int(os.environ["BENCH_ROOM_CAPACITY"])
for slug in json.loads(os.environ["BENCH_ROOMS"]):
    room, _ = Room.objects.get_or_create(
        slug=slug, defaults={"title": "Bench " + slug, "capacity": capacity}
    )
    Agreement.objects.get_or_create(room=room, version=1, defaults={"text": "Be kind."})
print("rooms ready")
"""


def create_rooms(env: dict[str, str], slugs: Sequence[str], *, capacity: int = 30) -> None:
    """Create open rooms ``slugs`` (each with agreement version 1) in the server's database."""
    _shell(
        env,
        _CREATE_ROOMS,
        {"BENCH_ROOMS": json.dumps(list(slugs)), "BENCH_ROOM_CAPACITY": str(max(capacity, 30))},
    )


_ORM_MEMBERS = """
import json, os
from django.contrib.auth.hashers import make_password
from chatserver.sessions import SessionStore
from rooms import services
from rooms.access import MEMBER_SESSION_KEY
from rooms.models import Member, Room
count = int(os.environ["BENCH_CLIENTS"])
secret_hash = make_password("bench member secret")
out = {}
for slug in json.loads(os.environ["BENCH_ROOMS"]):
    room = Room.objects.get(slug=slug)
    keys = []
    for i in range(count):
        member = Member.objects.create(
            recovery_lookup=f"bench {slug} {i}", recovery_hash=secret_hash
        )
        services.membership_join(room=room, agreement_version=1, member=member)
        store = SessionStore()
        store[MEMBER_SESSION_KEY] = str(member.pk)
        store.create()
        keys.append(store.session_key)
    out[slug] = keys
print("BENCH-SESSIONS " + json.dumps(out))
"""


class BenchClient(ChatClient):
    """A ``ChatClient`` that may carry a session made outside the API (``--setup orm``)."""

    def __init__(self, base_url: str, *, session_key: str | None = None) -> None:
        super().__init__(base_url)
        self.session_key = session_key

    async def connect(self, slug: str, **kwargs: Any) -> ClientConnection:
        if self.session_key is None:
            return await super().connect(slug, **kwargs)
        return await websockets.connect(
            self.ws_url(slug),
            additional_headers={"Cookie": f"sessionid={self.session_key}", "Origin": self.base_url},
            max_size=2**22,
            **kwargs,
        )


class ConnectRefused(Exception):
    """The server answered the handshake with something other than ``welcome``."""


async def open_member(
    client: BenchClient, slug: str, *, timeout: float, **connect: Any
) -> tuple[ClientConnection, dict[str, Any], list[dict[str, Any]]]:
    """Open a room socket as ``client``'s member and wait for its ``welcome``. Returns the
    socket, the welcome and the frames that came before it: the server joins the room's
    broadcasts before it reads what the welcome says, so another member's ``presence`` or
    ``message`` can overtake the welcome (docs/protocol.md says the welcome comes first).
    An ``error`` before the welcome is a refusal. ``connect`` goes to ``websockets``."""
    ws = await client.connect(slug, open_timeout=timeout, **connect)
    early: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    try:
        while True:
            left = max(deadline - time.monotonic(), 0.001)
            frame = json.loads(await asyncio.wait_for(ws.recv(), left))
            if frame.get("type") == "welcome":
                return ws, frame, early
            if frame.get("type") == "error":
                raise ConnectRefused(f"error:{frame.get('code')}")
            early.append(frame)
    except BaseException:
        abort(ws)
        raise


def abort(ws: ClientConnection) -> None:
    """Drop a connection the way a network does: no closing handshake, and a TCP reset
    (linger 0) so the server learns it at once rather than at its next write."""
    sock = ws.transport.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    ws.transport.abort()


async def members_via_api(
    base_url: str, slugs: Sequence[str], clients: int, *, concurrency: int = SETUP_CONCURRENCY
) -> dict[str, list[BenchClient]]:
    """One anonymous member per client, made as a person would: ``POST /api/session`` then
    join the room. Each session costs the server an argon2 hash (about a quarter of a
    second here), so this is bounded-concurrency and done once per run, not per step."""
    gate = asyncio.Semaphore(concurrency)

    async def one(slug: str) -> BenchClient:
        client = BenchClient(base_url)
        async with gate:
            await client.astart_and_join(slug)
        return client

    made = await asyncio.gather(*(one(slug) for slug in slugs for _ in range(clients)))
    return {slug: list(made[i * clients : (i + 1) * clients]) for i, slug in enumerate(slugs)}


def members_via_orm(
    env: dict[str, str], base_url: str, slugs: Sequence[str], clients: int
) -> dict[str, list[BenchClient]]:
    """The same members, memberships and sessions written straight to the database in one
    process (one shared argon2 hash): seconds instead of minutes for 500 clients. The socket
    path under test is identical."""
    out = _shell(
        env, _ORM_MEMBERS, {"BENCH_ROOMS": json.dumps(list(slugs)), "BENCH_CLIENTS": str(clients)}
    )
    line = next(x for x in out.splitlines() if x.startswith("BENCH-SESSIONS "))
    keys: dict[str, list[str]] = json.loads(line.split(" ", 1)[1])
    return {slug: [BenchClient(base_url, session_key=k) for k in keys[slug]] for slug in slugs}


# --- one step's bookkeeping -----------------------------------------------------------------


@dataclass
class Step:
    """Everything counted for the measured part of one step (warm-up messages are ignored)."""

    tag: str
    rate: float
    members: list[int]  # connected sockets per room: every one of them should get each message
    sent: int = 0
    send_failures: int = 0
    acked: int = 0
    delivered: int = 0
    late: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    closes: Counter[str] = field(default_factory=Counter)
    latencies_ns: list[int] = field(default_factory=list)
    send_lag_ns: list[int] = field(default_factory=list)
    ack_ns: list[int] = field(default_factory=list)
    by_room: list[set[str]] = field(default_factory=list)
    record: list[set[str] | None] = field(default_factory=list)

    @property
    def expected(self) -> int:
        return sum(len(ids) * n for ids, n in zip(self.by_room, self.members, strict=True))


@dataclass
class StepResult:
    """One line of a benchmark table (and of the JSON output)."""

    dialect: str
    rooms: int
    clients: int
    rate: float
    duration: float
    sent: int
    acked: int
    expected: int
    delivered: int
    late: int
    lost: int
    record_missing: int
    send_failures: int
    delivered_per_s: float
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    max_ms: float | None
    send_lag_p99_ms: float | None
    ack_p50_ms: float | None
    ack_p99_ms: float | None
    loadgen_cpu: float
    errors: dict[str, int]
    closes: dict[str, int]

    def ok(self, p99_limit_ms: float) -> bool:
        """Sustained: nothing lost and 99% of all expected deliveries within the limit."""
        return self.lost == 0 and self.p99_ms is not None and self.p99_ms <= p99_limit_ms

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def percentile(sorted_ms: list[float], population: int, q: float) -> float | None:
    """The q-quantile over ``population`` values of which only ``sorted_ms`` arrived; the
    rest count as infinite. ``None`` when the quantile falls among the missing ones."""
    if population <= 0:
        return None
    index = max(math.ceil(q * population) - 1, 0)
    return round(sorted_ms[index], 2) if index < len(sorted_ms) else None


# --- one socket ---------------------------------------------------------------------------------


class LoadSocket:
    """One client socket: counts what arrives and, in the chat dialect, keeps ``last`` (the
    highest contiguous seq) and resumes on a gap or a heartbeat ahead of it, as
    docs/protocol.md asks of every client."""

    def __init__(
        self, gen: LoadGenerator, room: int, index: int, ws: ClientConnection, last_seq: int
    ) -> None:
        self.gen = gen
        self.room = room
        self.index = index
        self.ws = ws
        self.chat = gen.dialect == "chat"
        self.last = last_seq
        self.ahead: set[int] = set()
        self.got: set[str] = set()
        self.collect: set[str] | None = None
        self.resuming = False
        self.resume_done = asyncio.Event()
        self.resume_done.set()
        self.closed = False
        self.pending_acks: dict[str, int] = {}
        self.reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        try:
            async for raw in self.ws:
                self._on_frame(raw)
        except ConnectionClosed:
            pass
        finally:
            self.closed = True
            self.resume_done.set()
            step = self.gen.step
            if step is not None and not self.gen.closing:
                rcvd = self.ws.close_code
                step.closes[str(rcvd)] += 1

    def _on_frame(self, raw: str | bytes) -> None:
        now = time.perf_counter_ns()
        frame = json.loads(raw)
        kind = frame.get("type")
        if kind == "message":
            seq = frame.get("seq")
            if seq is not None:
                if seq <= self.last or seq in self.ahead:
                    return  # already applied (from a resume)
                if seq == self.last + 1:
                    self.last = seq
                    self._advance()
                else:
                    self.ahead.add(seq)
                    self._resume(self.last)
            self._deliver(frame.get("body"), now, late=False)
        elif kind == "ack":
            step = self.gen.step
            client_id = frame.get("client_id", "")
            if step is not None and client_id.startswith(step.tag + "-"):
                step.acked += 1
                sent_ns = self.pending_acks.pop(client_id, None)
                if sent_ns is not None:
                    step.ack_ns.append(now - sent_ns)
        elif kind == "resumed":
            self._on_resumed(frame, now)
        elif kind == "heartbeat":
            if frame.get("latest_seq", 0) > self.last:
                self.gen.spawn(self._check_behind(frame["latest_seq"]))
        elif kind == "error":
            step = self.gen.step
            if step is not None:
                step.errors[str(frame.get("code"))] += 1
            if frame.get("ref") is None and self.resuming:
                self.resuming = False  # a refused resume: try again at the next gap
                self.resume_done.set()

    def _advance(self) -> None:
        while self.last + 1 in self.ahead:
            self.last += 1
            self.ahead.discard(self.last)

    def _deliver(self, body: str | None, now: int, *, late: bool) -> None:
        step = self.gen.step
        if not body or step is None:
            return
        msg_id, _, rest = body.partition(" ")
        if self.collect is not None:
            self.collect.add(msg_id)
        if not msg_id.startswith(step.tag + "-") or msg_id in self.got:
            return
        self.got.add(msg_id)
        step.latencies_ns.append(now - int(rest.split(" ", 1)[0]))
        if late:
            step.late += 1
        else:
            step.delivered += 1

    def _resume(self, after: int) -> None:
        if not self.chat or self.resuming or self.closed:
            return
        self.resuming = True
        self.resume_done.clear()
        self.gen.spawn(self._send({"type": "resume", "after": after}))

    def _on_resumed(self, frame: dict[str, Any], now: int) -> None:
        entries = frame.get("messages", [])
        for entry in entries:
            if entry.get("type") == "message":
                self._deliver(entry.get("body"), now, late=True)
        if entries:
            top = entries[-1]["seq"]
            if top > self.last:
                self.last = top
                self.ahead = {s for s in self.ahead if s > top}
                self._advance()
        if frame.get("has_more") and entries:
            self.gen.spawn(self._send({"type": "resume", "after": entries[-1]["seq"]}))
        else:
            self.resuming = False
            self.resume_done.set()

    async def _check_behind(self, latest: int) -> None:
        # A heartbeat can overtake a broadcast still in flight: give it a moment first.
        await asyncio.sleep(1.0)
        if self.last < latest:
            self._resume(self.last)

    async def _send(self, frame: dict[str, Any]) -> None:
        with contextlib.suppress(ConnectionClosed):
            await self.ws.send(json.dumps(frame))

    async def verify(self, after: int, *, collect: bool, timeout: float) -> set[str] | None:
        """Resume from ``after`` to the end of the record; late entries are counted on the
        way. With ``collect``, return every message id the record holds after ``after``."""
        if not self.chat or self.closed:
            return None
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.resume_done.wait(), timeout)
        self.collect = set() if collect else None
        self.resuming = False
        self._resume(after)
        try:
            await asyncio.wait_for(self.resume_done.wait(), timeout)
        except TimeoutError:
            return None
        finally:
            got, self.collect = self.collect, None
        return got


# --- the generator ------------------------------------------------------------------------------


class LoadGenerator:
    """Connects every client once, then runs any number of steps (rates) over the same
    sockets; ``close`` ends them."""

    def __init__(
        self,
        *,
        dialect: str,
        base_url: str,
        slugs: Sequence[str],
        clients: int,
        members: dict[str, list[BenchClient]] | None = None,
        body_chars: int = 100,
        arrival: str = "even",
        seed: int | None = None,
    ) -> None:
        if dialect not in DIALECTS:
            raise ValueError(f"dialect must be one of {DIALECTS}")
        if dialect == "chat" and members is None:
            raise ValueError("the chat dialect needs members (see members_via_api)")
        self.dialect = dialect
        self.base_url = base_url.rstrip("/")
        self.slugs = list(slugs)
        self.clients = clients
        self.members = members
        self.body_chars = body_chars
        self.arrival = arrival
        self.random = random.Random(seed)
        self.sockets: list[list[LoadSocket]] = [[] for _ in self.slugs]
        self.step: Step | None = None
        self.steps_run = 0
        # Client ids must never repeat across runs against one database: the server answers
        # a repeated client_id with the original ack and no broadcast, as documented.
        self.run_id = "".join(self.random.choices("abcdefghijkmnpqrstuvwxyz", k=6))
        self.closing = False
        self._tasks: set[asyncio.Task[Any]] = set()

    def spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # --- connecting ---------------------------------------------------------------------------

    async def _open(self, room: int, index: int) -> LoadSocket:
        slug = self.slugs[room]
        if self.dialect == "bare":
            host = self.base_url.split("://", 1)[1]
            ws = await websockets.connect(
                f"ws://{host}/ws/bare/{slug}/",
                additional_headers={"Origin": self.base_url},
                max_size=2**22,
            )
            return LoadSocket(self, room, index, ws, 0)
        assert self.members is not None
        ws, welcome, early = await open_member(self.members[slug][index], slug, timeout=30)
        sock = LoadSocket(self, room, index, ws, int(welcome["latest_seq"]))
        for frame in early:
            sock._on_frame(json.dumps(frame))
        return sock

    async def connect(self, *, batch: int = CONNECT_BATCH) -> float:
        """Open every socket, ``batch`` at a time: a burst of hundreds of simultaneous
        handshakes measures the accept queue, not the chat. Returns the seconds it took."""
        started = time.perf_counter()
        pairs = [(r, i) for i in range(self.clients) for r in range(len(self.slugs))]
        for start in range(0, len(pairs), batch):
            opened = await asyncio.gather(
                *(self._open(r, i) for r, i in pairs[start : start + batch])
            )
            for sock in opened:
                self.sockets[sock.room].append(sock)
        await asyncio.sleep(1.0)  # let the presence broadcasts of the last batch settle
        return time.perf_counter() - started

    async def close(self) -> None:
        self.closing = True
        socks = [s for room in self.sockets for s in room]
        for start in range(0, len(socks), CONNECT_BATCH):
            await asyncio.gather(
                *(s.ws.close() for s in socks[start : start + CONNECT_BATCH]),
                return_exceptions=True,
            )
        for sock in socks:
            sock.reader.cancel()
        for task in list(self._tasks):
            task.cancel()

    # --- sending ------------------------------------------------------------------------------

    def _gap(self, rate: float) -> float:
        if self.arrival == "poisson":
            return self.random.expovariate(rate)
        return self.random.uniform(0.8, 1.2) / rate  # evenly spaced, +/- 20% jitter

    async def _sender(
        self, sock: LoadSocket, step: Step, t_warm: float, t_measure: float, t_end: float
    ) -> None:
        loop = asyncio.get_running_loop()
        at = t_warm + self.random.uniform(0, 1 / step.rate)
        warm_tag = step.tag[:-1] + "w"
        filler = "x" * max(self.body_chars - 40, 1)
        n = 0
        while at < t_end and not sock.closed:
            delay = at - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            measured = at >= t_measure
            msg_id = f"{step.tag if measured else warm_tag}-{sock.room}-{sock.index}-{n}"
            n += 1
            now = time.perf_counter_ns()
            if measured:
                step.send_lag_ns.append(max(int((loop.time() - at) * 1e9), 0))
                step.by_room[sock.room].add(msg_id)
                step.sent += 1
                if sock.chat:
                    sock.pending_acks[msg_id] = now
            body = f"{msg_id} {now} {filler}"
            try:
                await sock.ws.send(json.dumps({"type": "send", "client_id": msg_id, "body": body}))
            except ConnectionClosed:
                if measured:
                    step.by_room[sock.room].discard(msg_id)
                    step.sent -= 1
                    step.send_failures += 1
                return
            at += self._gap(step.rate)

    # --- one step -----------------------------------------------------------------------------

    async def prime(self, timeout: float = 60.0) -> float:
        """One message per room, waited for, before anything is measured: a server's first
        message may pay one-off costs (lazy imports, caches, data keys) that a steady-state
        figure should not include. Returns the seconds until every room had it."""
        loop = asyncio.get_running_loop()
        started = loop.time()
        step = Step(
            tag=f"{self.run_id}p0m",
            rate=1.0,
            members=[len(room) for room in self.sockets],
            by_room=[set() for _ in self.sockets],
        )
        self.step = step
        for r, room in enumerate(self.sockets):
            if not room:
                continue
            msg_id = f"{step.tag}-{r}-0-0"
            step.by_room[r].add(msg_id)
            step.sent += 1
            body = f"{msg_id} {time.perf_counter_ns()} prime"
            await room[0].ws.send(json.dumps({"type": "send", "client_id": msg_id, "body": body}))
        while loop.time() < started + timeout:
            if step.delivered >= step.expected and (
                self.dialect == "bare" or step.acked >= step.sent
            ):
                break
            await asyncio.sleep(0.02)
        self.step = None
        return loop.time() - started

    async def run_step(
        self, *, rate: float, duration: float, warmup: float = 3.0, drain: float = 5.0
    ) -> StepResult:
        """Send at ``rate`` per client for ``warmup`` + ``duration`` seconds; measure the
        last ``duration``; wait up to ``drain`` seconds for the tail; then verify."""
        loop = asyncio.get_running_loop()
        self.steps_run += 1
        step = Step(
            tag=f"{self.run_id}s{self.steps_run}m",
            rate=rate,
            members=[len(room) for room in self.sockets],
            by_room=[set() for _ in self.sockets],
        )
        for room in self.sockets:
            for sock in room:
                sock.got = set()
        start_last = [room[0].last if room else 0 for room in self.sockets]
        self.step = step
        cpu0, wall0 = time.process_time(), time.perf_counter()
        t_warm = loop.time() + 0.2
        t_measure = t_warm + warmup
        t_end = t_measure + duration
        senders = [
            asyncio.create_task(self._sender(sock, step, t_warm, t_measure, t_end))
            for room in self.sockets
            for sock in room
        ]
        # The first room's verifier starts from where it stood when the step began; warm-up
        # traffic before t_measure is counted by nobody.
        await asyncio.gather(*senders)
        cpu = (time.process_time() - cpu0) / max(time.perf_counter() - wall0, 1e-9)
        deadline = loop.time() + drain
        while loop.time() < deadline:
            done = step.delivered + step.late >= step.expected
            if done and (self.dialect == "bare" or step.acked >= step.sent):
                break
            await asyncio.sleep(0.05)
        if self.dialect == "chat":
            await self._verify(step, start_last)
        self.step = None
        return self._result(step, duration, cpu)

    async def _verify(self, step: Step, start_last: list[int]) -> None:
        """Every client resumes from its last contiguous seq (what a reconnecting client
        does); the first client of each room re-reads the whole step from the record."""
        jobs = []
        for r, room in enumerate(self.sockets):
            for sock in room:
                first = sock is room[0]
                after = start_last[r] if first else sock.last
                jobs.append(sock.verify(after, collect=first, timeout=30.0))
        results = []
        for start in range(0, len(jobs), 100):
            results += await asyncio.gather(*jobs[start : start + 100])
        step.record = []
        i = 0
        for room in self.sockets:
            step.record.append(results[i] if room else None)
            i += len(room)

    def _result(self, step: Step, duration: float, cpu: float) -> StepResult:
        lost = 0
        record_missing = 0
        for r, room in enumerate(self.sockets):
            ids = step.by_room[r]
            for sock in room:
                lost += len(ids - sock.got)
            if self.dialect == "chat":
                record = step.record[r] if step.record else None
                record_missing += len(ids) if record is None else len(ids - record)
        lat = sorted(ns / 1e6 for ns in step.latencies_ns)
        lag = sorted(ns / 1e6 for ns in step.send_lag_ns)
        acks = sorted(ns / 1e6 for ns in step.ack_ns)
        expected = step.expected
        return StepResult(
            dialect=self.dialect,
            rooms=len(self.slugs),
            clients=self.clients,
            rate=step.rate,
            duration=duration,
            sent=step.sent,
            acked=step.acked,
            expected=expected,
            delivered=step.delivered,
            late=step.late,
            lost=lost,
            record_missing=record_missing,
            send_failures=step.send_failures,
            delivered_per_s=round(step.delivered / duration, 1),
            p50_ms=percentile(lat, expected, 0.50),
            p95_ms=percentile(lat, expected, 0.95),
            p99_ms=percentile(lat, expected, 0.99),
            max_ms=round(lat[-1], 2) if lat and len(lat) >= expected else None,
            send_lag_p99_ms=percentile(lag, len(lag), 0.99),
            ack_p50_ms=percentile(acks, step.sent, 0.50) if self.dialect == "chat" else None,
            ack_p99_ms=percentile(acks, step.sent, 0.99) if self.dialect == "chat" else None,
            loadgen_cpu=round(cpu, 2),
            errors=dict(step.errors),
            closes=dict(step.closes),
        )


# --- output -----------------------------------------------------------------------------------


def fmt_ms(value: float | None) -> str:
    return "inf" if value is None else f"{value:.1f}"


def summary(result: StepResult, *, label: str = "") -> str:
    """A human-readable block for one step."""
    r = result
    lines = [
        f"{label or r.dialect}: {r.rooms} rooms x {r.clients} clients at {r.rate:g} msg/s per "
        f"client for {r.duration:g}s",
        f"  sent {r.sent}  acked {r.acked if r.dialect == 'chat' else '-'}  expected deliveries "
        f"{r.expected}  delivered live {r.delivered}  late {r.late}  lost {r.lost}",
        f"  delivered/s {r.delivered_per_s:.1f}   latency ms p50 {fmt_ms(r.p50_ms)}  p95 "
        f"{fmt_ms(r.p95_ms)}  p99 {fmt_ms(r.p99_ms)}  max {fmt_ms(r.max_ms)}",
        f"  loadgen cpu {r.loadgen_cpu:.0%} of a core, send lag p99 {fmt_ms(r.send_lag_p99_ms)} ms",
    ]
    if r.dialect == "chat":
        lines.append(
            f"  ack latency ms p50 {fmt_ms(r.ack_p50_ms)}  p99 {fmt_ms(r.ack_p99_ms)}; record "
            f"check: {r.record_missing} sent messages missing from the record"
        )
    if r.errors or r.closes or r.send_failures:
        lines.append(f"  errors {r.errors}  closes {r.closes}  send failures {r.send_failures}")
    return "\n".join(lines)


def room_slugs(prefix: str, count: int) -> list[str]:
    return [f"{prefix}-{i:03d}" for i in range(count)]


async def run_once(args: argparse.Namespace) -> StepResult:
    slugs = [args.slug] if args.slug else room_slugs(args.prefix, args.rooms)
    env = dict(os.environ)
    members: dict[str, list[BenchClient]] | None = None
    if args.dialect == "chat":
        if args.create_rooms:
            create_rooms(env, slugs, capacity=args.clients)
        if args.setup == "orm":
            members = members_via_orm(env, args.url, slugs, args.clients)
        else:
            members = await members_via_api(args.url, slugs, args.clients)
    gen = LoadGenerator(
        dialect=args.dialect,
        base_url=args.url,
        slugs=slugs,
        clients=args.clients,
        members=members,
        body_chars=args.body_chars,
        arrival=args.arrival,
    )
    took = await gen.connect()
    print(f"connected {len(slugs) * args.clients} sockets in {took:.1f}s", flush=True)
    try:
        return await gen.run_step(
            rate=args.rate, duration=args.duration, warmup=args.warmup, drain=args.drain
        )
    finally:
        await gen.close()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument(
        "--url", required=True, help="the server's base URL, e.g. http://127.0.0.1:8000"
    )
    parser.add_argument("--dialect", choices=DIALECTS, default="chat")
    parser.add_argument("--rooms", type=int, default=50)
    parser.add_argument("--clients", type=int, default=10, help="clients per room")
    parser.add_argument("--rate", type=float, default=0.2, help="messages per second per client")
    parser.add_argument("--duration", type=float, default=15.0, help="measured seconds")
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--drain", type=float, default=5.0)
    parser.add_argument("--body-chars", type=int, default=100)
    parser.add_argument("--arrival", choices=("even", "poisson"), default="even")
    parser.add_argument(
        "--prefix", default="bench", help="room slugs are PREFIX-000, PREFIX-001..."
    )
    parser.add_argument("--slug", help="use this one room instead (e.g. welcome, with --demo)")
    parser.add_argument(
        "--create-rooms",
        action="store_true",
        help="create the rooms first (needs the server's env)",
    )
    parser.add_argument(
        "--setup", choices=("api", "orm"), default="api", help="how members are made"
    )
    return parser


def main(argv: Iterable[str] | None = None) -> int:
    args = build_parser().parse_args(list(argv) if argv is not None else None)
    if args.slug:
        args.rooms = 1
    result = asyncio.run(run_once(args))
    print(summary(result))
    print(json.dumps(result.as_dict()))
    return 0 if result.lost == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
