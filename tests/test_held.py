"""Messages held for review: a room's blocked terms, and critical risk in a room that holds
it. Nothing held reaches the room, the sender is told, facilitators decide, the log stays
gap-free, and a critical finding still alerts staff."""

from __future__ import annotations

from typing import Any

import pytest
from channels.db import database_sync_to_async

from moderation.held import blocked_term_found
from moderation.models import Escalation
from rooms.models import HeldMessage, Message, Room
from tests.conftest import login_session
from tests.factories import staff_membership
from tests.wsutil import next_error, next_frame

RISKY = "I have the pills in front of me and I'm going to take them all tonight."


@pytest.mark.parametrize(
    ("terms", "body", "found"),
    [
        ("bitcoin", "Buy BITCOIN now", True),
        ("bitcoin", "bitcoins are great", False),  # whole words only
        ("my dealer", "call my   dealer", True),  # any spacing inside a phrase
        ("cafe", "meet at the Café", True),  # accents folded
        ("", "anything", False),
        ("spam\n\n  \n", "this is not it", False),
    ],
)
def test_blocked_terms_match_whole_words_case_and_accent_insensitively(
    terms: str, body: str, found: bool
) -> None:
    assert blocked_term_found(terms, body) is found


async def _fac(room: Room) -> tuple[Any, str]:
    def make() -> tuple[Any, str]:
        membership = staff_membership(room)
        return membership, login_session(membership.user)

    return await database_sync_to_async(make)()


async def _drain(ws: Any) -> list[str]:
    """The types of every frame waiting on the socket."""
    seen = []
    while not await ws.receive_nothing(timeout=0.3):
        seen.append((await ws.receive_json_from())["type"])
    return seen


async def _set(room: Room, **fields: Any) -> None:
    await database_sync_to_async(Room.objects.filter(pk=room.pk).update)(**fields)


@pytest.mark.django_db(transaction=True)
async def test_blocked_term_holds_for_review_and_release_publishes_it(
    connect: Any, make_membership: Any, room: Room
) -> None:
    await _set(room, blocked_terms="bitcoin\ntelegram")
    alice = await database_sync_to_async(make_membership)(pseudonym="Alice")
    bob = await database_sync_to_async(make_membership)(pseudonym="Bob")
    fac, key = await _fac(room)
    async with connect(alice) as a, connect(bob) as b, connect(fac, session_key=key) as f:
        await a.send_json_to({"type": "send", "client_id": "c1", "body": "add me on Telegram"})
        held = await next_frame(a, "held")
        assert held["client_id"] == "c1" and held["reason"] == "blocked_term"
        assert "facilitator" in held["message"]
        queue = await next_frame(f, "held_queue")
        (item,) = queue["items"]
        assert item["author"] == "Alice" and item["body"] == "add me on Telegram"
        # The same client id again is the same held message, not a second one.
        await a.send_json_to({"type": "send", "client_id": "c1", "body": "add me on Telegram"})
        assert (await next_frame(a, "held"))["client_id"] == "c1"
        assert "message" not in await _drain(b)  # nothing reached the room
        await f.send_json_to({"type": "release", "id": item["id"], "ref": "r1"})
        published = await next_frame(b, "message")
        assert published["body"] == "add me on Telegram" and published["seq"] == 1
        decision = await next_frame(a, "held_decision")
        assert decision == {
            "type": "held_decision",
            "client_id": "c1",
            "status": "released",
            "seq": 1,
        }
        assert (await next_frame(f, "held_queue"))["items"] == []
        # A retry of the released client id is acknowledged as the published message.
        await a.send_json_to({"type": "send", "client_id": "c1", "body": "add me on Telegram"})
        ack = await next_frame(a, "ack")
        assert ack["seq"] == 1 and ack["duplicate"] is True
    row = await database_sync_to_async(HeldMessage.objects.get)(client_id="c1")
    assert row.status == "released" and row.ciphertext is None
    stored = await database_sync_to_async(Message.objects.get)(room=room, seq=1)
    assert b"Telegram" not in bytes(stored.ciphertext)


