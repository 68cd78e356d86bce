"""The permission matrix: every action for every role, the refusal's message, the docs table,
and the admin permissions derived from it."""

from __future__ import annotations

from pathlib import Path

import pytest

from chatserver import permissions
from chatserver.permissions import (
    ACTIONS,
    ROLES,
    admin_permissions_for,
    can,
    require,
    roles_table_markdown,
    setup_role_groups,
)
from rooms.errors import NotAllowed

DOC = Path(__file__).resolve().parent.parent / "docs" / "roles.md"
REQUIRED_ACTIONS = {
    "view_room", "post", "delete_own", "report", "mute", "remove", "ban_room", "ban_service",
    "hide_message", "pin", "slow_mode", "pause_room", "announce", "flag_risk",
    "view_escalations", "ack_escalation", "view_decrypted_content", "resolve_escalation",
    "open_support_room", "manage_rooms", "manage_invites", "manage_lexicons", "manage_training",
    "view_audit", "verify_audit", "view_figures", "enter_invite_rooms",
}  # fmt: skip

# The policy, spelled out once more by hand so a change to the table is a deliberate one.
EXPECTED = {
    "member": {"view_room", "post", "delete_own", "report"},
    "facilitator": {
        "mute", "hide_message", "pin", "slow_mode", "pause_room", "flag_risk", "remove",
        "announce", "review_held", "run_sessions", "file_debrief",
    },
    "moderator": {
        "ban_room", "review_hidden", "handle_reports", "view_escalations", "ack_escalation",
        "view_decrypted_content", "resolve_escalation", "open_support_room", "manage_invites",
        "enter_invite_rooms",
    },
    "staff": {"ban_service", "manage_rooms", "manage_training", "view_audit", "view_figures"},
    "admin": {"manage_lexicons", "verify_audit"},
}  # fmt: skip


def _allowed(role: str) -> set[str]:
    """Each role can do what it adds plus everything of the roles below it."""
    index = ROLES.index(role)
    return set().union(*(EXPECTED[r] for r in ROLES[: index + 1]))


def test_every_required_action_is_in_the_table() -> None:
    assert set(ACTIONS) >= REQUIRED_ACTIONS
    assert ROLES == ("member", "facilitator", "moderator", "staff", "admin")


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("action", sorted(ACTIONS))
def test_matrix_cell(role: str, action: str) -> None:
    expected = action in _allowed(role)
    assert can(role, action) is expected
    if expected:
        require(role, action)
        return
    with pytest.raises(NotAllowed) as refused:
        require(role, action)
    message = refused.value.message
    assert ACTIONS[action][1] in message, message  # says what was refused
    assert "only" in message  # and who may do it
    assert refused.value.code == "forbidden" and refused.value.http_status == 403


@pytest.mark.parametrize("action", sorted(ACTIONS))
def test_no_role_and_unknown_roles_are_refused_everything(action: str) -> None:
    assert not can(None, action)
    assert not can("superhero", action)
    with pytest.raises(NotAllowed, match="sign in first"):
        require(None, action)


def test_an_unknown_action_is_a_programming_error() -> None:
    with pytest.raises(KeyError, match="unknown action"):
        can("admin", "launch_rockets")


def test_refusal_message_reads_well() -> None:
    with pytest.raises(NotAllowed) as refused:
        require("facilitator", "ban_service")
    assert refused.value.message == (
        "your role (peer facilitator) cannot ban a member from the whole service: "
        "only professional staff, admins can"
    )


def test_docs_table_matches_the_matrix() -> None:
    """docs/roles.md holds the table between markers; regenerate it with
    ``python -c "from chatserver.permissions import roles_table_markdown as t; print(t())"``."""
    text = DOC.read_text(encoding="utf-8")
    start = text.index("<!-- roles-table:start -->") + len("<!-- roles-table:start -->")
    end = text.index("<!-- roles-table:end -->")
    assert text[start:end].strip() == roles_table_markdown()


def test_admin_permissions_follow_the_matrix() -> None:
    assert admin_permissions_for("member") == set()
    assert admin_permissions_for("facilitator") == set()
    moderator = admin_permissions_for("moderator")
    assert "moderation.view_escalation" in moderator and "rooms.add_invite" in moderator
    assert "rooms.add_room" not in moderator and "moderation.view_auditentry" not in moderator
    staff = admin_permissions_for("staff")
    assert {"rooms.add_room", "moderation.add_trainingrecord"} <= staff
    assert "auth.change_user" not in staff
    assert admin_permissions_for("admin") >= staff | {"auth.change_user"}
    for role in ROLES:
        assert not any(p.startswith("moderation.") and "auditentry" in p and "view" not in p
                       for p in admin_permissions_for(role))  # fmt: skip


@pytest.mark.django_db
def test_setup_roles_creates_the_groups_idempotently() -> None:
    from django.contrib.auth.models import Group, Permission
    from django.core.management import call_command

    counts = setup_role_groups()
    assert set(counts) == {"facilitator", "moderator", "staff", "admin"}
    staff = Group.objects.get(name="staff")
    staff.permissions.add(*Permission.objects.filter(codename="delete_auditentry"))
    call_command("setup_roles")  # a second run revokes what the table does not grant
    names = {f"{p.content_type.app_label}.{p.codename}" for p in staff.permissions.all()}
    assert names == admin_permissions_for("staff")


def test_the_matrix_roles_are_the_membership_roles() -> None:
    """The matrix lives below the rooms app, so it names the roles itself: they must stay the
    membership roles, in order of trust, with the same labels."""
    from rooms.models import Membership

    assert list(permissions.ROLE_LABELS.items()) == [
        (str(value), str(label)) for value, label in Membership.Role.choices
    ]
