"""The audit log's hash chain: tampering found at the exact entry, the command's answer and
exit code, the admin's refusal to change entries, and concurrent appends staying linear."""

from __future__ import annotations

import threading
from io import StringIO

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.db import connection, connections
from django.test import Client

from chatserver.audit import audit_append, audit_verify
from chatserver.models import AuditEntry, AuditHead

pytestmark = pytest.mark.django_db


def append(n: int) -> None:
    for i in range(n):
        audit_append(
            actor="system", action="test.event", object_type="thing", object_id=i, detail={"i": i}
        )


def run_verify() -> tuple[int, str, str]:
    out, err = StringIO(), StringIO()
    try:
        call_command("audit_verify", stdout=out, stderr=err)
    except SystemExit as exc:
        return int(exc.code or 0), out.getvalue(), err.getvalue()
    return 0, out.getvalue(), err.getvalue()


def test_intact_chain() -> None:
    append(5)
    assert audit_verify().intact
    code, out, _ = run_verify()
    assert code == 0 and out.strip() == "intact (5 entries)"


def test_empty_chain_is_intact() -> None:
    code, out, _ = run_verify()
    assert code == 0 and out.strip() == "intact (0 entries)"


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE moderation_auditentry SET detail = '{\"i\": 99}' WHERE seq = 3",
        "UPDATE moderation_auditentry SET action = 'test.other' WHERE seq = 3",
        "UPDATE moderation_auditentry SET actor = 'user:1' WHERE seq = 3",
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
