"""What the benchmark drivers share: our server started production-like on PostgreSQL and
Redis, the options every driver takes, what the kernel says about a process (RSS, CPU time,
open files, limits) and the end of a run (the JSON line, the data dir).

``run_chat``, ``run_idle`` and ``run_storm`` use it; nothing here measures anything itself.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import resource
import secrets
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Coroutine, Iterable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from bench.servers import ServerProcess

DEFAULT_REDIS = "redis://127.0.0.1:6379/5"
DEFAULT_DATABASE = "postgres://postgres@127.0.0.1:5432/bench_chat"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


# --- our server -------------------------------------------------------------------------------


def run_secrets() -> dict[str, str]:
    """A throwaway secret and key-encryption key for one run. They must stay the same across
    the run's server processes and restarts: sessions are signed with the one, data keys
    wrapped by the other."""
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


def our_server(
    data_dir: Path,
    *,
    layer: str,
    redis_url: str,
    database_url: str | None,
    run_keys: dict[str, str],
    server_env: Iterable[str] = (),
    name: str = "ours",
    migrate: bool = True,
) -> ServerProcess:
    """A ``chatserver serve`` process (not started) with ``chat_env``, the run's database
    (SQLite in ``data_dir`` when ``database_url`` is empty) and ``NAME=VALUE`` overrides."""
    proc = ServerProcess(
        data_dir=data_dir, env=chat_env(layer, redis_url, run_keys), name=name, migrate=migrate
    )
    proc.env.pop("DATABASE_URL", None)
    if database_url:
        proc.env["DATABASE_URL"] = database_url
    proc.env.update(dict(kv.split("=", 1) for kv in server_env))
    return proc


def start_one_server(args: argparse.Namespace, data_dir: Path) -> ServerProcess:
    """The single server process of ``run_idle`` and ``run_storm``, started: the run's Redis
    database flushed first (``--layer redis``), ``--database-url``, ``--server-env``."""
    if args.layer == "redis":
        flush_redis(args.redis_url)
    return our_server(
        data_dir,
        layer=args.layer,
        redis_url=args.redis_url,
        database_url=args.database_url,
        run_keys=run_secrets(),
        server_env=args.server_env,
    ).start()


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


def run_tag() -> str:
    """Six letters that make a run's room slugs its own: rooms, members and sequence numbers
    of earlier runs in the same database never mix with this one's."""
    return "".join(secrets.choice("abcdefghijkmnpqrstuvwxyz") for _ in range(6))


# --- options and the end of a run -------------------------------------------------------------


def add_common_options(
    parser: argparse.ArgumentParser, *, database_default: str | None = DEFAULT_DATABASE
) -> None:
    """``--redis-url``, ``--database-url``, ``--server-env``, ``--data-dir``, ``--keep-data``,
    ``--json-out``: the same in every driver."""
    parser.add_argument(
        "--redis-url", default=DEFAULT_REDIS, help="a database of its own: it is flushed"
    )
    parser.add_argument(
        "--database-url",
        default=database_default,
        help="PostgreSQL for our server; names test and test_* are refused"
        + (f" (default {database_default})" if database_default else " (default: SQLite)"),
    )
    parser.add_argument(
        "--server-env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="extra environment for our server, to try a setting (repeatable)",
    )
    parser.add_argument("--data-dir", help="default: a new temporary directory, removed afterwards")
    parser.add_argument("--keep-data", action="store_true", help="keep the data dir and logs")
    parser.add_argument("--json-out", help="also write the full JSON report to this file")


def log(text: str) -> None:
    print(text, flush=True)


def driver_main(
    args: argparse.Namespace,
    run: Callable[[argparse.Namespace, Path], Coroutine[Any, Any, dict[str, Any]]],
    *,
    prefix: str,
    line_keys: Iterable[str],
) -> int:
    """Run one driver: its database made if missing, a data dir, ``run``, then the JSON line
    (``line_keys`` of the report; the whole report to ``--json-out``). Exits 1 unless the
    report says ``ok``."""
    if args.database_url:
        ensure_database(args.database_url)
    data_dir = Path(args.data_dir or tempfile.mkdtemp(prefix=prefix))
    report: dict[str, Any] = {}
    try:
        report = asyncio.run(run(args, data_dir))
    finally:
        finish(args, data_dir, {k: report.get(k) for k in line_keys}, report)
    return 0 if report.get("ok") else 1


