"""Reconnect storm: N connected clients on ONE server process lose their connections at the
same moment while messages keep coming, then all reconnect and resume from the last sequence
number they saw. How long until every client is caught up, and is anything lost or doubled?

It starts our server (PostgreSQL, Redis layer by default), makes ``--clients`` members in
rooms of ``--per-room`` plus one sender per room, connects the clients from ``--workers``
client processes and starts the senders (``--rate`` messages a second in every room, open
loop, for the whole run). After ``--before`` seconds every client socket is dropped at once
(a TCP reset, no closing handshake: the server restarts nothing); each client reconnects at
once (with back-off only after a failed attempt) and sends ``resume`` with its ``last``, as
docs/protocol.md asks.

Per client, the time from the drop to *caught up*: holding every entry up to the
``latest_seq`` of its new ``welcome`` (what the room had when it came back), gap-free
(p50/p95/p99/max; the target is p99 <= ``--target-ms``, 1 s). Then the senders stop and,
against the database's latest seq per room: every client's sequence of applied seqs must be
gap-free from where it started to that seq, with no repeats; every client agrees on which
message each seq holds; every acknowledged send is there, at its acknowledged seq, once.

::

    python -m bench.run_storm --clients 2000 --per-room 20 --rate 0.5
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import random
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.fleet import Fleet, FleetAgent, MemberSocket, Seat, failure_kind, make_members
from bench.harness import (
    add_common_options,
    driver_main,
    error_lines,
    fmt_cpu,
    listen_backlog,
    listen_overflows,
    log,
    raise_nofile,
    run_tag,
    start_one_server,
)
from bench.loadgen import _shell, open_member, percentile, room_slugs

ENTRY_TYPES = ("message", "deleted", "hidden")

# --- the client side -------------------------------------------------------------------------


class StormSocket(MemberSocket):
    """A client as docs/protocol.md describes one: it keeps ``last`` (the highest seq applied,
    contiguously), applies entries in seq order, ignores a seq it already has, and resumes on
    a gap, on a heartbeat ahead of it and after every reconnect. It remembers every seq it
    applied, in order, and which message each one was."""

    def __init__(self, seat: Seat, base_url: str) -> None:
        super().__init__(seat, base_url)
        self.start: int | None = None
        self.last = 0
        self.ahead: dict[int, str] = {}
        self.applied: list[int] = []
        self.ids: dict[int, str] = {}
        self.duplicates = 0  # entries received again (after a resume): ignored, as asked
        self.errors: Counter[str] = Counter()
        self.resuming = False
        self.resumes = 0
        self.target: int | None = None
        self.caught = asyncio.Event()
        self.caught_at: float | None = None
        self.welcome_at: float | None = None
        self.last_at_drop: int | None = None
        self.tasks: set[asyncio.Task[None]] = set()

    def attach(self, ws: Any, welcome: dict[str, Any], early: list[dict[str, Any]]) -> None:
        now = time.monotonic()
        latest = int(welcome["latest_seq"])
        if self.start is None:  # first visit: everything from here on
            self.start = self.last = latest
        else:
            self.welcome_at, self.target = now, latest
            self.caught.clear()
            self.resuming = False  # an answer to a resume on the old socket never comes
        super().attach(ws, welcome, early)
        if self.target is not None:
            self._resume(self.last)  # unless an early frame's gap already asked
            self._check_caught(now)

    def wait_for(self, seq: int) -> None:
        """Be caught up again once ``seq`` is applied (the end-of-run check)."""
        self.target = seq
        self.caught.clear()
        self._resume(self.last, force=True)
        self._check_caught(time.monotonic())

    # --- frames ---------------------------------------------------------------------------

    def on_frame(self, frame: dict[str, Any], now: float) -> None:
        kind = frame.get("type")
        if kind in ENTRY_TYPES and frame.get("seq") is not None:
            self._entry(frame)
        elif kind == "resumed":
            entries = frame.get("messages", [])
            for entry in entries:
                self._entry(entry)
            if frame.get("has_more") and entries:
                self._resume(entries[-1]["seq"], force=True)
            else:
                self.resuming = False
                if self.ahead:  # still a gap below what arrived live meanwhile
                    self._resume(self.last)
        elif kind == "heartbeat" and frame.get("latest_seq", 0) > self.last:
            self._spawn(self._check_behind(frame["latest_seq"]))
        elif kind == "error":
            self.errors[str(frame.get("code"))] += 1
            if frame.get("ref") is None and self.resuming:
                self.resuming = False  # a refused resume: try again at the next gap
        self._check_caught(now)

    def _entry(self, entry: dict[str, Any]) -> None:
        seq = int(entry["seq"])
        if seq <= self.last or seq in self.ahead:
            self.duplicates += 1
            return
        body = entry.get("body") or ""
        msg_id = body.split(" ", 1)[0] if entry.get("type") == "message" else entry["type"]
        if seq != self.last + 1:
            self.ahead[seq] = msg_id
            self._resume(self.last)
            return
        self._apply(seq, msg_id)
        while self.last + 1 in self.ahead:
            self._apply(self.last + 1, self.ahead.pop(self.last + 1))

    def _apply(self, seq: int, msg_id: str) -> None:
        self.applied.append(seq)
        self.ids[seq] = msg_id
        self.last = seq

    def _check_caught(self, now: float) -> None:
        if self.target is not None and not self.caught.is_set() and self.last >= self.target:
            self.caught_at = now
            self.caught.set()

    def _resume(self, after: int, *, force: bool = False) -> None:
        if self.ws is None or (self.resuming and not force):
            return
        self.resuming = True
        self.resumes += 1
        self._spawn(self.send({"type": "resume", "after": after}))

    async def _check_behind(self, latest: int) -> None:
        await asyncio.sleep(1.0)  # a heartbeat can overtake a broadcast still in flight
        if self.last < latest:
            self._resume(self.last)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    # --- the end-of-run check --------------------------------------------------------------

    def verdict(self, latest: int) -> dict[str, int]:
        """Against the database's latest seq: seqs missing from ``start``..``latest``, seqs
        applied twice, seqs beyond it."""
        start = self.start or 0
        seen = set(self.applied)
        return {
            "gaps": sum(1 for s in range(start + 1, latest + 1) if s not in seen),
            "repeats": len(self.applied) - len(seen),
            "beyond": sum(1 for s in seen if s > latest),
        }


class StormAgent(FleetAgent):
    socket_class = StormSocket
    sockets: list[StormSocket]  # type: ignore[assignment]

    async def storm(self, *, at: float, timeout: float, concurrency: int) -> list[dict[str, Any]]:
        """At ``at`` (monotonic) drop every socket at once, then reconnect each (back-off
        only after a failed attempt) and wait until it is caught up. One record per socket:
        seconds from the drop to welcome and to caught up (``None``: not within
        ``timeout``), attempts, the failures met."""
        await asyncio.sleep(max(at - time.monotonic(), 0))
        for sock in self.sockets:
            sock.drop()
        dropped = time.monotonic()
        gate = asyncio.Semaphore(concurrency) if concurrency > 0 else contextlib.nullcontext()
        deadline = at + timeout

        async def one(sock: StormSocket) -> dict[str, Any]:
            attempts, failures = 0, Counter[str]()
            while sock.ws is None and time.monotonic() < deadline:
                attempts += 1
                try:
                    async with gate:
                        await self.open(sock, max(deadline - time.monotonic(), 0.1))
                except Exception as exc:
                    failures[failure_kind(exc)] += 1
                    backoff = min(0.05 * 2**attempts, 2.0) * random.uniform(0.5, 1.0)
                    await asyncio.sleep(backoff)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(sock.caught.wait(), max(deadline - time.monotonic(), 0))
            return {
                "welcome_s": None if sock.welcome_at is None else sock.welcome_at - at,
                "caught_s": sock.caught_at - at
                if sock.caught.is_set() and sock.caught_at
                else None,
                "attempts": attempts,
                "failures": dict(failures),
                "missed": (sock.target or 0) - (sock.last_at_drop or 0),
            }

        for sock in self.sockets:
            sock.last_at_drop = sock.last
        out = await asyncio.gather(*(one(s) for s in self.sockets))
        out[0]["drop_spread_s"] = dropped - at
        return out

    async def finish(self, *, latest: dict[str, int], timeout: float) -> dict[str, Any]:
        """Bring every socket to the database's latest seq (a client behind it would learn it
        from the next heartbeat and resume; counted as ``behind``), then check each one's
        record. Answers the totals and, per room, the seq -> message map of every socket."""
        behind = [s for s in self.sockets if s.ws is not None and s.last < latest[s.seat.slug]]
        for sock in behind:
            sock.wait_for(latest[sock.seat.slug])
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.gather(*(s.caught.wait() for s in behind)), timeout)
        totals: Counter[str] = Counter(behind=len(behind))
        rooms: dict[str, dict[int, str]] = {}
        conflicts = 0
        for sock in self.sockets:
            totals.update(sock.verdict(latest[sock.seat.slug]))
            totals["duplicates_ignored"] += sock.duplicates
            totals["resumes"] += sock.resumes
            totals["connected"] += sock.ws is not None
            for code, n in sock.errors.items():
                totals[f"error {code}"] += n
            known = rooms.setdefault(sock.seat.slug, {})
            for seq, msg_id in sock.ids.items():
                if known.setdefault(seq, msg_id) != msg_id:
                    conflicts += 1
        totals["conflicts"] = conflicts
        return {"totals": dict(totals), "rooms": rooms}


# --- the senders (in the driver's own process) ----------------------------------------------------


class Sender(MemberSocket):
    """One member per room posting open loop; a send refused with ``rate_limited`` is sent
    again with the same ``client_id`` after ``retry_after``, as the protocol asks."""

    def __init__(self, seat: Seat, base_url: str, tag: str) -> None:
        super().__init__(seat, base_url)
        self.tag = tag
        self.sent: list[str] = []
        self.known: set[str] = set()
        self.acked: dict[str, int] = {}
        self.refused: Counter[str] = Counter()
        self.tasks: set[asyncio.Task[None]] = set()

    def on_frame(self, frame: dict[str, Any], now: float) -> None:
        if frame.get("type") == "ack":
            self.acked[frame["client_id"]] = int(frame["seq"])
        elif frame.get("type") == "error":
            self.refused[str(frame.get("code"))] += 1
            ref = frame.get("ref")
            if frame.get("code") in ("rate_limited", "internal_error") and ref in self.known:
                task = asyncio.get_running_loop().create_task(
                    self._post(ref, float(frame.get("retry_after") or 0.5))
                )
                self.tasks.add(task)
                task.add_done_callback(self.tasks.discard)

    async def _post(self, client_id: str, delay: float = 0.0) -> None:
        await asyncio.sleep(delay)
        body = f"{client_id} {time.time_ns()}"
        await self.send({"type": "send", "client_id": client_id, "body": body})

    async def run(self, rate: float, stop: asyncio.Event) -> None:
        loop = asyncio.get_running_loop()
        at = loop.time() + random.uniform(0, 1 / rate)
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), max(at - loop.time(), 0))
                return
            client_id = f"{self.tag}-{self.seat.room}-{len(self.sent)}"
            self.sent.append(client_id)
            self.known.add(client_id)
            await self._post(client_id)
            at += random.uniform(0.8, 1.2) / rate

    def unacked(self) -> int:
        return len(self.sent) - len(self.acked)


# --- the driver --------------------------------------------------------------------------------

_DB_STATE = """
import json, os
from django.db.models import Count, Max
from rooms.models import Message, Room
out = {}
for room in Room.objects.filter(slug__in=json.loads(os.environ["BENCH_ROOMS"])):
    found = Message.objects.filter(room=room).aggregate(
        entries=Count("id"), top=Max("seq"), seqs=Count("seq", distinct=True)
    )
    out[room.slug] = {"last_seq": room.last_seq, **found}
