"""The seams between the chat core and the apps built on it: the send path's policy chain,
the room socket's dispatch table, the values the domain returns and the frames that carry
them, and the models that seal text under a room's keys."""

from __future__ import annotations

from datetime import UTC, datetime

import msgspec
import pytest

from rooms import handlers, policies, protocol, values
from rooms.keys import sealed_fields


def test_the_send_path_runs_its_policies_in_the_documented_order() -> None:
    """Themes first (the core's own step), then moderation's hold, then its escalation: a
    held message still raises its escalation (docs/architecture.md)."""
    assert [p.name for p in policies.chain()] == ["themes", "held", "escalation"]


def test_installing_a_policy_twice_keeps_one() -> None:
    before = policies.chain()
    policies.install(*before)
    assert policies.chain() == before


def test_every_action_frame_of_the_room_socket_has_one_handler() -> None:
    """Every client frame the room socket accepts is handled: by the socket itself (sends,
    reads, typing, agreeing) or by exactly one entry of the dispatch table."""
    handled_by_socket = {
        protocol.Send,
        protocol.Delete,
        protocol.History,
        protocol.Resume,
        protocol.Typing,
        protocol.Ping,
        protocol.Agree,
    }
    frames = set(protocol.ClientFrame.__args__)  # type: ignore[attr-defined]
    for frame in frames - handled_by_socket:
        assert handlers.handler_for(frame) is not None, frame.__name__


def test_a_frame_type_cannot_be_handled_twice() -> None:
    with pytest.raises(ValueError, match="already handled"):
        handlers.register({protocol.Ignore: lambda m, f: None})


def test_each_value_is_carried_by_its_frame_with_the_same_fields() -> None:
    ts = datetime(2026, 1, 1, tzinfo=UTC)
    value = values.Message(seq=3, ts=ts, author="Calm Otter", body="hi", themes=["suicide"])
    frame = protocol.frame(value)
    assert isinstance(frame, protocol.MessageFrame)
    assert msgspec.json.decode(protocol.encode(value)) == {
        "type": "message",
        "seq": 3,
        "ts": "2026-01-01T00:00:00Z",
        "author": "Calm Otter",
        "body": "hi",
        "themes": ["suicide"],
    }
    assert protocol.frame(frame) is frame


def test_a_value_no_frame_carries_is_a_programming_error() -> None:
    with pytest.raises(TypeError, match="no frame carries"):
        protocol.encode(values.PinItem(seq=1, author="a", body=None))


def test_every_model_sealed_under_a_room_key_has_a_creation_time() -> None:
    """Key purging keeps every key something unexpired was sealed under, found by model:
    each such model needs ``created_at`` for the retention cut-off."""
    found = {(model._meta.label, name) for model, name in sealed_fields()}
    assert ("rooms.Message", "data_key") in found
    assert ("moderation.Report", "data_key") in found  # no reverse accessor ("+"), still found
    assert len(found) >= 6
    for model, _ in sealed_fields():
        assert any(f.name == "created_at" for f in model._meta.get_fields()), model
