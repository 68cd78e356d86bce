"""Idle sockets: N member sockets connected in one burst to ONE server process, then left
idle. What does a socket cost the server, and does the room still work?

It starts our server (PostgreSQL, Redis layer by default), makes N members in rooms of
``--per-room`` (``chatserver shell``, as ``run_chat --setup orm``), opens every socket from
``--workers`` client processes with at most ``--concurrency`` handshakes in flight, each until
its ``welcome``, and reports:

* connect failures (must be 0) by kind, the burst's duration, per-socket connect times and the
  kernel's listen-queue overflows during the burst (SYNs dropped and retried a second later);
* the server's RSS (VmRSS) before the burst, after it, after ``--hold`` idle seconds, its peak
  (VmHWM), and RSS per socket;
* the CPU of the server, the clients, Redis and PostgreSQL during the burst and while idle;
* the probe: a message sent by a member in ``--probe-rooms`` rooms, which must reach every
  idle socket of the room, and how long the fan-out took;
* the limits that could bind: each client process's and the server's file-descriptor limit,
  the ephemeral ports, the listen backlog.

::

    python -m bench.run_idle --sockets 10000 --concurrency 200
"""

from __future__ import annotations

import argparse
import asyncio
import math
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.fleet import Fleet, FleetAgent, MemberSocket, Seat, make_members
from bench.harness import (
    add_common_options,
    driver_main,
    ephemeral_ports,
    error_lines,
    fmt_cpu,
    listen_backlog,
    listen_overflows,
    log,
    nofile_limit,
    open_files,
    raise_nofile,
    rss_kb,
    run_tag,
    start_one_server,
    status,
)
from bench.loadgen import open_member, room_slugs

# --- the client side -------------------------------------------------------------------------


class IdleSocket(MemberSocket):
    """Reads everything (presence, heartbeats) and remembers when each probe arrived."""

    def __init__(self, seat: Seat, base_url: str) -> None:
        super().__init__(seat, base_url)
        self.probes: dict[str, float] = {}

    def on_frame(self, frame: dict[str, Any], now: float) -> None:
        body = frame.get("body") if frame.get("type") == "message" else None
        if body and body.startswith("probe-"):
            self.probes.setdefault(body.split(" ", 1)[0], now)


class IdleAgent(FleetAgent):
    socket_class = IdleSocket

    def _room(self, room: int) -> list[IdleSocket]:
        return [s for s in self.sockets if s.seat.room == room]  # type: ignore[misc]

    async def probe_send(self, *, rooms: Sequence[int], tag: str) -> dict[int, float | None]:
        """From the first connected socket this worker holds in each room, send a probe.
        Returns the send time per room (``None``: no connected socket here)."""
        sent: dict[int, float | None] = {}
        for room in rooms:
            sock = next((s for s in self._room(room) if s.ws is not None), None)
            if sock is None:
                sent[room] = None
                continue
            msg_id = f"{tag}-{room}"
            sent[room] = time.monotonic()
            await sock.send({"type": "send", "client_id": msg_id, "body": f"{msg_id} probe"})
        return sent

    async def probe_wait(
        self, *, rooms: Sequence[int], tag: str, timeout: float
    ) -> dict[int, dict[str, Any]]:
        """Wait until every socket of ``rooms`` held here has the probe (or ``timeout``)."""
        deadline = time.monotonic() + timeout
        mine = {room: self._room(room) for room in rooms}

        def missing() -> int:
            return sum(f"{tag}-{r}" not in s.probes for r, socks in mine.items() for s in socks)

        while missing() and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        out: dict[int, dict[str, Any]] = {}
        for room, socks in mine.items():
            arrived = [s.probes[f"{tag}-{room}"] for s in socks if f"{tag}-{room}" in s.probes]
            out[room] = {
                "seats": len(socks),
                "connected": sum(s.ws is not None for s in socks),
                "reached": len(arrived),
                "last": max(arrived, default=None),
            }
        return out


# --- the driver --------------------------------------------------------------------------------


def mb(kb: int) -> str:
    return f"{kb / 1024:.1f} MB"


