"""Moderation's steps of the chat core's send path, and its entry check (installed by
``ModerationConfig.ready``; the order is written there and in docs/architecture.md).

The chat core (``rooms``) does not import moderation: it runs whatever policies are installed,
inside the send transaction, so a held message and an escalation commit with the message or
not at all.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from moderation import held
from moderation.escalations import escalation_from_assessment, risk_marker
from moderation.governance import require_current_training
from rooms.care import care_of
from rooms.models import Membership, Message, Room
from rooms.policies import Draft, HeldBack, MessagePolicy


class HeldTermsPolicy(MessagePolicy):
    """A room's blocked terms, or (where the room says so) a critical risk finding, keep the
    message back for a facilitator's review (moderation/held.py)."""

    name = "held"

    def hold(self, room: Room, draft: Draft, *, themes: str, now: dt.datetime) -> HeldBack | None:
        reason = held.hold_reason(room, draft.body, draft.assessment)
        if reason is None:
            return None
        result = held.hold_message(
            room=room,
            membership=draft.membership,
            client_id=draft.client_id,
            body=draft.body,
            reason=reason,
            themes=themes,
            cw=draft.cw,
            now=now,
            care=care_of(room, draft.assessment),
            risk=risk_marker(draft.assessment),
        )
        item = result.held
        return HeldBack(
            reason=item.reason,
            message=held.HOLD_MESSAGES[item.reason],
            created_at=item.created_at,
            duplicate=result.duplicate,
            released_seq=item.released_seq,
        )


class RiskEscalationPolicy(MessagePolicy):
    """A message the detector flagged raises an escalation in the same transaction: staff
    are alerted only about what was stored, and nothing stored goes unalerted."""

    name = "escalation"

    def stored(self, room: Room, draft: Draft, message: Message | None) -> None:
        if draft.assessment.flagged:
            escalation_from_assessment(
                room=room,
                membership=draft.membership,
                message=message,
                body=draft.body,
                assessment=draft.assessment,
            )


def facilitator_training_check(membership: Membership, user: Any) -> None:
    """A peer facilitator facilitates only while their training is current."""
    if user is not None and membership.role == Membership.Role.FACILITATOR:
        require_current_training(user)
