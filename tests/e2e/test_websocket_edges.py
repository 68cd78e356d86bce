"""Through a real daphne process, the websocket's edges (``chatserver/daphneserver.py``):

- An oversize frame closes with 1009, as docs/protocol.md says (hardening issue, row 12). The
  consumer's 1009 raised inside autobahn, which allows applications only 1000 and 3000-4999,
  so daphne logged a traceback and closed with 1011; frames beyond the websocket layer's own
  limit dropped the connection without a close frame at all.
- A client that closes while the server still has frames for it is expected, not an error
  (row 15): sends in that window raised "Attempt to send on a closed protocol", logged at
  ERROR with a full traceback; they are now dropped with a debug line.
"""

from __future__ import annotations

import asyncio
import json
import math
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
import websockets
from websockets.client import ClientProtocol
from websockets.uri import parse_uri

from bench.client import ChatClient, recv_until, send_json
from bench.servers import ServerProcess

pytestmark = pytest.mark.e2e

FRAME_LIMIT = 65536


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    process = ServerProcess(
        data_dir=tmp_path_factory.mktemp("edges"),
        extra_args=["--demo"],
        env={
            "LOG_LEVEL": "DEBUG",
            "CHAT_RATE_PER_SECOND": "100",
            "CHAT_RATE_BURST": "100",
            # The room's own heartbeat would write to the log and the sockets all along.
            "CHAT_HEARTBEAT_SECONDS": "600",
        },
        name="edges",
    )
    with process:
        yield process


def errors_in(log: str) -> list[str]:
    return [
        line
        for line in log.splitlines()
        if " ERROR " in line or "Traceback" in line or "closed protocol" in line
    ]


@pytest.mark.parametrize(
    ("size", "error_frame"),
    [
        (FRAME_LIMIT + 1000, True),  # over the server's limit: an error frame, then 1009
        (5 * FRAME_LIMIT, False),  # over the websocket layer's limit: 1009 at once
    ],
)
async def test_an_oversize_frame_closes_with_1009(
    server: ServerProcess, size: int, error_frame: bool
) -> None:
    member = ChatClient(server.base_url)
    await member.astart_and_join("welcome")
    async with await member.connect("welcome") as ws:
        await recv_until(ws, "welcome")
        await ws.send(json.dumps({"type": "send", "client_id": "big", "body": "x" * size}))
        frames = []
        with pytest.raises(websockets.ConnectionClosed) as closed:
            while True:
                frames.append(json.loads(await asyncio.wait_for(ws.recv(), 10)))
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009
    assert any(f.get("code") == "frame_too_large" for f in frames) is error_frame
    assert errors_in(server.log_text()) == []


# --- a client that closes while the server still has frames for it ---------------------------


def kernel_send_buffer() -> int:
    """The most a server socket may buffer (Linux autotunes up to this); 4 MiB elsewhere."""
    try:
        return int(Path("/proc/sys/net/ipv4/tcp_wmem").read_text().split()[2])
    except (OSError, IndexError, ValueError):
        return 4 * 2**20


class StalledClient:
    """A member's socket that stops reading: what a phone does when its tab is put away. Its
    close frame reaches the server while the server still has frames queued for it, so for a
    while the server knows the client closed but has not finished closing itself."""

    def __init__(self, server: ServerProcess, cookie: str) -> None:
        self.protocol = ClientProtocol(parse_uri(f"ws://127.0.0.1:{server.port}/ws/rooms/welcome/"))
        request = self.protocol.connect()
        request.headers["Cookie"] = cookie
        request.headers["Origin"] = server.base_url
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        self.sock.settimeout(10)
        self.sock.connect(("127.0.0.1", server.port))
        self.protocol.send_request(request)
        self._flush()
        while self.protocol.state.name == "CONNECTING":
            self.protocol.receive_data(self.sock.recv(65536))
        assert self.protocol.state.name == "OPEN", self.protocol.handshake_exc

    def _flush(self) -> None:
        for data in self.protocol.data_to_send():
            self.sock.sendall(data)

    def send(self, frame: dict[str, object]) -> None:
        self.protocol.send_text(json.dumps(frame).encode())
        self._flush()

    def close(self) -> None:
        self.protocol.send_close(1000)
        self._flush()


async def test_sends_to_a_socket_the_client_just_closed_are_not_errors(
    server: ServerProcess,
) -> None:
    writer, leaver = ChatClient(server.base_url), ChatClient(server.base_url)
    await writer.astart_and_join("welcome")
    leaving_as = (await leaver.astart_and_join("welcome"))["pseudonym"]
    async with await writer.connect("welcome") as room:
        await recv_until(room, "welcome")
        # Long messages, so every history page is nearly a full frame.
        for i in range(30):
            await send_json(room, {"type": "send", "client_id": f"long{i}", "body": "x" * 4000})
            await recv_until(room, "ack")
        cookie = "; ".join(f"{c.name}={c.value}" for c in leaver.jar)
        stalled = await asyncio.to_thread(StalledClient, server, cookie)
        # More history than the kernel buffers between the two ends (within the read limit:
        # a burst of 40, then 10 a second).
        pages = max(60, math.ceil(1.3 * kernel_send_buffer() / (FRAME_LIMIT - 4096)))
        for i in range(pages):
            stalled.send({"type": "history"})
            if i >= 39:
                await asyncio.sleep(0.11)
        await asyncio.sleep(0.5)
        stalled.close()

        # The server has the close frame but is still flushing; the member is still present.
        try:
            while True:
                frame = json.loads(await asyncio.wait_for(room.recv(), 1.0))
                if frame["type"] == "presence":
                    present = {m["pseudonym"] for m in frame["members"]}
                    assert leaving_as in present, "the backlog did not hold the socket open"
        except TimeoutError:
            pass
        # Broadcasts to the room now reach a socket whose client has closed.
        for i in range(3):
            await send_json(room, {"type": "send", "client_id": f"late{i}", "body": "still here"})
            await recv_until(room, "ack")
        await asyncio.sleep(1.0)
        stalled.sock.close()
        try:
            left = leaving_as not in {
                m["pseudonym"] for m in (await recv_until(room, "presence"))["members"]
            }
        except TimeoutError:
            left = False

    log = server.log_text()
    assert errors_in(log) == []
    assert "DEBUG chatserver.daphneserver dropped a frame for a websocket that is closing" in log
    # The socket's clean-up ran (a send that raised ended the consumer before it could).
    assert left, "the member who left is still shown as present"
