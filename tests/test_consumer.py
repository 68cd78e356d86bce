"""The room websocket, through Channels' WebsocketCommunicator: framing, errors, close codes,
delivery and resume. Database work happens in threads, hence transaction=True."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from typing import Any

import pytest
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.utils import timezone

from chatserver.sessions import session_row
from rooms import services
from rooms.models import Message, Room
from tests.conftest import login_session, session_for
from tests.factories import staff_membership
from tests.wsutil import closed_with, next_frame

pytestmark = pytest.mark.django_db(transaction=True)


async def test_welcome_describes_room_and_pseudonym(connect: Any, make_membership: Any) -> None:
    membership = await database_sync_to_async(make_membership)(pseudonym="Quiet Heron")
    async with connect(membership) as ws:
        welcome = ws.welcome
        assert welcome["protocol"] == 1
        assert welcome["room"] == {
            "slug": "circle",
            "title": "Circle",
            "state": "open",
            "slow_mode_seconds": 0,
        }
        assert welcome["you"] == {
            "pseudonym": "Quiet Heron",
            "role": "member",
            "blur": [],
            "ignoring": [],
            "muted_until": None,
        }
        assert welcome["latest_seq"] == 0
        assert welcome["limits"]["max_message_chars"] == 4000
        presence = await next_frame(ws, "presence")
        assert presence["members"] == [{"pseudonym": "Quiet Heron", "role": "member"}]


async def test_send_is_acked_and_broadcast_to_others(connect: Any, make_membership: Any) -> None:
    alice = await database_sync_to_async(make_membership)(pseudonym="Alice Pseud")
    bob = await database_sync_to_async(make_membership)(pseudonym="Bob Pseud")
    async with connect(alice) as a, connect(bob) as b:
        await a.send_json_to({"type": "send", "client_id": "m1", "body": "hello there"})
        ack = await next_frame(a, "ack")
        assert ack["client_id"] == "m1" and ack["seq"] == 1 and "duplicate" not in ack
        got = await next_frame(b, "message")
        assert got["seq"] == 1 and got["author"] == "Alice Pseud" and got["body"] == "hello there"
        assert "member" not in json.dumps(got)  # no member id in any frame
        own = await next_frame(a, "message")
        assert own["seq"] == 1


async def test_resend_same_client_id_is_not_duplicated(connect: Any, make_membership: Any) -> None:
    alice = await database_sync_to_async(make_membership)()
    async with connect(alice) as a:
        for _ in range(2):
            await a.send_json_to({"type": "send", "client_id": "same", "body": "once"})
        first = await next_frame(a, "ack")
        second = await next_frame(a, "ack")
        assert first["seq"] == second["seq"] == 1
        assert second["duplicate"] is True
    assert await database_sync_to_async(Message.objects.count)() == 1


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("{not json", "bad_json"),
        ('{"type": "shout"}', "unknown_type"),
        ('{"body": "no type"}', "unknown_type"),
        ('{"type": "send", "client_id": "x", "body": 7}', "invalid_frame"),
        ('{"type": "send", "client_id": "x", "body": "hi", "admin": true}', "invalid_frame"),
        ('{"type": "send", "client_id": "bad id!", "body": "hi"}', "invalid_frame"),
        ('{"type": "history", "limit": 100000}', "invalid_frame"),
        ("[1, 2]", "invalid_frame"),
        ('{"type": "send", "client_id": "x", "body": "   "}', "empty_message"),
        (json.dumps({"type": "send", "client_id": "x", "body": "a" * 4001}), "message_too_long"),
        ('{"type": "delete", "seq": 99}', "not_found"),
    ],
)
async def test_bad_frames_get_error_and_socket_stays_usable(
    connect: Any, make_membership: Any, raw: str, code: str
) -> None:
    alice = await database_sync_to_async(make_membership)()
    async with connect(alice) as a:
        await a.send_to(text_data=raw)
        error = await next_frame(a, "error")
        assert error["code"] == code
        await a.send_json_to({"type": "ping"})
        assert (await next_frame(a, "pong"))["type"] == "pong"


async def test_oversize_frame_is_refused_and_closed(connect: Any, make_membership: Any) -> None:
    alice = await database_sync_to_async(make_membership)()
    async with connect(alice) as a:
        await a.send_to(
            text_data=json.dumps({"type": "send", "client_id": "x", "body": "é" * 40_000})
        )
        assert (await next_frame(a, "error"))["code"] == "frame_too_large"
        assert await closed_with(a) == 1009


async def test_binary_frame_is_refused(connect: Any, make_membership: Any) -> None:
    alice = await database_sync_to_async(make_membership)()
    async with connect(alice) as a:
        await a.send_to(bytes_data=b"\x00\x01")
        assert (await next_frame(a, "error"))["code"] == "invalid_frame"


async def test_one_members_bad_input_does_not_affect_others(
    connect: Any, make_membership: Any
) -> None:
    alice = await database_sync_to_async(make_membership)()
    bob = await database_sync_to_async(make_membership)()
    async with connect(alice) as a, connect(bob) as b:
        await a.send_to(text_data="\x00garbage")
        await next_frame(a, "error")
        await b.send_json_to({"type": "send", "client_id": "b1", "body": "still fine"})
        assert (await next_frame(a, "message"))["body"] == "still fine"


async def test_unknown_room_closes_4004(connect: Any, make_membership: Any) -> None:
    alice = await database_sync_to_async(make_membership)()
    async with connect(alice, slug="nowhere", expect_welcome=False) as ws:
        assert (await ws.connect())[0]
        assert (await ws.receive_json_from())["code"] == "room_not_found"
        assert await closed_with(ws) == 4004


async def test_no_session_closes_4001(connect: Any, room: Room) -> None:
    async with connect(slug=room.slug, session_key=None, expect_welcome=False) as ws:
        await ws.connect()
        assert (await ws.receive_json_from())["code"] == "not_authenticated"
        assert await closed_with(ws) == 4001


async def test_member_who_has_not_joined_closes_4003(connect: Any, make_membership: Any) -> None:
    other_room = await database_sync_to_async(
        lambda: Room.objects.create(slug="other", title="Other")
    )()
    alice = await database_sync_to_async(make_membership)()
    async with connect(alice, slug=other_room.slug, expect_welcome=False) as ws:
        await ws.connect()
        assert (await ws.receive_json_from())["code"] == "forbidden"
        assert await closed_with(ws) == 4003


async def test_private_rooms_answer_like_no_room_on_the_socket(
    connect: Any, make_membership: Any
) -> None:
    """Issue 13, finding 1, over the room socket: a facilitator (password only) opened any
    invite-only room by name, and "no such room" closed 4004 while "not for you" closed 4003.
    Now both get the same error frame, byte for byte, and the same close code."""

    def setup() -> tuple[str, str]:
        Room.objects.create(slug="survivors-group", title="Group", visibility="invite")
        Room.objects.create(slug="support-abc", title="Private support", visibility="support")
        facilitator = staff_membership(Room.objects.create(slug="theirs", title="Theirs"))
        member = make_membership()
        return login_session(facilitator.user), session_for(member.member)

    facilitator_key, member_key = await database_sync_to_async(setup)()
    answers = set()
    for key in (facilitator_key, member_key):
        for slug in ("no-room-has-this-name", "survivors-group", "support-abc"):
            async with connect(slug=slug, session_key=key, expect_welcome=False) as ws:
                assert (await ws.connect())[0]
                answers.add((await ws.receive_from(), await closed_with(ws)))
    assert len(answers) == 1, answers
    text, code = answers.pop()
    assert json.loads(text) == {
        "type": "error",
        "code": "room_not_found",
        "message": "there is no room by that name",
    }
    assert code == 4004


async def test_changed_agreement_must_be_accepted_again(connect: Any, make_membership: Any) -> None:
    alice = await database_sync_to_async(make_membership)()
    await database_sync_to_async(
        lambda: alice.room.agreements.create(version=2, text="New rules")
    )()
    async with connect(alice, expect_welcome=False) as ws:
        await ws.connect()
        assert (await ws.receive_json_from())["code"] == "agreement_required"
        assert await closed_with(ws) == 4003


async def test_closed_room_closes_4010(connect: Any, make_membership: Any) -> None:
    alice = await database_sync_to_async(make_membership)()
    await database_sync_to_async(Room.objects.filter(pk=alice.room_id).update)(state="closed")
    async with connect(alice, expect_welcome=False) as ws:
        await ws.connect()
        assert (await ws.receive_json_from())["code"] == "room_closed"
        assert await closed_with(ws) == 4010


async def test_cross_site_origin_is_refused(connect: Any, make_membership: Any) -> None:
    alice = await database_sync_to_async(make_membership)()
    async with connect(alice, origin=b"https://evil.example", expect_welcome=False) as ws:
        connected, _ = await ws.connect()
        assert not connected


async def test_paused_room_refuses_member_messages(connect: Any, make_membership: Any) -> None:
    alice = await database_sync_to_async(make_membership)()
    async with connect(alice) as a:
        await database_sync_to_async(services.room_set_state)(room=alice.room, state="paused")
        assert (await next_frame(a, "room_state"))["state"] == "paused"
        await a.send_json_to({"type": "send", "client_id": "p1", "body": "hello?"})
        error = await next_frame(a, "error")
        assert error["code"] == "room_paused" and error["ref"] == "p1"


async def test_closing_room_disconnects_members(connect: Any, make_membership: Any) -> None:
    alice = await database_sync_to_async(make_membership)()
    async with connect(alice) as a:
        await database_sync_to_async(services.room_set_state)(room=alice.room, state="closed")
        assert await closed_with(a) == 4010


async def test_flooding_is_rate_limited_then_closed(
    connect: Any, make_membership: Any, settings: Any
) -> None:
    settings.CHAT_RATE_PER_SECOND = 0.01
    settings.CHAT_RATE_BURST = 2
    settings.CHAT_RATE_STRIKES = 3
    alice = await database_sync_to_async(make_membership)()
    async with connect(alice) as a:
        for n in range(6):
            await a.send_json_to({"type": "send", "client_id": f"f{n}", "body": "spam"})
        acks = [await next_frame(a, "ack") for _ in range(2)]
        assert [x["seq"] for x in acks] == [1, 2]
        limited = await next_frame(a, "error")
        assert limited["code"] == "rate_limited" and limited["retry_after"] > 0
        assert await closed_with(a) == 4029
    assert await database_sync_to_async(Message.objects.count)() == 2


async def test_logout_closes_open_sockets(connect: Any, make_membership: Any) -> None:
    alice = await database_sync_to_async(make_membership)()
    from tests.conftest import session_for

    key = await database_sync_to_async(session_for)(alice.member)
    async with connect(alice, session_key=key) as a:
        await database_sync_to_async(session_row(key).delete)()
        await database_sync_to_async(services.sockets_close_for_session)(key)
        assert await closed_with(a, timeout=2) == 4011


async def test_expired_session_closes_socket(connect: Any, make_membership: Any) -> None:
    alice = await database_sync_to_async(make_membership)()
    from tests.conftest import session_for

    key = await database_sync_to_async(session_for)(alice.member)
    soon = timezone.now() + timezone.timedelta(seconds=1)
    await database_sync_to_async(session_row(key).update)(expire_date=soon)
    async with connect(alice, session_key=key) as a:
        # The session watch finds it at its next round (every 2 s), not at the second.
        assert await closed_with(a, timeout=5) == 4001


async def test_expired_session_cannot_connect(connect: Any, make_membership: Any) -> None:
    alice = await database_sync_to_async(make_membership)()
    from tests.conftest import session_for

    key = await database_sync_to_async(session_for)(alice.member)
    past = timezone.now() - timezone.timedelta(seconds=1)
    await database_sync_to_async(session_row(key).update)(expire_date=past)
    async with connect(alice, session_key=key, expect_welcome=False) as ws:
        await ws.connect()
        assert (await ws.receive_json_from())["code"] == "not_authenticated"
        assert await closed_with(ws) == 4001


async def test_heartbeat_reveals_a_dropped_fanout_and_resume_recovers_it(
    connect: Any, make_membership: Any, settings: Any, monkeypatch: Any
) -> None:
    """The channel layer dropped a broadcast (as channels-redis does when a channel is
    full): the heartbeat's latest_seq shows the gap and resume returns the message."""
    settings.CHAT_HEARTBEAT_SECONDS = 0.2
    alice = await database_sync_to_async(make_membership)()
    bob = await database_sync_to_async(make_membership)()
    async with connect(alice) as a, connect(bob) as b:
        layer = get_channel_layer()
        original = layer.group_send

        async def dropping_group_send(group: str, message: dict[str, Any]) -> None:
            if message.get("seq"):
                return  # the fan-out of every stored message is lost
            await original(group, message)

        monkeypatch.setattr(layer, "group_send", dropping_group_send)
        await a.send_json_to({"type": "send", "client_id": "lost", "body": "did you get this?"})
        assert (await next_frame(a, "ack"))["seq"] == 1
        beat = await next_frame(b, "heartbeat", timeout=3)
        assert beat["latest_seq"] == 1
        await b.send_json_to({"type": "resume", "after": 0})
        resumed = await next_frame(b, "resumed")
        assert [m["body"] for m in resumed["messages"]] == ["did you get this?"]
        assert resumed["latest_seq"] == 1 and resumed["has_more"] is False


