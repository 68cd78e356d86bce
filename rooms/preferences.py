"""A participant's own choices in a room: whom to ignore, which themes to blur, leaving.

Ignoring is enforced by the server (an ignored author's messages reach the reader only as
empty placeholders, live and in history), so it holds on every device. Every socket of the
participant is told to reload, on every process.
"""

from __future__ import annotations

from django.db import transaction

from chatserver.codes import Close
from rooms import events, selectors, values
from rooms.errors import NotAllowed
from rooms.models import Ignore, Membership, Room
from rooms.themes import THEMES

PREFERENCES_CHANGED = "preferences.changed"


def _changed(membership: Membership) -> None:
    events.publish_on_commit(events.membership_group(membership.pk), {"type": PREFERENCES_CHANGED})


@transaction.atomic
def ignore(*, membership: Membership, pseudonym: str) -> None:
    target = selectors.membership_by_pseudonym(membership.room_id, pseudonym)
    if target.pk == membership.pk:
        raise NotAllowed("you cannot ignore yourself")
    if target.role != Membership.Role.MEMBER:
        raise NotAllowed(
            "facilitators and staff cannot be ignored: they may need to reach you about safety"
        )
    Ignore.objects.get_or_create(membership=membership, ignored=target)
    _changed(membership)


@transaction.atomic
def unignore(*, membership: Membership, pseudonym: str) -> None:
    target = selectors.membership_by_pseudonym(membership.room_id, pseudonym)
    Ignore.objects.filter(membership=membership, ignored=target).delete()
    _changed(membership)


@transaction.atomic
def set_blur(*, membership: Membership, themes: list[str]) -> list[str]:
    chosen: list[str] = [t for t in THEMES if t in set(themes)]
    membership.blur_themes = chosen
    membership.save(update_fields=["blur_themes"])
    _changed(membership)
    return chosen


@transaction.atomic
def leave(*, membership: Membership) -> None:
    """Leave the room: coming back means accepting the agreement again. What was written
    stays (delete it first, or use "delete all my data"); every socket in the room closes."""
    membership.agreement_version = 0
    membership.save(update_fields=["agreement_version"])
    # Like a removal: the send path re-reads the membership, so a socket whose close event
    # was lost cannot post.
    Room.moderation_moved(membership.room_id)
    events.publish_on_commit(
        events.membership_group(membership.pk), events.close_event(Close.REMOVED)
    )


def you(membership: Membership) -> values.You:
    return values.You(
        pseudonym=membership.pseudonym,
        role=membership.role,
        blur=list(membership.blur_themes or []),
        ignoring=selectors.ignored_pseudonyms(membership.pk),
        muted_until=membership.muted_until,
    )
