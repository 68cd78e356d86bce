"""Checkpoints of the audit chain's head, kept outside the database.

The keyed chain (chatserver/audit.py) stops anyone without the audit key from removing or
changing an entry and recomputing the rest. It cannot, by itself, show that the *last*
entries were removed or that the whole log was wiped: what the chain should end with is
recorded only in the same database. A checkpoint fixes that end somewhere else: the head's
sequence number and MAC, signed with Ed25519 under a key derived from the audit secret, as
one line in the log stream and, when ``AUDIT_ANCHOR_FILE`` is set, appended to that file.
``audit-verify`` then checks that every checkpointed entry is still in the chain, unchanged.

A checkpoint line carries no colon, dot or ``name=`` that the log privacy filter would
rewrite, so it reaches the log stream exactly as signed::

    audit-anchor v=1 seq=120 mac=<64 hex> key=<16 hex> at=<unix seconds> sig=<base64url>

The signature needs only the public key to check (``audit-verify --public-key`` prints it):
whoever keeps the checkpoints can check them and cannot make one.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from chatserver.crypto import AuditKey, audit_sign, audit_signature_valid

MARKER = "audit-anchor"
VERSION = 1
_SIGNED_PREFIX = b"chatserver audit checkpoint\n"
_LINE = re.compile(
    r"audit-anchor v=(?P<v>\d+) seq=(?P<seq>\d+) mac=(?P<mac>[0-9a-f]{64}) "
    r"key=(?P<key>[0-9a-f]{16}) at=(?P<at>\d+) sig=(?P<sig>[A-Za-z0-9_-]+)"
)

# The dedicated logger: settings keep it at INFO whatever LOG_LEVEL says, so checkpoints reach
# the log stream, which should be shipped off the host (docs/security.md).
anchor_logger = logging.getLogger("chatserver.audit.anchor")
logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Anchor:
    """One checkpoint: entry ``seq`` of the chain had MAC ``mac`` at time ``at``."""

    seq: int
    mac: str
    key_id: str
    at: int
    signature: str = ""

    def _unsigned(self) -> str:
        return f"{MARKER} v={VERSION} seq={self.seq} mac={self.mac} key={self.key_id} at={self.at}"

    def payload(self) -> bytes:
        """The signed bytes: the line without its signature, under a prefix no other
        signature of the project uses."""
        return _SIGNED_PREFIX + self._unsigned().encode()

    def line(self) -> str:
        return f"{self._unsigned()} sig={self.signature}"

    @property
    def made_at(self) -> str:
        when = dt.datetime.fromtimestamp(self.at, tz=dt.UTC)
        return when.strftime("%Y-%m-%d %H:%M:%S UTC")


def make_anchor(*, seq: int, mac: str, key: AuditKey, at: dt.datetime) -> Anchor:
    unsigned = Anchor(seq=seq, mac=mac, key_id=key.key_id, at=int(at.timestamp()))
    return replace(unsigned, signature=audit_sign(key, unsigned.payload()))


def publish(anchor: Anchor, *, path: str) -> None:
    """Write a checkpoint to the log stream and, if ``path`` is set, append it to that file.

    Called after the transaction that advanced the head commits, so no checkpoint names an
    entry that was rolled back. A file that cannot be written is logged, not raised: the
    entry is already committed, and the checkpoint is still in the log stream."""
    line = anchor.line()
    anchor_logger.info("%s", line)
    if not path:
        return
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
        try:
            # One write of one short line to a file opened for appending: lines written by
            # several processes at once do not interleave.
            os.write(fd, (line + "\n").encode())
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError as exc:
        logger.error(
            "audit checkpoint of entry %s not written to AUDIT_ANCHOR_FILE (%s); "
            "it is in the log stream only",
            anchor.seq,
            exc.strerror or type(exc).__name__,
        )


@dataclass(frozen=True)
class LocatedAnchor:
    """A checkpoint with the place it was read from, so a report can point at it."""

    anchor: Anchor
    where: str


@dataclass
class AnchorReading:
    """What the given checkpoint sources hold: the checkpoints whose signature verifies,
    and every line that could not be trusted (``(claimed seq or None, reason)``)."""

    sources: list[str] = field(default_factory=list)
    anchors: list[LocatedAnchor] = field(default_factory=list)
    problems: list[tuple[int | None, str]] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)


def read_anchor_lines(
    lines: Iterable[str],
    *,
    source: str,
    public_keys: Mapping[str, bytes],
    into: AnchorReading | None = None,
) -> AnchorReading:
    """Collect the checkpoints among ``lines`` (an anchor file, or any log output that holds
    checkpoint lines among others) and check each one's signature. Lines without the marker
    are skipped; a line with it that does not parse or verify is a problem, never ignored."""
    reading = into if into is not None else AnchorReading()
    reading.sources.append(source)
    for number, line in enumerate(lines, start=1):
        if MARKER + " " not in line:
            continue
        where = f"{source} line {number}"
        match = _LINE.search(line)
        if match is None:
            reading.problems.append(
                (None, f"{where}: a checkpoint line that cannot be read (cut short or altered)")
            )
            continue
        seq = int(match["seq"])
        if int(match["v"]) != VERSION:
            reading.problems.append((seq, f"{where}: checkpoint version {match['v']} is unknown"))
            continue
        anchor = Anchor(
            seq=seq,
            mac=match["mac"],
            key_id=match["key"],
            at=int(match["at"]),
            signature=match["sig"],
        )
        public_key = public_keys.get(anchor.key_id)
        if public_key is None:
            reading.problems.append(
                (
                    seq,
                    f"{where}: the checkpoint is signed with audit key {anchor.key_id}, which is "
                    "not configured (add the secret it was made with to AUDIT_KEY_FALLBACKS)",
                )
            )
            continue
        if not audit_signature_valid(public_key, anchor.payload(), anchor.signature):
            reading.problems.append(
                (seq, f"{where}: the checkpoint's signature does not verify (forged or altered)")
            )
            continue
        reading.anchors.append(LocatedAnchor(anchor=anchor, where=where))
    return reading


def read_anchor_files(
    paths: Iterable[str],
    *,
    public_keys: Mapping[str, bytes],
    into: AnchorReading | None = None,
) -> AnchorReading:
    """Read every checkpoint in ``paths``; a file that does not exist is listed as missing
    (for the verifier to judge: before the first checkpoint, the anchor file is not there
    yet)."""
    reading = into if into is not None else AnchorReading()
    for path in paths:
        file = Path(path)
        if not file.is_file():
            reading.missing.append(path)
            continue
        with file.open(encoding="utf-8", errors="replace") as handle:
            read_anchor_lines(handle, source=path, public_keys=public_keys, into=reading)
    return reading