async def test_history_pages_backwards(connect: Any, make_membership: Any) -> None:
    alice = await database_sync_to_async(make_membership)()
    for n in range(5):
        await database_sync_to_async(services.message_send)(
            membership=alice, client_id=f"h{n}", body=f"m{n}"
        )
    async with connect(alice) as a:
        assert a.welcome["latest_seq"] == 5
        await a.send_json_to({"type": "history", "limit": 2})
        page = await next_frame(a, "history")
        assert [m["seq"] for m in page["messages"]] == [4, 5] and page["has_more"]
        await a.send_json_to({"type": "history", "before": 4, "limit": 3})
        page = await next_frame(a, "history")
        assert [m["body"] for m in page["messages"]] == ["m0", "m1", "m2"] and not page["has_more"]


async def _page(ws: Any, request: dict[str, Any], answer: str) -> tuple[dict[str, Any], int]:
    """Ask for one page as a client following docs/protocol.md does (waiting out
    ``rate_limited``), and return it with its size in bytes."""
    while True:
        await ws.send_json_to(request)
        while True:
            text = await ws.receive_from(timeout=10)
            frame = json.loads(text)
            if frame["type"] == answer:
                return frame, len(text.encode())
            if frame["type"] == "error":
                assert frame["code"] == "rate_limited", frame
                await asyncio.sleep(frame["retry_after"])
                break