def finish(args: argparse.Namespace, data_dir: Path, line: Any, full: Any = None) -> None:
    """Print the final JSON line, write ``--json-out`` and remove the data dir unless kept."""
    print(json.dumps(line), flush=True)
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(line if full is None else full, indent=1))
    if not (args.keep_data or args.data_dir):
        shutil.rmtree(data_dir, ignore_errors=True)
    else:
        print(f"data and server logs kept in {data_dir}")


def error_lines(proc: ServerProcess, limit: int = 5) -> list[str]:
    """The first error lines of a server's log (empty when it logged none)."""
    lines = [
        line
        for line in proc.log_text().splitlines()
        if "ERROR" in line or "Traceback" in line or "Error" in line
    ]
    return lines[:limit]


# --- what the kernel says about a process -------------------------------------------------------


def status(pid: int) -> dict[str, int]:
    """The ``kB`` and count fields of /proc/<pid>/status (VmRSS, VmHWM, Threads...)."""
    out: dict[str, int] = {}
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            key, _, value = line.partition(":")
            first = value.split()
            if first and first[0].isdigit():
                out[key] = int(first[0])
    return out


def rss_kb(pid: int) -> int:
    return status(pid).get("VmRSS", 0)


def _stat_fields(pid: int) -> list[str]:
    with open(f"/proc/{pid}/stat") as fh:
        text = fh.read()
    return text[text.rindex(")") + 2 :].split()  # the name may hold spaces and parentheses


def cpu_ticks(pid: int) -> tuple[int, int] | None:
    """(start time, utime + stime) of a process in clock ticks, all its threads included;
    ``None`` when it is gone. The start time tells a reused pid from the same process."""
    try:
        fields = _stat_fields(pid)
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    return int(fields[19]), int(fields[11]) + int(fields[12])


def children(pid: int) -> list[int]:
    """Direct children of a process (nginx's workers)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if int(_stat_fields(int(entry))[1]) == pid:
                    found.append(int(entry))
            except (FileNotFoundError, ProcessLookupError, PermissionError, IndexError):
                continue
    return found


def open_files(pid: int) -> int | None:
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return None


def nofile_limit(pid: int) -> int | None:
    """The soft RLIMIT_NOFILE of another process (from /proc/<pid>/limits)."""
    try:
        with open(f"/proc/{pid}/limits") as fh:
            for line in fh:
                if line.startswith("Max open files"):
                    return int(line.split()[3])
    except (OSError, ValueError):
        return None
    return None


def raise_nofile() -> tuple[int, int]:
    """Raise this process's soft file-descriptor limit to its hard limit (every socket is a
    file descriptor; processes started afterwards inherit it). Returns (soft, hard)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)


def ephemeral_ports() -> int:
    """How many local ports one client address has for connections to one server port."""
    with open("/proc/sys/net/ipv4/ip_local_port_range") as fh:
        low, high = (int(x) for x in fh.read().split())
    return high - low + 1


def listen_overflows() -> int:
    """The kernel's count of connections refused because a listen queue was full (TcpExt
    ListenOverflows, the whole machine): a connect burst larger than the server's backlog
    shows here, as SYNs the client retries a second later."""
    with open("/proc/net/netstat") as fh:
        lines = fh.read().splitlines()
    for keys, values in zip(lines[::2], lines[1::2], strict=False):
        if keys.startswith("TcpExt:"):
            return int(dict(zip(keys.split(), values.split(), strict=True))["ListenOverflows"])
    return 0


def listen_backlog(port: int) -> int | None:
    """The accept-queue size of whatever listens on 127.0.0.1:``port`` (``ss``'s Send-Q)."""
    try:
        out = subprocess.run(
            ["ss", "-Hltn", f"sport = :{port}"], capture_output=True, text=True, timeout=10
        ).stdout
        return int(out.split()[2])
    except (OSError, ValueError, IndexError, subprocess.TimeoutExpired):
        return None


