"""Staff outcomes, the detector's matched words and the recovery phrase's lookup words are
never stored in clear (moderation/staff_text.py, rooms/identity.py)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.db import connection
from django.utils import timezone

from chatserver.crypto import fingerprint, recovery_lookup_digest
from moderation import escalations, reports, staff_text
from moderation.models import Escalation, Report
from rooms import identity, services
from rooms.errors import RecoveryFailed
from rooms.keys import member_erase
from rooms.models import Member, Membership, RecoveryThrottle

pytestmark = pytest.mark.django_db

RISKY = "I'm going to kill myself tonight. I've saved up the pills and I'm ready."
OUTCOME = "Rang her back: staying at her sister's tonight, GP tomorrow"


def every_stored_value() -> str:
    parts: list[str] = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")
            parts.extend(repr(row) for row in cursor.fetchall())
    return "\n".join(parts)


def send(membership: Membership, body: str) -> int:
    client_id = f"c{membership.pk}-{timezone.now().timestamp()}"
    return services.message_send(membership=membership, client_id=client_id, body=body).seq


# --- escalations -------------------------------------------------------------------------------


def test_the_detector_s_matched_words_are_sealed_with_the_excerpt(
    make_membership: Callable[..., Membership],
) -> None:
    send(make_membership(), RISKY)
    e = Escalation.objects.get()
    words = staff_text.evidence_words(e)
    assert words and all(words)
    stored = every_stored_value()
    for word in words:
        assert word not in stored
    assert {tuple(sorted(item)) for item in e.evidence} == {("category", "end", "rule", "start")}


def test_an_escalation_outcome_is_sealed_and_still_shown_to_staff(
    make_membership: Callable[..., Membership], staff_user: User
) -> None:
    send(make_membership(), RISKY)
    e = Escalation.objects.get()
    escalations.escalation_resolve(
        user=staff_user, escalation_id=e.pk, outcome=OUTCOME, false_alarm=False
    )
    e.refresh_from_db()
    assert OUTCOME not in every_stored_value()
    assert staff_text.escalation_outcome(e) == OUTCOME
    assert escalations.escalation_item(e).outcome == OUTCOME  # the dashboard's recent list


def test_an_outcome_for_an_erased_member_is_not_kept_in_clear(
    make_membership: Callable[..., Membership], staff_user: User
) -> None:
    writer = make_membership()
    send(writer, RISKY)
    member_erase(member=writer.member)
    e = Escalation.objects.get()
    resolved = escalations.escalation_resolve(
        user=staff_user, escalation_id=e.pk, outcome=OUTCOME, false_alarm=False
    )
    assert resolved.status == Escalation.Status.RESOLVED
    e.refresh_from_db()
    assert e.outcome_ciphertext is None and staff_text.escalation_outcome(e) == ""
    assert OUTCOME not in every_stored_value()


# --- reports ------------------------------------------------------------------------------------


def test_a_report_outcome_is_sealed_under_the_reporter_s_key(
    make_membership: Callable[..., Membership], staff_user: User
) -> None:
    author, reporter = make_membership(), make_membership()
    seq = send(author, "you are pathetic")
    report = reports.report_make(reporter=reporter, seq=seq, reason="harassment")
    assert report.data_key_id is None  # no note: no key yet
    reports.report_close(user=staff_user, report_id=report.pk, outcome=OUTCOME)
    report = Report.objects.select_related("data_key").get(pk=report.pk)
    assert report.data_key is not None and report.data_key.membership_id == reporter.pk
    assert staff_text.report_outcome(report) == OUTCOME
    assert OUTCOME not in every_stored_value()


def test_a_report_outcome_is_not_kept_when_the_reporter_was_erased(
    make_membership: Callable[..., Membership], staff_user: User
) -> None:
    author, reporter = make_membership(), make_membership()
    seq = send(author, "you are pathetic")
    report = reports.report_make(reporter=reporter, seq=seq, reason="harassment", note="again")
    member_erase(member=reporter.member)
    closed = reports.report_close(user=staff_user, report_id=report.pk, outcome=OUTCOME)
    assert closed.status == Report.Status.CLOSED and closed.outcome_ciphertext is None
    assert OUTCOME not in every_stored_value()


# --- recovery phrases ---------------------------------------------------------------------------


def test_no_word_of_a_recovery_phrase_is_stored_and_it_still_recovers() -> None:
    created = identity.member_create()
    words = created.recovery_phrase.split()
    lookup = " ".join(words[:3])
    member = Member.objects.get()
    assert member.recovery_lookup == recovery_lookup_digest(
        lookup, server_secret=settings.SECRET_KEY
    )
    for value in (member.recovery_lookup, member.recovery_hash):
        assert not set(words) & set(value.replace("$", " ").split())
    assert lookup not in every_stored_value()
    assert identity.member_recover(phrase=created.recovery_phrase).pk == member.pk


def test_the_lock_on_guessing_names_the_lookup_words_by_their_keyed_hash() -> None:
    created = identity.member_create()
    lookup = " ".join(created.recovery_phrase.split()[:3])
    wrong = lookup + " abandon abandon abandon abandon abandon"
    with pytest.raises(RecoveryFailed):
        identity.member_recover(phrase=wrong)
    (row,) = RecoveryThrottle.objects.all()
    assert row.lookup_fingerprint == recovery_lookup_digest(
        lookup, server_secret=settings.SECRET_KEY
    )
    assert row.lookup_fingerprint != fingerprint(lookup)  # a plain hash anyone could reverse
