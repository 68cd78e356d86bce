"""Training, supervision and sealed debriefs."""

from __future__ import annotations

import datetime as dt
from io import StringIO
from typing import Any

import pytest
from django.contrib.auth.models import Group, User
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from chatserver.models import AuditEntry
from moderation import governance
from moderation.models import Debrief
from rooms.errors import NotAllowed

pytestmark = pytest.mark.django_db
TODAY = dt.date(2026, 3, 10)


@pytest.fixture(autouse=True)
def _today(monkeypatch: Any) -> None:
    monkeypatch.setattr(governance, "_today", lambda: TODAY)


def person(name: str, role: str) -> User:
    user = User.objects.create_user(username=name, password="x" * 20)
    user.groups.add(Group.objects.get_or_create(name=role)[0])
    return user


def trained(user: User, expires_on: dt.date, completed_on: dt.date | None = None) -> None:
    governance.training_record(
        user=user,
        completed_on=completed_on or expires_on - dt.timedelta(days=365),
        expires_on=expires_on,
        recorded_by=None,
    )


def test_current_training_allows_facilitating() -> None:
    fran = person("fran", "facilitator")
    trained(fran, TODAY + dt.timedelta(days=100))
    assert governance.facilitator_can_facilitate(fran)
    governance.require_current_training(fran)
    assert AuditEntry.objects.filter(action="training.recorded").count() == 1


def test_expired_training_is_refused_with_the_date() -> None:
    fran = person("fran", "facilitator")
    trained(fran, dt.date(2026, 3, 9))
    assert not governance.facilitator_can_facilitate(fran)
    with pytest.raises(NotAllowed) as refused:
        governance.require_current_training(fran)
    assert refused.value.message == (
        "your facilitator training expired on 09 March 2026; please renew it before facilitating"
    )


def test_training_valid_on_its_last_day_and_missing_or_other_course_refused() -> None:
    fran = person("fran", "facilitator")
    with pytest.raises(NotAllowed, match="no facilitator training is recorded"):
        governance.require_current_training(fran)
    governance.training_record(
        user=fran,
        completed_on=TODAY - dt.timedelta(days=10),
        expires_on=TODAY + dt.timedelta(days=300),
        recorded_by=None,
        course="safeguarding",
    )
    assert not governance.facilitator_can_facilitate(fran)
    trained(fran, TODAY)
    assert governance.facilitator_can_facilitate(fran)


def test_training_cannot_expire_before_completion() -> None:
    with pytest.raises(ValueError, match="expire after"):
        governance.training_record(
            user=person("fran", "facilitator"),
            completed_on=TODAY,
            expires_on=TODAY,
            recorded_by=None,
        )


def test_training_due_lists_missing_expired_and_due() -> None:
    ok, soon, late, _none = (person(n, "facilitator") for n in ("ok", "soon", "late", "none"))
    person("mo", "moderator")  # not a facilitator: not listed
    trained(ok, TODAY + dt.timedelta(days=200))
    trained(soon, TODAY + dt.timedelta(days=20))
    trained(late, TODAY - dt.timedelta(days=1))
    rows = {r.username: r.status for r in governance.training_due(days=30)}
    assert rows == {"soon": "due", "late": "expired", "none": "missing"}
    assert {r.username for r in governance.training_due(days=10)} == {"late", "none"}


def test_training_due_command(monkeypatch: Any) -> None:
    fran = person("fran", "facilitator")
    trained(fran, TODAY + dt.timedelta(days=5))
    out = StringIO()
    call_command("training_due", "--days", "30", stdout=out)
    assert "due" in out.getvalue() and "fran (facilitator)" in out.getvalue()
    out = StringIO()
    call_command("training_due", "--days", "1", stdout=out)
    assert "no facilitator training is due" in out.getvalue()


def test_supervision_is_recorded_without_content() -> None:
    fran, sue = person("fran", "facilitator"), person("sue", "staff")
    held = governance.supervision_record(user=fran, supervisor=sue, held_on=TODAY, kind="debrief")
    assert held.kind == "debrief"
    with pytest.raises(ValueError):
        governance.supervision_record(user=fran, supervisor=sue, held_on=TODAY, kind="chat")
    assert AuditEntry.objects.get(action="supervision.recorded").detail == {
        "user": fran.pk,
        "kind": "debrief",
    }


# --- sealed debriefs ------------------------------------------------------------------------


SECRET_TEXT = "A member told us about the night it happened; I found it hard to hold."


def test_debrief_text_is_sealed_and_readable_by_author_and_supervisors() -> None:
    fran, sue, mo = person("fran", "facilitator"), person("sue", "staff"), person("mo", "moderator")
    debrief = governance.debrief_record(
        facilitator=fran, room=None, session_on=TODAY, text=SECRET_TEXT, needs_support=True
    )
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM moderation_debrief WHERE id = %s", [debrief.pk])
        raw = repr(cursor.fetchall())
    assert "night it happened" not in raw and SECRET_TEXT.encode().hex() not in raw
    debrief.refresh_from_db()
    assert governance.debrief_read(user=fran, debrief=debrief) == SECRET_TEXT
    assert governance.debrief_read(user=sue, debrief=debrief) == SECRET_TEXT
    with pytest.raises(NotAllowed):
        governance.debrief_read(user=mo, debrief=debrief)
    assert AuditEntry.objects.filter(action="debrief.read").count() == 2
    recorded = AuditEntry.objects.get(action="debrief.recorded")
    assert recorded.detail == {"facilitator": fran.pk, "needs_support": True}


