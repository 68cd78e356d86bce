"""Facilitator and moderator tools over the room socket: each takes effect for every client
at once, is refused for roles that may not use it, is audited, and is told to the person it
concerns privately."""

from __future__ import annotations

from typing import Any

import pytest
from channels.db import database_sync_to_async

from chatserver.models import AuditEntry
from rooms.models import Membership, Message, Room
from tests.conftest import login_session
from tests.factories import staff_membership
from tests.wsutil import answer_to, closed_with, next_error, next_frame

pytestmark = pytest.mark.django_db(transaction=True)


async def _staff(room: Room, role: str = "facilitator", **kwargs: Any) -> tuple[Membership, str]:
    def make() -> tuple[Membership, str]:
        membership = staff_membership(room, role=role, **kwargs)
        return membership, login_session(membership.user)

    return await database_sync_to_async(make)()


async def _send(ws: Any, body: str, client_id: str, **extra: Any) -> dict[str, Any]:
    await ws.send_json_to({"type": "send", "client_id": client_id, "body": body, **extra})
    return await next_frame(ws, "ack")


async def _act(ws: Any, frame: dict[str, Any]) -> dict[str, Any]:
    """Send an action and return its answer (``done`` or ``error``) for its ref."""
    await ws.send_json_to(frame)
    return await answer_to(ws, frame["ref"])


async def _audit_actions() -> list[str]:
    return await database_sync_to_async(
        lambda: list(AuditEntry.objects.values_list("action", flat=True))
    )()


async def test_hide_reaches_everyone_author_is_told_and_moderators_still_read(
    connect: Any, make_membership: Any, room: Room
) -> None:
    alice = await database_sync_to_async(make_membership)(pseudonym="Alice")
    bob = await database_sync_to_async(make_membership)(pseudonym="Bob")
    fac, fac_key = await _staff(room)
    mod, mod_key = await _staff(room, role="moderator")
    async with (
        connect(alice) as a,
        connect(bob) as b,
        connect(fac, session_key=fac_key) as f,
        connect(mod, session_key=mod_key) as m,
    ):
        seq = (await _send(a, "my address is 1 High Street", "c1"))["seq"]
        answer = await _act(f, {"type": "hide", "seq": seq, "reason": "identifying", "ref": "h1"})
        assert answer["type"] == "done"
        hidden = await next_frame(b, "hidden")
        assert hidden["target"] == seq and hidden["reason"] == "identifying"
        assert hidden["seq"] == seq + 1  # its own entry in the log
        told = await next_frame(a, "moderated")
        assert told["action"] == "hidden" and told["seq"] == seq
        assert "identify" in told["message"]
        # The other facilitators present see who did it.
        action = await next_frame(m, "mod_action")
        assert action["action"] == "hide" and action["actor"] == fac.pseudonym
        # A member resuming later sees it hidden without its text; a moderator can still read it.
        await b.send_json_to({"type": "history", "limit": 10})
        page = (await next_frame(b, "history"))["messages"]
        entry = next(e for e in page if e["seq"] == seq)
        assert entry["hidden"] is True and entry["body"] is None
        await m.send_json_to({"type": "history", "limit": 10})
        page = (await next_frame(m, "history"))["messages"]
        entry = next(e for e in page if e["seq"] == seq)
        assert entry["hidden"] is True and entry["body"] == "my address is 1 High Street"
    stored = await database_sync_to_async(Message.objects.get)(room=room, seq=seq)
    assert stored.hidden_at is not None and stored.ciphertext is not None  # soft delete
    assert "message.hide" in await _audit_actions()


async def test_members_cannot_use_facilitator_tools(
    connect: Any, make_membership: Any, room: Room
) -> None:
    alice = await database_sync_to_async(make_membership)(pseudonym="Alice")
    bob = await database_sync_to_async(make_membership)(pseudonym="Bob")
    async with connect(alice) as a, connect(bob) as b:
        seq = (await _send(b, "hello", "c1"))["seq"]
        for frame in [
            {"type": "hide", "seq": seq, "reason": "spam", "ref": "r1"},
            {"type": "mute", "pseudonym": "Bob", "minutes": 5, "ref": "r2"},
            {"type": "remove", "pseudonym": "Bob", "ref": "r3"},
            {"type": "pin", "seq": seq, "ref": "r4"},
            {"type": "slow_mode", "seconds": 30, "ref": "r5"},
            {"type": "set_room_state", "state": "paused", "ref": "r6"},
            {"type": "announce", "body": "hi all", "ref": "r7"},
            {"type": "ban", "pseudonym": "Bob", "scope": "room", "ref": "r8"},
        ]:
            answer = await _act(a, frame)
            assert answer["type"] == "error" and answer["code"] == "forbidden", frame
            assert "your role (member) cannot" in answer["message"]
        # The socket stays open and nothing changed.
        await a.send_json_to({"type": "ping"})
        assert (await next_frame(a, "pong"))["type"] == "pong"
    stored = await database_sync_to_async(Message.objects.get)(room=room, seq=seq)
    assert stored.hidden_at is None


