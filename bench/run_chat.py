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
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.bare.server import BareServer
from bench.harness import (
    CpuMeter,
    add_common_options,
    ensure_database,
    error_lines,
    established,
    finish,
    flush_redis,
    fmt_cpu,
    our_server,
    run_secrets,
    run_tag,
    service_meter,
)
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
from bench.nginx import NginxProcess
from bench.servers import ServerProcess

DEFAULT_RATES = "0.1,0.2,0.3,0.5,0.75,1.0"


class Driver:
    """Runs the matrix and remembers every step. Our members are made once per run: the
    database (SQLite file in the data dir, or PostgreSQL) outlives a server restart."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        # A run's rooms are its own: a database kept between runs would otherwise fill them.
        self.slugs = room_slugs(f"bench-{run_tag()}", args.rooms)
        self.processes = [int(n) for n in args.processes.split(",") if n.strip()]
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
                counts = self.processes if server.strip() == "ours" else [1]
                for count in counts:
                    await self.run_server(server.strip(), layer.strip(), count)

    def behind_nginx(self, server: str, count: int) -> bool:
        return count > 1 or (server == "ours" and self.args.via_nginx)

    def start_servers(
        self, server: str, layer: str, count: int
    ) -> tuple[list[ServerProcess], NginxProcess | None]:
        """The server processes (started one after the other: only the first migrates) and,
        for more than one or with ``--via-nginx``, nginx in front of them. If one fails to
        start, those already started are stopped."""
        args = self.args
        if server == "bare":
            env = {"REDIS_URL": args.redis_url if layer == "redis" else ""}
            procs: list[ServerProcess] = [BareServer(log_dir=self.data_dir, env=env)]
        else:
            procs = [
                our_server(
                    self.data_dir,
                    layer=layer,
                    redis_url=args.redis_url,
                    database_url=args.database_url,
                    run_keys=self.run_keys,
                    server_env=args.server_env,
                    name=f"ours-{layer}" if count == 1 else f"ours-{layer}-{count}p{i}",
                    migrate=i == 0,
                )
                for i in range(count)
            ]
        nginx = None
        if self.behind_nginx(server, count):
            nginx = NginxProcess(
                data_dir=self.data_dir,
                upstreams=[p.port for p in procs],
                binary=args.nginx,
                workers=args.nginx_workers,
            )
        try:
            for proc in procs:
                proc.start()
            if nginx is not None:
                nginx.start()
        except BaseException:
            for proc in [*procs, *([nginx] if nginx else [])]:
                proc.stop()
            raise
        return procs, nginx

    def cpu_meter(
        self, procs: list[ServerProcess], nginx: NginxProcess | None, layer: str
    ) -> CpuMeter:
        """CPU time per step: the server processes, nginx, this process (the load
        generator), Redis and PostgreSQL (the benchmark database's backends)."""
        pids = [p.process.pid for p in procs if p.process is not None]
        return service_meter(
            layer=layer,
            redis_url=self.args.redis_url,
            database_url=self.args.database_url,
            server=lambda: pids,
            nginx=nginx.pids if nginx else list,
            loadgen=lambda: [os.getpid()],
        )

    async def run_server(self, server: str, layer: str, count: int = 1) -> None:
        args = self.args
        label = server if count == 1 else f"{server}*{count}"
        if layer == "redis":
            flush_redis(args.redis_url)
        load = os.getloadavg()[0]
        behind = " behind nginx" if self.behind_nginx(server, count) else ""
        self.log(f"\n=== {label}{behind} / {layer} layer (load average {load:.2f}) ===")
        if load > 1.0:
            self.log("warning: the machine is busy with other work; figures will be low and noisy")
        procs, nginx = self.start_servers(server, layer, count)
        base_url = nginx.base_url if nginx else procs[0].base_url
        profiler: subprocess.Popen[bytes] | None = None
        try:
            members = None
            if server == "ours":
                members = await self.our_members(procs[0], base_url)
            gen = LoadGenerator(
                dialect="bare" if server == "bare" else "chat",
                base_url=base_url,
                slugs=self.slugs,
                clients=args.clients,
                members=members,
                body_chars=args.body_chars,
                arrival=args.arrival,
            )
            took = await gen.connect()
            self.log(f"connected {args.rooms * args.clients} sockets in {took:.1f}s")
            if len(procs) > 1:
                split = [established(p.port) for p in procs]
                self.log(f"connections per server process (nginx's split): {split}")
            primed = await gen.prime()
            self.log(f"first message in every room delivered after {primed:.2f}s")
            if server == "ours" and args.profile:
                profiler = self.start_profiler(procs[0], layer)
            meter = self.cpu_meter(procs, nginx, layer)
            try:
                for rate in self.rates[server]:
                    meter.start()
                    result = await gen.run_step(
                        rate=rate, duration=args.duration, warmup=args.warmup, drain=args.drain
                    )
                    cpu = meter.stop()
                    ok = result.ok(args.p99_ms)
                    self.log(summary(result, label=f"{label}/{layer}") + f"\n  sustained: {ok}")
                    self.log("  " + fmt_cpu(cpu))
                    self.results.append(
                        {
                            "server": label,
                            "processes": count,
                            "nginx": nginx is not None,
                            "layer": layer,
                            "ok": ok,
                            "load_before": round(load, 2),
                            **result.as_dict(),
                            "cpu": cpu,
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
            if nginx is not None:
                nginx.stop()
            for proc in procs:
                proc.stop()
        for proc in [*procs, *([nginx] if nginx else [])]:
            tail = error_lines(proc)
            if tail:
                self.log(f"log {proc.log_path} has error lines; first:")
                for line in tail:
                    self.log("  " + line)

    async def our_members(self, proc: ServerProcess, base_url: str) -> dict[str, list[BenchClient]]:
        if self.members is not None:
            for clients in self.members.values():  # same sessions, new server address
                for client in clients:
                    client.base_url = base_url
            return self.members
        started = time.perf_counter()
        create_rooms(proc.env, self.slugs, capacity=self.args.clients)
        if self.args.setup == "orm":
            self.members = members_via_orm(proc.env, base_url, self.slugs, self.args.clients)
        else:
            self.members = await members_via_api(base_url, self.slugs, self.args.clients)
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
                fmt_ms(r["ack_p99_ms"]) if r["server"].startswith("ours") else "-",
            )
            cells += (r["late"], r["lost"], "yes" if r["ok"] else "no")
            self.log(" ".join(str(c).ljust(w) for c, w in zip(cells, widths, strict=True)))
        self.log_cpu()
        ratios: dict[str, float | None] = {}
        scaling: dict[str, dict[str, float | None]] = {}
        sustained: dict[str, Any] = {}
        self.log(f"\nsustained (p99 <= {self.args.p99_ms:g} ms, nothing lost):")
        for layer in self.args.layers.split(","):
            labels = list(dict.fromkeys(["bare", "ours", *(r["server"] for r in self.results)]))
            best = {s: self.sustained(s, layer) for s in labels}
            sustained[layer] = {
                s: (
                    None
                    if b is None
                    else {"rate": b["rate"], "delivered_per_s": b["delivered_per_s"]}
                )
                for s, b in best.items()
            }
            bare, ours = best["bare"], best["ours"]
            ratios[layer] = self._ratio(ours, bare)
            self.log(
                f"  {layer:<7} bare {self._fmt_best(bare)}   ours {self._fmt_best(ours)}   "
                f"ours/bare = {self._fmt_ratio(ratios[layer])}"
            )
            scaling[layer] = {s: self._ratio(best[s], ours) for s in labels[2:]}
            for s in labels[2:]:
                self.log(
                    f"  {layer:<7} {s} {self._fmt_best(best[s])}   "
                    f"{s}/ours = {self._fmt_ratio(scaling[layer][s])}"
                )
        return {
            "results": self.results,
            "sustained": sustained,
            "ratios": ratios,
            "scaling": scaling,
        }

    def log_cpu(self) -> None:
        """Where the CPU went in each step, in cores (CPU seconds per second)."""
        if not self.results:
            return
        groups = list(self.results[0]["cpu"]["cores"])
        head = ("layer", "server", "rate", *groups, "machine", "other")
        widths = (7, 6, 5, *(8 for _ in groups), 8, 6)
        self.log("\ncpu per step, in cores (other: the rest of the machine)")
        self.log(" ".join(h.ljust(w) for h, w in zip(head, widths, strict=True)))
        for r in self.results:
            cpu = r["cpu"]
            cells = (r["layer"], r["server"], f"{r['rate']:g}")
            cells += tuple(f"{cpu['cores'].get(g, 0):.2f}" for g in groups)
            cells += (f"{cpu['machine_cores']:.2f}", f"{cpu['other_cores']:.2f}")
            self.log(" ".join(str(c).ljust(w) for c, w in zip(cells, widths, strict=True)))

    @staticmethod
    def _ratio(top: dict[str, Any] | None, base: dict[str, Any] | None) -> float | None:
        if not (top and base and base["delivered_per_s"]):
            return None
        return round(top["delivered_per_s"] / base["delivered_per_s"], 2)

    @staticmethod
    def _fmt_ratio(ratio: float | None) -> str:
        return "n/a" if ratio is None else f"{ratio:.2f}x"

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
        "--setup", choices=("api", "orm"), default="api", help="how our members are made"
    )
    parser.add_argument(
        "--processes",
        default="1",
        help="our server as 1, 2... processes behind nginx, each count a server of the run "
        "(e.g. 1,2); more than one needs --layers redis and --database-url",
    )
    parser.add_argument(
        "--via-nginx", action="store_true", help="put a single process behind nginx too"
    )
    parser.add_argument("--nginx", help="the nginx binary (default: nginx on PATH)")
    parser.add_argument("--nginx-workers", default="auto", help="nginx worker_processes")
    parser.add_argument("--profile", help="record our server with py-spy (raw) to PATH.<layer>.txt")
    parser.add_argument(
        "--profile-waits", action="store_true", help="profile every thread, idle ones too"
    )
    add_common_options(parser, database_default=None)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if max(int(n) for n in args.processes.split(",") if n.strip()) > 1 and (
        args.layers != "redis" or not args.database_url
    ):
        parser.error(
            "several processes share one PostgreSQL and one Redis: "
            "use --layers redis and --database-url"
        )
    if args.database_url:
        ensure_database(args.database_url)
    driver = Driver(args)
    try:
        asyncio.run(driver.run())
    finally:
        report = driver.report()
        line = report["ratios"] | {"sustained": report["sustained"]}
        if any(report["scaling"].values()):
            line["scaling"] = report["scaling"]
        finish(args, driver.data_dir, line, report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