print("BENCH-STATE " + json.dumps(out))
"""


def database_state(env: dict[str, str], slugs: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Per room: its last seq and what its log holds (entries, distinct seqs, the top one)."""
    out = _shell(env, _DB_STATE, {"BENCH_ROOMS": json.dumps(list(slugs))})
    line = next(x for x in out.splitlines() if x.startswith("BENCH-STATE "))
    return json.loads(line.split(" ", 1)[1])


def ms(values_s: list[float | None], q: float) -> float | None:
    done = sorted(v * 1000 for v in values_s if v is not None)
    return percentile(done, len(values_s), q)


def timing(records: list[dict[str, Any]], key: str) -> dict[str, float | None]:
    values = [r[key] for r in records]
    done = [v for v in values if v is not None]
    return {
        "p50_ms": ms(values, 0.50),
        "p95_ms": ms(values, 0.95),
        "p99_ms": ms(values, 0.99),
        "max_ms": round(max(done) * 1000, 1) if len(done) == len(values) and done else None,
    }


def check_record(
    rooms: dict[str, dict[int, str]], senders: list[Sender], state: dict[str, dict[str, Any]]
) -> dict[str, int]:
    """The clients' record against the senders' acks and the database."""
    missing_acked = stored_twice = db_gaps = 0
    for sender in senders:
        slug = sender.seat.slug
        held = rooms.get(slug, {})
        for client_id, seq in sender.acked.items():
            if held.get(seq) != client_id:
                missing_acked += 1
        counts = Counter(held.values())
        stored_twice += sum(n - 1 for msg_id, n in counts.items() if n > 1)
        room = state[slug]
        if room["entries"] != room["last_seq"] or room["seqs"] != room["last_seq"]:
            db_gaps += 1
    return {
        "acked_missing": missing_acked,
        "stored_twice": stored_twice,
        "db_rooms_not_dense": db_gaps,
    }


