"""Who may enter a private room (rooms/entry.py), through the services and the HTTP API.

Issue 13, finding 1: a facilitator (password only) joined any invite-only room, private
support rooms included, by name and read its history; support-room names were guessable;
and join answered 404, 409 or 403 depending on whether the room existed. Anonymous callers
could even read any room's history over HTTP with no session at all.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from django.contrib.auth.models import Group, User
from django.test import Client

from moderation import escalations
from rooms import services
from rooms.errors import ROOM_NOT_FOUND_MESSAGE, RoomNotFound
from rooms.models import Membership, Room
from tests.conftest import login_session
from tests.factories import (
    MemberFactory,
    MembershipFactory,
    RoomFactory,
    give_staff_name,
    staff_membership,
)
from tests.test_escalations import raise_for

pytestmark = pytest.mark.django_db

NOT_FOUND = {"error": {"code": "room_not_found", "message": ROOM_NOT_FOUND_MESSAGE}}


def staff_user(role: str) -> User:
    """A trained user in ``role``'s group, with a membership of a room of their own only."""
    return staff_membership(RoomFactory(), role=role).user  # type: ignore[return-value]


@pytest.fixture
def invite_room() -> Room:
    return RoomFactory(slug="survivors-group", visibility="invite")


@pytest.fixture
def support_room(staff_user_with_room: tuple[User, Membership]) -> Room:
    opener, writer = staff_user_with_room
    escalation = raise_for(writer)
    return escalations.escalation_open_support_room(user=opener, escalation_id=escalation.pk)


@pytest.fixture
def staff_user_with_room() -> tuple[User, Membership]:
    opener = User.objects.create_user(username="nurse", password="long enough password")
    opener.groups.add(Group.objects.get_or_create(name="staff")[0])
    give_staff_name(opener, "Nurse Robin")
    writer = MembershipFactory(room=RoomFactory(slug="circle"), pseudonym="Quiet Heron")
    return opener, writer


# --- services -------------------------------------------------------------------------------


def test_a_facilitator_cannot_join_an_invite_room_by_its_name(invite_room: Room) -> None:
    """The finding itself: a facilitator joined (and so read) an invite-only room."""
    facilitator = staff_user("facilitator")
    with pytest.raises(RoomNotFound):
        services.membership_join(room=invite_room, agreement_version=1, user=facilitator)
    with pytest.raises(RoomNotFound):
        services.membership_authorize(room=invite_room, member=None, user=facilitator)
    assert not Membership.objects.filter(room=invite_room).exists()


@pytest.mark.parametrize("role", ["facilitator", "moderator", "staff", "admin"])
def test_no_role_enters_a_support_room_it_was_not_given(support_room: Room, role: str) -> None:
    other = staff_user(role)
    with pytest.raises(RoomNotFound):
        services.membership_join(room=support_room, agreement_version=1, user=other)
    with pytest.raises(RoomNotFound):
        services.membership_join(room=support_room, agreement_version=1, member=MemberFactory())
    assert Membership.objects.filter(room=support_room).count() == 2


def test_the_support_rooms_own_two_memberships_enter_it(
    support_room: Room, staff_user_with_room: tuple[User, Membership]
) -> None:
    opener, writer = staff_user_with_room
    assert services.membership_join(room=support_room, agreement_version=1, user=opener).role
    joined = services.membership_join(room=support_room, agreement_version=1, member=writer.member)
    assert joined.role == "member"
    services.membership_authorize(room=support_room, member=writer.member, user=None)


def test_support_rooms_have_random_names(staff_user_with_room: tuple[User, Membership]) -> None:
    """Not support-<escalation id>-<HHMMSS>: 128 random bits, nothing derived."""
    opener, writer = staff_user_with_room
    first, second = (
        escalations.escalation_open_support_room(user=opener, escalation_id=raise_for(writer).pk)
        for _ in range(2)
    )
    for room in (first, second):
        assert room.visibility == Room.Visibility.SUPPORT
        assert re.fullmatch(r"support-[a-z2-7]{26}", room.slug), room.slug
        assert not re.search(r"\d{6}", room.slug.removeprefix("support-"))
    assert first.slug != second.slug


@pytest.mark.parametrize("role", ["moderator", "staff", "admin"])
def test_roles_with_the_permission_may_enter_invite_rooms(invite_room: Room, role: str) -> None:
    joined = services.membership_join(room=invite_room, agreement_version=1, user=staff_user(role))
    assert joined.role == role


def test_a_facilitator_enters_an_invite_room_through_an_invite(invite_room: Room) -> None:
    facilitator = staff_user("facilitator")
    code = services.invite_create(room=invite_room, created_by=None)
    services.invite_redeem(code=code, user=facilitator)
    joined = services.membership_join(room=invite_room, agreement_version=1, user=facilitator)
    assert joined.role == "facilitator"


