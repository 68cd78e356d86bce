"""Checkpoints of the audit chain's head: when they are written (every N entries, every T
seconds at the next append, by ``audit-anchor`` for a quiet log, never for a rolled-back
entry), what they look like in the log stream, and that they are checked with the public key
alone."""

from __future__ import annotations

import base64
import datetime as dt
import logging
from collections.abc import Callable, Iterator
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
import time_machine
from django.core.management import call_command
from django.db import transaction

from chatserver.anchors import read_anchor_lines
from chatserver.audit import audit_append
from chatserver.crypto import audit_signature_valid
from chatserver.logprivacy import PrivacyFilter, scrub
from chatserver.models import AuditHead

pytestmark = pytest.mark.django_db


@pytest.fixture
def stream() -> Iterator[list[str]]:
    """The checkpoint lines as the log stream receives them: through the privacy filter."""
    lines: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(record.getMessage())

    handler = Keep()
    handler.addFilter(PrivacyFilter())
    logger = logging.getLogger("chatserver.audit.anchor")
    logger.addHandler(handler)
    try:
        yield lines
    finally:
        logger.removeHandler(handler)


@pytest.fixture
def commit(django_capture_on_commit_callbacks: Any) -> Callable[[Callable[[], Any]], None]:
    """Run ``work`` and then what its transaction does once committed, as in the server."""

    def run(work: Callable[[], Any]) -> None:
        with django_capture_on_commit_callbacks(execute=True):
            work()

    return run


def append(n: int = 1) -> None:
    for i in range(n):
        audit_append(
            actor="user:7",
            action="test.event",
            object_type="thing",
            object_id=i,
            detail={"note": "private detail"},
        )


def seqs(lines: list[str]) -> list[int]:
    return [int(line.split(" seq=")[1].split()[0]) for line in lines]


def test_every_n_entries(settings: Any, stream: list[str], commit: Any) -> None:
    settings.AUDIT_ANCHOR_EVERY = 3
    commit(lambda: append(10))
    assert seqs(stream) == [3, 6, 9]


def test_every_t_seconds_at_the_next_append(settings: Any, stream: list[str], commit: Any) -> None:
    settings.AUDIT_ANCHOR_EVERY, settings.AUDIT_ANCHOR_SECONDS = 1000, 60
    start = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)
    with time_machine.travel(start, tick=False) as clock:
        commit(append)  # a new log: its clock starts here
        clock.shift(30)
        commit(append)
        assert stream == []
        clock.shift(31)
        commit(append)
    assert seqs(stream) == [3]
    head = AuditHead.objects.get(pk=1)
    assert head.anchored_seq == 3 and head.anchored_at == start + dt.timedelta(seconds=61)


def test_a_rolled_back_entry_is_never_checkpointed(
    settings: Any, stream: list[str], commit: Any, tmp_path: Path
) -> None:
    settings.AUDIT_ANCHOR_EVERY = 1
    settings.AUDIT_ANCHOR_FILE = str(tmp_path / "anchors")

    def work() -> None:
        try:
            with transaction.atomic():
                append()
                raise RuntimeError("the action failed after its audit entry")
        except RuntimeError:
            pass

    commit(work)
    assert stream == [] and not (tmp_path / "anchors").exists()
    assert not AuditHead.objects.filter(seq__gt=0).exists()


def test_the_log_line_is_whole_after_the_privacy_filter_and_says_nothing_else(
    settings: Any, stream: list[str], commit: Any
) -> None:
    settings.AUDIT_ANCHOR_EVERY = 1
    commit(append)
    (line,) = stream
    assert scrub(line) == line
    assert line.startswith("audit-anchor v=1 seq=1 mac=")
    assert "private detail" not in line and "user:7" not in line and "test.event" not in line


def test_an_unwritable_anchor_file_is_logged_not_raised(
    settings: Any, stream: list[str], commit: Any, tmp_path: Path, caplog: Any
) -> None:
    settings.AUDIT_ANCHOR_EVERY = 1
    settings.AUDIT_ANCHOR_FILE = str(tmp_path)  # a directory: it cannot be appended to
    with caplog.at_level(logging.ERROR, logger="chatserver.anchors"):
        commit(append)
    assert seqs(stream) == [1]
    assert "not written to AUDIT_ANCHOR_FILE" in caplog.text
    assert str(tmp_path) not in caplog.text


def run(name: str, *args: str) -> str:
    out = StringIO()
    call_command(name, *args, stdout=out)
    return out.getvalue().strip()


def test_audit_anchor_checkpoints_a_quiet_log(
    settings: Any, stream: list[str], commit: Any, tmp_path: Path
) -> None:
    settings.AUDIT_ANCHOR_EVERY = 1000
    settings.AUDIT_ANCHOR_FILE = str(tmp_path / "anchors")
    outputs: list[str] = []
    commit(lambda: outputs.append(run("audit_anchor")))
    commit(lambda: append(3))
    assert stream == []
    commit(lambda: outputs.append(run("audit_anchor")))
    commit(lambda: outputs.append(run("audit_anchor")))
    commit(lambda: outputs.append(run("audit_anchor", "--force")))
    assert outputs == [
        "the audit log is empty: nothing to checkpoint",
        "checkpoint of entry 3 written",
        "entry 3 is already checkpointed",
        "checkpoint of entry 3 written",
    ]
    assert seqs(stream) == [3, 3]
    assert (tmp_path / "anchors").read_text().splitlines() == stream
    assert "intact (3 entries, 2 checkpoints checked" in run("audit_verify")


def test_a_checkpoint_is_checked_with_the_public_key_alone(
    settings: Any, stream: list[str], commit: Any
) -> None:
    """Whoever keeps the checkpoints needs neither the database nor the secret to check
    them, and cannot make one."""
    settings.AUDIT_ANCHOR_EVERY = 1
    commit(append)
    _, _, key_id, algorithm, encoded = run("audit_verify", "--public-key").split()
    public_key = base64.b64decode(encoded)
    assert algorithm == "ed25519" and len(public_key) == 32
    reading = read_anchor_lines(stream, source="log", public_keys={key_id: public_key})
    assert reading.problems == [] and [a.anchor.seq for a in reading.anchors] == [1]
    anchor = reading.anchors[0].anchor
    assert audit_signature_valid(public_key, anchor.payload(), anchor.signature)
    forged = anchor.payload().replace(b"seq=1", b"seq=2")
    assert not audit_signature_valid(public_key, forged, anchor.signature)
