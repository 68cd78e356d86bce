"""The audit log's keyed chain: tampering found at the exact entry, the command's answer and
exit code, the admin's refusal to change entries, concurrent appends staying linear, and each
way of quietly rewriting the log (a row deleted and the rest recomputed with plain hashes or
with the key, the last rows deleted and the head mended, both tables wiped) reported against
the checkpoints kept outside the database."""

from __future__ import annotations

import threading
from collections.abc import Callable
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.db import connection, connections
from django.test import Client

from chatserver.audit import (
    GENESIS,
    _canonical,
    audit_append,
    audit_keyring,
    audit_verify,
)
from chatserver.crypto import audit_mac, chain_hash
from chatserver.models import AuditEntry, AuditHead

pytestmark = pytest.mark.django_db


def append(n: int) -> None:
    for i in range(n):
        audit_append(
            actor="system", action="test.event", object_type="thing", object_id=i, detail={"i": i}
        )


def run_verify(*args: str) -> tuple[int, str, str]:
    out, err = StringIO(), StringIO()
    try:
        call_command("audit_verify", *args, stdout=out, stderr=err)
    except SystemExit as exc:
        return int(exc.code or 0), out.getvalue(), err.getvalue()
    return 0, out.getvalue(), err.getvalue()


@pytest.fixture
def anchor_file(settings: Any, tmp_path: Path) -> Path:
    """Checkpoints go to a file outside the database, every two entries."""
    path = tmp_path / "audit-anchors"
    settings.AUDIT_ANCHOR_FILE = str(path)
    settings.AUDIT_ANCHOR_EVERY = 2
    return path


@pytest.fixture
def anchored(anchor_file: Path, django_capture_on_commit_callbacks: Any) -> Callable[[int], None]:
    """Append as the server does, with the checkpoints written once each append commits."""

    def run(n: int) -> None:
        with django_capture_on_commit_callbacks(execute=True):
            append(n)

    return run


def delete_and_recompute(
    seq: int, mac: Callable[[str, bytes], str], version: int, *, from_seq: int | None = None
) -> None:
    """What someone who can write the tables does to remove entry ``seq`` quietly: delete
    it, renumber the entries after it, chain them again from the gap (or from ``from_seq``)
    with ``mac`` so every link fits, and mend the head row."""
    start = from_seq or seq
    entries = [e for e in AuditEntry.objects.order_by("seq") if e.seq != seq]
    kept = [e for e in entries if e.seq < start]
    AuditEntry.objects.filter(seq__gte=start).delete()
    prev = kept[-1].hash if kept else GENESIS
    for new_seq, entry in enumerate(entries[len(kept) :], start=len(kept) + 1):
        entry.pk, entry.seq, entry.prev_hash = None, new_seq, prev
        entry.version = version
        if version == AuditEntry.Version.PLAIN:
            entry.key_id = ""
        entry.hash = mac(prev, _canonical(entry))
        entry.save()
        prev = entry.hash
    AuditHead.objects.filter(pk=1).update(seq=len(entries), hash=prev)


# --- the chain ----------------------------------------------------------------------------------


def test_intact_chain() -> None:
    append(5)
    assert audit_verify().intact
    code, out, err = run_verify()
    assert code == 0 and out.strip() == "intact (5 entries)"
    assert "no checkpoints were checked" in err


def test_empty_chain_is_intact() -> None:
    code, out, _ = run_verify()
    assert code == 0 and out.strip() == "intact (0 entries)"


def test_entries_are_keyed() -> None:
    append(2)
    entries = list(AuditEntry.objects.order_by("seq"))
    key = audit_keyring().active
    assert [e.version for e in entries] == [AuditEntry.Version.KEYED] * 2
    assert {e.key_id for e in entries} == {key.key_id}
    assert entries[1].hash == audit_mac(key, entries[0].hash, _canonical(entries[1]))
    assert entries[1].hash != chain_hash(entries[0].hash, _canonical(entries[1]))


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE moderation_auditentry SET detail = '{\"i\": 99}' WHERE seq = 3",
        "UPDATE moderation_auditentry SET action = 'test.other' WHERE seq = 3",
        "UPDATE moderation_auditentry SET actor = 'user:1' WHERE seq = 3",
        "UPDATE moderation_auditentry SET key_id = '0123456789abcdef' WHERE seq = 3",
        "UPDATE moderation_auditentry SET version = 1 WHERE seq = 3",
    ],
)
def test_an_edit_behind_the_orm_is_reported_at_that_entry(sql: str) -> None:
    append(6)
    with connection.cursor() as cursor:
        cursor.execute(sql)
    report = audit_verify()
    assert report.first_bad_seq == 3
    code, _, err = run_verify()
    assert code == 1 and "entry 3" in err


