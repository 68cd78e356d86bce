"""Who may do what: one table of actions by roles, and the two functions that read it.

Every permission check in the service asks ``can`` or ``require`` here rather than comparing
role names in place, so the table below is the whole policy and ``docs/roles.md`` (checked
against it by a test) is always true. A role not in the table (or ``None``: signed out, or an
account without a role) is refused everything.
"""

from __future__ import annotations

from typing import Final

from chatserver.errors import NotAllowed

# The roles, from least to most trusted: the table's columns. ``rooms.models.Membership.Role``
# holds the same names with the same labels (a test keeps them equal), so this module, which
# both apps use, imports neither.
ROLE_LABELS: Final[dict[str, str]] = {
    "member": "Member",
    "facilitator": "Peer facilitator",
    "moderator": "Moderator",
    "staff": "Professional staff",
    "admin": "Admin",
}
ROLES: Final[tuple[str, ...]] = tuple(ROLE_LABELS)

_M, _F, _MO, _S, _A = ROLES
_EVERYONE = frozenset(ROLES)
_FACILITATION = frozenset({_F, _MO, _S, _A})
_MODERATION = frozenset({_MO, _S, _A})
_PROFESSIONAL = frozenset({_S, _A})
_ADMIN = frozenset({_A})

# action -> (roles allowed, what the action is). Order is the order of the docs table.
ACTIONS: Final[dict[str, tuple[frozenset[str], str]]] = {
    "view_room": (_EVERYONE, "read a room they have joined"),
    "post": (_EVERYONE, "send messages in a room"),
    "delete_own": (_EVERYONE, "delete their own messages"),
    "report": (_EVERYONE, "report a message or participant"),
    "mute": (_FACILITATION, "mute a participant in a room for a while"),
    "hide_message": (_FACILITATION, "hide another participant's message"),
    "pin": (_FACILITATION, "pin a message"),
    "slow_mode": (_FACILITATION, "slow a room down"),
    "pause_room": (_FACILITATION, "pause and resume a room"),
    "remove": (_FACILITATION, "remove a participant from a room (they may rejoin)"),
    "announce": (_FACILITATION, "post an announcement in a room"),
    "review_held": (_FACILITATION, "release or withhold a message held for review"),
    "run_sessions": (
        _FACILITATION,
        "open, lock and close sessions and admit from the waiting room",
    ),
    "flag_risk": (_FACILITATION, "flag a message as a risk to someone's safety"),
    "file_debrief": (_FACILITATION, "file a debrief after a session, and ask for support"),
    "ban_room": (_MODERATION, "ban a participant from a room"),
    "review_hidden": (_MODERATION, "read messages that facilitators hid"),
    "view_escalations": (_MODERATION, "see the escalation queue"),
    "ack_escalation": (_MODERATION, "acknowledge an escalation"),
    "view_decrypted_content": (
        _MODERATION,
        "read sealed content for review: an escalation's excerpt, a reported message and note",
    ),
    "handle_reports": (_MODERATION, "reply privately to a reporter and close reports"),
    "resolve_escalation": (_MODERATION, "resolve an escalation or mark it a false alarm"),
    "open_support_room": (_MODERATION, "open a private support room with a member"),
    "manage_invites": (_MODERATION, "create and revoke invite codes"),
    # Everyone else enters an invite-only room only through an invite; a support room only
    # through the membership its opening made (rooms/entry.py). Facilitators sign in with a
    # password alone, so this stays with the roles that hold a second factor.
    "enter_invite_rooms": (
        _MODERATION,
        "enter an invite-only group room without an invite (never a support room)",
    ),
    "ban_service": (_PROFESSIONAL, "ban a member from the whole service"),
    "manage_rooms": (_PROFESSIONAL, "create rooms and edit their agreements"),
    "manage_training": (_PROFESSIONAL, "record training, supervision and debriefs"),
    "view_audit": (_PROFESSIONAL, "read the audit log"),
    "view_figures": (_PROFESSIONAL, "see the anonymous service figures"),
    "manage_lexicons": (_ADMIN, "change the risk detector's data files"),
    "verify_audit": (_ADMIN, "verify the audit log's hash chain"),
}

_PLURALS: Final[dict[str, str]] = {
    _M: "members",
    _F: "peer facilitators",
    _MO: "moderators",
    _S: "professional staff",
    _A: "admins",
}


