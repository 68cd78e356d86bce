"""Helpers for reading frames from a WebsocketCommunicator."""

from __future__ import annotations

from typing import Any

from channels.testing import WebsocketCommunicator


async def next_frame(
    ws: WebsocketCommunicator, frame_type: str, timeout: float = 5.0
) -> dict[str, Any]:
    """The next frame of ``frame_type``, skipping frames of other types (presence, typing,
    heartbeats, broadcasts of one's own messages). Errors are never skipped silently unless
    asked for, so an unexpected refusal fails the test."""
    while True:
        frame = await ws.receive_json_from(timeout=timeout)
        if frame["type"] == frame_type:
            return frame
        assert frame["type"] != "error", frame


async def closed_with(ws: WebsocketCommunicator, timeout: float = 5.0) -> int:
    """Read until the server closes; return the close code."""
    while True:
        output = await ws.receive_output(timeout=timeout)
        if output["type"] == "websocket.close":
            return int(output.get("code", 1000))


async def next_error(ws: WebsocketCommunicator, timeout: float = 5.0) -> dict[str, Any]:
    """The next error frame, skipping broadcasts (for tests that expect a refusal)."""
    while True:
        frame = await ws.receive_json_from(timeout=timeout)
        if frame["type"] == "error":
            return frame


async def answer_to(ws: WebsocketCommunicator, ref: str, timeout: float = 5.0) -> dict[str, Any]:
    """The ``done`` or ``error`` that answers the action sent with ``ref``."""
    while True:
        frame = await ws.receive_json_from(timeout=timeout)
        if frame["type"] in {"done", "error"} and frame.get("ref") == ref:
            return frame
