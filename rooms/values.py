"""What the services and selectors return and publish: plain values, with no wire tags.

The domain modules (which touch the database) build these; the protocol module
(``rooms.protocol``) turns each into its frame, with its ``type`` tag, and encodes it, and only
transport modules (the consumers, the API, the fan-out in ``rooms.events``) do that. So no module
both touches the ORM and knows the wire, and a frame's shape is written once: each frame class
is its value class plus a tag (docs/protocol.md lists the fields).
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

import msgspec


class RoomInfo(msgspec.Struct):
    slug: str
    title: str
    state: str
    slow_mode_seconds: int = 0


class You(msgspec.Struct):
    pseudonym: str
    role: str
    blur: list[str] = []
    ignoring: list[str] = []
    muted_until: datetime | None = None


class Limits(msgspec.Struct):
    max_message_chars: int
    max_frame_bytes: int
    rate_per_second: float
    burst: int


class PinItem(msgspec.Struct):
    seq: int
    author: str
    body: str | None


class PresenceMember(msgspec.Struct):
    pseudonym: str
    role: str


class HeldItem(msgspec.Struct):
    id: int
    author: str
    body: str | None
    reason: str
    ts: datetime


class ReportItem(msgspec.Struct):
    id: int
    seq: int
    reason: str
    status: str
    replies: list[str]
    # The reported message's first words, so the reporter knows which one it was.
    excerpt: str | None = None


class WaitingMember(msgspec.Struct):
    pseudonym: str
    agreed: bool


class Resource(msgspec.Struct):
    name: str
    contact: str
    note: str = ""
    # A tel: or sms: link that makes the contact tappable on a phone.
    href: str | None = None


class Risk(msgspec.Struct):
    """What an escalation found in a message: a facilitator's marker in the history."""

    category: str
    severity: str


class EscalationItem(msgspec.Struct):
    id: int
    room: str
    room_title: str
    seq: int | None
    pseudonym: str
    category: str
    severity: str
    queue: str
    source: str
    status: str
    created_at: datetime
    sla_due_at: datetime
    renotified: int
    acknowledged_at: datetime | None = None
    outcome: str = ""


class NoteItem(msgspec.Struct):
    author: str
    ts: datetime
    text: str | None


class StaffReportItem(msgspec.Struct):
    """A report as moderators see it: the reported message and its author, never who
    reported it."""

    id: int
    room: str
    room_title: str
    seq: int
    author: str
    reason: str
    status: str
    created_at: datetime
    body: str | None = None
    note: str | None = None
    replies: int = 0


class Message(msgspec.Struct):
    seq: int
    ts: datetime
    author: str
    body: str | None
    deleted: bool = False
    unavailable: bool = False
    # Hidden by a facilitator: ``body`` is None for members; moderators still see it.
    hidden: bool = False
    hidden_reason: str | None = None
    announcement: bool = False
    # The author's content warning, and the themes (author's and the server's) to blur by.
    cw: bool = False
    themes: list[str] = []
    # From someone this reader ignores: kept as a placeholder so sequence numbers stay
    # gap-free, with no author and no body.
    ignored: bool = False
    # The author's role when they wrote it, for their badge; None for a member.
    role: str | None = None
    # A risk category (``suicide``, ...): the detector found high or critical risk, and other
    # members see the message folded behind a care note until they choose to show it.
    care: str | None = None
    # Only for facilitators and up (history pages; live, they get ``risk_notice`` and
    # ``report_notice``): the escalation about this message and how many members reported it.
    risk: Risk | None = None
    reports: int = 0


class Deleted(msgspec.Struct):
    seq: int
    ts: datetime
    target: int


class Hidden(msgspec.Struct):
    """A facilitator hid message ``target``; this entry has its own sequence number."""

    seq: int
    ts: datetime
    target: int
    reason: str


class Presence(msgspec.Struct):
    members: list[PresenceMember]


class Heartbeat(msgspec.Struct):
    latest_seq: int
    ts: datetime


class RoomState(msgspec.Struct):
    state: str
    slow_mode_seconds: int = 0