async def run(args: argparse.Namespace, data_dir: Path) -> dict[str, Any]:
    raise_nofile()
    rooms = math.ceil(args.clients / args.per_room)
    tag = run_tag()
    slugs = room_slugs(f"storm-{tag}", rooms)
    workers = max(1, min(args.workers, args.clients))
    proc = start_one_server(args, data_dir)
    assert proc.process is not None
    pid = proc.process.pid
    report: dict[str, Any] = {
        "clients": args.clients,
        "rooms": rooms,
        "per_room": args.per_room,
        "rate_per_room": args.rate,
        "workers": workers,
        "layer": args.layer,
    }
    fleet: Fleet | None = None
    senders: list[Sender] = []
    stop = asyncio.Event()
    sending: list[asyncio.Task[None]] = []
    try:
        started = time.perf_counter()
        _, everyone = make_members(proc, slugs, args.per_room + 1)
        seats = [s for s in everyone if s.index < args.per_room][: args.clients]
        log(
            f"made {len(everyone)} members in {rooms} rooms in {time.perf_counter() - started:.1f}s"
        )
        fleet = Fleet.of("bench.run_storm:StormAgent", proc.base_url, seats, workers)
        await fleet.call("hello")
        connect = await fleet.connect(concurrency=args.concurrency, timeout=args.timeout)
        report["connect"] = connect
        log(
            f"connected {connect['opened']} of {len(seats)} clients in {connect['burst_s']:.1f}s "
            f"(failures {connect['failures']} {connect['failure_kinds'] or ''})"
        )
        for seat in everyone:
            if seat.index == args.per_room:
                sender = Sender(seat, proc.base_url, tag)
                sender.attach(*await open_member(sender.client, seat.slug, timeout=args.timeout))
                senders.append(sender)
        sending = [asyncio.create_task(s.run(args.rate, stop)) for s in senders]
        log(f"{len(senders)} senders posting {args.rate:g} msg/s each; drop in {args.before:g}s")
        meter = fleet.meter(args, pid)
        at = time.monotonic() + args.before
        await asyncio.sleep(max(args.before - 0.5, 0))
        overflows = listen_overflows()
        meter.start()
        per_worker = (
            math.ceil(args.reconnect_concurrency / workers) if args.reconnect_concurrency else 0
        )
        replies = await fleet.call(
            "storm", at=at, timeout=args.storm_timeout, concurrency=per_worker
        )
        storm_cpu = meter.stop()
        records = [r for reply in replies for r in reply]
        failures: Counter[str] = Counter()
        for r in records:
            failures.update(r["failures"])
        caught = timing(records, "caught_s")
        storm = {
            "clients": len(records),
            "drop_spread_ms": round(max(reply[0]["drop_spread_s"] for reply in replies) * 1000, 1),
            "caught_up": caught,
            "welcome": timing(records, "welcome_s"),
            "not_caught_up": sum(r["caught_s"] is None for r in records),
            "reconnect_attempts": sum(r["attempts"] for r in records),
            "reconnect_failures": dict(failures),
            "missed_per_client_mean": round(
                sum(r["missed"] for r in records) / max(len(records), 1), 2
            ),
            "listen_overflows": listen_overflows() - overflows,
            "listen_backlog": listen_backlog(proc.port),
            "target_ms": args.target_ms,
            "target_met": caught["p99_ms"] is not None and caught["p99_ms"] <= args.target_ms,
            "cpu": storm_cpu,
        }
        report["storm"] = storm
        log(
            f"\ndropped {storm['clients']} client sockets at once (spread "
            f"{storm['drop_spread_ms']} ms); all reconnect and resume"
        )
        log(
            f"  drop -> caught up ms: p50 {caught['p50_ms']}  p95 {caught['p95_ms']}  p99 "
            f"{caught['p99_ms']}  max {caught['max_ms']}   target p99 <= {args.target_ms:g} ms: "
            f"{'met' if storm['target_met'] else 'NOT met'}"
        )
        w = storm["welcome"]
        log(
            f"  drop -> welcome ms: p50 {w['p50_ms']}  p99 {w['p99_ms']}; not caught up within "
            f"{args.storm_timeout:g}s: {storm['not_caught_up']}; entries missed per client "
            f"{storm['missed_per_client_mean']}"
        )
        log(
            f"  reconnect attempts {storm['reconnect_attempts']} for {storm['clients']} clients, "
            f"failed attempts {dict(failures) or 0}; listen-queue overflows "
            f"{storm['listen_overflows']} (backlog {storm['listen_backlog']})"
        )
        log("  storm " + fmt_cpu(storm_cpu))
        await asyncio.sleep(args.tail)
    finally:
        stop.set()
        for task in sending:
            with contextlib.suppress(Exception):
                await task
    try:
        if "storm" in report:
            deadline = time.monotonic() + 10
            while any(s.unacked() for s in senders) and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            await asyncio.sleep(args.drain)
            state = database_state(proc.env, slugs)
            latest = {slug: int(room["last_seq"]) for slug, room in state.items()}
            assert fleet is not None
            finished = await fleet.call("finish", latest=latest, timeout=args.storm_timeout)
            totals: Counter[str] = Counter()
            merged: dict[str, dict[int, str]] = {}
            conflicts = 0
            for reply in finished:
                totals.update(reply["totals"])
                for slug, ids in reply["rooms"].items():
                    known = merged.setdefault(slug, {})
                    for seq, msg_id in ids.items():
                        if known.setdefault(int(seq), msg_id) != msg_id:
                            conflicts += 1
            totals["conflicts"] += conflicts
            record = check_record(merged, senders, state)
            sent = sum(len(s.sent) for s in senders)
            acked = sum(len(s.acked) for s in senders)
            refused: Counter[str] = Counter()
            for s in senders:
                refused.update(s.refused)
            check = {
                **dict(totals),
                **record,
                "sent": sent,
                "acked": acked,
                "unacked": sent - acked,
                "refused": dict(refused),
                "db_latest_seq_total": sum(latest.values()),
            }
            report["check"] = check
            log(
                f"\nsenders: sent {sent}, acked {acked}, refused {dict(refused) or 0}; database: "
                f"{sum(latest.values())} entries in {len(latest)} rooms, rooms whose log is not "
                f"1..last_seq: {record['db_rooms_not_dense']}"
            )
            log(
                f"clients against the database's latest seq: gaps {check.get('gaps', 0)}, "
                f"repeats {check.get('repeats', 0)}, beyond {check.get('beyond', 0)}; behind "
                f"when the senders stopped (caught up by a final resume) {check.get('behind', 0)}"
            )
            log(
                f"  seqs two clients disagree on {check['conflicts']}; acked messages missing "
                f"from the clients' record {record['acked_missing']}; messages stored twice "
                f"{record['stored_twice']}; entries received twice and ignored "
                f"{check.get('duplicates_ignored', 0)}"
            )
            frames: Counter[str] = Counter()
            for reply in await fleet.call("frames"):
                frames.update(reply)
            report["frames_received"] = dict(frames)
            log(f"frames received by the clients: {dict(frames)}")
    finally:
        for s in senders:
            s.drop()
        if fleet is not None:
            await fleet.close()
        proc.stop()
    errors = error_lines(proc)
    if errors:
        log(f"server log ({proc.log_path}) has error lines; first:\n  " + "\n  ".join(errors))
    report["server_errors"] = len(errors)
    check = report.get("check", {})
    bad = ["gaps", "repeats", "beyond", "conflicts", "acked_missing", "stored_twice"]
    bad += ["db_rooms_not_dense", "unacked"]
    report["correct"] = (
        bool(check) and not any(check.get(k) for k in bad) and report["storm"]["not_caught_up"] == 0
    )
    report["ok"] = report["correct"] and report["storm"]["target_met"]
    return report


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--clients", type=int, default=2000, help="client sockets, all dropped")
    parser.add_argument("--per-room", type=int, default=20, help="clients per room")
    parser.add_argument("--rate", type=float, default=0.5, help="messages/s posted in each room")
    parser.add_argument(
        "--before", type=float, default=3.0, help="seconds of traffic before the drop"
    )
    parser.add_argument("--tail", type=float, default=1.0, help="seconds of traffic after it")
    parser.add_argument("--drain", type=float, default=2.0, help="seconds before the final check")
    parser.add_argument("--workers", type=int, default=2, help="client processes")
    parser.add_argument(
        "--concurrency", type=int, default=200, help="handshakes in flight at the first connect"
    )
    parser.add_argument(
        "--reconnect-concurrency",
        type=int,
        default=0,
        help="handshakes in flight when reconnecting (0: all at once, the storm)",
    )
    parser.add_argument("--timeout", type=float, default=60.0, help="first connect, per socket")
    parser.add_argument(
        "--storm-timeout", type=float, default=60.0, help="drop to caught up, at most"
    )
    parser.add_argument("--target-ms", type=float, default=1000.0, help="p99 drop -> caught up")
    parser.add_argument("--layer", choices=("redis", "memory"), default="redis")
    add_common_options(parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    keys = ("ok", "correct", "clients", "connect", "storm", "check", "server_errors")
    return driver_main(args, run, prefix="chat-storm-", line_keys=keys)


if __name__ == "__main__":
    raise SystemExit(main())