def test_a_private_room_hides_its_state_agreement_and_capacity(invite_room: Room) -> None:
    """Whatever the room's condition, a stranger is told only that there is no such room."""
    Room.objects.filter(pk=invite_room.pk).update(state="closed", capacity=0)
    invite_room.refresh_from_db()
    for version in (0, 1, 7):
        with pytest.raises(RoomNotFound) as caught:
            services.membership_join(
                room=invite_room, agreement_version=version, member=MemberFactory()
            )
        assert caught.value.message == ROOM_NOT_FOUND_MESSAGE


# --- the HTTP API ---------------------------------------------------------------------------


def _client() -> Client:
    return Client(enforce_csrf_checks=True)


def _post(client: Client, path: str, body: Any) -> tuple[int, Any]:
    client.get("/api/session")
    token = client.cookies["csrftoken"].value
    response = client.post(
        path, json.dumps(body), content_type="application/json", HTTP_X_CSRFTOKEN=token
    )
    return response.status_code, response.json()


def _get(client: Client, path: str) -> tuple[int, Any]:
    response = client.get(path)
    return response.status_code, response.json()


def _member_client() -> Client:
    client = _client()
    _post(client, "/api/session", {})
    return client


def _staff_client(user: User) -> Client:
    client = _client()
    client.cookies["sessionid"] = login_session(user)
    return client


def _answers(client: Client, slug: str) -> list[tuple[int, Any]]:
    return [
        _get(client, f"/api/rooms/{slug}"),
        _post(client, f"/api/rooms/{slug}/join", {"agreement_version": 1}),
        _post(client, f"/api/rooms/{slug}/join", {"agreement_version": 0}),
        _get(client, f"/api/rooms/{slug}/messages"),
    ]


@pytest.mark.parametrize("who", ["member", "facilitator"])
def test_join_answers_the_same_for_no_room_and_a_private_room(
    invite_room: Room, support_room: Room, who: str
) -> None:
    """One status and one body for "no such room" and "not for you": no existence oracle."""
    client = _member_client() if who == "member" else _staff_client(staff_user("facilitator"))
    closed = RoomFactory(slug="closed-invite-room", visibility="invite", state="closed")
    nowhere = _answers(client, "no-room-has-this-name")
    assert nowhere == [(404, NOT_FOUND)] * 4
    for room in (invite_room, support_room, closed):
        assert _answers(client, room.slug) == nowhere, room.slug
    assert (
        not Membership.objects.filter(room__in=[invite_room, support_room, closed])
        .exclude(room=support_room)
        .exists()
    )
    assert Membership.objects.filter(room=support_room).count() == 2


def test_without_a_session_the_answer_does_not_depend_on_the_room(invite_room: Room) -> None:
    client = _client()
    missing = _post(client, "/api/rooms/no-room-has-this-name/join", {"agreement_version": 1})
    assert missing[0] == 401
    assert _post(client, f"/api/rooms/{invite_room.slug}/join", {"agreement_version": 1}) == missing


def test_history_over_http_needs_a_session_and_a_membership(invite_room: Room) -> None:
    """Before, no session at all matched any member's membership and read the history."""
    writer = MembershipFactory(room=invite_room)
    services.message_send(membership=writer, client_id="c1", body="words for this room only")
    open_room = RoomFactory(slug="open-circle")
    services.message_send(
        membership=MembershipFactory(room=open_room), client_id="c1", body="open room words"
    )
    for slug in (invite_room.slug, open_room.slug):
        status, body = _get(_client(), f"/api/rooms/{slug}/messages")
        assert status == 401 and "words" not in json.dumps(body)
    assert _get(_member_client(), f"/api/rooms/{invite_room.slug}/messages") == (404, NOT_FOUND)
    status, body = _get(_member_client(), f"/api/rooms/{open_room.slug}/messages")
    assert status == 403 and "words" not in json.dumps(body)


def test_staff_redeem_invites_over_http(invite_room: Room) -> None:
    facilitator = staff_user("facilitator")
    client = _staff_client(facilitator)
    code = services.invite_create(room=invite_room, created_by=None)
    status, body = _post(client, "/api/invites/redeem", {"code": code})
    assert status == 200 and body["slug"] == invite_room.slug
    status, body = _post(client, f"/api/rooms/{invite_room.slug}/join", {"agreement_version": 1})
    assert status == 200 and body["role"] == "facilitator"


def test_the_room_list_shows_private_rooms_only_to_those_who_may_enter(
    invite_room: Room, support_room: Room, staff_user_with_room: tuple[User, Membership]
) -> None:
    private = {invite_room.slug, support_room.slug}

    def listed(client: Client) -> set[str]:
        return private & {r["slug"] for r in _get(client, "/api/rooms")[1]["rooms"]}

    assert listed(_member_client()) == set()
    assert listed(_staff_client(staff_user("facilitator"))) == set()
    assert listed(_staff_client(staff_user("moderator"))) == {invite_room.slug}
    opener, _ = staff_user_with_room
    assert listed(_staff_client(opener)) == private