async def probe(
    fleet: Fleet, seats: list[Seat], workers: int, rooms: list[int], timeout: float
) -> dict[str, Any]:
    """A message in each of ``rooms`` from one of its members; every socket of the room must
    receive it."""
    tag = f"probe-{run_tag()}"
    senders: list[list[int]] = [[] for _ in range(workers)]
    first: dict[int, int] = {}
    for i, seat in enumerate(seats):
        first.setdefault(seat.room, i)
    for room in rooms:  # the room's first seat sends; its worker is its position mod workers
        senders[first[room] % workers].append(room)
    sent_by_worker = await fleet.call("probe_send", [{"rooms": r} for r in senders], tag=tag)
    sent = {room: t for reply in sent_by_worker for room, t in reply.items() if t is not None}
    waited = await fleet.call("probe_wait", rooms=rooms, tag=tag, timeout=timeout)
    per_room = []
    for room in rooms:
        parts = [reply[room] for reply in waited]
        lasts = [p["last"] for p in parts if p["last"] is not None]
        t0 = sent.get(room)
        per_room.append(
            {
                "room": room,
                "seats": sum(p["seats"] for p in parts),
                "connected": sum(p["connected"] for p in parts),
                "reached": sum(p["reached"] for p in parts),
                "fanout_ms": round((max(lasts) - t0) * 1000, 1) if lasts and t0 else None,
            }
        )
    return {
        "rooms": per_room,
        "all_reached": all(r["reached"] == r["seats"] for r in per_room),
    }


def limits_report(
    hellos: list[dict[str, Any]], server_pid: int, sockets: int, port: int
) -> dict[str, Any]:
    """Every limit a run of this size could hit, and which of them did bind."""
    server_nofile = nofile_limit(server_pid)
    ports = ephemeral_ports()
    backlog = listen_backlog(port)
    binding = []
    for i, hello in enumerate(hellos):
        if hello["seats"] + 64 > hello["nofile"][0]:
            binding.append(f"client worker {i}: {hello['seats']} sockets, nofile {hello['nofile']}")
    if server_nofile is not None and sockets + 256 > server_nofile:
        binding.append(f"server: {sockets} sockets, nofile {server_nofile}")
    if sockets > ports:
        binding.append(f"{sockets} sockets from one address, {ports} ephemeral ports")
    return {
        "client_nofile": [h["nofile"] for h in hellos],
        "client_sockets": [h["seats"] for h in hellos],
        "server_nofile": server_nofile,
        "ephemeral_ports": ports,
        "listen_backlog": backlog,
        "binding": binding,
    }