@pytest.mark.parametrize(
    "text", ["We hold each other up here. ", "我们在这里互相支持慢慢来"], ids=["latin", "cjk"]
)
async def test_resume_of_200_long_missed_messages_gets_them_all(
    connect: Any, make_membership: Any, text: str
) -> None:
    """Issue 13, finding 16: resume with its default limit answered internal_error every time
    over long messages (the frame was over the limit). Every page now fits the limit the
    welcome announces, and asking again while has_more brings every message."""
    alice = await database_sync_to_async(make_membership)()
    bodies = [(f"{n} " + text * 4000)[:4000] for n in range(200)]
    requests = [
        services.SendRequest(membership=alice, client_id=f"c{n}", body=body)
        for n, body in enumerate(bodies)
    ]
    await database_sync_to_async(services.message_send_batch)(requests)
    async with connect(alice) as a:
        limit = a.welcome["limits"]["max_frame_bytes"]
        received: list[str] = []
        after = 0
        while True:
            page, size = await _page(a, {"type": "resume", "after": after}, "resumed")
            assert size <= limit and page["latest_seq"] == 200
            received += [m["body"] for m in page["messages"]]
            after = page["messages"][-1]["seq"]
            if not page["has_more"]:
                break
        assert received == bodies

        # Default history too: the newest page, then earlier ones while has_more.
        seqs: list[int] = []
        request: dict[str, Any] = {"type": "history"}
        while True:
            page, size = await _page(a, request, "history")
            assert size <= limit
            seqs = [m["seq"] for m in page["messages"]] + seqs
            if not page["has_more"]:
                break
            request = {"type": "history", "before": seqs[0]}
        assert seqs == list(range(1, 201))


