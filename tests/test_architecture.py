"""The seams between the chat core and the apps built on it: the send path's policy chain,
the room socket's dispatch table, the values the domain returns and the frames that carry
them, and the models that seal text under a room's keys."""

from __future__ import annotations

import ast
from datetime import UTC, datetime
from pathlib import Path

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


def _imports(path: Path, package: str) -> set[str]:
    """Every module a file imports (lazy imports included), resolved to absolute names."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, base] if base else parts)
            found.update(f"{base}.{a.name}" for a in node.names)
            found.add(base)
    return found


def test_no_module_both_touches_the_database_and_builds_frames() -> None:
    """The domain returns values; the protocol and the transports make frames of them
    (docs/architecture.md). Import-linter cannot say "not both", so this test does."""
    root = Path(__file__).resolve().parent.parent
    both = []
    for top in ("chatserver", "rooms", "moderation"):
        for path in (root / top).rglob("*.py"):
            rel = path.relative_to(root)
            if {"migrations", "management"} & set(rel.parts) or path.name in (
                "admin.py",
                "apps.py",
            ):
                continue
            package = ".".join(rel.with_suffix("").parts[:-1])
            names = _imports(path, package)
            models = any(n.endswith(".models") or ".models." in n for n in names)
            wire = any(n.endswith(".protocol") or ".protocol." in n for n in names)
            if models and wire:
                both.append(str(rel))
    assert both == []
