"""Revocation that holds when the channel layer loses the close event (issue 13, row 2), on
both sockets through Channels' WebsocketCommunicator.

Every test drops all channel-layer events sent from synchronous code (what sign-out, erasure,
bans and role changes use to close sockets), as happens with Redis down. Sockets must still
close within the session watch's interval, with the documented close code, and a frame sent
after the revocation (before the watch comes round: its interval is set long) is refused
without being acted on: no ack, no stored message, no decrypted excerpt, no audit entry.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone

from chatserver.models import AuditEntry
from chatserver.sessions import session_row
from rooms import events
from rooms.keys import member_erase
from rooms.models import Membership, Message, Room
from tests.conftest import login_session, session_for
from tests.factories import staff_membership
from tests.test_escalations import raise_for
from tests.wsutil import closed_with, next_frame

pytestmark = pytest.mark.django_db(transaction=True)

# The default interval: what a deployment gets.
WATCH_SECONDS = 2.0
# Long enough that the watch never comes round during a test: the frame's own check refuses.
NO_WATCH_SECONDS = 600.0


@pytest.fixture(autouse=True)
def close_events_lost(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Every event published from synchronous code is lost, as with Redis down."""
    lost: list[str] = []
    monkeypatch.setattr(events, "send_now", lambda group, event: lost.append(event["type"]))
    yield lost


def _sign_out_member(session_key: str) -> None:
    client = Client()
    client.cookies["sessionid"] = session_key
    assert client.delete("/api/session").status_code == 200


def _sign_out_staff(session_key: str) -> None:
    client = Client()
    client.cookies["sessionid"] = session_key
    assert client.post("/api/staff/logout").status_code == 200


def _expire(session_key: str, seconds: float = 0.0) -> None:
    when = timezone.now() + timezone.timedelta(seconds=seconds)
    session_row(session_key).update(expire_date=when)


async def _refusal(ws: Any) -> dict[str, Any]:
    """The error answering the last frame; nothing that would mean it was acted on may come
    first (broadcasts such as presence are skipped)."""
    while True:
        frame = await ws.receive_json_from(timeout=5)
        assert frame["type"] not in {"ack", "held", "done", "escalation_detail", "report"}, frame
        if frame["type"] == "error":
            return frame


async def _closes_within(ws: Any, seconds: float) -> int:
    started = time.monotonic()
    code = await closed_with(ws, timeout=seconds + 2)
    assert time.monotonic() - started < seconds + 1.0
    return code


# --- the room socket --------------------------------------------------------------------------


async def test_member_sign_out_closes_the_room_socket(
    connect: Any, make_membership: Any, close_events_lost: list[str]
) -> None:
    alice = await database_sync_to_async(make_membership)()
    key = await database_sync_to_async(session_for)(alice.member)
    async with connect(alice, session_key=key) as ws:
        await database_sync_to_async(_sign_out_member)(key)
        assert "socket.close" in close_events_lost  # the fast path was tried, and lost
        assert await _closes_within(ws, WATCH_SECONDS) == 4011


async def test_a_send_after_sign_out_is_refused_and_not_stored(
    connect: Any, make_membership: Any, settings: Any
) -> None:
    """Issue 13 row 2: the send was acknowledged and stored 16 s after logout."""
    settings.CHAT_SESSION_CHECK_SECONDS = NO_WATCH_SECONDS
    alice = await database_sync_to_async(make_membership)()
    key = await database_sync_to_async(session_for)(alice.member)
    async with connect(alice, session_key=key) as ws:
        await database_sync_to_async(_sign_out_member)(key)
        await ws.send_json_to({"type": "send", "client_id": "late", "body": "still here?"})
        refused = await _refusal(ws)
        assert refused["code"] == "session_ended" and refused["ref"] == "late"
        assert await closed_with(ws) == 4011
    assert await database_sync_to_async(Message.objects.count)() == 0


async def test_session_expiry_closes_the_room_socket(connect: Any, make_membership: Any) -> None:
    alice = await database_sync_to_async(make_membership)()
    key = await database_sync_to_async(session_for)(alice.member)
    async with connect(alice, session_key=key) as ws:
        await database_sync_to_async(_expire)(key)
        assert await _closes_within(ws, WATCH_SECONDS) == 4001


async def test_erasure_closes_the_room_socket(connect: Any, make_membership: Any) -> None:
    alice = await database_sync_to_async(make_membership)()
    async with connect(alice) as ws:
        await database_sync_to_async(member_erase)(member=alice.member)
        assert await _closes_within(ws, WATCH_SECONDS) == 4011


async def test_a_room_ban_closes_the_socket(connect: Any, make_membership: Any) -> None:
    from rooms import services

    alice = await database_sync_to_async(make_membership)()
    async with connect(alice) as ws:
        await database_sync_to_async(services.membership_ban)(membership=alice, actor="user:1")
        assert await _closes_within(ws, WATCH_SECONDS) == 4003


async def test_a_removed_member_is_closed_with_4012(
    connect: Any, make_membership: Any, room: Room
) -> None:
    from moderation import room_actions

    def facilitator() -> Membership:
        return staff_membership(room)

    fac = await database_sync_to_async(facilitator)()
    alice = await database_sync_to_async(make_membership)()
    async with connect(alice) as ws:
        await database_sync_to_async(room_actions.remove)(actor=fac, pseudonym=alice.pseudonym)
        assert await _closes_within(ws, WATCH_SECONDS) == 4012


