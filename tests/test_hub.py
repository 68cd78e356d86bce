"""The process's room hub: one layer subscription per room with local sockets, each frame
received once and handed to every local socket; this process's own frames delivered at once
and not twice; the heartbeat never announces what the hub has not handed out yet."""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Any

import pytest
from channels.layers import get_channel_layer

from rooms import events, heartbeat
from rooms.hub import RoomHub
from rooms.writer import writer

pytestmark = pytest.mark.asyncio


def _collector() -> tuple[list[dict[str, Any]], Any]:
    got: list[dict[str, Any]] = []

    async def handler(event: dict[str, Any]) -> None:
        got.append(event)

    return got, handler


async def _settle(until: Any, timeout: float = 2.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not until() and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.01)


async def test_one_subscription_per_room_delivers_to_every_local_socket() -> None:
    hub = RoomHub()
    a, handle_a = _collector()
    b, handle_b = _collector()
    await hub.join(7, "a", handle_a)
    await hub.join(7, "b", handle_b)
    assert len(hub.rooms) == 1 and hub.readers(7) == 2
    layer = get_channel_layer()
    await layer.group_send(events.room_group(7), events.room_frame_event("x", seq=1))
    await _settle(lambda: a and b)
    assert [e["text"] for e in a] == ["x"] and [e["text"] for e in b] == ["x"]
    await hub.leave(7, "a")
    await hub.leave(7, "b")
    assert hub.rooms == {}
    await layer.group_send(events.room_group(7), events.room_frame_event("y", seq=2))
    await asyncio.sleep(0.1)
    assert len(a) == 1 and len(b) == 1  # unsubscribed: nothing more arrives


async def test_own_frames_are_delivered_at_once_and_not_again_from_the_layer() -> None:
    hub = RoomHub()
    got, handler = _collector()
    await hub.join(8, "a", handler)
    await hub.publish(events.room_group(8), events.room_frame_event("mine", seq=1))
    assert [e["text"] for e in got] == ["mine"]  # before any round trip through the layer
    await asyncio.sleep(0.2)
    assert len(got) == 1  # the copy that came back through the layer was skipped


async def test_a_failing_socket_does_not_stop_the_others() -> None:
    hub = RoomHub()
    got, handler = _collector()

    async def broken(event: dict[str, Any]) -> None:
        raise RuntimeError("socket closed")

    await hub.join(9, "broken", broken)
    await hub.join(9, "ok", handler)
    await hub.publish(events.room_group(9), events.room_frame_event("z", seq=1))
    assert [e["text"] for e in got] == ["z"]


async def test_the_heartbeat_does_not_announce_what_is_not_handed_out_yet() -> None:
    group = events.room_group(11)
    writer.outgoing[group] = deque([{"type": "room.frame", "text": "", "seq": 7}])
    try:
        assert heartbeat._announced(11, 10) == 6
    finally:
        writer.outgoing.pop(group, None)
    assert heartbeat._announced(11, 10) == 10
