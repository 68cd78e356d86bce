"""Staff sign-in and the people behind it: enrolling an authenticator needs an admin's
one-time set-up code, a right password without its code costs a try like a wrong one, and a
staff session never shares its row with a member session (moderation/accounts.py,
moderation/enrolment.py)."""

from __future__ import annotations

import datetime as dt
import re
from io import StringIO
from typing import Any

import pytest
import time_machine
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import Client
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from chatserver.models import AuditEntry, StoredSession
from chatserver.sessions import SessionStore, session_row
from moderation import accounts
from moderation.models import EnrolCode, LoginThrottle
from rooms.access import MEMBER_SESSION_KEY
from tests.test_accounts import (
    PASSWORD,
    code_for_secret,
    enrol,
    fresh_step,
    issue_code,
    login,
    make_user,
    post,
    secret_of,
    signed_in,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _limits(settings: Any) -> None:
    settings.OTP_TOTP_THROTTLE_FACTOR = 0
    settings.STAFF_LOGIN_MAX_FAILURES = 3
    settings.THROTTLE_STAFF_SIGNINS = 1000  # the address throttle is tested on its own


def failures(factor: str) -> int:
    return sum(
        1
        for detail in AuditEntry.objects.filter(action="staff.login_failed").values_list(
            "detail", flat=True
        )
        if detail == {"factor": factor}
    )


def every_stored_value() -> str:
    parts: list[str] = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")
            parts.extend(repr(row) for row in cursor.fetchall())
    return "\n".join(parts)


def service_failures() -> int:
    row = LoginThrottle.objects.filter(username_fingerprint=accounts._GLOBAL_FINGERPRINT).first()
    return row.failures if row is not None else 0


# --- enrolment needs a set-up code (issue row 13) ----------------------------------------------


def test_the_password_alone_never_enrols_an_authenticator() -> None:
    """The finding: whoever first had a staff password enrolled their own authenticator.
    Without the set-up code an admin issued, a right password gets no secret, creates no
    device, and costs a try like a wrong password."""
    make_user("mo", "moderator")
    other = make_user("sam", "moderator")
    sams_code = issue_code(other.username)
    client = Client()
    answers = [
        login(client, "mo"),
        login(client, "mo", enrol_code="abcd-efgh-ijkl-mnop"),
        login(client, "mo", enrol_code=sams_code),  # another account's code
    ]
    assert [a.json()["error"]["code"] for a in answers] == ["enrol_code_required"] * 2 + [
        "locked_out"
    ]
    assert all("otp_setup" not in a.json() for a in answers)
    assert not TOTPDevice.objects.filter(user__username="mo").exists()
    assert not signed_in(client)
    assert failures("enrol_code") == 3
    assert "staff.otp_enrolment_started" not in AuditEntry.objects.values_list("action", flat=True)


def test_a_set_up_code_expires() -> None:
    make_user("mo", "moderator")
    code = issue_code("mo")
    with time_machine.travel(dt.datetime.now(dt.UTC) + dt.timedelta(hours=25)):
        late = login(Client(), "mo", enrol_code=code)
    assert late.status_code == 401 and late.json()["error"]["code"] == "enrol_code_required"


def test_a_set_up_code_works_once_and_a_new_one_retires_the_old() -> None:
    user = make_user("mo", "moderator")
    retired = issue_code("mo")
    code = issue_code("mo")
    refused = login(Client(), "mo", enrol_code=retired)
    assert refused.json()["error"]["code"] == "enrol_code_required"
    client = Client()
    setup = login(client, "mo", enrol_code=code.upper().replace("-", " "))  # as people type it
    assert setup.json()["error"]["code"] == "otp_setup_required"
    secret = secret_of(setup.json()["otp_setup"]["provisioning_uri"])
    confirmed = post(client, "/api/staff/otp/confirm", {"code": code_for_secret(secret)})
    assert confirmed.status_code == 200
    assert not EnrolCode.objects.exists(), "used up by the confirmed device"
    # The device is lost and deleted: the old code does not enrol a new one.
    TOTPDevice.objects.filter(user=user).delete()
    again = login(Client(), "mo", enrol_code=code)
    assert again.json()["error"]["code"] == "enrol_code_required"
    actions = list(AuditEntry.objects.values_list("action", flat=True))
    assert actions.count("staff.enrol_code_issued") == 2 and "staff.enrol_code_used" in actions


def test_a_code_retired_during_the_set_up_does_not_confirm_it() -> None:
    make_user("mo", "moderator")
    client = Client()
    setup = login(client, "mo", enrol_code=issue_code("mo"))
    secret = secret_of(setup.json()["otp_setup"]["provisioning_uri"])
    issue_code("mo")  # an admin issues another meanwhile
    late = post(client, "/api/staff/otp/confirm", {"code": code_for_secret(secret)})
    assert late.status_code == 401 and not signed_in(client)
    assert not TOTPDevice.objects.exists()


def test_the_command_shows_the_code_once_and_keeps_only_a_keyed_hash() -> None:
    make_user("mo", "moderator")
    out = StringIO()
    call_command("staff_enrol_code", "mo", "--hours", "2", stdout=out)
    match = re.search(r"Set-up code for mo: ([a-z2-7]{4}(?:-[a-z2-7]{4}){3})", out.getvalue())
    assert match is not None, out.getvalue()
    code = match.group(1)
    row = EnrolCode.objects.get()
    assert row.expires_at - row.created_at == dt.timedelta(hours=2)
    stored = every_stored_value()
    assert code not in stored and code.replace("-", "") not in stored
    entry = AuditEntry.objects.get(action="staff.enrol_code_issued")
    assert entry.actor == "system:cli" and entry.detail == {"hours": 2}
    assert login(Client(), "mo", enrol_code=code).json()["error"]["code"] == "otp_setup_required"
    with pytest.raises(CommandError, match="no active account"):
        call_command("staff_enrol_code", "nobody", stdout=StringIO())


def test_the_command_refuses_an_account_that_already_has_an_authenticator() -> None:
    make_user("mo", "moderator")
    enrol(Client(), "mo")
    with pytest.raises(CommandError, match="already has an authenticator"):
        call_command("staff_enrol_code", "mo", stdout=StringIO())


def test_a_facilitator_may_enrol_with_a_code_and_is_then_asked_for_it() -> None:
    make_user("fran", "facilitator")
    client = Client()
    setup = login(client, "fran", enrol_code=issue_code("fran"))
    assert setup.json()["error"]["code"] == "otp_setup_required"
    secret = secret_of(setup.json()["otp_setup"]["provisioning_uri"])
    assert (
        post(client, "/api/staff/otp/confirm", {"code": code_for_secret(secret)}).status_code == 200
    )
    fresh_step()
    assert login(Client(), "fran").json()["error"]["code"] == "otp_required"


# --- a right password without its code costs a try (issue row 13) -------------------------------


def test_a_right_password_without_the_code_counts_as_a_failure() -> None:
    """The finding: ``otp_required`` confirmed a right password without counting a failure,
    so a password could be checked again and again for free."""
    make_user("mo", "moderator")
    secret = enrol(Client(), "mo")
    fresh_step()
    client = Client()
    codes = [login(client, "mo").json()["error"]["code"] for _ in range(3)]
    assert codes == ["otp_required", "otp_required", "locked_out"]
    assert login(client, "mo", otp=code_for_secret(secret)).status_code == 429
    assert failures("otp_missing") == 3


def test_a_two_step_sign_in_takes_back_the_failure_of_its_first_step() -> None:
    make_user("mo", "moderator")
    secret = enrol(Client(), "mo")
    fresh_step()
    client = Client()
    assert login(client, "mo").json()["error"]["code"] == "otp_required"
    assert service_failures() == 1
    assert login(client, "mo", otp=code_for_secret(secret)).status_code == 200
    assert service_failures() == 0
    assert not LoginThrottle.objects.filter(
        username_fingerprint=accounts._username_fingerprint("mo")
    ).exists()
    # One taken back per completed sign-in: others stay counted.
    login(Client(), "mo", "a wrong guess!")
    fresh_step()
    login(client, "mo")
    login(client, "mo")  # a second missing-code attempt: not taken back
    fresh_step()
    assert login(client, "mo", otp=code_for_secret(secret)).status_code == 200
    assert service_failures() == 2


def test_the_admin_answers_a_missing_or_wrong_code_as_a_wrong_password() -> None:
    user = make_user("mo", "moderator")
    device = TOTPDevice.objects.create(user=user, name="app", confirmed=True)
    wrong_code = "000000" if f"{totp(device.bin_key):06d}" != "000000" else "111111"

    def page(password: str, code: str = "") -> str:
        answer = Client().post(
            "/admin/login/", {"username": "mo", "password": password, "otp_token": code}
        )
        assert answer.status_code == 200
        return answer.content.decode()

    wrong_password = page("a wrong guess!")
    no_code, bad_code = page(PASSWORD), page(PASSWORD, wrong_code)
    for html in (no_code, bad_code):
        assert 'name="otp_device"' not in html, "the account's devices are not listed"
        assert PASSWORD not in html, "the password is not kept in the form"
        assert re.findall(r'class="errornote">\s*(.*?)\s*<', html, re.S) == re.findall(
            r'class="errornote">\s*(.*?)\s*<', wrong_password, re.S
        )
    assert failures("otp_missing") == 1 and failures("otp") == 1


def test_the_admin_signs_in_in_one_step_without_choosing_a_device() -> None:
    user = make_user("mo", "moderator")
    device = TOTPDevice.objects.create(user=user, name="app", confirmed=True)
    client = Client()
    answer = client.post(
        "/admin/login/",
        {"username": "mo", "password": PASSWORD, "otp_token": f"{totp(device.bin_key):06d}"},
    )
    assert answer.status_code == 302 and signed_in(client)


# --- a staff session is never a member's (issue row 5) ------------------------------------------


def rows_holding_both() -> int:
    store = SessionStore()
    return sum(
        1
        for data in StoredSession.objects.values_list("session_data", flat=True)
        if {MEMBER_SESSION_KEY, "_auth_user_id"} <= set(store.decode(data))
    )


def test_staff_sign_in_ends_the_member_session_first(monkeypatch: Any) -> None:
    """The finding: signing in as staff in a browser that held a member session kept both
    in one session row, tying the anonymous member to the named account."""
    closed: list[str] = []
    monkeypatch.setattr(accounts, "sockets_close_for_session", closed.append)
    make_user("fran", "facilitator")
    client = Client()
    assert post(client, "/api/session", {}).status_code == 201
    member_key = client.cookies["sessionid"].value
    answer = login(client, "fran")
    assert answer.status_code == 200 and answer.json()["member_session_ended"] is True
    assert closed == [member_key], "the member's sockets close"
    assert not session_row(member_key).exists()
    assert MEMBER_SESSION_KEY not in client.session
    assert rows_holding_both() == 0
    now = client.get("/api/session").json()
    assert now["member"] is False and now["staff"]["username"] == "fran"
    # Nothing in the audit log ties them either.
    assert [e.detail for e in AuditEntry.objects.filter(action="staff.login")] == [
        {"role": "facilitator", "second_factor": False}
    ]


def test_the_enrolment_step_already_keeps_them_apart() -> None:
    make_user("mo", "moderator")
    client = Client()
    post(client, "/api/session", {})
    setup = login(client, "mo", enrol_code=issue_code("mo"))
    assert setup.json()["member_session_ended"] is True
    assert MEMBER_SESSION_KEY not in client.session
    assert rows_holding_both() == 0
    secret = secret_of(setup.json()["otp_setup"]["provisioning_uri"])
    assert (
        post(client, "/api/staff/otp/confirm", {"code": code_for_secret(secret)}).status_code == 200
    )
    assert rows_holding_both() == 0


def test_a_failed_staff_sign_in_leaves_the_member_session_alone() -> None:
    make_user("fran", "facilitator")
    client = Client()
    post(client, "/api/session", {})
    member_key = client.cookies["sessionid"].value
    assert login(client, "fran", "a wrong guess!").status_code == 400
    assert session_row(member_key).exists() and MEMBER_SESSION_KEY in client.session


def test_no_member_session_is_started_or_recovered_in_a_staff_browser() -> None:
    make_user("fran", "facilitator")
    phrase = post(Client(), "/api/session", {}).json()["recovery_phrase"]
    client = Client()
    assert login(client, "fran").status_code == 200
    created = post(client, "/api/session", {})
    recovered = post(client, "/api/session/recover", {"phrase": phrase})
    for answer in (created, recovered):
        assert answer.status_code == 409
        assert answer.json()["error"]["code"] == "staff_signed_in"
    assert MEMBER_SESSION_KEY not in client.session
    assert rows_holding_both() == 0


def test_the_admin_sign_in_ends_the_member_session_too() -> None:
    user = make_user("mo", "moderator")
    device = TOTPDevice.objects.create(user=user, name="app", confirmed=True)
    client = Client()
    post(client, "/api/session", {})
    member_key = client.cookies["sessionid"].value
    answer = client.post(
        "/admin/login/",
        {"username": "mo", "password": PASSWORD, "otp_token": f"{totp(device.bin_key):06d}"},
    )
    assert answer.status_code == 302 and signed_in(client)
    assert not session_row(member_key).exists()
    assert MEMBER_SESSION_KEY not in client.session
    assert rows_holding_both() == 0
