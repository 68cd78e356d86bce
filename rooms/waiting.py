"""The room socket while its member waits outside a room's session (rooms/sittings.py): only
agreeing to the agreement and leaving are accepted there, and the session's changes (opened,
locked, admitted, closed) let the member in or tell them what is happening."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from rooms import access, events, protocol, sittings
from rooms.errors import NotAdmitted
from rooms.transport import GroupsMixin, ReplyMixin, db


class WaitingRoomMixin(ReplyMixin, GroupsMixin):
    identity: access.SocketIdentity | None
    waiting: bool
    _enter: Callable[[access.SocketIdentity], Awaitable[None]]
    _act: Callable[[protocol.ClientFrame], Awaitable[None]]
    _recheck: Callable[[], Awaitable[None]]

    async def _wait_outside(self, identity: access.SocketIdentity) -> bool:
        """Hold a member who is not admitted to the current session in its waiting room;
        whether they were held."""
        if not sittings.needs_waiting(identity.room, identity.membership):
            return False
        waiting = await db(sittings.waiting_frame)(identity.room, identity.membership)
        if waiting is None:
            return False
        self.waiting = True
        await self.group_join(events.room_waiting_group(identity.room.pk))
        await self.send_value(waiting)
        return True

    async def _handle_waiting(self, frame: protocol.ClientFrame) -> None:
        """Outside the session only agreeing and leaving make sense; anything else is
        answered (never dropped) with the reason."""
        assert self.identity is not None
        if isinstance(frame, protocol.Agree):
            await self._recheck()
            membership = self.identity.membership
            waiting = await db(sittings.agree)(membership=membership, version=frame.version)
            if waiting is None:
                await self._enter(self.identity)
            else:
                await self.send_value(waiting)
        elif isinstance(frame, protocol.Leave):
            await self._act(frame)
        else:
            raise NotAdmitted("you are in the waiting room: a facilitator will let you in")

    async def sitting_admitted(self, event: dict[str, Any]) -> None:
        if self.identity is not None and self.waiting:
            await self._enter(self.identity)

    async def sitting_changed(self, event: dict[str, Any]) -> None:
        """The session opened, locked, unlocked or closed while this member waits."""
        if self.identity is None or not self.waiting:
            return
        identity = self.identity
        waiting = await db(sittings.waiting_frame)(identity.room, identity.membership)
        if waiting is None:
            await self._enter(identity)
        else:
            await self.send_value(waiting)

    async def sitting_closed(self, event: dict[str, Any]) -> None:
        """The session ended: members leave the room until the next one; staff stay."""
        if self.identity is None:
            return
        if sittings.needs_waiting(self.identity.room, self.identity.membership):
            await self._close_with(protocol.Close.SITTING_CLOSED, "this session has ended")