async def test_resume_pages_forward_in_order(connect: Any, make_membership: Any) -> None:
    alice = await database_sync_to_async(make_membership)()
    for n in range(5):
        await database_sync_to_async(services.message_send)(
            membership=alice, client_id=f"r{n}", body=f"m{n}"
        )
    async with connect(alice) as a:
        await a.send_json_to({"type": "resume", "after": 1, "limit": 2})
        page = await next_frame(a, "resumed")
        assert [m["seq"] for m in page["messages"]] == [2, 3] and page["has_more"]
        await a.send_json_to({"type": "resume", "after": 3})
        page = await next_frame(a, "resumed")
        assert [m["seq"] for m in page["messages"]] == [4, 5] and not page["has_more"]


async def test_delete_own_message_is_broadcast_and_logged(
    connect: Any, make_membership: Any
) -> None:
    alice = await database_sync_to_async(make_membership)()
    bob = await database_sync_to_async(make_membership)()
    async with connect(alice) as a, connect(bob) as b:
        await a.send_json_to({"type": "send", "client_id": "d1", "body": "oops"})
        seq = (await next_frame(a, "ack"))["seq"]
        await b.send_json_to({"type": "delete", "seq": seq})
        assert (await next_frame(b, "error"))["code"] == "not_found"  # not bob's message
        await a.send_json_to({"type": "delete", "seq": seq})
        deleted = await next_frame(b, "deleted")
        assert deleted["target"] == seq and deleted["seq"] == seq + 1
        await b.send_json_to({"type": "resume", "after": 0})
        entries = (await next_frame(b, "resumed"))["messages"]
        assert entries[0]["deleted"] is True and entries[0]["body"] is None
        assert entries[1]["type"] == "deleted"