def established(port: int) -> int | None:
    """Established TCP connections to 127.0.0.1:``port`` (the server's side of each)."""
    try:
        out = subprocess.run(
            ["ss", "-Htn", "state", "established", f"sport = :{port}"],
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None
    return len(out.splitlines())


def redis_pid(url: str) -> int | None:
    """The Redis server's pid, if it runs on this machine (INFO gives it)."""
    import redis

    client = redis.Redis.from_url(url)
    try:
        info: Any = client.info("server")
        pid = int(info["process_id"])
    except Exception:
        return None
    finally:
        client.close()
    return pid if cpu_ticks(pid) is not None else None


def postgres_backends(url: str) -> list[int]:
    """The pids of the PostgreSQL backends connected to the benchmark's database, this query's
    own excepted."""
    import psycopg

    try:
        with psycopg.connect(url, autocommit=True) as conn:
            rows = conn.execute(
                "select pid from pg_stat_activity "
                "where datname = current_database() and pid <> pg_backend_pid()"
            ).fetchall()
    except psycopg.Error:
        return []
    return [int(r[0]) for r in rows]


def machine_ticks() -> tuple[int, int]:
    """(busy, total) clock ticks of every core since boot, from /proc/stat."""
    with open("/proc/stat") as fh:
        values = [int(x) for x in fh.readline().split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return sum(values) - idle, sum(values)


class CpuMeter:
    """CPU time (utime + stime) of groups of processes over an interval, in cores (seconds of
    CPU per second of wall time). Each group is a function returning its pids, asked at the
    start and at the end: a process found only at the end started during the interval and
    counts whole; one gone by the end is missed (its pid is reported in ``gone``)."""

    def __init__(self, groups: Mapping[str, Callable[[], Iterable[int]]]) -> None:
        self.groups = dict(groups)
        self._start: dict[str, dict[int, tuple[int, int]]] = {}
        self._wall = 0.0
        self._machine = (0, 0)

    def _sample(self) -> dict[str, dict[int, tuple[int, int]]]:
        out: dict[str, dict[int, tuple[int, int]]] = {}
        for name, pids in self.groups.items():
            out[name] = {}
            for pid in set(pids()):
                ticks = cpu_ticks(pid)
                if ticks is not None:
                    out[name][pid] = ticks
        return out

    def start(self) -> None:
        self._start = self._sample()
        self._wall = time.monotonic()
        self._machine = machine_ticks()

    def stop(self) -> dict[str, Any]:
        end = self._sample()
        wall = max(time.monotonic() - self._wall, 1e-9)
        busy0, total0 = self._machine
        busy1, total1 = machine_ticks()
        cores: dict[str, float] = {}
        split: dict[str, list[float]] = {}
        gone = 0
        for name, now in end.items():
            each = []
            for pid, (started, used) in sorted(now.items()):
                before = self._start.get(name, {}).get(pid)
                ticks = used - before[1] if before and before[0] == started else used
                each.append(round(ticks / CLOCK_TICKS / wall, 3))
            gone += len(set(self._start.get(name, {})) - set(now))
            cores[name] = round(sum(each), 3)
            split[name] = each
        ncpu = os.cpu_count() or 1
        machine = (busy1 - busy0) / max(total1 - total0, 1) * ncpu
        ours = sum(cores.values())
        return {
            "wall_s": round(wall, 2),
            "cores": cores,
            "per_process": split,
            "machine_cores": round(machine, 3),
            "other_cores": round(max(machine - ours, 0.0), 3),
            "ncpu": ncpu,
            "gone": gone,
        }


def service_meter(
    *, layer: str, redis_url: str, database_url: str | None, **groups: Callable[[], Iterable[int]]
) -> CpuMeter:
    """A ``CpuMeter`` over ``groups`` (the server, the clients...) and the services they use:
    Redis (when the layer is Redis) and the PostgreSQL backends of the benchmark database."""
    redis = redis_pid(redis_url) if layer == "redis" else None
    return CpuMeter(
        {
            **groups,
            "redis": lambda: [redis] if redis else [],
            "postgres": (lambda: postgres_backends(database_url)) if database_url else list,
        }
    )


def fmt_cpu(cpu: Mapping[str, Any], detail: Iterable[str] = ("server",)) -> str:
    """One line: each group's share in cores (the ``detail`` groups split by process when
    they have several), then the machine's and everything else's."""
    parts = []
    for name, value in cpu["cores"].items():
        each = cpu["per_process"].get(name, []) if name in detail else []
        split = f" ({' + '.join(f'{x:.2f}' for x in each)})" if len(each) > 1 else ""
        parts.append(f"{name} {value:.2f}{split}")
    return (
        f"cpu (cores of {cpu['ncpu']}): "
        + ", ".join(parts)
        + f"; machine {cpu['machine_cores']:.2f}, other work {cpu['other_cores']:.2f}"
    )
