"""Cost of message encryption, against baselines measured in the same run.

    .venv/bin/python bench/bench_crypto.py [--messages 20000] [--sends 4000] [--block 50]
    .venv/bin/python bench/bench_crypto.py --database-url postgres://...   # a scratch database

Two measurements:

1. Per message, microseconds (median and p99 over every message, best of ``--rounds``):
   * ``encode``  - msgspec encoding of the outgoing ``message`` frame, which every send does
     anyway (the baseline);
   * ``seal``    - AES-256-GCM sealing of the body with its associated data (cached key);
   * ``open``    - opening it again, as history and resume do;
   * ``unwrap``  - unwrapping a data key under the KEK (once per key and process: cached).
2. Chat throughput: ``rooms.services.message_send`` end to end, in process (risk detector,
   transaction, room lock, sequence number, insert, frame), with sealing on and with the
   data key and the seal replaced by a no-op, in alternating blocks of ``--block`` sends;
   the ratio of the median block rates is the share of throughput encryption costs. As
   disk commits make those rates noisy, the time spent inside the key lookup and the seal
   is also summed during the sends and reported as a share of send time. SQLite by default
   (a temporary file, the embedded setup): its fast commits make the crypto share look as
   large as it ever gets.

The target is under 10% of throughput.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SIZES = (20, 60, 120, 280, 600, 2000)  # characters: short replies to long disclosures


def configure(database_url: str | None, data_dir: str) -> None:
    """A throwaway database and key ring, before Django reads its settings."""
    os.environ["DEBUG"] = "true"
    os.environ["CHATSERVER_DATA_DIR"] = data_dir
    os.environ.pop("REDIS_URL", None)
    os.environ.pop("CHATSERVER_KEY_FILE", None)
    if database_url:
        os.environ["DATABASE_URL"] = database_url
    else:
        os.environ.pop("DATABASE_URL", None)
    os.environ["DJANGO_SETTINGS_MODULE"] = "chatserver.settings"
    from chatserver.crypto import generate_key_line

    os.environ["CHATSERVER_KEYS"] = generate_key_line("bench1")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0)


def bodies(count: int) -> list[str]:
    filler = (
        "Today was hard but I came here and that helps. Hoy fue un día largo. "
        "آج کا دن ٹھیک تھا. I keep thinking about what my counsellor said. "
    )
    return [(filler * 40)[: SIZES[n % len(SIZES)]] for n in range(count)]


def time_each(function: Callable[[int], object], count: int, rounds: int) -> list[float]:
    """Microseconds per call, the best of ``rounds`` per item (less scheduler noise)."""
    best = [float("inf")] * count
    clock = time.perf_counter_ns
    for _ in range(rounds):
        for index in range(count):
            started = clock()
            function(index)
            elapsed = (clock() - started) / 1000
            best[index] = min(best[index], elapsed)
    return best


def p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]


def per_message_costs(count: int, rounds: int) -> dict[str, list[float]]:
    import datetime as dt

    from chatserver import crypto
    from rooms import encryption, protocol

    texts = bodies(count)
    aead = encryption.AESGCM(crypto.new_data_key())
    now = dt.datetime.now(dt.UTC)
    sealed = [
        encryption.seal_body(aead=aead, room_id=1, seq=n, data_key_id=7, body=t)
        for n, t in enumerate(texts)
    ]
    ring = encryption.keyring()
    wraps = [crypto.wrap_data_key(ring, crypto.new_data_key(), b"1|1|%d" % n) for n in range(2000)]

    def encode_frame(n: int) -> object:
        return protocol.encode(
            protocol.MessageFrame(seq=n, ts=now, author="Calm Heron", body=texts[n])
        )

    def seal(n: int) -> bytes:
        return encryption.seal_body(aead=aead, room_id=1, seq=n, data_key_id=7, body=texts[n])

    def open_(n: int) -> str:
        return crypto.open_sealed(aead, sealed[n], encryption.message_aad(1, n, 7)).decode()

    def unwrap(n: int) -> bytes:
        kek_id, wrapped = wraps[n % len(wraps)]
        return crypto.unwrap_data_key(ring, kek_id, wrapped, b"1|1|%d" % (n % len(wraps)))

    assert open_(3) == texts[3]
    return {
        "encode": time_each(encode_frame, count, rounds),
        "seal": time_each(seal, count, rounds),
        "open": time_each(open_, count, rounds),
        "unwrap": time_each(unwrap, min(count, len(wraps)), rounds),
    }


@contextmanager
def encryption_off() -> Iterator[None]:
    """The send path with no data key and an identity seal: what the server would do if it
    stored plaintext (it never does; this exists only to measure the difference)."""
    from rooms import services

    saved = services.current_data_key, services.seal_body
    services.current_data_key = lambda **kwargs: (None, None)  # type: ignore[assignment,return-value]
    services.seal_body = lambda **kwargs: kwargs["body"].encode()  # type: ignore[assignment]
    try:
        yield
    finally:
        services.current_data_key, services.seal_body = saved


class CryptoClock:
    """Total time spent in the key lookup and the seal while sending: a direct measure of
    encryption's share of the send path, immune to the disk noise that blurs the rates."""

    def __init__(self) -> None:
        self.ns = 0

    def around(self, function: Callable[..., Any]) -> Callable[..., Any]:
        def timed(**kwargs: Any) -> Any:
            started = time.perf_counter_ns()
            try:
                return function(**kwargs)
            finally:
                self.ns += time.perf_counter_ns() - started

        return timed


