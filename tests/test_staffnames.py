"""The name staff go by in rooms: chosen once, the same in every room, and never one that can
be taken for another staff member's, a role, or a member's random name."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import Group, User
from django.test import Client

from chatserver.models import AuditEntry
from rooms import services, staffnames
from rooms.models import Membership, Room, StaffName
from rooms.staffnames import NameChosen, NameRefused, NameRequired, clean, skeleton
from tests.conftest import login_session
from tests.factories import MembershipFactory, RoomFactory

pytestmark = pytest.mark.django_db


def staff(username: str, role: str = "moderator") -> User:
    user = User.objects.create_user(username=username, password="long enough password")
    user.groups.add(Group.objects.get_or_create(name=role)[0])
    return user


@pytest.mark.parametrize(
    ("raw", "why"),
    [
        ("Sam\u200bMills", "invisible"),  # zero-width space
        ("Sam Mills\u200d", "invisible"),  # zero-width joiner
        ("\u202eslliM maS", "invisible"),  # right-to-left override
        ("Sam\u200e Mills", "invisible"),  # left-to-right mark
        ("Sam\u2066 Mills", "invisible"),  # left-to-right isolate
        ("Sam\tMills", "invisible"),
        ("S\u0430m Mills", "one alphabet"),  # a Cyrillic a among Latin letters
        ("Sam Mi\u03bfls", "one alphabet"),  # a Greek omicron
        ("Sam M1lls", "letters only"),
        ("Sam <b>", "letters only"),
        ("S", "2 to 32"),
        ("A" * 33, "2 to 32"),
        ("Moderator Sam", "role"),
        ("Sam the Admin", "role"),
        ("Support Team", "role"),
        ("St\u0430ff Sam", "one alphabet"),
        ("Quiet Heron", "member's name"),
        ("quiet heron", "member's name"),
    ],
)
def test_names_that_could_mislead_are_refused(raw: str, why: str) -> None:
    with pytest.raises(NameRefused) as refused:
        clean(raw)
    assert why in refused.value.message


@pytest.mark.parametrize(
    "raw",
    ["Sam Mills", "Zoë O'Brien", "Anne-Marie", "Ngozi", "Мария Иванова", "Σοφία", "Stafford"],
)
def test_plain_names_in_any_one_alphabet_are_kept(raw: str) -> None:
    assert clean(f"  {raw} ") == raw


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("Sam Mills", "SAM MILLS"),
        ("Sam Mills", "Sam-Mills"),
        ("Sam Mills", "Sam Milis"),  # l and i
        ("Sam Mills", "Sarn Mills"),  # rn and m
        ("Sam Mills", "S\u0430m Mills"),  # a Cyrillic a
        ("Sam Mills", "Sám Mílls"),  # accents
        ("Oliver", "0liver"),
        ("Willow", "Wiilovv"),
    ],
)
def test_look_alike_names_share_a_skeleton(one: str, other: str) -> None:
    assert skeleton(one) == skeleton(other)


def test_a_name_too_like_another_staff_members_is_refused_and_chosen_once() -> None:
    sam, imp = staff("sam"), staff("imp", "facilitator")
    assert staffnames.name_choose(user=sam, raw="Sam Mills") == "Sam Mills"
    for lookalike in ("sam mills", "Sam Milis", "Sarn Mills", "Sám Mílls"):
        with pytest.raises(NameRefused, match="another staff member's"):
            staffnames.name_choose(user=imp, raw=lookalike)
    with pytest.raises(NameChosen):
        staffnames.name_choose(user=sam, raw="Samuel Mills")
    assert StaffName.objects.get(user=sam).name == "Sam Mills"
    assert AuditEntry.objects.filter(action="staff.name_chosen").count() == 1


def test_a_name_someone_in_a_room_goes_by_is_refused() -> None:
    MembershipFactory(room=RoomFactory(), pseudonym="Robin Hart")
    with pytest.raises(NameRefused, match="already goes by"):
        staffnames.name_choose(user=staff("robin"), raw="robin hart")


def test_staff_join_rooms_under_their_chosen_name_the_same_in_every_room() -> None:
    user = staff("lee")
    first, second = RoomFactory(), RoomFactory()
    with pytest.raises(NameRequired):
        services.membership_join(room=first, agreement_version=1, user=user)
    # A place held before the name was chosen takes it too.
    Membership.objects.create(room=second, user=user, role="moderator", pseudonym="Old Name")
    staffnames.name_choose(user=user, raw="Lee Okafor")
    joined = services.membership_join(room=first, agreement_version=1, user=user)
    assert joined.pseudonym == "Lee Okafor"
    assert set(Membership.objects.filter(user=user).values_list("pseudonym", flat=True)) == {
        "Lee Okafor"
    }
    assert Room.objects.count() == 2


def test_the_name_is_chosen_over_http_by_signed_in_staff_only() -> None:
    user = staff("kim")
    client = Client()
    refused = client.post("/api/staff/name", {"name": "Kim Lowe"}, content_type="application/json")
    assert refused.status_code == 401
    client.cookies["sessionid"] = login_session(user)
    session = client.get("/api/session").json()
    assert session["staff"]["name"] is None
    bad = client.post("/api/staff/name", {"name": "Kim\u200bLowe"}, content_type="application/json")
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "name_refused"
    assert "invisible" in bad.json()["error"]["message"]
    chosen = client.post("/api/staff/name", {"name": "Kim Lowe"}, content_type="application/json")
    assert chosen.status_code == 200 and chosen.json() == {"name": "Kim Lowe"}
    assert client.get("/api/session").json()["staff"]["name"] == "Kim Lowe"
    again: Any = client.post(
        "/api/staff/name", {"name": "Kim Lowe Two"}, content_type="application/json"
    )
    assert again.status_code == 409 and again.json()["error"]["code"] == "name_chosen"