async def test_a_facilitator_whose_role_was_taken_cannot_act(
    connect: Any, make_membership: Any, room: Room, settings: Any
) -> None:
    settings.CHAT_SESSION_CHECK_SECONDS = NO_WATCH_SECONDS

    def facilitator() -> tuple[Membership, str]:
        membership = staff_membership(room)
        return membership, login_session(membership.user, second_factor=False)

    fac, key = await database_sync_to_async(facilitator)()
    alice = await database_sync_to_async(make_membership)()
    async with connect(fac, session_key=key) as ws:
        await database_sync_to_async(lambda: fac.user.groups.clear())()
        await ws.send_json_to(
            {"type": "mute", "pseudonym": alice.pseudonym, "minutes": 5, "ref": "m"}
        )
        refused = await _refusal(ws)
        assert refused["code"] == "session_ended" and refused["ref"] == "m"
        assert await closed_with(ws) == 4011
    alice_now = await database_sync_to_async(Membership.objects.get)(pk=alice.pk)
    assert alice_now.muted_until is None
    assert not await database_sync_to_async(
        AuditEntry.objects.filter(action="member.mute").exists
    )()


# --- the staff socket -------------------------------------------------------------------------


async def test_staff_sign_out_closes_the_staff_socket(
    connect_staff: Any, staff_user: User, close_events_lost: list[str]
) -> None:
    async with connect_staff(staff_user) as staff:
        assert (await staff.connect())[0]
        await next_frame(staff, "escalations")
        key = staff.session_key
        await database_sync_to_async(_sign_out_staff)(key)
        assert "socket.close" in close_events_lost
        assert await _closes_within(staff, WATCH_SECONDS) == 4011


async def test_escalation_detail_after_sign_out_is_refused(
    connect_staff: Any, make_membership: Any, staff_user: User, settings: Any
) -> None:
    """Issue 13 row 2: after signing out, the staff member could still open escalations
    with their decrypted excerpts."""
    settings.CHAT_SESSION_CHECK_SECONDS = NO_WATCH_SECONDS
    writer = await database_sync_to_async(make_membership)()
    escalation = await database_sync_to_async(raise_for)(writer)
    async with connect_staff(staff_user) as staff:
        await staff.connect()
        await next_frame(staff, "escalations")
        key = staff.session_key
        await database_sync_to_async(_sign_out_staff)(key)
        await staff.send_json_to({"type": "esc_view", "id": escalation.pk, "ref": "v1"})
        answer = await _refusal(staff)  # never escalation_detail
        assert answer["code"] == "session_ended" and answer["ref"] == "v1"
        assert await closed_with(staff) == 4011
    viewed = AuditEntry.objects.filter(action="escalation.view_content")
    assert not await database_sync_to_async(viewed.exists)()


async def test_session_expiry_closes_the_staff_socket(connect_staff: Any, staff_user: User) -> None:
    """Issue 13 row 2: a staff socket still answered escalation detail 100 s after its
    session's 60 s age."""
    async with connect_staff(staff_user) as staff:
        await staff.connect()
        await next_frame(staff, "escalations")
        key = staff.session_key
        await database_sync_to_async(_expire)(key, 1.0)
        assert await _closes_within(staff, 1.0 + WATCH_SECONDS) == 4001


async def test_escalation_detail_after_expiry_is_refused(
    connect_staff: Any, make_membership: Any, staff_user: User, settings: Any
) -> None:
    settings.CHAT_SESSION_CHECK_SECONDS = NO_WATCH_SECONDS
    writer = await database_sync_to_async(make_membership)()
    escalation = await database_sync_to_async(raise_for)(writer)
    async with connect_staff(staff_user) as staff:
        await staff.connect()
        await next_frame(staff, "escalations")
        key = staff.session_key
        await database_sync_to_async(_expire)(key)
        await staff.send_json_to({"type": "esc_view", "id": escalation.pk, "ref": "v2"})
        answer = await _refusal(staff)
        assert answer["code"] == "session_ended" and answer["ref"] == "v2"
        assert await closed_with(staff) == 4001


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(lambda u: u.groups.clear(), id="role taken away"),
        pytest.param(
            lambda u: User.objects.filter(pk=u.pk).update(is_active=False), id="deactivated"
        ),
    ],
)
async def test_a_role_change_closes_the_staff_socket(
    connect_staff: Any, staff_user: User, change: Any
) -> None:
    async with connect_staff(staff_user) as staff:
        await staff.connect()
        await next_frame(staff, "escalations")
        await database_sync_to_async(change)(staff_user)
        assert await _closes_within(staff, WATCH_SECONDS) == 4011


async def test_the_staff_socket_leaves_its_session_group_on_disconnect(
    connect_staff: Any, staff_user: User
) -> None:
    layer = get_channel_layer()
    async with connect_staff(staff_user) as staff:
        await staff.connect()
        await next_frame(staff, "escalations")
        key = staff.session_key
        group = events.session_group(key)
        assert len(layer.groups.get(group, {})) == 1
    assert not layer.groups.get(group)
    assert not layer.groups.get(events.user_group(staff_user.pk))
    assert not layer.groups.get(events.STAFF_QUEUE_GROUP)
