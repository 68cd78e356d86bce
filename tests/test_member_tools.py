"""A member's own tools: ignore (enforced by the server, live and in history), content
warnings and themes to blur, leaving, and preferences that follow them to every device."""

from __future__ import annotations

from typing import Any

import pytest
from channels.db import database_sync_to_async

from moderation.risk import assess
from rooms.models import Membership, Room
from rooms.themes import classified_themes, decode_themes, encode_themes
from tests.conftest import login_session
from tests.factories import staff_membership
from tests.wsutil import answer_to, closed_with, next_frame


@pytest.mark.parametrize(
    ("text", "themes"),
    [
        ("Years ago I tried to kill myself.", {"suicide"}),  # a past disclosure still has a theme
        ("He raped me when I was 19.", {"sexual_violence"}),
        ("Me violaron hace años.", {"sexual_violence"}),
        ("他强奸了我", {"sexual_violence"}),
        ("My therapist said the grapes were nice", set()),  # no "rapist" inside words
        ("This commute is killing me", set()),
        ("I'm not going to hurt myself tonight", {"self_harm"}),
    ],
)
def test_server_classifies_themes(text: str, themes: set[str]) -> None:
    assert classified_themes(assess(text), text) == themes


def test_themes_round_trip_in_a_fixed_order() -> None:
    assert encode_themes({"violence", "suicide", "not-a-theme"}) == "suicide,violence"
    assert decode_themes("suicide,violence") == ["suicide", "violence"]
    assert decode_themes("") == []


pytestmark_ws = pytest.mark.django_db(transaction=True)


@pytestmark_ws
async def test_content_warning_and_classified_themes_travel_with_the_message(
    connect: Any, make_membership: Any
) -> None:
    alice = await database_sync_to_async(make_membership)(pseudonym="Alice")
    bob = await database_sync_to_async(make_membership)(pseudonym="Bob")
    async with connect(alice) as a, connect(bob) as b:
        body = "When I was little my uncle hit me."
        await a.send_json_to(
            {"type": "send", "client_id": "c1", "body": body, "cw": True, "themes": ["eating"]}
        )
        live = await next_frame(b, "message")
        assert live["cw"] is True
        assert live["themes"] == ["violence", "child_abuse", "eating"]
        await b.send_json_to({"type": "history"})
        (entry,) = (await next_frame(b, "history"))["messages"]
        assert entry["cw"] is True and entry["themes"] == live["themes"]
        await a.send_json_to(
            {"type": "send", "client_id": "c2", "body": "x", "themes": ["not-a-theme"]}
        )
        assert (await next_frame(a, "error"))["code"] == "invalid_frame"


@pytestmark_ws
async def test_ignored_author_reaches_the_reader_only_as_placeholders(
    connect: Any, make_membership: Any
) -> None:
    alice = await database_sync_to_async(make_membership)(pseudonym="Alice")
    bob = await database_sync_to_async(make_membership)(pseudonym="Bob")
    carol = await database_sync_to_async(make_membership)(pseudonym="Carol")
    async with connect(alice) as a, connect(bob) as b, connect(carol) as c:
        await a.send_json_to({"type": "ignore", "pseudonym": "Bob", "ref": "i1"})
        assert (await answer_to(a, "i1"))["type"] == "done"
        assert (await next_frame(a, "you"))["you"]["ignoring"] == ["Bob"]
        await b.send_json_to({"type": "send", "client_id": "b1", "body": "from bob"})
        placeholder = await next_frame(a, "message")
        assert placeholder["ignored"] is True and placeholder["body"] is None
        assert placeholder["author"] == "" and placeholder["seq"] == 1
        assert (await next_frame(c, "message"))["body"] == "from bob"  # others unaffected
        await a.send_json_to({"type": "history"})
        (entry,) = (await next_frame(a, "history"))["messages"]
        assert entry["ignored"] is True and "from bob" not in str(entry)
        await a.send_json_to({"type": "unignore", "pseudonym": "Bob", "ref": "u1"})
        await answer_to(a, "u1")
        await next_frame(a, "you")
        await b.send_json_to({"type": "send", "client_id": "b2", "body": "again"})
        assert (await next_frame(a, "message"))["body"] == "again"


@pytestmark_ws
async def test_ignoring_yourself_or_a_facilitator_is_refused(
    connect: Any, make_membership: Any, room: Room
) -> None:
    alice = await database_sync_to_async(make_membership)(pseudonym="Alice")
    await database_sync_to_async(staff_membership)(room, pseudonym="Fac Jo")
    async with connect(alice) as a:
        await a.send_json_to({"type": "ignore", "pseudonym": "Alice", "ref": "i1"})
        assert (await answer_to(a, "i1"))["code"] == "forbidden"
        await a.send_json_to({"type": "ignore", "pseudonym": "Fac Jo", "ref": "i2"})
        answer = await answer_to(a, "i2")
        assert answer["code"] == "forbidden" and "safety" in answer["message"]
        await a.send_json_to({"type": "ignore", "pseudonym": "Nobody", "ref": "i3"})
        assert (await answer_to(a, "i3"))["code"] == "not_found"


@pytestmark_ws
async def test_blur_preferences_reach_every_socket_of_the_member(
    connect: Any, make_membership: Any
) -> None:
    alice = await database_sync_to_async(make_membership)(pseudonym="Alice")
    async with connect(alice) as phone, connect(alice) as laptop:
        await phone.send_json_to(
            {"type": "preferences", "blur": ["violence", "suicide"], "ref": "p1"}
        )
        await answer_to(phone, "p1")
        assert (await next_frame(laptop, "you"))["you"]["blur"] == ["suicide", "violence"]
    async with connect(alice) as later:
        assert later.welcome["you"]["blur"] == ["suicide", "violence"]


@pytestmark_ws
async def test_leave_closes_every_socket_and_needs_the_agreement_to_return(
    connect: Any, make_membership: Any
) -> None:
    alice = await database_sync_to_async(make_membership)(pseudonym="Alice")
    async with connect(alice) as one, connect(alice) as two:
        await one.send_json_to({"type": "leave", "ref": "l1"})
        assert await closed_with(one) == 4012
        assert await closed_with(two) == 4012
    await database_sync_to_async(alice.refresh_from_db)()
    assert alice.agreement_version == 0


@pytestmark_ws
async def test_ignoring_is_the_readers_own_filter(
    connect: Any, make_membership: Any, room: Room
) -> None:
    """Ignoring is a member's own filter: a moderator who ignores nobody sees everything."""

    def make() -> tuple[Membership, str]:
        mod = staff_membership(room, role="moderator")
        return mod, login_session(mod.user)

    alice = await database_sync_to_async(make_membership)(pseudonym="Alice")
    bob = await database_sync_to_async(make_membership)(pseudonym="Bob")
    mod, key = await database_sync_to_async(make)()
    async with connect(alice) as a, connect(bob) as b, connect(mod, session_key=key) as m:
        await a.send_json_to({"type": "ignore", "pseudonym": "Bob", "ref": "i1"})
        await answer_to(a, "i1")
        await b.send_json_to({"type": "send", "client_id": "b1", "body": "hello"})
        assert (await next_frame(m, "message"))["body"] == "hello"
