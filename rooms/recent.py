"""The last few messages of each room, in this process's memory only: the conversation the
risk detector reads (``risk.assess(text, context=...)``) without a database query per
message.

Plaintext lives here and nowhere else outside a request: never on disk, in Redis or in
logs. A hidden message and an erased member's messages are dropped at once, and a room
that has been quiet falls out when the table is full (least recently written first).
Each process keeps what it stored itself; a room's sockets on another process see the
messages that process stored, which is the conversation its senders replied to.
"""

from __future__ import annotations

import threading
from collections import OrderedDict, deque
from typing import Final

DEPTH: Final = 4
ROOMS: Final = 5000

# (seq, member id, plaintext)
_Entry = tuple[int, int, str]


class RecentMessages:
    def __init__(self, depth: int = DEPTH, rooms: int = ROOMS) -> None:
        self._depth = depth
        self._rooms_max = rooms
        self._rooms: OrderedDict[int, deque[_Entry]] = OrderedDict()
        self._lock = threading.Lock()

    def context(self, room_id: int, member_id: int) -> tuple[tuple[str, bool], ...]:
        """The room's last messages, oldest first, as (text, same_author) for ``member_id``."""
        with self._lock:
            entries = tuple(self._rooms.get(room_id, ()))
        return tuple((text, author == member_id) for _, author, text in entries)

    def remember(self, room_id: int, seq: int, member_id: int, text: str) -> None:
        with self._lock:
            entries = self._rooms.get(room_id)
            if entries is None:
                entries = self._rooms[room_id] = deque(maxlen=self._depth)
                while len(self._rooms) > self._rooms_max:
                    self._rooms.popitem(last=False)
            else:
                self._rooms.move_to_end(room_id)
            entries.append((seq, member_id, text))

    def forget(self, room_id: int, seq: int) -> None:
        """A hidden or deleted message is no longer anyone's context."""
        with self._lock:
            entries = self._rooms.get(room_id)
            if entries:
                kept = [e for e in entries if e[0] != seq]
                entries.clear()
                entries.extend(kept)

    def forget_member(self, member_ids: set[int]) -> None:
        """An erased member's messages (by any of their memberships) go at once."""
        with self._lock:
            for entries in self._rooms.values():
                kept = [e for e in entries if e[1] not in member_ids]
                if len(kept) != len(entries):
                    entries.clear()
                    entries.extend(kept)

    def clear(self) -> None:
        with self._lock:
            self._rooms.clear()


RECENT: Final = RecentMessages()