def can(role: str | None, action: str) -> bool:
    """Whether ``role`` may perform ``action``. An unknown action is a programming error."""
    try:
        allowed, _ = ACTIONS[action]
    except KeyError:
        raise KeyError(f"unknown action {action!r}; add it to chatserver.permissions") from None
    return role is not None and role in allowed


def require(role: str | None, action: str) -> None:
    """Raise NotAllowed, naming the action and who may do it, unless ``role`` may act."""
    if can(role, action):
        return
    allowed, what = ACTIONS[action]
    who = ", ".join(_PLURALS[r] for r in ROLES if r in allowed)
    if role is None:
        raise NotAllowed(f"sign in first: only {who} can {what}")
    label = ROLE_LABELS.get(role, role).lower()
    raise NotAllowed(f"your role ({label}) cannot {what}: only {who} can")


def roles_table_markdown() -> str:
    """The matrix as the Markdown table in docs/roles.md (a test keeps the two equal)."""
    header = "| action | what | " + " | ".join(ROLES) + " |"
    rule = "|---|---|" + "---|" * len(ROLES)
    rows = [
        f"| `{action}` | {what} | "
        + " | ".join("yes" if role in allowed else "no" for role in ROLES)
        + " |"
        for action, (allowed, what) in ACTIONS.items()
    ]
    return "\n".join([header, rule, *rows])


# --- the admin's model permissions, derived from the table -------------------------------------

# Which Django admin permissions each action needs. A role group gets the union over the actions
# the table allows it, so the admin can never grant more than the matrix does.
ADMIN_PERMISSIONS: Final[dict[str, tuple[str, ...]]] = {
    "manage_rooms": (
        "rooms.view_room",
        "rooms.add_room",
        "rooms.change_room",
        "rooms.view_agreement",
        "rooms.add_agreement",
        "rooms.change_agreement",
    ),
    "manage_invites": (
        "rooms.view_room",
        "rooms.view_invite",
        "rooms.add_invite",
        "rooms.delete_invite",
    ),
    "view_escalations": ("moderation.view_escalation",),
    "handle_reports": ("moderation.view_report",),
    "resolve_escalation": ("moderation.change_escalation",),
    "manage_training": (
        "moderation.view_trainingrecord",
        "moderation.add_trainingrecord",
        "moderation.change_trainingrecord",
        "moderation.view_supervisionsession",
        "moderation.add_supervisionsession",
        "moderation.change_supervisionsession",
        "moderation.view_debrief",
        "moderation.add_debrief",
        "moderation.change_debrief",
    ),
    "view_audit": ("chatserver.view_auditentry",),
}
# Account administration is not a chat action, but only admins may do it.
ADMIN_ONLY_PERMISSIONS: Final[tuple[str, ...]] = (
    "auth.view_user",
    "auth.add_user",
    "auth.change_user",
    "auth.view_group",
    "moderation.view_outboxitem",
    "otp_totp.view_totpdevice",
    "otp_totp.delete_totpdevice",
    "rooms.view_staffname",
    "rooms.delete_staffname",
)


def admin_permissions_for(role: str) -> set[str]:
    """The "app_label.codename" permissions the role's group should hold."""
    granted = {
        perm for action, perms in ADMIN_PERMISSIONS.items() if can(role, action) for perm in perms
    }
    if role == _A:
        granted.update(ADMIN_ONLY_PERMISSIONS)
    return granted


def setup_role_groups() -> dict[str, int]:
    """Create the staff role groups and set each one's permissions to exactly what the
    table grants. Returns the number of permissions per group."""
    from django.contrib.auth.models import Group, Permission

    counts: dict[str, int] = {}
    for role in ROLES[1:]:
        wanted = admin_permissions_for(role)
        perms = []
        for name in sorted(wanted):
            app_label, codename = name.split(".", 1)
            perm = Permission.objects.filter(
                content_type__app_label=app_label, codename=codename
            ).first()
            if perm is None:
                raise LookupError(f"permission {name} does not exist: run migrate first")
            perms.append(perm)
        group, _ = Group.objects.get_or_create(name=role)
        group.permissions.set(perms)
        counts[role] = len(perms)
    return counts