@contextmanager
def timing_crypto(clock: CryptoClock) -> Iterator[None]:
    from rooms import services

    saved = services.current_data_key, services.seal_body
    services.current_data_key = clock.around(saved[0])  # type: ignore[assignment]
    services.seal_body = clock.around(saved[1])  # type: ignore[assignment]
    try:
        yield
    finally:
        services.current_data_key, services.seal_body = saved


def send_rate(memberships: list[Any], texts: list[str], tag: str) -> float:
    """Messages per second through ``message_send``, members taking turns."""
    from rooms import services

    started = time.perf_counter()
    for n, text in enumerate(texts):
        services.message_send(
            membership=memberships[n % len(memberships)], client_id=f"{tag}-{n}", body=text
        )
    return len(texts) / (time.perf_counter() - started)


def throughput(sends: int, block: int) -> dict[str, list[float]]:
    """Send rates of ``block``-message blocks, alternating encryption on and off, so disk
    and scheduler drift hit both alike; the medians are compared."""
    from rooms.models import Agreement, Member, Membership, Room

    room = Room.objects.create(slug="bench", title="Bench", capacity=1000)
    Agreement.objects.create(room=room, version=1, text="Be kind.")
    memberships = [
        Membership.objects.create(
            room=room,
            member=Member.objects.create(recovery_lookup=f"bench {n}", recovery_hash="x"),
            pseudonym=f"Bench Member {n}",
            agreement_version=1,
        )
        for n in range(8)
    ]
    texts = bodies(block)
    send_rate(memberships, texts, "warm-on")
    with encryption_off():
        send_rate(memberships, texts, "warm-off")
    rates: dict[str, list[float]] = {"on": [], "off": [], "crypto_share": []}
    for b in range(max(1, sends // block)):
        clock = CryptoClock()
        with timing_crypto(clock):
            rate = send_rate(memberships, texts, f"on{b}")
        rates["on"].append(rate)
        rates["crypto_share"].append(clock.ns / 1e9 / (block / rate))
        with encryption_off():
            rates["off"].append(send_rate(memberships, texts, f"off{b}"))
    return rates


def report(costs: dict[str, list[float]], rates: dict[str, list[float]], vendor: str) -> None:
    print(f"{'per message':<12} {'median µs':>10} {'p99 µs':>10}")
    for name, values in costs.items():
        print(f"{name:<12} {statistics.median(values):>10.2f} {p99(values):>10.2f}")
    base = statistics.median(costs["encode"])
    for name in ("seal", "open"):
        print(f"{name} / encode: {statistics.median(costs[name]) / base:.2f}x (median)")
    on, off = statistics.median(rates["on"]), statistics.median(rates["off"])
    share = 1 - on / off
    print(f"message_send on {vendor}: {off:,.0f} msg/s without encryption, {on:,.0f} with")
    blocks = len(rates["on"])
    print(f"  (medians of {blocks} alternating blocks each; sends per second by block:")
    for mode in ("off", "on"):
        ordered = sorted(rates[mode])
        print(f"   {mode:>3}: min {ordered[0]:,.0f}, max {ordered[-1]:,.0f})")
    print(f"throughput with / without: {on / off:.3f} (encryption costs {share:.1%})")
    inside = sum(rates["crypto_share"]) / len(rates["crypto_share"])
    print(f"time inside key lookup + seal, measured in the sends: {inside:.2%} of send time")
    worst = max(share, inside)
    print("target < 10% of throughput:", "met" if worst < 0.10 else "NOT met")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=20000, help="for per-message costs")
    parser.add_argument("--sends", type=int, default=4000, help="sends per mode (on/off)")
    parser.add_argument("--block", type=int, default=50, help="sends per alternating block")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--database-url", help="a scratch database (default: temporary SQLite)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-crypto-") as data_dir:
        configure(args.database_url, data_dir)
        from django.db import connection

        costs = per_message_costs(args.messages, args.rounds)
        rates = throughput(args.sends, args.block)
        report(costs, rates, connection.vendor)
        connection.close()


if __name__ == "__main__":
    main()