async def test_facilitator_cannot_ban_or_act_on_a_moderator(
    connect: Any, make_membership: Any, room: Room
) -> None:
    await database_sync_to_async(make_membership)(pseudonym="Bob")
    fac, fac_key = await _staff(room)
    await _staff(room, role="moderator", pseudonym="Mod Kim")
    async with connect(fac, session_key=fac_key) as f:
        ban = await _act(f, {"type": "ban", "pseudonym": "Bob", "scope": "room", "ref": "b"})
        assert ban["code"] == "forbidden" and "moderators" in ban["message"]
        mute = await _act(f, {"type": "mute", "pseudonym": "Mod Kim", "minutes": 5, "ref": "m"})
        assert mute["code"] == "forbidden" and "more trusted" in mute["message"]
        unknown = await _act(f, {"type": "mute", "pseudonym": "Nobody", "minutes": 5, "ref": "u"})
        assert unknown["code"] == "not_found"


async def test_mute_stops_posting_until_lifted_and_the_member_is_told(
    connect: Any, make_membership: Any, room: Room
) -> None:
    alice = await database_sync_to_async(make_membership)(pseudonym="Alice")
    fac, fac_key = await _staff(room)
    async with connect(alice) as a, connect(fac, session_key=fac_key) as f:
        await _send(a, "before", "c1")
        assert (await _act(f, {"type": "mute", "pseudonym": "Alice", "minutes": 10, "ref": "m1"}))[
            "type"
        ] == "done"
        told = await next_frame(a, "moderated")
        assert told["action"] == "muted" and told["until"]
        await a.send_json_to({"type": "send", "client_id": "c2", "body": "during"})
        refused = await next_error(a)
        assert refused["code"] == "muted" and refused["ref"] == "c2"
        assert 590 < refused["retry_after"] <= 600
        # Reading still works while muted.
        await a.send_json_to({"type": "history"})
        assert (await next_frame(a, "history"))["messages"][0]["body"] == "before"
        await _act(f, {"type": "mute", "pseudonym": "Alice", "minutes": 0, "ref": "m2"})
        assert (await next_frame(a, "moderated"))["action"] == "unmuted"
        assert (await _send(a, "after", "c3"))["seq"] == 2
    assert await database_sync_to_async(Message.objects.filter(room=room).count)() == 2
    actions = await _audit_actions()
    assert "member.mute" in actions and "member.unmute" in actions


async def test_mute_applies_even_to_a_socket_that_missed_the_event(
    make_membership: Any, room: Room
) -> None:
    """The send path re-reads mutes when the room's moderation counter moves, so a lost
    channel-layer event cannot leave a muted member posting."""
    from moderation import room_actions
    from rooms import services
    from rooms.errors import Muted

    def run() -> None:
        alice = make_membership(pseudonym="Alice")
        fac = staff_membership(room)
        services.message_send(membership=alice, client_id="c1", body="one")
        room_actions.mute(actor=fac, pseudonym="Alice", minutes=5)
        with pytest.raises(Muted):
            services.message_send(membership=alice, client_id="c2", body="two")

    await database_sync_to_async(run)()


async def test_removed_or_departed_members_cannot_post_even_if_the_close_was_lost(
    make_membership: Any, room: Room
) -> None:
    from moderation import room_actions
    from rooms import preferences, services
    from rooms.errors import NotAllowed

    def run() -> None:
        alice = make_membership(pseudonym="Alice")
        bob = make_membership(pseudonym="Bob")
        fac = staff_membership(room)
        services.message_send(membership=alice, client_id="a1", body="one")
        services.message_send(membership=bob, client_id="b1", body="one")
        room_actions.remove(actor=fac, pseudonym="Alice")
        preferences.leave(membership=Membership.objects.get(pk=bob.pk))
        for stale in (alice, bob):  # the objects their sockets still hold
            with pytest.raises(NotAllowed, match="no longer in this room"):
                services.message_send(membership=stale, client_id="x", body="two")

    await database_sync_to_async(run)()


