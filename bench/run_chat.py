"""Find the sustainable chat rate of the chat server and of the bare Channels baseline, in
one run, and print the ratio (ours / bare) per channel layer.

For each layer (``memory``, ``redis``) and each server (``bare``, ``ours``) it starts a fresh
server process, connects R rooms x C clients once, then steps the per-client send rate up.
A step is *sustained* when no delivery is lost and the p99 fan-out latency (over every
expected delivery) is at most ``--p99-ms``. The headline is the highest delivered/s of a
sustained step; stepping stops at the first step that is not sustained.

Servers run one at a time (the machine is shared with the load generator)::

    python -m bench.run_chat --rooms 50 --clients 10 --duration 15 --layers memory,redis
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from bench.bare.server import BareServer
from bench.loadgen import (
    BenchClient,
    LoadGenerator,
    create_rooms,
    fmt_ms,
    members_via_api,
    members_via_orm,
    room_slugs,
    summary,
)
from bench.servers import ServerProcess

DEFAULT_RATES = "0.1,0.2,0.3,0.5,0.75,1.0"
DEFAULT_REDIS = "redis://127.0.0.1:6379/5"


def run_secrets() -> dict[str, str]:
    """A throwaway secret and key-encryption key for one run. They must stay the same across
    the run's server restarts: sessions are signed with the one, data keys wrapped by the
    other."""
    kek = base64.b64encode(secrets.token_bytes(32)).decode()
    return {"SECRET_KEY": secrets.token_urlsafe(48), "CHATSERVER_KEYS": f"bench1:{kek}"}


def chat_env(layer: str, redis_url: str, run_keys: dict[str, str]) -> dict[str, str]:
    """Production-like settings for our server: DEBUG off (Django's debug cursor records every
    query, which would tax the message path) and a send rate limit far above the offered
    load so it never interferes."""
    return {
        **run_keys,
        "DEBUG": "false",
        "SECURE_SSL_REDIRECT": "false",
        "SESSION_COOKIE_SECURE": "false",
        "SECURE_HSTS_SECONDS": "0",
        "LOG_LEVEL": "WARNING",
        "CHAT_RATE_PER_SECOND": "1000",
        "CHAT_RATE_BURST": "1000",
        "REDIS_URL": redis_url if layer == "redis" else "",
    }


def flush_redis(url: str) -> None:
    """Empty the benchmark's own Redis database so no group or channel outlives a run."""
    import redis

    client = redis.Redis.from_url(url)
    try:
        client.flushdb()
    finally:
        client.close()


def ensure_database(url: str) -> None:
    """Create the benchmark's PostgreSQL database if it is missing. Refuses the names the
    test suites use."""
    import psycopg

    name = urlparse(url).path.lstrip("/")
    if not name or name == "test" or name.startswith("test_"):
        raise SystemExit(f"refusing to benchmark in database {name!r}: pick e.g. bench_chat")
    admin = urlparse(url)._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as conn:
        found = conn.execute("select 1 from pg_database where datname = %s", (name,)).fetchone()
        if not found:
            conn.execute(f'create database "{name}"')