async def test_typing_reaches_others_and_is_coalesced(connect: Any, make_membership: Any) -> None:
    alice = await database_sync_to_async(make_membership)(pseudonym="Typing Wren")
    bob = await database_sync_to_async(make_membership)()
    async with connect(alice) as a, connect(bob) as b:
        await b.receive_json_from()  # bob's own presence
        for _ in range(3):
            await a.send_json_to({"type": "typing"})
        frame = await next_frame(b, "typing")
        assert frame["author"] == "Typing Wren"
        later = []
        while not await b.receive_nothing(timeout=0.3):
            later.append((await b.receive_json_from())["type"])
        assert "typing" not in later  # the other two were coalesced


async def test_presence_updates_when_someone_leaves(connect: Any, make_membership: Any) -> None:
    alice = await database_sync_to_async(make_membership)(pseudonym="A Stays")
    bob = await database_sync_to_async(make_membership)(pseudonym="B Leaves")
    async with connect(alice) as a:
        async with connect(bob):
            while True:
                frame = await next_frame(a, "presence")
                if len(frame["members"]) == 2:
                    break
        frame = await next_frame(a, "presence")
        assert [m["pseudonym"] for m in frame["members"]] == ["A Stays"]


async def test_internal_failure_answers_error_and_keeps_socket(
    connect: Any, make_membership: Any, monkeypatch: Any
) -> None:
    alice = await database_sync_to_async(make_membership)()

    def broken(**kwargs: Any) -> None:
        raise RuntimeError("database fell over")

    async with connect(alice) as a:
        monkeypatch.setattr(services, "_store_message", broken)
        await a.send_json_to({"type": "send", "client_id": "x1", "body": "hi"})
        error = await next_frame(a, "error")
        assert error["code"] == "internal_error" and error["ref"] == "x1"
        await a.send_json_to({"type": "ping"})
        await next_frame(a, "pong")


async def test_many_concurrent_senders_get_gap_free_sequence(
    connect: Any, make_membership: Any
) -> None:
    members = [await database_sync_to_async(make_membership)() for _ in range(4)]
    async with connect(members[0]) as a, connect(members[1]) as b, connect(members[2]) as c:
        sockets = [a, b, c]
        for n in range(5):
            for i, ws in enumerate(sockets):
                await ws.send_json_to({"type": "send", "client_id": f"s{i}-{n}", "body": "x"})
        seqs = []
        for ws in sockets:
            for _ in range(5):
                seqs.append((await next_frame(ws, "ack"))["seq"])
    assert sorted(seqs) == list(range(1, 16))
    await asyncio.sleep(0)


async def test_service_ban_closes_the_members_sockets(connect: Any, make_membership: Any) -> None:
    alice = await database_sync_to_async(make_membership)()
    async with connect(alice) as a:
        await database_sync_to_async(services.member_ban)(member=alice.member, actor="user:1")
        assert await closed_with(a, timeout=2) == 4003
    async with connect(alice, expect_welcome=False) as again:
        await again.connect()
        assert (await again.receive_json_from())["code"] == "forbidden"


async def test_room_ban_closes_only_that_room(connect: Any, make_membership: Any) -> None:
    alice = await database_sync_to_async(make_membership)()
    async with connect(alice) as a:
        await database_sync_to_async(services.membership_ban)(membership=alice, actor="user:1")
        assert await closed_with(a, timeout=2) == 4003