@pytest.mark.django_db(transaction=True)
async def test_rejected_message_is_destroyed_and_the_sender_told(
    connect: Any, make_membership: Any, room: Room
) -> None:
    await _set(room, blocked_terms="bitcoin")
    alice = await database_sync_to_async(make_membership)(pseudonym="Alice")
    fac, key = await _fac(room)
    async with connect(alice) as a, connect(fac, session_key=key) as f:
        await a.send_json_to({"type": "send", "client_id": "c1", "body": "bitcoin scheme"})
        await next_frame(a, "held")
        (item,) = (await next_frame(f, "held_queue"))["items"]
        await f.send_json_to({"type": "reject", "id": item["id"], "ref": "r1"})
        decision = await next_frame(a, "held_decision")
        assert decision["status"] == "rejected" and "seq" not in decision
        await f.send_json_to({"type": "reject", "id": item["id"], "ref": "r2"})
        again = await next_error(f)
        assert again["code"] == "not_found"
        # Members cannot review held messages.
        await a.send_json_to({"type": "release", "id": item["id"], "ref": "r3"})
        refused = await next_error(a)
        assert refused["code"] == "forbidden"
    row = await database_sync_to_async(HeldMessage.objects.get)(pk=item["id"])
    assert row.status == "rejected" and row.ciphertext is None
    assert await database_sync_to_async(Message.objects.count)() == 0


@pytest.mark.django_db(transaction=True)
async def test_hold_policy_holds_risky_messages_but_still_alerts_and_signposts(
    connect: Any, make_membership: Any, room: Room
) -> None:
    await _set(room, risky_messages="hold")
    alice = await database_sync_to_async(make_membership)(pseudonym="Alice")
    bob = await database_sync_to_async(make_membership)(pseudonym="Bob")
    fac, key = await _fac(room)
    async with connect(alice) as a, connect(bob) as b, connect(fac, session_key=key) as f:
        await a.send_json_to({"type": "send", "client_id": "c1", "body": RISKY})
        frames = {}
        while not {"held", "signpost"} <= set(frames):
            frame = await a.receive_json_from(timeout=5)
            frames[frame["type"]] = frame
        assert frames["held"]["reason"] == "risk"
        assert "not in trouble" in frames["held"]["message"]
        seen: dict[str, Any] = {}
        while not {"held_queue", "risk_notice"} <= set(seen):
            frame = await f.receive_json_from(timeout=5)
            seen[frame["type"]] = frame
        assert seen["risk_notice"]["author"] == "Alice"
        assert "message" not in await _drain(b)
        # A message that is not critical is published as usual.
        await a.send_json_to({"type": "send", "client_id": "c2", "body": "thanks everyone"})
        assert (await next_frame(b, "message"))["seq"] == 1
        # Released after review, it is folded for other members like any risky message,
        # and the facilitators' history marks it.
        (item,) = seen["held_queue"]["items"]
        await f.send_json_to({"type": "release", "id": item["id"], "ref": "r1"})
        released = await next_frame(b, "message")
        assert released["body"] == RISKY and released["care"] == "suicide"
        await f.send_json_to({"type": "history"})
        page = await next_frame(f, "history")
        assert page["messages"][-1]["risk"] == {"category": "suicide", "severity": "critical"}
    escalation = await database_sync_to_async(Escalation.objects.get)()
    assert escalation.severity == "critical" and escalation.message_id is None


@pytest.mark.django_db(transaction=True)
async def test_without_holding_risky_messages_are_published_folded_or_shown(
    connect: Any, make_membership: Any, room: Room
) -> None:
    alice = await database_sync_to_async(make_membership)(pseudonym="Alice")
    bob = await database_sync_to_async(make_membership)(pseudonym="Bob")
    async with connect(alice) as a, connect(bob) as b:
        await a.send_json_to({"type": "send", "client_id": "c1", "body": RISKY})
        assert (await next_frame(a, "ack"))["seq"] == 1
        published = await next_frame(b, "message")
        # The default: the text reaches everyone, marked to fold behind a care note.
        assert published["body"] == RISKY and published["care"] == "suicide"
        await _set(room, risky_messages="show")
        await a.send_json_to({"type": "send", "client_id": "c2", "body": RISKY + " Really."})
        shown = await next_frame(b, "message")
        assert shown["seq"] == 2 and "care" not in shown