class Pins(msgspec.Struct):
    """The room's pinned messages (the whole list, sent on connect and on every change)."""

    items: list[PinItem]


class Moderated(msgspec.Struct):
    """Private to the participant a facilitator acted on: what happened and why."""

    action: Literal["muted", "unmuted", "hidden", "removed", "banned"]
    message: str
    until: datetime | None = None
    seq: int | None = None
    reason: str | None = None


class ModAction(msgspec.Struct):
    """To the facilitators and moderators in the room: who did what, so they can hold the
    room together (never sent to members)."""

    actor: str
    action: str
    target: str | None = None
    detail: str | None = None


class HeldDecision(msgspec.Struct):
    """To the sender: a facilitator released (``seq`` set) or did not publish their message."""

    client_id: str
    status: Literal["released", "rejected"]
    seq: int | None = None


class HeldQueue(msgspec.Struct):
    """To facilitators: every message waiting for review (on connect and on every change)."""

    items: list[HeldItem]


class ReportNotice(msgspec.Struct):
    """To the room's facilitators: a message was reported. Never names the reporter."""

    id: int
    seq: int
    author: str
    reason: str
    ts: datetime | None = None


class MyReports(msgspec.Struct):
    """To a reporter: their open reports and any private replies from moderators."""

    items: list[ReportItem]


class Waiting(msgspec.Struct):
    """To a member outside the current session: wait here. ``agreement`` is shown again at
    every session; once ``agreed`` a facilitator can admit them."""

    session: str  # "none" (no session yet), "open", "locked"
    agreement_version: int
    agreement: str
    agreed: bool
    schedule: str = ""


class WaitingRoom(msgspec.Struct):
    """To facilitators: the current session's state and who is waiting to come in."""

    session: str
    members: list[WaitingMember]


class Signpost(msgspec.Struct):
    """Private to the member whose message showed risk; never shown to anyone else."""

    message: str
    resources: list[Resource]


class RiskNotice(msgspec.Struct):
    """A private heads-up to the room's facilitators and moderators."""

    seq: int | None
    author: str
    category: str
    severity: str
    # The escalation's id and when it was raised.
    id: int | None = None
    ts: datetime | None = None


class AlertItem(msgspec.Struct):
    """One open alert or report in a room, for a facilitator arriving after it came in."""

    kind: Literal["risk", "report"]
    id: int
    seq: int | None
    author: str
    ts: datetime
    status: str
    category: str | None = None
    severity: str | None = None
    reason: str | None = None


class RoomAlerts(msgspec.Struct):
    """To a facilitator entering a room: its open alerts and reports, newest first."""

    items: list[AlertItem]


class CareStatus(msgspec.Struct):
    """Private to a member whose message raised an alert to staff, for as long as it is open
    (on entering the room, and on every change): that a person was told, whether anyone is
    on call now and, if nobody is, what to do instead; a support room when one is offered."""

    state: Literal["told", "acknowledged", "support_offered", "closed"]
    on_call: bool
    message: str
    since: datetime
    seq: int | None = None
    support_room: str | None = None
    support_title: str | None = None
    resources: list[Resource] = []


class LanguageNotice(msgspec.Struct):
    """To the room's facilitators and moderators: a message is in a language the risk
    detector does not read, so a person should read it (it was not assessed, which is not
    the same as safe)."""

    seq: int | None
    author: str
    language: str


class SupportOffer(msgspec.Struct):
    """Private to a member: staff opened a one-to-one support room for them."""

    room: str
    title: str


class EscalationUpdate(msgspec.Struct):
    item: EscalationItem


class EscalationDetail(msgspec.Struct):
    id: int
    excerpt: str | None
    notes: list[NoteItem]


class StaffReportUpdate(msgspec.Struct):
    item: StaffReportItem


class ModeratorReply(msgspec.Struct):
    """Private to a reporter: a moderator's answer to their report."""

    report_id: int
    seq: int
    text: str | None


class YouChanged(msgspec.Struct):
    """This participant's own settings changed (possibly from another device)."""

    you: You


# One entry of a room's log, as history and resume pages carry it.
LogValue = Message | Deleted | Hidden