async def run(args: argparse.Namespace, data_dir: Path) -> dict[str, Any]:
    parent_nofile = raise_nofile()  # the server started below inherits it
    rooms = math.ceil(args.sockets / args.per_room)
    slugs = room_slugs(f"idle-{run_tag()}", rooms)
    workers = max(1, min(args.workers, args.sockets))
    proc = start_one_server(args, data_dir)
    assert proc.process is not None
    pid = proc.process.pid
    report: dict[str, Any] = {
        "sockets": args.sockets,
        "rooms": rooms,
        "per_room": args.per_room,
        "workers": workers,
        "concurrency": args.concurrency,
        "layer": args.layer,
    }
    fleet: Fleet | None = None
    try:
        started = time.perf_counter()
        members, seats = make_members(proc, slugs, args.per_room)
        seats = seats[: args.sockets]
        log(f"made {len(seats)} members in {rooms} rooms in {time.perf_counter() - started:.1f}s")
        fleet = Fleet.of("bench.run_idle:IdleAgent", proc.base_url, seats, workers)
        hellos = await fleet.call("hello")
        # One socket opened and closed first: the server's one-off costs of a first
        # connection (imports, caches, database connections) are not a socket's.
        ws, _, _ = await open_member(members[slugs[0]][0], slugs[0], timeout=args.timeout)
        await ws.close()
        await asyncio.sleep(args.settle)
        rss_before = rss_kb(pid)
        meter = fleet.meter(args, pid)
        log(
            f"\nserver RSS before: {mb(rss_before)}; connecting {len(seats)} sockets "
            f"({workers} client processes, {args.concurrency} handshakes in flight)"
        )
        overflows = listen_overflows()
        meter.start()
        connect = await fleet.connect(concurrency=args.concurrency, timeout=args.timeout)
        burst_cpu = meter.stop()
        connect["listen_overflows"] = listen_overflows() - overflows
        connect["sockets_per_s"] = round(connect["opened"] / max(connect["burst_s"], 1e-9), 1)
        report["connect"] = connect
        log(
            f"opened {connect['opened']} of {len(seats)} in {connect['burst_s']:.2f}s "
            f"({connect['sockets_per_s']:.0f}/s); connect failures: {connect['failures']} "
            f"{connect['failure_kinds'] or ''}"
            + (f", each after {connect['failed_after_ms']} ms" if connect["failures"] else "")
        )
        log(
            f"  connect to welcome ms p50 {connect['connect_p50_ms']}  p99 "
            f"{connect['connect_p99_ms']}  max {connect['connect_max_ms']}; listen-queue "
            f"overflows during the burst: {connect['listen_overflows']}"
        )
        log("  burst " + fmt_cpu(burst_cpu))
        await asyncio.sleep(args.settle)
        rss_after = rss_kb(pid)
        meter.start()
        await asyncio.sleep(args.hold)
        idle_cpu = meter.stop()
        held = status(pid)
        opened = max(connect["opened"], 1)
        report["rss_kb"] = {
            "before": rss_before,
            "after": rss_after,
            "held": held.get("VmRSS", 0),
            "peak": held.get("VmHWM", 0),
            "per_socket": round((rss_after - rss_before) / opened, 1),
            "per_socket_held": round((held.get("VmRSS", 0) - rss_before) / opened, 1),
        }
        report["server_open_files"] = open_files(pid)
        report["cpu"] = {"burst": burst_cpu, "idle": idle_cpu}
        r = report["rss_kb"]
        log(
            f"\nserver RSS: before {mb(r['before'])}, after the burst {mb(r['after'])}, after "
            f"{args.hold:g}s idle {mb(r['held'])}, peak {mb(r['peak'])}"
        )
        log(
            f"  RSS per socket: {r['per_socket']:.1f} kB ({r['per_socket_held']:.1f} kB after the "
            f"idle hold); server open files {report['server_open_files']}"
        )
        log(f"  idle {fmt_cpu(idle_cpu)}")
        probe_rooms = sorted({(i * rooms) // args.probe_rooms for i in range(args.probe_rooms)})
        report["probe"] = await probe(fleet, seats, workers, probe_rooms, args.probe_timeout)
        for room in report["probe"]["rooms"]:
            log(
                f"probe in room {room['room']}: reached {room['reached']} of {room['seats']} "
                f"sockets ({room['connected']} connected), fan-out {room['fanout_ms']} ms"
            )
        frames: Counter[str] = Counter()
        for reply in await fleet.call("frames"):
            frames.update(reply)
        report["frames_received"] = dict(frames)
        report["client_rss_kb"] = await fleet.call("rss")
        report["limits"] = limits_report(hellos, pid, len(seats), proc.port)
        report["limits"]["driver_nofile"] = list(parent_nofile)
        log(f"frames received by the clients: {dict(frames)}")
        log(f"client processes' RSS: {', '.join(mb(k) for k in report['client_rss_kb'])}")
        lim = report["limits"]
        log(
            f"limits: client nofile {lim['client_nofile']} for {lim['client_sockets']} sockets; "
            f"server nofile {lim['server_nofile']}; ephemeral ports {lim['ephemeral_ports']}; "
            f"listen backlog {lim['listen_backlog']}"
        )
        log("  binding: " + ("; ".join(lim["binding"]) or "none"))
    finally:
        if fleet is not None:
            await fleet.close()
        proc.stop()
    errors = error_lines(proc)
    if errors:
        log(f"server log ({proc.log_path}) has error lines; first:\n  " + "\n  ".join(errors))
    report["server_errors"] = len(errors)
    report["ok"] = report["connect"]["failures"] == 0 and report["probe"]["all_reached"]
    return report


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--sockets", type=int, default=10_000, help="idle member sockets")
    parser.add_argument("--per-room", type=int, default=20, help="sockets per room")
    parser.add_argument(
        "--concurrency", type=int, default=200, help="handshakes in flight (all workers)"
    )
    parser.add_argument("--workers", type=int, default=2, help="client processes")
    parser.add_argument("--timeout", type=float, default=60.0, help="per socket, to welcome")
    parser.add_argument("--settle", type=float, default=2.0, help="seconds before RSS readings")
    parser.add_argument("--hold", type=float, default=5.0, help="idle seconds, CPU measured")
    parser.add_argument("--probe-rooms", type=int, default=1, help="rooms that get a message")
    parser.add_argument("--probe-timeout", type=float, default=10.0)
    parser.add_argument("--layer", choices=("redis", "memory"), default="redis")
    add_common_options(parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    keys = ("ok", "sockets", "connect", "rss_kb", "probe", "limits", "server_errors")
    return driver_main(args, run, prefix="chat-idle-", line_keys=keys)


if __name__ == "__main__":
    raise SystemExit(main())