async def test_slow_mode_spaces_a_members_messages_but_not_a_facilitators(
    connect: Any, make_membership: Any, room: Room
) -> None:
    alice = await database_sync_to_async(make_membership)(pseudonym="Alice")
    fac, fac_key = await _staff(room)
    async with connect(alice) as a, connect(fac, session_key=fac_key) as f:
        await _act(f, {"type": "slow_mode", "seconds": 60, "ref": "s1"})
        state = await next_frame(a, "room_state")
        assert state == {"type": "room_state", "state": "open", "slow_mode_seconds": 60}
        await _send(a, "one", "c1")
        await a.send_json_to({"type": "send", "client_id": "c2", "body": "two"})
        refused = await next_error(a)
        assert refused["code"] == "slow_mode" and 55 < refused["retry_after"] <= 60
        await _send(f, "facilitators are not slowed", "f1")
        await _send(f, "at all", "f2")
        await _act(f, {"type": "slow_mode", "seconds": 0, "ref": "s2"})
        await _send(a, "two", "c3")


async def test_pause_and_reopen_reach_every_client(
    connect: Any, make_membership: Any, room: Room
) -> None:
    alice = await database_sync_to_async(make_membership)(pseudonym="Alice")
    fac, fac_key = await _staff(room)
    async with connect(alice) as a, connect(fac, session_key=fac_key) as f:
        await _act(f, {"type": "set_room_state", "state": "paused", "ref": "p1"})
        assert (await next_frame(a, "room_state"))["state"] == "paused"
        await a.send_json_to({"type": "send", "client_id": "c1", "body": "hi"})
        refused = await next_error(a)
        assert refused["code"] == "room_paused"
        await _send(f, "We are taking a short break.", "f1")
        await _act(f, {"type": "set_room_state", "state": "open", "ref": "p2"})
        assert (await next_frame(a, "room_state"))["state"] == "open"
        await _send(a, "hi", "c2")
    actions = await _audit_actions()
    assert "room.pause" in actions and "room.reopen" in actions


async def test_pin_and_unpin_send_the_whole_list_and_new_sockets_get_it(
    connect: Any, make_membership: Any, room: Room
) -> None:
    alice = await database_sync_to_async(make_membership)(pseudonym="Alice")
    fac, fac_key = await _staff(room)
    async with connect(alice) as a, connect(fac, session_key=fac_key) as f:
        seq = (await _send(f, "Group starts at 7pm", "f1"))["seq"]
        await _act(f, {"type": "pin", "seq": seq, "ref": "p1"})
        pins = await next_frame(a, "pins")
        assert pins["items"] == [
            {"seq": seq, "author": fac.pseudonym, "body": "Group starts at 7pm"}
        ]
        missing = await _act(f, {"type": "pin", "seq": 99, "ref": "p2"})
        assert missing["code"] == "not_found"
    async with connect(alice) as again:
        assert again.welcome["pins"][0]["seq"] == seq
        async with connect(fac, session_key=fac_key) as f:
            await _act(f, {"type": "unpin", "seq": seq, "ref": "u1"})
            assert (await next_frame(again, "pins"))["items"] == []


async def test_announcement_is_a_logged_sealed_message(
    connect: Any, make_membership: Any, room: Room
) -> None:
    alice = await database_sync_to_async(make_membership)(pseudonym="Alice")
    fac, fac_key = await _staff(room)
    async with connect(alice) as a, connect(fac, session_key=fac_key) as f:
        await _act(f, {"type": "announce", "body": "Ten minutes left tonight.", "ref": "a1"})
        frame = await next_frame(a, "message")
        assert frame["announcement"] is True and frame["body"] == "Ten minutes left tonight."
        empty = await _act(f, {"type": "announce", "body": "  ", "ref": "a2"})
        assert empty["code"] == "empty_message"
    stored = await database_sync_to_async(Message.objects.get)(room=room, seq=frame["seq"])
    assert stored.kind == "announcement"
    assert b"Ten minutes" not in bytes(stored.ciphertext)


