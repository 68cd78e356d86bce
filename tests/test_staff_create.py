"""``chatserver staff-create``: a staff account in minutes, its password printed once; and the
laptop start's demo accounts."""

from __future__ import annotations

import datetime as dt
import io
import re

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from django.test import Client

from chatserver.models import AuditEntry
from moderation.governance import require_current_training
from moderation.models import TrainingRecord
from rooms.models import StaffName
from rooms.roles import role_for_user

pytestmark = pytest.mark.django_db


def run(*args: str, **options: object) -> str:
    out = io.StringIO()
    call_command("staff_create", *args, stdout=out, **options)
    return out.getvalue()


def test_a_trained_facilitator_in_one_command_with_a_password_shown_once() -> None:
    until = dt.date.today() + dt.timedelta(days=200)
    printed = run("fran", "--role", "facilitator", "--trained-until", until.isoformat())
    password = re.search(r"password (\S+)", printed)
    assert password is not None
    user = User.objects.get(username="fran")
    assert role_for_user(user) == "facilitator"
    assert user.check_password(password.group(1))
    assert password.group(1) not in user.password  # only its hash is kept
    require_current_training(user)  # may facilitate
    assert TrainingRecord.objects.get(user=user).expires_on == until
    assert "/staff/" in printed
    assert AuditEntry.objects.filter(action="staff.created").count() == 1
    # It signs in at once (a facilitator needs no authenticator).
    answer = Client().post(
        "/api/staff/login",
        {"username": "fran", "password": password.group(1)},
        content_type="application/json",
    )
    assert answer.status_code == 200 and answer.json()["role"] == "facilitator"


def test_refusals_say_what_to_do() -> None:
    run("mo", "--role", "moderator")
    with pytest.raises(CommandError, match="already an account"):
        run("mo", "--role", "moderator")
    with pytest.raises(CommandError, match="in the past"):
        run("late", "--role", "facilitator", "--trained-until", "2001-01-01")
    with pytest.raises(CommandError, match="date like"):
        run("odd", "--role", "facilitator", "--trained-until", "next week")
    with pytest.raises(CommandError, match="--role"):
        run("nobody")
    untrained = run("new", "--role", "facilitator")
    assert "can facilitate only with current training" in untrained


def test_demo_accounts_are_made_once_and_printed_once() -> None:
    first = run(demo=True)
    assert "demo-facilitator" in first and "demo-staff" in first
    assert len(re.findall(r"\): password \S+", first)) == 2
    assert run(demo=True) == ""  # already there: nothing made, nothing printed
    assert role_for_user(User.objects.get(username="demo-staff")) == "staff"
    names = set(StaffName.objects.values_list("name", flat=True))
    assert names == {"Jo Harper", "Sam Okafor"}
    require_current_training(User.objects.get(username="demo-facilitator"))
