"""The data migrations of the identity hardening, on rows written as the code before them
wrote them: live sessions keep working without any key left in the database, a staff
account's session list holds digests, lookup words become keyed hashes (and their members
still recover), and outcomes and matched words are sealed under the keys beside them."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.loader import MigrationLoader
from django.utils import timezone

from chatserver.crypto import fingerprint, recovery_digest, recovery_lookup_digest
from chatserver.sessions import SessionStore, session_digest

# The schema as it was before this work: the audit log already in the chatserver app with
# its keyed chain, the sessions in django_session.
BEFORE = [
    ("chatserver", "0002_keyed_audit_chain"),
    ("sessions", "0001_initial"),
    ("moderation", "0004_audit_moves_to_chatserver"),
    ("rooms", "0008_exit_explained"),
]
SESSION_KEY = "k3ptbyd3sign0nlyas4h4shn0w4ndfr3"  # 32 characters, as Django makes them
LINKED_KEY = "b0thm3mb3r4ndst4ffin0n3s3ssi0nxx"  # a member and a staff account in one row
LOOKUP = "alpha beta gamma"
SECRET_WORDS = "one two three four five"
OUTCOME = "Spoke to her; she is safe with her sister"
REPORT_OUTCOME = "Advert removed, account warned"


@pytest.fixture
def executor(transactional_db: None) -> Iterator[MigrationExecutor]:
    executor = MigrationExecutor(connection)
    try:
        yield executor
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())


def _before(executor: MigrationExecutor) -> Any:
    executor.migrate(BEFORE)
    executor.loader.build_graph()
    return executor.loader.project_state(BEFORE).apps


def _write_old_rows(old: Any) -> dict[str, Any]:
    from rooms.encryption import current_data_key
    from tests.factories import MembershipFactory, RoomFactory

    user = User.objects.create_user(username="nurse", password="x" * 16)
    old.get_model("sessions", "Session").objects.create(
        session_key=SESSION_KEY,
        session_data=SessionStore().encode({"_auth_user_id": str(user.pk), "kept": "yes"}),
        expire_date=timezone.now() + timezone.timedelta(hours=1),
    )
    old.get_model("moderation", "StaffSession").objects.create(
        user_id=user.pk, session_key=SESSION_KEY, created_at=timezone.now()
    )
    old.get_model("sessions", "Session").objects.create(
        session_key=LINKED_KEY,
        session_data=SessionStore().encode({"_auth_user_id": str(user.pk), "member_id": "m"}),
        expire_date=timezone.now() + timezone.timedelta(hours=1),
    )
    member = old.get_model("rooms", "Member").objects.create(
        recovery_lookup=LOOKUP,
        recovery_hash=recovery_digest(SECRET_WORDS, server_secret=settings.SECRET_KEY),
    )
    old.get_model("rooms", "RecoveryThrottle").objects.create(
        lookup_fingerprint=fingerprint(LOOKUP), failures=2, window_started_at=timezone.now()
    )
    room = RoomFactory()
    writer, reporter = MembershipFactory(room=room), MembershipFactory(room=room)
    key_id, _ = current_data_key(room=room, membership=writer)
    reporter_key_id, _ = current_data_key(room=room, membership=reporter)
    escalation = old.get_model("moderation", "Escalation").objects.create(
        room_id=room.pk,
        membership_id=writer.pk,
        message_seq=1,
        pseudonym=writer.pseudonym,
        category="suicide",
        severity="critical",
        queue="staff",
        evidence=[{"cue": "kil myself", "category": "suicide", "start": 18, "end": 30}],
        data_key_id=key_id,
        status="resolved",
        outcome=OUTCOME,
        created_at=timezone.now(),
        sla_due_at=timezone.now(),
    )
    report = old.get_model("moderation", "Report").objects.create(
        room_id=room.pk,
        message_seq=1,
        reported_pseudonym=writer.pseudonym,
        reporter_id=reporter.pk,
        reason="spam",
        status="closed",
        outcome=REPORT_OUTCOME,
        created_at=timezone.now(),
    )
    return {
        "user": user,
        "member": member.pk,
        "escalation": escalation.pk,
        "report": report.pk,
        "reporter_key": reporter_key_id,
    }


@pytest.mark.django_db(transaction=True)
def test_existing_rows_are_hashed_and_sealed_and_keep_working(executor: MigrationExecutor) -> None:
    written = _write_old_rows(_before(executor))
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())

    from chatserver.models import StoredSession
    from moderation import staff_text
    from moderation.models import Escalation, Report, StaffSession
    from rooms import identity
    from rooms.models import Member, RecoveryThrottle

    # Sessions: still signed in, and no key left anywhere in the database.
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM django_session")
        assert cursor.fetchone()[0] == 0
    assert StoredSession.objects.filter(key_digest=session_digest(SESSION_KEY)).exists()
    assert SessionStore(session_key=SESSION_KEY)["kept"] == "yes"
    staff = StaffSession.objects.get(user=written["user"])
    assert staff.session_digest == session_digest(SESSION_KEY)
    # A row that held a member and a staff account together was ended (issue row 5).
    assert not StoredSession.objects.filter(key_digest=session_digest(LINKED_KEY)).exists()
    assert StoredSession.objects.count() == 1

    # Lookup words: a keyed hash; the member still recovers; the lock carried over.
    digest = recovery_lookup_digest(LOOKUP, server_secret=settings.SECRET_KEY)
    assert Member.objects.get(pk=written["member"]).recovery_lookup == digest
    assert RecoveryThrottle.objects.get().lookup_fingerprint == digest
    found = identity.member_recover(phrase=f"{LOOKUP} {SECRET_WORDS}")
    assert found.pk == written["member"]

    # Outcomes and matched words: sealed, and readable where they are shown.
    e = Escalation.objects.select_related("data_key").get(pk=written["escalation"])
    assert e.evidence == [{"category": "suicide", "start": 18, "end": 30}]
    assert staff_text.evidence_words(e) == ["kil myself"]
    assert staff_text.escalation_outcome(e) == OUTCOME
    r = Report.objects.select_related("data_key").get(pk=written["report"])
    assert r.data_key_id == written["reporter_key"]
    assert staff_text.report_outcome(r) == REPORT_OUTCOME

    with connection.cursor() as cursor:
        dumped = []
        for table in connection.introspection.table_names():
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")
            dumped.extend(repr(row) for row in cursor.fetchall())
    everything = "\n".join(dumped)
    for clear in (SESSION_KEY, LINKED_KEY, LOOKUP, OUTCOME, REPORT_OUTCOME, "kil myself"):
        assert clear not in everything, clear


def test_each_app_migrates_in_one_line_after_the_audit_move() -> None:
    """One leaf per app, and this work's migrations come after the audit log's move to the
    chatserver app: a database at either point migrates forward the same way."""
    graph = MigrationLoader(None, ignore_no_migrations=True).graph
    leaves = graph.leaf_nodes()
    assert len({app for app, _ in leaves}) == len(leaves), leaves

    def line(app: str) -> list[str]:
        (leaf,) = [node for node in leaves if node[0] == app]
        return [name for a, name in graph.forwards_plan(leaf) if a == app]

    assert line("chatserver") == [
        "0001_audit_from_moderation",
        "0002_keyed_audit_chain",
        "0003_stored_sessions",
        "0004_end_linked_sessions",
    ]
    assert line("moderation")[3:] == [
        "0004_audit_moves_to_chatserver",
        "0005_staff_session_digest",
        "0006_sealed_outcomes",
        "0007_drop_clear_outcomes",
        "0008_enrol_codes",
        "0009_care_status",
    ]
