"""Staff sign-in: password, lockout per username, TOTP enrolment and sign-in, sign-out here and
everywhere, the verified-session check, and the audit trail of all of it."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
import time_machine
from django.contrib.auth.models import Group, User
from django.test import Client
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from chatserver.models import AuditEntry
from chatserver.sessions import session_row
from moderation import accounts
from moderation.accounts import session_is_verified
from moderation.models import LoginThrottle, StaffSession

PASSWORD = "a long staff password 42"
pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_device_backoff(settings: Any) -> None:
    """The device's own back-off (seconds after a wrong code) is real in production; here a
    test sends a right code straight after a wrong one. The lockout is tested on its own."""
    settings.OTP_TOTP_THROTTLE_FACTOR = 0


def make_user(username: str, role: str | None) -> User:
    user = User.objects.create_user(username=username, password=PASSWORD)
    if role:
        user.groups.add(Group.objects.get_or_create(name=role)[0])
    return user


def post(client: Client, path: str, body: dict[str, Any]) -> Any:
    return client.post(path, data=json.dumps(body), content_type="application/json")


def login(
    client: Client,
    username: str,
    password: str = PASSWORD,
    otp: str | None = None,
    enrol_code: str | None = None,
) -> Any:
    body: dict[str, Any] = {"username": username, "password": password}
    if otp is not None:
        body["otp"] = otp
    if enrol_code is not None:
        body["enrol_code"] = enrol_code
    return post(client, "/api/staff/login", body)


def issue_code(username: str) -> str:
    """The set-up code an admin issues (chatserver staff-enrol-code) for ``username``."""
    from moderation.enrolment import enrol_code_issue

    user = User.objects.get(username=username)
    return enrol_code_issue(user=user, actor="system:cli").code


def code_for_secret(secret_b32: str, *, offset: int = 0) -> str:
    import base64

    key = base64.b32decode(secret_b32 + "=" * (-len(secret_b32) % 8))
    return f"{totp(key, drift=offset):06d}"


def secret_of(uri: str) -> str:
    parsed = urlparse(uri)
    assert parsed.scheme == "otpauth" and parsed.netloc == "totp"
    return parse_qs(parsed.query)["secret"][0]


def enrol(client: Client, username: str) -> str:
    """Sign in for the first time with a set-up code and confirm a device; returns the
    secret."""
    answer = login(client, username, enrol_code=issue_code(username))
    assert answer.status_code == 401
    secret = secret_of(answer.json()["otp_setup"]["provisioning_uri"])
    confirmed = post(client, "/api/staff/otp/confirm", {"code": code_for_secret(secret)})
    assert confirmed.status_code == 200, confirmed.json()
    return secret


def fresh_step() -> None:
    """A TOTP code is accepted once per time step; let the next sign-in use a new one."""
    TOTPDevice.objects.update(last_t=-1)


def actions() -> list[str]:
    return list(AuditEntry.objects.order_by("seq").values_list("action", flat=True))


def signed_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


# --- facilitators: password only -------------------------------------------------------------


def test_facilitator_signs_in_with_password_only() -> None:
    make_user("fran", "facilitator")
    client = Client()
    answer = login(client, "fran")
    assert answer.status_code == 200
    assert answer.json() == {
        "username": "fran",
        "role": "facilitator",
        "verified": True,
        "member_session_ended": False,
        "name": None,  # chosen on the dashboard, once (rooms/staffnames.py)
    }
    assert signed_in(client)
    user = User.objects.get(username="fran")
    assert session_is_verified(user, client.session)
    entry = AuditEntry.objects.get(action="staff.login")
    assert entry.detail == {"role": "facilitator", "second_factor": False}
    assert StaffSession.objects.filter(user=user).count() == 1


def test_wrong_password_and_no_role_are_refused() -> None:
    make_user("fran", "facilitator")
    make_user("nobody", None)
    client = Client()
    wrong = login(client, "fran", "not the password at all")
    assert wrong.status_code == 400 and wrong.json()["error"]["code"] == "login_failed"
    no_role = login(client, "nobody")
    assert no_role.status_code == 400 and no_role.json()["error"]["code"] == "login_failed"
    assert "no role" in no_role.json()["error"]["message"]
    assert not signed_in(client)
    assert actions() == ["staff.login_failed", "staff.login_refused"]


# --- moderators, staff, admins: a second factor ------------------------------------------------


@pytest.mark.parametrize("role", ["moderator", "staff", "admin"])
def test_enrolment_then_every_sign_in_needs_the_code(role: str) -> None:
    user = make_user("mo", role)
    client = Client()
    first = login(client, "mo", enrol_code=issue_code("mo"))
    assert first.status_code == 401
    body = first.json()
    assert body["error"]["code"] == "otp_setup_required"
    uri = body["otp_setup"]["provisioning_uri"]
    assert uri.startswith("otpauth://totp/") and "issuer=" in uri
    # The same key as a QR code, drawn here as SVG, for the page to show as an image.
    qr = body["otp_setup"]["qr_svg"]
    assert qr.startswith("data:image/svg+xml")
    assert "%3Csvg" in qr and "script" not in qr.lower()
    assert not signed_in(client), "enrolment must not half-sign-in"
    secret = secret_of(uri)

    bad = post(client, "/api/staff/otp/confirm", {"code": "000000"})
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "otp_invalid"
    good = post(client, "/api/staff/otp/confirm", {"code": code_for_secret(secret)})
    assert good.status_code == 200 and good.json()["role"] == role
    assert signed_in(client)
    assert session_is_verified(user, client.session)
    assert TOTPDevice.objects.get(user=user).confirmed

    # The next sign-in, from another browser, needs password and code.
    fresh_step()
    other = Client()
    missing = login(other, "mo")
    assert missing.status_code == 401 and missing.json()["error"]["code"] == "otp_required"
    assert "otp_setup" not in missing.json()
    wrong = login(other, "mo", otp="123456" if code_for_secret(secret) != "123456" else "654321")
    assert wrong.status_code == 400 and wrong.json()["error"]["code"] == "otp_invalid"
    right = login(other, "mo", otp=code_for_secret(secret))
    assert right.status_code == 200 and right.json()["verified"] is True
    assert session_is_verified(user, other.session)
    logins = AuditEntry.objects.filter(action="staff.login")
    assert [e.detail["second_factor"] for e in logins] == [True, True]
    assert "staff.otp_enrolled" in actions()


def test_a_code_cannot_be_used_twice() -> None:
    make_user("mo", "moderator")
    secret = enrol(Client(), "mo")
    code = code_for_secret(secret)
    # The confirming code's time step is spent: the same code cannot sign in again.
    again = login(Client(), "mo", otp=code)
    assert again.status_code == 400 and again.json()["error"]["code"] == "otp_invalid"


def test_provisioning_uri_is_shown_once_per_secret() -> None:
    make_user("mo", "moderator")
    client = Client()
    code = issue_code("mo")
    first = secret_of(login(client, "mo", enrol_code=code).json()["otp_setup"]["provisioning_uri"])
    second = secret_of(login(client, "mo", enrol_code=code).json()["otp_setup"]["provisioning_uri"])
    assert first != second
    assert TOTPDevice.objects.filter(confirmed=False).count() == 1
    stale = post(client, "/api/staff/otp/confirm", {"code": code_for_secret(first)})
    assert stale.status_code == 400
    assert (
        post(client, "/api/staff/otp/confirm", {"code": code_for_secret(second)}).status_code == 200
    )


def test_sending_the_first_code_with_the_password_confirms_the_enrolment() -> None:
    """The staff page resends username, password and code; that completes enrolment too."""
    make_user("mo", "moderator")
    client = Client()
    setup = login(client, "mo", enrol_code=issue_code("mo"))
    secret = secret_of(setup.json()["otp_setup"]["provisioning_uri"])
    answer = login(client, "mo", otp=code_for_secret(secret))
    assert answer.status_code == 200 and answer.json()["verified"] is True
    assert TOTPDevice.objects.get().confirmed


def test_confirm_without_a_pending_enrolment_or_after_it_expired() -> None:
    make_user("mo", "moderator")
    client = Client()
    nothing = post(client, "/api/staff/otp/confirm", {"code": "123456"})
    assert nothing.status_code == 401 and nothing.json()["error"]["code"] == "not_authenticated"
    setup = login(client, "mo", enrol_code=issue_code("mo"))
    secret = secret_of(setup.json()["otp_setup"]["provisioning_uri"])
    with time_machine.travel(dt.datetime.now(dt.UTC) + dt.timedelta(minutes=11)):
        late = post(client, "/api/staff/otp/confirm", {"code": code_for_secret(secret)})
    assert late.status_code == 401


def test_a_facilitator_with_a_device_is_asked_for_its_code() -> None:
    user = make_user("fran", "facilitator")
    device = TOTPDevice.objects.create(user=user, name="app", confirmed=True)
    client = Client()
    assert login(client, "fran").json()["error"]["code"] == "otp_required"
    code = f"{totp(device.bin_key):06d}"
    assert login(client, "fran", otp=code).status_code == 200


# --- lockout -------------------------------------------------------------------------------------


def test_repeated_failures_lock_the_username_then_it_cools_off(settings: Any) -> None:
    settings.STAFF_LOGIN_MAX_FAILURES = 3
    settings.STAFF_LOGIN_LOCKOUT_SECONDS = 600
    make_user("fran", "facilitator")
    client = Client()
    codes = [login(client, "fran", "wrong password one").json()["error"]["code"] for _ in range(3)]
    assert codes == ["login_failed", "login_failed", "locked_out"]
    locked = login(client, "fran")  # the right password does not help while locked
    assert locked.status_code == 429
    assert "try again in 10 minutes" in locked.json()["error"]["message"]
    assert not signed_in(client)
    assert actions().count("staff.lockout") == 1
    with time_machine.travel(dt.datetime.now(dt.UTC) + dt.timedelta(minutes=11)):
        assert login(client, "fran").status_code == 200
    account_rows = LoginThrottle.objects.filter(
        username_fingerprint=accounts._username_fingerprint("fran")
    )
    assert not account_rows.exists(), "a successful sign-in clears the account's count"


def test_lockout_counts_per_username_and_stores_no_username_or_address(settings: Any) -> None:
    settings.STAFF_LOGIN_MAX_FAILURES = 2
    make_user("fran", "facilitator")
    make_user("sam", "facilitator")
    client = Client()
    for _ in range(2):
        login(client, "fran", "wrong password one")
    assert login(client, "fran").status_code == 429
    assert login(client, "sam").status_code == 200, "another account is not affected"
    rows = list(LoginThrottle.objects.all())  # the account's and the service-wide count
    assert len(rows) == 2
    stored = " ".join(str(getattr(r, f.name)) for r in rows for f in LoginThrottle._meta.fields)
    assert "fran" not in stored
    field_names = {f.name for f in LoginThrottle._meta.fields}
    assert not field_names & {"ip_address", "user_agent", "ip", "address"}


def test_wrong_codes_count_toward_the_lockout(settings: Any) -> None:
    settings.STAFF_LOGIN_MAX_FAILURES = 3
    make_user("mo", "moderator")
    secret = enrol(Client(), "mo")
    fresh_step()
    client = Client()
    wrong = "111111" if code_for_secret(secret) != "111111" else "222222"
    codes = [login(client, "mo", otp=wrong).json()["error"]["code"] for _ in range(3)]
    assert codes == ["otp_invalid", "otp_invalid", "locked_out"]
    assert login(client, "mo", otp=code_for_secret(secret)).status_code == 429


def test_unknown_usernames_are_locked_alike(settings: Any) -> None:
    settings.STAFF_LOGIN_MAX_FAILURES = 2
    client = Client()
    codes = [login(client, "ghost", "whatever pw").json()["error"]["code"] for _ in range(2)]
    assert codes == ["login_failed", "locked_out"]
    failed = AuditEntry.objects.filter(action="staff.login_failed").first()
    assert failed is not None and failed.actor == "anonymous" and failed.object_id == "unknown"


def test_audit_never_holds_a_password_or_code(settings: Any) -> None:
    settings.STAFF_LOGIN_MAX_FAILURES = 50
    make_user("mo", "moderator")
    client = Client()
    login(client, "mo", "Secret-Typo-Password")
    secret = enrol(client, "mo")
    dumped = json.dumps(list(AuditEntry.objects.values()), default=str)
    for needle in ("Secret-Typo-Password", PASSWORD, secret):
        assert needle not in dumped


# --- signing out ---------------------------------------------------------------------------------


def test_logout_ends_the_session_and_is_audited(monkeypatch: Any) -> None:
    closed: list[str] = []
    monkeypatch.setattr(accounts, "sockets_close_for_session", closed.append)
    make_user("fran", "facilitator")
    client = Client()
    login(client, "fran")
    key = client.session.session_key
    assert post(client, "/api/staff/logout", {}).json() == {"username": None}
    assert closed == [key]
    assert not session_row(key).exists()
    assert not StaffSession.objects.exists()
    assert actions()[-1] == "staff.logout"


def test_logout_everywhere_ends_every_session_and_closes_sockets(monkeypatch: Any) -> None:
    closed_sessions: list[str] = []
    closed_users: list[int] = []
    monkeypatch.setattr(accounts, "sockets_close_for_session", closed_sessions.append)
    monkeypatch.setattr(accounts, "sockets_close_for_user", closed_users.append)
    user = make_user("mo", "moderator")
    laptop, phone = Client(), Client()
    secret = enrol(laptop, "mo")
    fresh_step()
    assert login(phone, "mo", otp=code_for_secret(secret)).status_code == 200
    keys = {laptop.session.session_key, phone.session.session_key}
    phone_key = phone.session.session_key
    answer = post(phone, "/api/staff/logout-everywhere", {})
    assert answer.status_code == 200 and answer.json()["sessions_ended"] == 2
    assert not any(session_row(k).exists() for k in keys)
    # This browser's session by its key; the others (kept only as digests) through the
    # account's group, and at the next session check.
    assert closed_sessions == [phone_key]
    assert closed_users == [user.pk]
    assert not signed_in(laptop) and not signed_in(phone)
    entry = AuditEntry.objects.get(action="staff.logout_everywhere")
    assert entry.detail == {"sessions": 2}


def test_logout_everywhere_needs_a_signed_in_user() -> None:
    answer = post(Client(), "/api/staff/logout-everywhere", {})
    assert answer.status_code == 401 and answer.json()["error"]["code"] == "not_authenticated"


# --- the verified-session check ---------------------------------------------------------------


def test_session_is_verified_needs_a_confirmed_device_of_this_user_for_otp_roles() -> None:
    moderator = make_user("mo", "moderator")
    facilitator = make_user("fran", "facilitator")
    nobody = make_user("nobody", None)
    password_only = Client()
    password_only.force_login(moderator)
    assert not session_is_verified(moderator, password_only.session)
    facilitator_client = Client()
    facilitator_client.force_login(facilitator)
    assert session_is_verified(facilitator, facilitator_client.session)
    assert not session_is_verified(nobody, {})
    assert not session_is_verified(None, {})

    other_device = TOTPDevice.objects.create(user=facilitator, name="app", confirmed=True)
    assert not session_is_verified(moderator, {"otp_device_id": other_device.persistent_id})
    unconfirmed = TOTPDevice.objects.create(user=moderator, name="app", confirmed=False)
    assert not session_is_verified(moderator, {"otp_device_id": unconfirmed.persistent_id})
    own = TOTPDevice.objects.create(user=moderator, name="app2", confirmed=True)
    assert session_is_verified(moderator, {"otp_device_id": own.persistent_id})
    # A facilitator promoted to moderator mid-session is no longer verified.
    moderator_groups = facilitator.groups
    moderator_groups.add(Group.objects.get_or_create(name="moderator")[0])
    assert not session_is_verified(facilitator, facilitator_client.session)


# --- the admin follows the same rules -----------------------------------------------------------


def test_admin_needs_a_role_and_a_verified_session() -> None:
    moderator = make_user("mo", "moderator")
    unverified = Client()
    unverified.force_login(moderator)
    assert unverified.get("/admin/").status_code == 302  # to the admin's sign-in page
    verified = Client()
    enrol(verified, "mo")
    assert verified.get("/admin/").status_code == 200
    facilitator = make_user("fran", "facilitator")
    facilitator_client = Client()
    facilitator_client.force_login(facilitator)
    assert facilitator_client.get("/admin/").status_code == 302


def test_admin_sign_in_needs_the_code_and_is_audited() -> None:
    user = make_user("mo", "moderator")
    device = TOTPDevice.objects.create(user=user, name="app", confirmed=True)
    client = Client()
    no_code = client.post("/admin/login/", {"username": "mo", "password": PASSWORD})
    assert no_code.status_code == 200 and not signed_in(client)
    answer = client.post(
        "/admin/login/",
        {
            "username": "mo",
            "password": PASSWORD,
            "otp_device": device.persistent_id,
            "otp_token": f"{totp(device.bin_key):06d}",
            "next": "/admin/",
        },
    )
    assert answer.status_code == 302 and signed_in(client)
    assert session_is_verified(user, client.session)
    entry = AuditEntry.objects.get(action="staff.login")
    assert entry.detail["via"] == "admin"
    assert client.get("/admin/").status_code == 200