def test_a_deleted_entry_is_reported() -> None:
    append(6)
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM moderation_auditentry WHERE seq = 4")
    assert audit_verify().first_bad_seq == 4
    code, _, err = run_verify()
    assert code == 1 and "entry 4" in err and "missing" in err


def test_removing_the_last_entries_is_reported() -> None:
    append(6)
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM moderation_auditentry WHERE seq >= 5")
    report = audit_verify()
    assert not report.intact and report.first_bad_seq == 5


def test_deleting_an_entry_and_recomputing_with_plain_hashes_is_reported() -> None:
    """The finding: the chain was plain SHA-256, so this passed. The hash columns now hold
    MACs under a key the database does not have."""
    append(6)
    delete_and_recompute(3, chain_hash, AuditEntry.Version.KEYED)
    report = audit_verify()
    assert not report.intact and report.first_bad_seq == 3
    assert "recomputed without the audit key" in report.reason
    code, _, err = run_verify()
    assert code == 1 and "TAMPERED at entry 3" in err


def test_recomputing_as_plain_entries_after_keyed_ones_is_reported() -> None:
    append(6)
    delete_and_recompute(3, chain_hash, AuditEntry.Version.PLAIN)
    report = audit_verify()
    assert report.first_bad_seq == 3 and "plain-hash entry after keyed entries" in report.reason


def test_a_log_recomputed_entirely_with_plain_hashes_is_reported() -> None:
    append(6)
    delete_and_recompute(3, chain_hash, AuditEntry.Version.PLAIN, from_seq=1)
    report = audit_verify()
    assert not report.intact and "no entry is keyed" in report.reason
    assert run_verify()[0] == 1


def test_entries_under_a_rotated_key_verify_while_it_is_a_fallback(settings: Any) -> None:
    append(2)
    old = settings.AUDIT_KEY
    settings.AUDIT_KEY, settings.AUDIT_KEY_FALLBACKS = "a-new-audit-secret-" + "n" * 40, [old]
    append(2)
    keys = list(AuditEntry.objects.order_by("seq").values_list("key_id", flat=True))
    assert keys[0] == keys[1] != keys[2] == keys[3]
    assert audit_verify().intact
    settings.AUDIT_KEY_FALLBACKS = []
    report = audit_verify()
    assert report.first_bad_seq == 1 and "AUDIT_KEY_FALLBACKS" in report.reason


def test_admin_cannot_add_change_or_delete_entries() -> None:
    from django_otp.plugins.otp_totp.models import TOTPDevice

    append(1)
    admin = User.objects.create_superuser(username="root", password="x" * 20)
    device = TOTPDevice.objects.create(user=admin, name="app", confirmed=True)
    client = Client()
    client.force_login(admin)
    session = client.session
    session["otp_device_id"] = device.persistent_id
    session.save()
    entry = AuditEntry.objects.get()
    assert client.get("/admin/chatserver/auditentry/").status_code == 200
    assert client.get("/admin/chatserver/auditentry/add/").status_code == 403
    page = client.get(f"/admin/chatserver/auditentry/{entry.pk}/change/")
    assert page.status_code == 200 and 'name="action"' not in page.content.decode()
    changed = client.post(
        f"/admin/chatserver/auditentry/{entry.pk}/change/", {"action": "forged", "detail": "{}"}
    )
    assert changed.status_code == 403
    assert (
        client.post(f"/admin/chatserver/auditentry/{entry.pk}/delete/", {"post": "yes"}).status_code
        == 403
    )
    bulk = client.post(
        "/admin/chatserver/auditentry/",
        {"action": "delete_selected", "_selected_action": [entry.pk], "post": "yes"},
    )
    assert bulk.status_code in (200, 302)
    entry.refresh_from_db()
    assert entry.action == "test.event" and audit_verify().intact


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_appends_keep_the_chain_linear(postgres_db: None) -> None:
    threads_n, per_thread = 8, 15
    errors: list[BaseException] = []
    start = threading.Barrier(threads_n)

    def worker(t: int) -> None:
        try:
            start.wait()
            for i in range(per_thread):
                audit_append(
                    actor=f"thread:{t}", action="test.concurrent", object_type="t", object_id=i
                )
        except BaseException as exc:  # reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(threads_n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    seqs = list(AuditEntry.objects.order_by("seq").values_list("seq", flat=True))
    assert seqs == list(range(1, threads_n * per_thread + 1))
    report = audit_verify()
    assert report.intact and report.entries == threads_n * per_thread
    assert AuditHead.objects.get(pk=1).seq == threads_n * per_thread


# --- the attacks the checkpoints close ----------------------------------------------------------


def test_an_intact_log_verifies_against_its_checkpoints(
    anchored: Callable[[int], None], anchor_file: Path
) -> None:
    anchored(7)
    lines = anchor_file.read_text().splitlines()
    assert [line.split(" seq=")[1].split()[0] for line in lines] == ["2", "4", "6"]
    code, out, err = run_verify()
    assert code == 0 and err == ""
    assert out.strip() == "intact (7 entries, 3 checkpoints checked, the latest at entry 6)"


