"""Migration 0002 on a log written under the plain SHA-256 chain: the entries stay as they
were written, the first keyed entry seals them and is checkpointed at once, a break among
them stays reported, and after the seal they can no longer be rewritten."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from chatserver.audit import GENESIS, _canonical, audit_append, audit_verify
from chatserver.crypto import chain_hash
from chatserver.models import AuditEntry, AuditHead

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = ("chatserver", "0001_audit_from_moderation")
AFTER = ("chatserver", "0002_keyed_audit_chain")


def migrate(target: tuple[str, str]) -> Any:
    executor = MigrationExecutor(connection)
    executor.migrate([target])
    return executor.loader.project_state([target]).apps


@pytest.fixture
def plain_log(settings: Any, tmp_path: Path) -> Iterator[Any]:
    """A database as the previous version left it; migrated forward again afterwards
    whatever the test does, so the next test finds the schema it expects."""
    settings.AUDIT_ANCHOR_FILE = str(tmp_path / "anchors")
    apps = migrate(BEFORE)
    try:
        yield apps
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())


def write_plain(apps: Any, n: int) -> None:
    """Entries exactly as the plain chain wrote them."""
    entry_model, head_model = (apps.get_model("chatserver", m) for m in ("AuditEntry", "AuditHead"))
    prev = GENESIS
    at = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    for seq in range(1, n + 1):
        entry = entry_model(
            seq=seq,
            at=at,
            actor="system",
            action="old.event",
            object_type="thing",
            object_id=str(seq),
            detail={"seq": seq},
            prev_hash=prev,
        )
        entry.version = 1  # what the plain chain's canonical form is read as
        entry.hash = chain_hash(prev, _canonical(entry))
        entry.save()
        prev = entry.hash
    head_model.objects.create(pk=1, seq=n, hash=prev)


def test_the_upgrade_seals_the_plain_entries_as_they_were(plain_log: Any, tmp_path: Path) -> None:
    write_plain(plain_log, 3)
    before = list(plain_log.get_model("chatserver", "AuditEntry").objects.values_list("hash"))
    migrate(AFTER)
    entries = list(AuditEntry.objects.order_by("seq"))
    assert [e.version for e in entries] == [1, 1, 1, 2]
    assert [(e.hash,) for e in entries[:3]] == before
    seal = entries[3]
    assert (seal.action, seal.prev_hash) == ("audit.keyed", entries[2].hash)
    assert seal.detail == {
        "plain_entries": 3,
        "plain_head": entries[2].hash,
        "plain_chain": "intact",
    }
    assert audit_verify().intact
    (line,) = (tmp_path / "anchors").read_text().splitlines()
    assert f"seq=4 mac={seal.hash} " in line
    audit_append(actor="system", action="new.event", object_type="thing", object_id=1)
    assert audit_verify().intact


def test_a_break_before_the_upgrade_is_recorded_and_still_reported(plain_log: Any) -> None:
    write_plain(plain_log, 3)
    plain_log.get_model("chatserver", "AuditEntry").objects.filter(seq=2).update(
        detail={"seq": "edited"}
    )
    migrate(AFTER)
    assert AuditEntry.objects.get(seq=4).detail["plain_chain"] == "entry 2 does not verify"
    report = audit_verify()
    assert report.first_bad_seq == 2 and "altered" in report.reason


def test_after_the_seal_the_plain_entries_cannot_be_rewritten(plain_log: Any) -> None:
    """Before the upgrade, deleting a plain entry and recomputing the plain chain passed.
    After it, the seal's MAC covers the last plain hash."""
    write_plain(plain_log, 3)
    migrate(AFTER)
    AuditEntry.objects.filter(seq=2).delete()
    third = AuditEntry.objects.get(seq=3)
    third.seq, third.prev_hash = 2, AuditEntry.objects.get(seq=1).hash
    third.hash = chain_hash(third.prev_hash, _canonical(third))
    third.save()
    seal = AuditEntry.objects.get(seq=4)
    seal.seq, seal.prev_hash = 3, third.hash
    seal.save()
    AuditHead.objects.filter(pk=1).update(seq=3, hash=seal.hash)
    report = audit_verify()
    assert report.first_bad_seq == 3 and "MAC does not verify" in report.reason


def test_an_empty_log_needs_no_seal(plain_log: Any) -> None:
    migrate(AFTER)
    assert not AuditEntry.objects.exists() and audit_verify().intact