def test_debrief_ciphertext_is_bound_to_its_row_and_can_be_shredded() -> None:
    fran = person("fran", "facilitator")
    one = governance.debrief_record(
        facilitator=fran, room=None, session_on=TODAY, text=SECRET_TEXT, needs_support=False
    )
    two = governance.debrief_record(
        facilitator=fran, room=None, session_on=TODAY, text="other", needs_support=False
    )
    one.refresh_from_db()
    # Copy row one's sealed text and key onto row two: it must not open there.
    Debrief.objects.filter(pk=two.pk).update(
        wrapped_key=one.wrapped_key, ciphertext=one.ciphertext, kek_id=one.kek_id
    )
    two.refresh_from_db()
    assert governance.debrief_read(user=fran, debrief=two) is None
    governance.debrief_update_text(debrief=two, text="rewritten", user=fran)
    two.refresh_from_db()
    assert governance.debrief_read(user=fran, debrief=two) == "rewritten"
    governance.debrief_shred(debrief=one, user=fran)
    one.refresh_from_db()
    assert one.wrapped_key is None and governance.debrief_read(user=fran, debrief=one) is None


def test_seal_and_open_staff_text_round_trip_and_purpose_binding() -> None:
    sealed = governance.seal_staff_text(text="note", purpose="debrief", row_id=7)
    args = {
        "kek_id": sealed.kek_id,
        "wrapped_key": sealed.wrapped_key,
        "ciphertext": sealed.ciphertext,
    }
    assert governance.open_staff_text(**args, purpose="debrief", row_id=7) == "note"
    assert governance.open_staff_text(**args, purpose="supervision", row_id=7) is None
    assert governance.open_staff_text(**args, purpose="debrief", row_id=8) is None


def test_debrief_admin_seals_on_save_and_audits_opening(client: Any) -> None:
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from chatserver.permissions import setup_role_groups

    setup_role_groups()
    sue, fran = person("sue", "staff"), person("fran", "facilitator")
    device = TOTPDevice.objects.create(user=sue, name="app", confirmed=True)
    client.force_login(sue)
    session = client.session
    session["otp_device_id"] = device.persistent_id
    session.save()
    answer = client.post(
        "/admin/moderation/debrief/add/",
        {
            "facilitator": fran.pk,
            "room": "",
            "session_on": "2026-03-09",
            "text": SECRET_TEXT,
            "needs_support": "on",
        },
    )
    assert answer.status_code == 302, [
        line for line in answer.content.decode().splitlines() if "error" in line.lower()
    ][:20]
    debrief = Debrief.objects.get()
    assert debrief.ciphertext is not None and debrief.needs_support
    page = client.get(f"/admin/moderation/debrief/{debrief.pk}/change/")
    assert page.status_code == 200 and "night it happened" in page.content.decode()
    assert AuditEntry.objects.filter(action="debrief.read").count() == 1
    assert timezone.now() >= debrief.created_at


# --- filing a debrief over HTTP ---------------------------------------------------------------


def _signed_in_client(user: User) -> Any:
    from django.test import Client

    from tests.conftest import login_session

    client = Client()
    client.cookies["sessionid"] = login_session(user)
    return client


def test_facilitator_files_a_debrief_and_asks_for_support() -> None:
    from tests.factories import RoomFactory

    RoomFactory(slug="circle")
    fran = person("fran", "facilitator")
    client = _signed_in_client(fran)
    answer = client.post(
        "/api/staff/debriefs",
        {"room": "circle", "session_on": "2026-03-09", "text": SECRET_TEXT, "needs_support": True},
        content_type="application/json",
    )
    assert answer.status_code == 201, answer.content
    debrief = Debrief.objects.get(pk=answer.json()["id"])
    assert debrief.facilitator == fran and debrief.needs_support is True
    assert debrief.room is not None and debrief.room.slug == "circle"
    assert governance.debrief_read(user=fran, debrief=debrief) == SECRET_TEXT
    assert AuditEntry.objects.filter(action="debrief.recorded").exists()


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"text": ""}, 400, "bad_request"),
        ({"text": "fine", "needs_support": "yes"}, 400, "bad_request"),
        ({"text": "fine", "session_on": "next week"}, 400, "bad_request"),
        ({"text": "fine", "session_on": "2099-01-01"}, 400, "bad_request"),
        ({"text": "fine", "room": "no-such-room"}, 404, "room_not_found"),
    ],
)
def test_debrief_bad_input_is_refused_clearly(body: dict[str, Any], status: int, code: str) -> None:
    client = _signed_in_client(person("fran", "facilitator"))
    answer = client.post("/api/staff/debriefs", body, content_type="application/json")
    assert answer.status_code == status and answer.json()["error"]["code"] == code
    assert Debrief.objects.count() == 0


def test_debrief_needs_a_signed_in_facilitator() -> None:
    from django.test import Client

    anonymous = Client().post("/api/staff/debriefs", {"text": "x"}, content_type="application/json")
    assert anonymous.status_code == 401
    # An account without a role is never a verified staff session.
    roleless = person("someone", "not-a-role")
    refused = _signed_in_client(roleless).post(
        "/api/staff/debriefs", {"text": "x"}, content_type="application/json"
    )
    assert refused.status_code == 401
    assert Debrief.objects.count() == 0
