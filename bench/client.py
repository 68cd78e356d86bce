"""A small chat client written from docs/protocol.md alone: ``urllib`` for the JSON API and
``websockets`` for the room socket. The load generator and the end-to-end tests use it."""

from __future__ import annotations

import asyncio
import http.cookiejar
import json
import urllib.error
import urllib.request
from typing import Any

import websockets
from websockets.asyncio.client import ClientConnection


class ApiError(Exception):
    def __init__(self, status: int, body: dict[str, Any]) -> None:
        super().__init__(f"{status}: {body}")
        self.status = status
        self.body = body


class ChatClient:
    def __init__(self, base_url: str, *, source_address: str | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.jar = http.cookiejar.CookieJar()
        handlers: list[Any] = [urllib.request.HTTPCookieProcessor(self.jar)]
        self.opener = urllib.request.build_opener(*handlers)
        self.source_address = source_address
        self.last_seq = 0
        self.recovery_phrase: str | None = None

    # --- HTTP ----------------------------------------------------------------------------

    def _cookie(self, name: str) -> str | None:
        return next((c.value for c in self.jar if c.name == name), None)

    def request(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        data = json.dumps(body).encode() if body is not None else None
        headers = {
            "Content-Type": "application/json",
            "Origin": self.base_url,
            "Referer": self.base_url + "/",
        }
        token = self._cookie("csrftoken")
        if token:
            headers["X-CSRFToken"] = token
        req = urllib.request.Request(
            self.base_url + path, data=data, method=method, headers=headers
        )
        try:
            with self.opener.open(req, timeout=30) as resp:
                return json.loads(resp.read() or b"{}")
        except urllib.error.HTTPError as exc:
            raise ApiError(exc.code, json.loads(exc.read() or b"{}")) from None

    def start_session(self) -> None:
        self.request("GET", "/api/session")
        answer = self.request("POST", "/api/session", {})
        self.recovery_phrase = answer.get("recovery_phrase")

    def join(self, slug: str) -> dict[str, Any]:
        room = self.request("GET", f"/api/rooms/{slug}")
        version = room["agreement"]["version"]
        return self.request("POST", f"/api/rooms/{slug}/join", {"agreement_version": version})

    async def astart_and_join(self, slug: str) -> dict[str, Any]:
        await asyncio.to_thread(self.start_session)
        return await asyncio.to_thread(self.join, slug)

    # --- websocket -----------------------------------------------------------------------

    def ws_url(self, slug: str) -> str:
        return self.ws_url_for(f"/ws/rooms/{slug}/")

    def ws_url_for(self, path: str) -> str:
        scheme = "wss" if self.base_url.startswith("https") else "ws"
        host = self.base_url.split("://", 1)[1]
        return f"{scheme}://{host}{path}"

    async def connect(self, slug: str, **kwargs: Any) -> ClientConnection:
        return await self.connect_path(f"/ws/rooms/{slug}/", **kwargs)

    async def connect_path(self, path: str, **kwargs: Any) -> ClientConnection:
        cookie = "; ".join(f"{c.name}={c.value}" for c in self.jar)
        if self.source_address:
            kwargs.setdefault("local_addr", (self.source_address, 0))
        # Generous by default; a test of the frame limit passes the server's own.
        kwargs.setdefault("max_size", 2**22)
        return await websockets.connect(
            self.ws_url_for(path),
            additional_headers={"Cookie": cookie, "Origin": self.base_url},
            # Tests and the load generator do not read every broadcast; an unbounded queue
            # keeps an unread backlog from stalling the closing handshake.
            max_queue=None,
            **kwargs,
        )


async def recv_json(ws: ClientConnection, timeout: float = 10.0) -> dict[str, Any]:
    return json.loads(await asyncio.wait_for(ws.recv(), timeout))


async def recv_until(
    ws: ClientConnection, frame_type: str, timeout: float = 10.0
) -> dict[str, Any]:
    """The next frame of ``frame_type``, skipping others (presence, typing, heartbeats)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        frame = await recv_json(ws, max(deadline - loop.time(), 0.01))
        if frame["type"] == frame_type:
            return frame


async def send_json(ws: ClientConnection, frame: dict[str, Any]) -> None:
    await ws.send(json.dumps(frame))