async def test_role_change_closes_staff_sockets(connect: Any, room: Room) -> None:
    from tests.conftest import login_session

    def facilitator() -> tuple[Any, str]:
        membership = staff_membership(room, role="facilitator")
        return membership, login_session(membership.user)

    membership, key = await database_sync_to_async(facilitator)()
    async with connect(membership, session_key=key) as ws:
        await database_sync_to_async(lambda: membership.user.groups.clear())()
        assert await closed_with(ws, timeout=2) == 4011


def _stuck_writer(monkeypatch: Any) -> threading.Event:
    """Make every batch wait in the database until the returned event is set."""
    from rooms import writer as writer_module

    real = writer_module.store_batch
    release = threading.Event()

    def stuck(prepared: Any, grants: Any) -> Any:
        release.wait(timeout=10)
        return real(prepared, grants)

    monkeypatch.setattr(writer_module, "store_batch", stuck)
    return release


async def test_a_saturated_writer_refuses_sends_with_when_to_resend(
    connect: Any, make_membership: Any, monkeypatch: Any
) -> None:
    """Overload slows senders down instead of letting every ack fall behind: past the queue's
    bound a send is refused (never stored) with ``rate_limited`` and a ``retry_after``, and
    the queued ones are still stored and acknowledged."""
    from rooms import writer as writer_module

    members = [await database_sync_to_async(make_membership)() for _ in range(4)]
    monkeypatch.setattr(writer_module, "MAX_PENDING", 2)
    release = _stuck_writer(monkeypatch)
    async with (
        connect(members[0]) as a,
        connect(members[1]) as b,
        connect(members[2]) as c,
        connect(members[3]) as d,
    ):
        await a.send_json_to({"type": "send", "client_id": "qa", "body": "hi"})
        await asyncio.sleep(0.3)  # taken into a batch, which is stuck in the database
        await b.send_json_to({"type": "send", "client_id": "qb", "body": "hi"})
        await c.send_json_to({"type": "send", "client_id": "qc", "body": "hi"})
        await asyncio.sleep(0.3)  # two waiting: the queue is full
        await d.send_json_to({"type": "send", "client_id": "qd", "body": "hi"})
        error = await next_frame(d, "error")
        assert error["code"] == "rate_limited" and error["ref"] == "qd"
        assert 0.5 <= error["retry_after"] <= 5
        release.set()
        for ws, client_id in ((a, "qa"), (b, "qb"), (c, "qc")):
            assert (await next_frame(ws, "ack"))["client_id"] == client_id
    count = await database_sync_to_async(Message.objects.filter(client_id="qd").count)()
    assert count == 0


async def test_the_welcome_comes_before_room_frames_that_arrive_while_entering(
    connect: Any, make_membership: Any, monkeypatch: Any
) -> None:
    """The hub hands a room's frames to a socket as soon as it joins, which is before the
    welcome is built: those frames wait and follow the welcome, in order, none dropped."""
    from rooms import consumers, events, values

    alice = await database_sync_to_async(make_membership)()
    real = consumers.entry_frames

    def publishing_meanwhile(slug: str, membership: Any) -> Any:
        note = values.RoomState(state="open")
        events.send_now(events.room_group(membership.room_id), events.room_frame_event(note))
        return real(slug, membership)

    monkeypatch.setattr(consumers, "entry_frames", publishing_meanwhile)
    async with connect(alice) as a:  # the fixture asserts the first frame is the welcome
        assert (await next_frame(a, "room_state"))["state"] == "open"


async def test_a_send_that_would_wait_too_long_for_its_ack_is_refused(
    connect: Any, make_membership: Any, monkeypatch: Any
) -> None:
    """The bound is also in time: when batches are slow, a send is refused once its ack
    would come later than the writer's limit, however short the queue."""
    from rooms import writer as writer_module

    a_member, b_member = [await database_sync_to_async(make_membership)() for _ in range(2)]
    release = _stuck_writer(monkeypatch)
    monkeypatch.setattr(writer_module.writer, "last_batch_seconds", 2.0)
    async with connect(a_member) as a, connect(b_member) as b:
        await a.send_json_to({"type": "send", "client_id": "ta", "body": "hi"})
        await asyncio.sleep(0.3)  # a batch of one is in the database; batches take 2 s
        await b.send_json_to({"type": "send", "client_id": "tb", "body": "hi"})
        error = await next_frame(b, "error")
        assert error["code"] == "rate_limited" and error["ref"] == "tb"
        release.set()
        assert (await next_frame(a, "ack"))["client_id"] == "ta"