async def test_remove_closes_the_members_sockets_and_they_must_accept_again(
    connect: Any, make_membership: Any, room: Room
) -> None:
    alice = await database_sync_to_async(make_membership)(pseudonym="Alice")
    fac, fac_key = await _staff(room)
    async with connect(alice) as a, connect(fac, session_key=fac_key) as f:
        await _act(f, {"type": "remove", "pseudonym": "Alice", "ref": "r1"})
        assert (await next_frame(a, "moderated"))["action"] == "removed"
        assert await closed_with(a) == 4012
    async with connect(alice, expect_welcome=False) as again:
        await again.connect()
        refused = await again.receive_json_from(timeout=5)
        assert refused["code"] == "agreement_required"


async def test_ban_from_room_by_moderator_and_from_service_by_staff(
    connect: Any, make_membership: Any, room: Room
) -> None:
    alice = await database_sync_to_async(make_membership)(pseudonym="Alice")
    bob = await database_sync_to_async(make_membership)(pseudonym="Bob")
    mod, mod_key = await _staff(room, role="moderator")
    staff, staff_key = await _staff(room, role="staff")
    async with (
        connect(alice) as a,
        connect(bob) as b,
        connect(mod, session_key=mod_key) as m,
        connect(staff, session_key=staff_key) as s,
    ):
        service = await _act(
            m, {"type": "ban", "pseudonym": "Alice", "scope": "service", "ref": "x"}
        )
        assert service["code"] == "forbidden"
        await _act(m, {"type": "ban", "pseudonym": "Alice", "scope": "room", "ref": "b1"})
        assert (await next_frame(a, "moderated"))["action"] == "banned"
        assert await closed_with(a) == 4003
        await _act(s, {"type": "ban", "pseudonym": "Bob", "scope": "service", "ref": "b2"})
        assert await closed_with(b) == 4003
    bob_member = await database_sync_to_async(lambda: bob.member)()
    await database_sync_to_async(bob_member.refresh_from_db)()
    assert bob_member.banned_at is not None
    actions = await _audit_actions()
    assert "membership.ban" in actions and "member.ban" in actions


async def test_expired_training_cannot_facilitate(connect: Any, room: Room) -> None:
    fac, key = await _staff(room, trained=False)
    async with connect(fac, session_key=key, expect_welcome=False) as ws:
        await ws.connect()
        refused = await ws.receive_json_from(timeout=5)
        assert refused["code"] == "forbidden"
        assert "training" in refused["message"]
        assert await closed_with(ws) == 4003


async def test_moderation_entries_interleave_with_messages_in_one_gap_free_log(
    connect: Any, make_membership: Any, room: Room
) -> None:
    """Hide entries and announcements take sequence numbers under the same room lock as
    messages. (Writers on two processes at once are covered end to end in
    tests/e2e/test_scale_out.py; here one process's consumers interleave.)"""
    alice = await database_sync_to_async(make_membership)(pseudonym="Alice")
    (f1, k1), (f2, k2) = [await _staff(room) for _ in range(2)]
    async with (
        connect(alice) as a,
        connect(f1, session_key=k1) as x,
        connect(f2, session_key=k2) as y,
    ):
        first = (await _send(a, "one", "c1"))["seq"]
        second = (await _send(a, "two", "c2"))["seq"]
        assert (await _act(x, {"type": "hide", "seq": first, "reason": "spam", "ref": "h1"}))[
            "type"
        ] == "done"
        await _send(a, "three", "c3")
        await _act(y, {"type": "announce", "body": "note", "ref": "a1"})
        await _act(y, {"type": "hide", "seq": second, "reason": "other", "ref": "h2"})
        # Hiding twice is refused, and takes no number.
        again = await _act(x, {"type": "hide", "seq": first, "reason": "spam", "ref": "h3"})
        assert again["code"] == "not_found"
        await a.send_json_to({"type": "resume", "after": 0})
        entries = (await next_frame(a, "resumed"))["messages"]
    assert [e["seq"] for e in entries] == [1, 2, 3, 4, 5, 6]
    assert [e["type"] for e in entries] == [
        "message",
        "message",
        "hidden",
        "message",
        "message",
        "hidden",
    ]
    assert entries[2]["target"] == first and entries[5]["target"] == second
    assert entries[4]["announcement"] is True
