"""Issue 13, row 4: lockouts that cannot be turned against staff. A service-wide cap on
failed sign-ins bounds guessing across usernames; a trusted-device cookie lets a device that
signed in before (with the second factor) past the lockouts; ``chatserver staff-unlock``
ends a lockout by hand, audited."""

from __future__ import annotations

import datetime as dt
from io import StringIO
from typing import Any

import pytest
import time_machine
from django.core.management import CommandError, call_command
from django.test import Client

from chatserver.models import AuditEntry
from moderation import accounts, devices
from tests.test_accounts import (
    PASSWORD,
    code_for_secret,
    enrol,
    fresh_step,
    login,
    make_user,
    signed_in,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _limits(settings: Any) -> None:
    settings.OTP_TOTP_THROTTLE_FACTOR = 0
    settings.STAFF_LOGIN_MAX_FAILURES = 3
    settings.STAFF_LOGIN_LOCKOUT_SECONDS = 600
    settings.THROTTLE_STAFF_SIGNINS = 1000  # the address throttle is tested on its own


def lock(username: str, times: int = 3) -> None:
    attacker = Client()
    for _ in range(times):
        login(attacker, username, "a wrong guess!")


def trusted_moderator(username: str = "mo") -> tuple[Client, str]:
    """A moderator who has signed in once with the code on this client (its device cookie)."""
    make_user(username, "moderator")
    client = Client()
    secret = enrol(client, username)
    assert client.cookies[devices.COOKIE_NAME].value
    cookie = client.cookies[devices.COOKIE_NAME]
    assert cookie["httponly"] and cookie["samesite"] == "Strict"
    client.post("/api/staff/logout")
    fresh_step()
    return client, secret


# --- the service-wide cap ---------------------------------------------------------------------


def test_guessing_across_many_usernames_hits_a_service_wide_cap(settings: Any) -> None:
    settings.STAFF_LOGIN_GLOBAL_MAX_FAILURES = 5
    make_user("fran", "facilitator")
    spray = Client()
    codes = [login(spray, f"user{i}", "a wrong guess!").json()["error"]["code"] for i in range(5)]
    assert codes == ["login_failed"] * 4 + ["locked_out"]
    refused = login(Client(), "fran")  # a real account, right password, untouched by the spray
    assert refused.status_code == 429
    assert "to the service" in refused.json()["error"]["message"]
    assert int(refused["Retry-After"]) > 0
    assert actions().count("staff.lockout_global") == 1
    with time_machine.travel(dt.datetime.now(dt.UTC) + dt.timedelta(minutes=11)):
        assert login(Client(), "fran").status_code == 200


# --- the trusted device -----------------------------------------------------------------------


def test_a_trusted_device_signs_in_while_its_account_is_locked() -> None:
    device, secret = trusted_moderator()
    lock("mo")
    assert login(Client(), "mo", otp=code_for_secret(secret)).status_code == 429
    answer = login(device, "mo", otp=code_for_secret(secret))
    assert answer.status_code == 200 and signed_in(device)


def test_a_trusted_device_signs_in_past_the_service_wide_cap(settings: Any) -> None:
    settings.STAFF_LOGIN_GLOBAL_MAX_FAILURES = 4
    device, secret = trusted_moderator()
    for i in range(4):
        login(Client(), f"someone{i}", "a wrong guess!")
    assert accounts.global_lockout_remaining() > 0
    assert login(device, "mo", otp=code_for_secret(secret)).status_code == 200


def test_a_trusted_device_still_needs_the_password_and_the_code() -> None:
    device, _ = trusted_moderator()
    assert login(device, "mo", "a wrong guess!").json()["error"]["code"] == "login_failed"
    assert login(device, "mo").json()["error"]["code"] == "otp_required"
    assert not signed_in(device)


def test_a_trusted_device_that_fails_too_often_loses_its_exemption() -> None:
    device, secret = trusted_moderator()
    codes = [login(device, "mo", "a wrong guess!").json()["error"]["code"] for _ in range(3)]
    assert codes == ["login_failed", "login_failed", "locked_out"]
    assert login(device, "mo", otp=code_for_secret(secret)).status_code == 429


def test_the_cookie_is_only_for_its_own_account_and_cannot_be_forged() -> None:
    device, _ = trusted_moderator("mo")
    other = make_user("sam", "moderator")
    from django_otp.plugins.otp_totp.models import TOTPDevice

    sam_device = TOTPDevice.objects.create(user=other, name="app", confirmed=True)
    lock("sam")
    from django_otp.oath import totp

    assert login(device, "sam", otp=f"{totp(sam_device.bin_key):06d}").status_code == 429
    forged = Client()
    token = device.cookies[devices.COOKIE_NAME].value
    forged.cookies[devices.COOKIE_NAME] = token[:-2] + ("AA" if token[-2:] != "AA" else "BB")
    lock("mo")
    assert login(forged, "mo").status_code == 429


def test_a_password_change_retires_trusted_devices() -> None:
    device, secret = trusted_moderator()
    user = accounts.get_user_model().objects.get(username="mo")
    user.set_password(PASSWORD + " changed")
    user.save()
    lock("mo")
    answer = login(device, "mo", PASSWORD + " changed", otp=code_for_secret(secret))
    assert answer.status_code == 429


def test_the_cookie_expires(settings: Any) -> None:
    settings.STAFF_TRUSTED_DEVICE_DAYS = 1
    device, secret = trusted_moderator()
    with time_machine.travel(dt.datetime.now(dt.UTC) + dt.timedelta(days=2)):
        lock("mo")
        assert login(device, "mo", otp=code_for_secret(secret)).status_code == 429


def test_a_password_only_sign_in_makes_no_trusted_device() -> None:
    make_user("fran", "facilitator")
    client = Client()
    assert login(client, "fran").status_code == 200
    assert devices.COOKIE_NAME not in client.cookies


# --- staff-unlock -------------------------------------------------------------------------------


def actions() -> list[str]:
    return list(AuditEntry.objects.order_by("seq").values_list("action", flat=True))


def test_staff_unlock_ends_a_lockout_and_is_audited() -> None:
    make_user("fran", "facilitator")
    lock("fran")
    assert login(Client(), "fran").status_code == 429
    out = StringIO()
    call_command("staff_unlock", "fran", stdout=out)
    assert "fran: was locked; unlocked" in out.getvalue()
    assert login(Client(), "fran").status_code == 200
    entry = AuditEntry.objects.get(action="staff.unlock")
    assert entry.actor == "system:cli" and entry.detail == {"was_locked": True}
    assert entry.object_id == str(accounts.get_user_model().objects.get(username="fran").pk)


def test_staff_unlock_service_ends_the_service_wide_lockout(settings: Any) -> None:
    settings.STAFF_LOGIN_GLOBAL_MAX_FAILURES = 2
    make_user("fran", "facilitator")
    lock("ghost", times=2)
    assert login(Client(), "fran").status_code == 429
    out = StringIO()
    call_command("staff_unlock", "--service", stdout=out)
    assert "service-wide sign-in: was locked; unlocked" in out.getvalue()
    assert login(Client(), "fran").status_code == 200
    assert AuditEntry.objects.get(action="staff.unlock_global").detail == {"was_locked": True}


def test_staff_unlock_needs_a_name_and_audits_an_account_that_was_not_locked() -> None:
    with pytest.raises(CommandError):
        call_command("staff_unlock")
    out = StringIO()
    call_command("staff_unlock", "nobody-here", stdout=out)
    assert "was not locked" in out.getvalue()
    entry = AuditEntry.objects.get(action="staff.unlock")
    assert entry.object_id == "unknown" and entry.detail == {"was_locked": False}


def test_the_admin_sign_in_sets_the_cookie_and_honours_it() -> None:
    from django_otp.oath import totp
    from django_otp.plugins.otp_totp.models import TOTPDevice

    user = make_user("mo", "moderator")
    device = TOTPDevice.objects.create(user=user, name="app", confirmed=True)
    browser = Client()

    def admin_login(client: Client) -> Any:
        fresh_step()
        return client.post(
            "/admin/login/",
            {
                "username": "mo",
                "password": PASSWORD,
                "otp_device": device.persistent_id,
                "otp_token": f"{totp(device.bin_key):06d}",
                "next": "/admin/",
            },
        )

    assert admin_login(browser).status_code == 302
    assert browser.cookies[devices.COOKIE_NAME].value
    browser.post("/admin/logout/")
    lock("mo")
    assert admin_login(Client()).status_code == 200  # the form again: refused while locked
    assert admin_login(browser).status_code == 302 and signed_in(browser)


def test_the_admin_sign_in_is_throttled_per_address(settings: Any) -> None:
    settings.THROTTLE_STAFF_SIGNINS = 2
    client = Client()
    codes = [
        client.post("/admin/login/", {"username": "x", "password": "y"}).status_code
        for _ in range(3)
    ]
    assert codes == [200, 200, 429]