async def test_a_send_during_a_database_outage_says_so_and_when_to_resend(
    connect: Any, make_membership: Any, monkeypatch: Any, caplog: Any
) -> None:
    """Hardening row 15: a send refused during a database outage answered ``internal_error``
    with no cause and logged a traceback. Now: its own code, ``retry_after``, a warning."""
    from django.db import OperationalError

    from rooms import writer as writer_module

    alice = await database_sync_to_async(make_membership)()

    def down(prepared: Any, grants: Any) -> Any:
        raise OperationalError('connection to server at "10.0.0.5", port 5432 failed')

    async with connect(alice) as a:
        monkeypatch.setattr(writer_module, "store_batch", down)
        await a.send_json_to({"type": "send", "client_id": "o1", "body": "hello"})
        error = await next_frame(a, "error")
        assert error["code"] == "store_unavailable" and error["ref"] == "o1"
        assert error["retry_after"] == 2.0
    assert "10.0.0.5" not in caplog.text and "Traceback" not in caplog.text
    assert any(r.levelname == "WARNING" and "not stored" in r.getMessage() for r in caplog.records)


async def test_a_session_cannot_open_more_sockets_than_its_cap(
    connect: Any, make_membership: Any, settings: Any
) -> None:
    """Hardening row 7: one member with 10 sockets had 80 messages accepted in about a
    second. Sockets per session are capped, and sends are counted once across them."""
    settings.CHAT_MAX_SOCKETS_PER_SESSION = 2
    settings.CHAT_RATE_BURST = 3
    settings.CHAT_RATE_PER_SECOND = 0.01
    alice = await database_sync_to_async(make_membership)()
    session_key = await database_sync_to_async(session_for)(alice.member)
    async with (
        connect(alice, session_key=session_key) as a,
        connect(alice, session_key=session_key) as b,
    ):
        async with connect(alice, session_key=session_key, expect_welcome=False) as c:
            await c.connect()
            error = await next_frame(c, "error")
            assert error["code"] == "too_many_sockets"
            assert await closed_with(c) == 4030
        accepted = refused = 0
        for n in range(4):
            for ws in (a, b):
                await ws.send_json_to({"type": "send", "client_id": f"r{n}{id(ws)}", "body": "x"})
        for ws in (a, b):
            answers = 0
            while answers < 4:
                frame = await ws.receive_json_from(timeout=5)
                if frame["type"] in ("ack", "error"):
                    answers += 1
                    accepted += frame["type"] == "ack"
                    refused += frame["type"] == "error" and frame["code"] == "rate_limited"
        assert accepted == 3 and refused == 5  # one bucket of 3 for both sockets


async def test_sends_made_at_the_allowed_rate_during_a_stall_are_not_refused_after_it(
    connect: Any, make_membership: Any, monkeypatch: Any, settings: Any
) -> None:
    """Hardening row 17: after a database stall, sends made at the allowed rate were refused
    ``rate_limited`` (and senders closed as flooding), because the limit counted frames when
    they were handled. It counts them as they arrive."""
    from rooms import writer as writer_module

    settings.CHAT_RATE_PER_SECOND = 4.0
    settings.CHAT_RATE_BURST = 1
    alice = await database_sync_to_async(make_membership)()
    real = writer_module.store_batch
    stalled = threading.Event()

    def stalling(prepared: Any, grants: Any) -> Any:
        if not stalled.is_set():
            stalled.set()
            time.sleep(2.0)  # the database stalls under the first send
        return real(prepared, grants)

    monkeypatch.setattr(writer_module, "store_batch", stalling)
    async with connect(alice) as a:
        for n in range(6):  # one every 0.3 s: within 4 a second, beyond a burst of 1
            await a.send_json_to({"type": "send", "client_id": f"st{n}", "body": "hi"})
            await asyncio.sleep(0.3)
        acked = set()
        while len(acked) < 6:
            frame = await a.receive_json_from(timeout=10)
            assert frame["type"] != "error", frame
            if frame["type"] == "ack":
                acked.add(frame["client_id"])