def test_deleting_the_tail_and_mending_the_head_is_reported(
    anchored: Callable[[int], None],
) -> None:
    anchored(6)
    kept = AuditEntry.objects.get(seq=3)
    AuditEntry.objects.filter(seq__gt=3).delete()
    AuditHead.objects.filter(pk=1).update(seq=3, hash=kept.hash)
    assert audit_verify().intact  # the database alone cannot tell
    code, _, err = run_verify()
    assert code == 1
    assert "TAMPERED at entry 4: the log ends at entry 3" in err
    assert "shows entry 6: entries were removed from the end" in err


def test_wiping_both_tables_is_reported(anchored: Callable[[int], None]) -> None:
    anchored(6)
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM moderation_auditentry")
        cursor.execute("DELETE FROM moderation_audithead")
    assert audit_verify().intact  # an empty log is all the database can show
    code, _, err = run_verify()
    assert code == 1
    assert "the log is empty, but a checkpoint" in err and "the log was wiped" in err


def test_deleting_and_recomputing_with_plain_hashes_is_reported_against_a_checkpoint(
    anchored: Callable[[int], None], anchor_file: Path
) -> None:
    anchored(6)
    delete_and_recompute(3, chain_hash, AuditEntry.Version.KEYED)
    code, _, err = run_verify()
    assert code == 1 and "TAMPERED at entry 3" in err


def test_a_chain_recomputed_with_a_stolen_key_still_contradicts_its_checkpoints(
    anchored: Callable[[int], None],
) -> None:
    """Defence in depth: even with the audit key, a rewrite cannot match what was
    checkpointed outside the database before it."""
    anchored(6)
    key = audit_keyring().active
    delete_and_recompute(3, lambda prev, canonical: audit_mac(key, prev, canonical), 2)
    assert audit_verify().intact  # the chain itself is consistent
    code, _, err = run_verify()
    assert code == 1
    assert "TAMPERED at entry 4: differs from its checkpoint" in err
    assert "the chain was rewritten at or before this entry" in err


def test_checkpoints_in_the_log_stream_are_read_from_any_log_output(
    anchored: Callable[[int], None],
    anchor_file: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    anchored(6)
    log = tmp_path / "app.log"
    log.write_text(
        "2026-01-05 10:00:00,000 INFO rooms.consumers member joined\n"
        + "".join(
            f"2026-01-05 10:00:01,000 INFO chatserver.audit.anchor {line}\n"
            for line in anchor_file.read_text().splitlines()
        )
    )
    code, out, _ = run_verify("--anchors", str(log))
    assert code == 0 and "3 checkpoints checked" in out
    AuditEntry.objects.filter(seq__gt=4).delete()
    AuditHead.objects.filter(pk=1).update(seq=4, hash=AuditEntry.objects.get(seq=4).hash)
    monkeypatch.setattr("sys.stdin", StringIO(log.read_text()))
    code, _, err = run_verify("--anchors", "-")
    assert code == 1 and "standard input line 4" in err and "removed from the end" in err


def test_a_missing_anchor_file_is_reported_once_the_log_has_entries(anchor_file: Path) -> None:
    code, out, _ = run_verify()
    assert code == 0 and "0 entries" in out
    append(1)
    code, _, err = run_verify()
    assert code == 1 and "does not exist" in err


def test_an_anchors_file_that_does_not_exist_is_a_usage_error(tmp_path: Path) -> None:
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="no such file"):
        call_command("audit_verify", "--anchors", str(tmp_path / "nope"))


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda line: line.replace("seq=4 ", "seq=5 "), "signature does not verify"),
        (lambda line: line[:-5], "signature does not verify"),
        (lambda line: line.replace(" mac=", " mac=x"), "cannot be read"),
    ],
)
def test_a_forged_or_damaged_checkpoint_is_reported(
    anchored: Callable[[int], None],
    anchor_file: Path,
    change: Callable[[str], str],
    reason: str,
) -> None:
    anchored(4)
    lines = anchor_file.read_text().splitlines()
    anchor_file.write_text("\n".join([lines[0], change(lines[1])]) + "\n")
    code, _, err = run_verify()
    assert code == 1 and "line 2" in err and reason in err


def test_a_checkpoint_under_an_unknown_key_is_reported(
    anchored: Callable[[int], None], anchor_file: Path, settings: Any
) -> None:
    anchored(2)
    settings.AUDIT_KEY = "another-audit-secret-" + "z" * 40
    settings.AUDIT_KEY_FALLBACKS = []
    code, _, err = run_verify()
    assert code == 1 and "not configured" in err and "AUDIT_KEY_FALLBACKS" in err