class Driver:
    """Runs the matrix and remembers every step. Our members are made once per run: the
    database (SQLite file in the data dir, or PostgreSQL) outlives a server restart."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.slugs = room_slugs("bench", args.rooms)
        self.rates = {
            server: [float(x) for x in (override or args.rates).split(",") if x.strip()]
            for server, override in (("bare", args.rates_bare), ("ours", args.rates_ours))
        }
        self.data_dir = Path(args.data_dir or tempfile.mkdtemp(prefix="chat-bench-"))
        self.members: dict[str, list[BenchClient]] | None = None
        self.run_keys = run_secrets()
        self.results: list[dict[str, Any]] = []

    def log(self, text: str) -> None:
        print(text, flush=True)

    async def run(self) -> None:
        for layer in self.args.layers.split(","):
            for server in self.args.servers.split(","):
                await self.run_server(server.strip(), layer.strip())

    async def run_server(self, server: str, layer: str) -> None:
        args = self.args
        if layer == "redis":
            flush_redis(args.redis_url)
        load = os.getloadavg()[0]
        self.log(f"\n=== {server} / {layer} layer (load average {load:.2f}) ===")
        if load > 1.0:
            self.log("warning: the machine is busy with other work; figures will be low and noisy")
        if server == "bare":
            proc: BareServer | ServerProcess = BareServer(
                log_dir=self.data_dir,
                env={"REDIS_URL": args.redis_url if layer == "redis" else ""},
            )
        else:
            proc = ServerProcess(
                data_dir=self.data_dir,
                env=chat_env(layer, args.redis_url, self.run_keys),
                name=f"ours-{layer}",
            )
            proc.env.pop("DATABASE_URL", None)
            if args.database_url:
                proc.env["DATABASE_URL"] = args.database_url
            proc.env.update(dict(kv.split("=", 1) for kv in args.server_env))
        proc.start()
        profiler: subprocess.Popen[bytes] | None = None
        try:
            members = None
            if server == "ours":
                members = await self.our_members(proc)  # type: ignore[arg-type]
            gen = LoadGenerator(
                dialect="bare" if server == "bare" else "chat",
                base_url=proc.base_url,
                slugs=self.slugs,
                clients=args.clients,
                members=members,
                body_chars=args.body_chars,
                arrival=args.arrival,
            )
            took = await gen.connect()
            self.log(f"connected {args.rooms * args.clients} sockets in {took:.1f}s")
            primed = await gen.prime()
            self.log(f"first message in every room delivered after {primed:.2f}s")
            if server == "ours" and args.profile:
                profiler = self.start_profiler(proc, layer)
            try:
                for rate in self.rates[server]:
                    result = await gen.run_step(
                        rate=rate, duration=args.duration, warmup=args.warmup, drain=args.drain
                    )
                    ok = result.ok(args.p99_ms)
                    self.log(summary(result, label=f"{server}/{layer}") + f"\n  sustained: {ok}")
                    self.results.append(
                        {
                            "server": server,
                            "layer": layer,
                            "ok": ok,
                            "load_before": round(load, 2),
                            **result.as_dict(),
                        }
                    )
                    if not ok and not args.keep_stepping:
                        break
                    await asyncio.sleep(args.settle)
            finally:
                await gen.close()
        finally:
            if profiler is not None:
                profiler.send_signal(2)
                profiler.wait(timeout=60)
            proc.stop()
        tail = [
            line
            for line in proc.log_text().splitlines()
            if "ERROR" in line or "Traceback" in line or "Error" in line
        ]
        if tail:
            self.log(f"server log ({proc.log_path}) has {len(tail)} error lines; first:")
            for line in tail[:5]:
                self.log("  " + line)

    async def our_members(self, proc: ServerProcess) -> dict[str, list[BenchClient]]:
        if self.members is not None:
            for clients in self.members.values():  # same sessions, new server address
                for client in clients:
                    client.base_url = proc.base_url
            return self.members
        started = time.perf_counter()
        create_rooms(proc.env, self.slugs, capacity=self.args.clients)
        if self.args.setup == "orm":
            self.members = members_via_orm(proc.env, proc.base_url, self.slugs, self.args.clients)
        else:
            self.members = await members_via_api(proc.base_url, self.slugs, self.args.clients)
        took = time.perf_counter() - started
        self.log(
            f"made {self.args.rooms * self.args.clients} members ({self.args.setup}) in {took:.1f}s"
        )
        return self.members

    def start_profiler(self, proc: ServerProcess, layer: str) -> subprocess.Popen[bytes]:
        assert proc.process is not None
        out = Path(self.args.profile).with_suffix(f".{layer}.txt")
        self.log(f"profiling pid {proc.process.pid} into {out}")
        # Sample without pausing the server. By default only the thread holding the GIL is
        # sampled (one process runs one Python thread at a time: that is where CPU goes);
        # --profile-waits samples every thread, idle ones included, to see what they wait on.
        mode = ["--idle"] if self.args.profile_waits else ["--gil"]
        return subprocess.Popen(
            [
                str(Path(sys.executable).with_name("py-spy")),
                "record",
                "--pid",
                str(proc.process.pid),
                "--format",
                "raw",
                "--rate",
                "100",
                "--threads",
                "--nonblocking",
                *mode,
                "--output",
                str(out),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    # --- report -------------------------------------------------------------------------------

    def sustained(self, server: str, layer: str) -> dict[str, Any] | None:
        ok = [r for r in self.results if r["server"] == server and r["layer"] == layer and r["ok"]]
        return max(ok, key=lambda r: r["delivered_per_s"]) if ok else None

    def report(self) -> dict[str, Any]:
        head = ("layer", "server", "rate", "sent", "expected", "deliv/s", "p50ms", "p95ms")
        head += ("p99ms", "ack99ms", "late", "lost", "ok")
        widths = (7, 6, 5, 6, 8, 8, 8, 8, 8, 8, 5, 5, 3)
        self.log("\n" + " ".join(h.ljust(w) for h, w in zip(head, widths, strict=True)))
        for r in self.results:
            cells = (r["layer"], r["server"], f"{r['rate']:g}", r["sent"], r["expected"])
            cells += (f"{r['delivered_per_s']:.0f}", fmt_ms(r["p50_ms"]), fmt_ms(r["p95_ms"]))
            cells += (
                fmt_ms(r["p99_ms"]),
                fmt_ms(r["ack_p99_ms"]) if r["server"] == "ours" else "-",
            )
            cells += (r["late"], r["lost"], "yes" if r["ok"] else "no")
            self.log(" ".join(str(c).ljust(w) for c, w in zip(cells, widths, strict=True)))
        ratios: dict[str, float | None] = {}
        sustained: dict[str, Any] = {}
        self.log(f"\nsustained (p99 <= {self.args.p99_ms:g} ms, nothing lost):")
        for layer in self.args.layers.split(","):
            best = {s: self.sustained(s, layer) for s in ("bare", "ours")}
            sustained[layer] = {
                s: (
                    None
                    if b is None
                    else {"rate": b["rate"], "delivered_per_s": b["delivered_per_s"]}
                )
                for s, b in best.items()
            }
            bare, ours = best["bare"], best["ours"]
            ratio = (
                round(ours["delivered_per_s"] / bare["delivered_per_s"], 2)
                if bare and ours and bare["delivered_per_s"]
                else None
            )
            ratios[layer] = ratio
            self.log(
                f"  {layer:<7} bare {self._fmt_best(bare)}   ours {self._fmt_best(ours)}   "
                f"ours/bare = {'n/a' if ratio is None else f'{ratio:.2f}x'}"
            )
        return {"results": self.results, "sustained": sustained, "ratios": ratios}

    @staticmethod
    def _fmt_best(best: dict[str, Any] | None) -> str:
        if best is None:
            return "none sustained"
        return f"{best['delivered_per_s']:.0f}/s (at {best['rate']:g}/client)"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--rooms", type=int, default=50)
    parser.add_argument("--clients", type=int, default=10, help="clients per room")
    parser.add_argument("--duration", type=float, default=15.0, help="measured seconds per step")
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--drain", type=float, default=5.0)
    parser.add_argument("--settle", type=float, default=2.0, help="pause between steps")
    parser.add_argument("--rates", default=DEFAULT_RATES, help="per-client msg/s, stepped up")
    parser.add_argument("--rates-bare", help="the bare baseline's own steps (default: --rates)")
    parser.add_argument("--rates-ours", help="our server's own steps (default: --rates)")
    parser.add_argument("--layers", default="memory,redis")
    parser.add_argument("--servers", default="bare,ours")
    parser.add_argument("--p99-ms", type=float, default=250.0)
    parser.add_argument(
        "--keep-stepping", action="store_true", help="do not stop at the first failing step"
    )
    parser.add_argument("--body-chars", type=int, default=100)
    parser.add_argument("--arrival", choices=("even", "poisson"), default="even")
    parser.add_argument(
        "--redis-url", default=DEFAULT_REDIS, help="a database of its own: it is flushed"
    )
    parser.add_argument(
        "--database-url", help="PostgreSQL for ours (default: SQLite in the data dir)"
    )
    parser.add_argument(
        "--setup", choices=("api", "orm"), default="api", help="how our members are made"
    )
    parser.add_argument("--data-dir", help="default: a new temporary directory, removed afterwards")
    parser.add_argument("--keep-data", action="store_true")
    parser.add_argument("--profile", help="record our server with py-spy (raw) to PATH.<layer>.txt")
    parser.add_argument(
        "--profile-waits", action="store_true", help="profile every thread, idle ones too"
    )
    parser.add_argument(
        "--server-env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="extra environment for our server, to try a setting (repeatable)",
    )
    parser.add_argument("--json-out", help="also write the final JSON to this file")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.database_url:
        ensure_database(args.database_url)
    driver = Driver(args)
    try:
        asyncio.run(driver.run())
    finally:
        report = driver.report()
        print(json.dumps(report["ratios"] | {"sustained": report["sustained"]}))
        if args.json_out:
            Path(args.json_out).write_text(json.dumps(report, indent=1))
        if not (args.keep_data or args.data_dir):
            shutil.rmtree(driver.data_dir, ignore_errors=True)
        else:
            print(f"data and server logs kept in {driver.data_dir}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
