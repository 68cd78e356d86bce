"""Holding a socket's grant against the database (rooms/grants.py), without the channel layer:
every revocation of issue 13 row 2 (sign-out, expiry, erasure, bans, removal, role change,
deactivation) is found from the rows alone, in a fixed number of queries however many
sockets a process holds; a send on a revoked session is refused before it is stored; and a
socket that connects again follows the account's new role."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth.models import Group, User
from django.utils import timezone

from chatserver.sessions import session_digest, session_row
from moderation import room_actions
from moderation.accounts import (
    SecondFactorRequired,
    StaffSignedOut,
    staff_socket_grant,
)
from rooms import access, preferences, services
from rooms.errors import NotAllowed, NotAuthenticated
from rooms.grants import Grant, SessionRevoked, grant_require, grants_check
from rooms.keys import member_erase
from rooms.models import Membership, Message, Room
from rooms.protocol import Close
from rooms.writer import store_batch
from tests.conftest import login_session, session_for
from tests.factories import MembershipFactory, RoomFactory, staff_membership

pytestmark = pytest.mark.django_db


def member_grant(membership: Membership) -> Grant:
    return Grant(
        session_key=session_for(membership.member),
        membership_id=membership.pk,
        agreed=membership.agreement_version > 0,
    )


def staff_grant(user: User, membership: Membership | None = None) -> Grant:
    from rooms.roles import role_for_user

    return Grant(
        session_key=login_session(user),
        user_id=user.pk,
        role=role_for_user(user),
        membership_id=membership.pk if membership else None,
        agreed=bool(membership and membership.agreement_version),
    )


def verdict(grant: Grant) -> int | None:
    revoked = grants_check([grant]).get(grant)
    return revoked.code if revoked else None


# --- members ------------------------------------------------------------------------------


def test_a_live_member_session_holds(make_membership: Any) -> None:
    assert verdict(member_grant(make_membership())) is None


def test_sign_out_ends_the_grant(make_membership: Any) -> None:
    grant = member_grant(make_membership())
    session_row(grant.session_key).delete()  # what logout does
    assert verdict(grant) == Close.SESSION_ENDED


def test_expiry_ends_the_grant(make_membership: Any) -> None:
    grant = member_grant(make_membership())
    session_row(grant.session_key).update(expire_date=timezone.now() - dt.timedelta(seconds=1))
    assert verdict(grant) == Close.UNAUTHENTICATED


def test_erasure_ends_the_grant_even_with_the_session_alive(make_membership: Any) -> None:
    membership = make_membership()
    grant = member_grant(membership)
    member_erase(member=membership.member)  # as `chatserver erase-member`: no session ended
    assert verdict(grant) == Close.SESSION_ENDED


def test_service_and_room_bans_end_the_grant(make_membership: Any) -> None:
    banned, barred = make_membership(), make_membership()
    banned_grant, barred_grant = member_grant(banned), member_grant(barred)
    services.member_ban(member=banned.member, actor="user:1")
    services.membership_ban(membership=barred, actor="user:1")
    assert verdict(banned_grant) == Close.FORBIDDEN
    assert verdict(barred_grant) == Close.FORBIDDEN


def test_removal_and_leaving_end_the_grant(room: Room, make_membership: Any) -> None:
    facilitator = staff_membership(room)
    removed, leaving = make_membership(), make_membership()
    removed_grant, leaving_grant = member_grant(removed), member_grant(leaving)
    room_actions.remove(actor=facilitator, pseudonym=removed.pseudonym)
    preferences.leave(membership=leaving)
    assert verdict(removed_grant) == Close.REMOVED
    assert verdict(leaving_grant) == Close.REMOVED


def test_a_room_without_an_agreement_is_not_mistaken_for_a_removal() -> None:
    room = RoomFactory()
    room.agreements.all().delete()
    membership = MembershipFactory(room=room, agreement_version=0)
    assert verdict(member_grant(membership)) is None


# --- staff --------------------------------------------------------------------------------


def test_a_staff_grant_holds_while_the_role_does(staff_user: User) -> None:
    assert verdict(staff_grant(staff_user)) is None


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(lambda u: u.groups.clear(), id="role taken away"),
        pytest.param(
            lambda u: u.groups.set([Group.objects.get_or_create(name="moderator")[0]]),
            id="role changed",
        ),
        # A queryset update sends no signal, so no close event either: only the rows tell.
        pytest.param(
            lambda u: User.objects.filter(pk=u.pk).update(is_active=False), id="deactivated"
        ),
        pytest.param(
            lambda u: User.objects.filter(pk=u.pk).update(is_superuser=True), id="made admin"
        ),
        pytest.param(lambda u: User.objects.filter(pk=u.pk).delete(), id="deleted"),
    ],
)
def test_any_change_of_role_ends_the_grant(staff_user: User, change: Any) -> None:
    grant = staff_grant(staff_user)
    change(staff_user)
    assert verdict(grant) == Close.SESSION_ENDED


def test_a_staff_room_socket_is_held_to_the_role_and_the_room(room: Room) -> None:
    membership = staff_membership(room)
    grant = staff_grant(membership.user, membership)
    assert verdict(grant) is None
    Membership.objects.filter(pk=membership.pk).update(banned_at=timezone.now())
    assert verdict(grant) == Close.FORBIDDEN


def test_staff_sign_out_everywhere_ends_every_grant(rf: Any, staff_user: User) -> None:
    from chatserver.sessions import SessionStore
    from moderation.accounts import sign_out_everywhere
    from moderation.models import StaffSession

    grants = [staff_grant(staff_user) for _ in range(2)]
    for grant in grants:
        StaffSession.objects.create(
            user=staff_user,
            session_digest=session_digest(grant.session_key),
            created_at=timezone.now(),
        )
    request = rf.post("/api/staff/logout-everywhere")
    request.user = staff_user
    request.session = SessionStore(session_key=grants[0].session_key)
    sign_out_everywhere(request)
    assert {g: r.code for g, r in grants_check(grants).items()} == {
        g: Close.SESSION_ENDED for g in grants
    }


# --- cost and use -------------------------------------------------------------------------


def test_a_whole_process_is_checked_in_one_query(
    room: Room, make_membership: Any, staff_user: User, django_assert_num_queries: Any
) -> None:
    grants = [member_grant(make_membership()) for _ in range(30)]
    staff_in_room = staff_membership(room)
    grants.append(staff_grant(staff_in_room.user, staff_in_room))
    grants.append(staff_grant(staff_user))
    session_row(grants[3].session_key).delete()
    with django_assert_num_queries(1):
        revoked = grants_check(grants)
    assert set(revoked) == {grants[3]}
    with django_assert_num_queries(0):
        assert grants_check([]) == {}


def test_many_sockets_are_checked_in_chunks(
    make_membership: Any, monkeypatch: pytest.MonkeyPatch, django_assert_num_queries: Any
) -> None:
    from rooms import grants as module

    monkeypatch.setattr(module, "CHUNK", 10)
    grants = [member_grant(make_membership()) for _ in range(25)]
    with django_assert_num_queries(3):
        assert grants_check(grants) == {}


def test_an_account_in_several_groups_keeps_its_highest_role(staff_user: User) -> None:
    """The check reads one row per group: the role is the highest, as at sign-in."""
    staff_user.groups.add(Group.objects.get_or_create(name="facilitator")[0])
    grant = staff_grant(staff_user)
    assert grant.role == "staff"
    assert verdict(grant) is None


def test_grant_require_raises_with_the_close_code(make_membership: Any) -> None:
    grant = member_grant(make_membership())
    grant_require(grant)
    session_row(grant.session_key).delete()
    with pytest.raises(SessionRevoked) as raised:
        grant_require(grant)
    assert raised.value.close_code == Close.SESSION_ENDED
    assert raised.value.code == "session_ended"


def test_a_send_on_a_revoked_session_is_refused_before_it_is_stored(
    make_membership: Any,
) -> None:
    """Issue 13 row 2: a signed-out member's send was acknowledged and stored. The writer
    holds every sender's grant against the database with its batch; the others in the same
    batch are stored as usual."""
    signed_out, still_here = make_membership(), make_membership()
    gone, live = member_grant(signed_out), member_grant(still_here)
    session_row(gone.session_key).delete()
    requests = [
        services.SendRequest(membership=signed_out, client_id="a", body="after sign-out"),
        services.SendRequest(membership=still_here, client_id="b", body="still here"),
    ]
    results = store_batch(services.message_prepare(requests), [gone, live])
    assert isinstance(results[0], SessionRevoked)
    assert isinstance(results[1], services.Sent) and results[1].seq == 1
    assert list(Message.objects.values_list("client_id", flat=True)) == ["b"]


# --- letting sockets in -------------------------------------------------------------------


def _identify(membership: Membership, key: str) -> access.SocketIdentity:
    from chatserver.sessions import SessionStore

    return access.socket_identify(
        session=SessionStore(session_key=key), user=membership.user, slug=membership.room.slug
    )


def test_a_demoted_moderator_comes_back_as_a_facilitator(room: Room) -> None:
    from moderation.models import TrainingRecord

    membership = staff_membership(room, role="moderator")
    key = login_session(membership.user)
    assert _identify(membership, key).membership.role == "moderator"
    user = membership.user
    user.groups.set([Group.objects.get_or_create(name="facilitator")[0]])
    with pytest.raises(NotAllowed):  # a facilitator needs current training
        _identify(membership, key)
    today = timezone.localdate()
    TrainingRecord.objects.create(
        user=user,
        course=settings.FACILITATOR_TRAINING_COURSE,
        completed_on=today - dt.timedelta(days=1),
        expires_on=today + dt.timedelta(days=300),
    )
    identity = _identify(membership, key)
    assert identity.membership.role == "facilitator" and identity.grant.role == "facilitator"
    assert Membership.objects.get(pk=membership.pk).role == "facilitator"


def test_a_promotion_needs_the_second_factor_in_the_room_too(room: Room) -> None:
    """A facilitator signed in with a password alone, then made a moderator: the room must
    not hand them a moderator's tools without the second factor."""
    membership = staff_membership(room)
    key = login_session(membership.user, second_factor=False)
    membership.user.groups.set([Group.objects.get_or_create(name="moderator")[0]])
    with pytest.raises(NotAuthenticated):
        _identify(membership, key)
    assert Membership.objects.get(pk=membership.pk).role == "facilitator"


def test_an_account_without_a_role_cannot_enter_as_itself(room: Room) -> None:
    membership = staff_membership(room)
    key = login_session(membership.user, second_factor=False)
    membership.user.groups.clear()
    with pytest.raises(NotAllowed):
        _identify(membership, key)


def test_the_staff_socket_grant(staff_user: User, room: Room) -> None:
    from django.contrib.auth.models import AnonymousUser

    from chatserver.sessions import SessionStore

    with pytest.raises(StaffSignedOut):
        staff_socket_grant(AnonymousUser(), SessionStore())
    facilitator = staff_membership(room).user
    with pytest.raises(NotAllowed):
        staff_socket_grant(
            facilitator, SessionStore(login_session(facilitator, second_factor=False))
        )
    with pytest.raises(SecondFactorRequired):
        staff_socket_grant(staff_user, SessionStore(login_session(staff_user, second_factor=False)))
    key = login_session(staff_user)
    grant = staff_socket_grant(staff_user, SessionStore(session_key=key))
    assert grant == Grant(session_key=key, user_id=staff_user.pk, role="staff")
