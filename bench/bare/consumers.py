"""The Channels tutorial's group chat consumer, adapted only to the load generator's frames.

Client: ``{"type": "send", "client_id": ..., "body": ...}``; broadcast to every socket in the
room, sender included: ``{"type": "message", "body": ...}``. No persistence, no sequence
numbers, no acknowledgement, no validation: the cheapest correct fan-out Channels offers,
so the chat server's ratio against it prices everything the chat server adds.
"""

from __future__ import annotations

import json
from typing import Any

from channels.generic.websocket import AsyncWebsocketConsumer


class BareChatConsumer(AsyncWebsocketConsumer):
    async def connect(self) -> None:
        self.group = f"chat_{self.scope['url_route']['kwargs']['room']}"
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()

    async def disconnect(self, code: int) -> None:
        await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        data = json.loads(text_data or "{}")
        await self.channel_layer.group_send(
            self.group, {"type": "chat.message", "body": data.get("body", "")}
        )

    async def chat_message(self, event: dict[str, Any]) -> None:
        await self.send(text_data=json.dumps({"type": "message", "body": event["body"]}))
