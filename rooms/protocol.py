"""The websocket wire protocol, version 1: every client and server frame, the limits, the
error codes and the close codes. Documented in docs/protocol.md; the web client mirrors it in
static/js/protocol.js. Nothing else reads or writes raw socket JSON.

Client frames are parsed against closed schemas: an unknown field, a wrong type or an unknown
``type`` is refused with a machine-readable error code, never an exception in the consumer.
Server frames are encoded once; a broadcast is encoded once per message, not per recipient.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Final, Literal, get_args

import msgspec

# The codes are part of the protocol (docs/protocol.md); they live below both apps.
from chatserver.codes import Close as Close
from chatserver.codes import ErrorCode as ErrorCode

PROTOCOL_VERSION: Final = 1


class ProtocolError(Exception):
    """A client frame that cannot be accepted; answered with an error frame."""

    def __init__(self, code: str, message: str, *, ref: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.ref = ref


ClientId = Annotated[str, msgspec.Meta(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")]
Seq = Annotated[int, msgspec.Meta(ge=0)]
Limit = Annotated[int, msgspec.Meta(ge=1, le=200)]


# --- client frames ------------------------------------------------------------------------


class _ClientFrame(msgspec.Struct, tag_field="type", forbid_unknown_fields=True, frozen=True):
    pass


Theme = Literal[
    "suicide",
    "self_harm",
    "sexual_violence",
    "violence",
    "child_abuse",
    "substances",
    "eating",
]
HideReason = Literal["agreement", "identifying", "graphic", "harassment", "spam", "other"]
ReportReason = Literal[
    "harassment", "unsafe", "identifying", "graphic", "spam", "impersonation", "other"
]
Pseudonym = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
Ref = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
MessageSeq = Annotated[int, msgspec.Meta(ge=1)]
Themes = Annotated[list[Theme], msgspec.Meta(max_length=7)]


class Send(_ClientFrame, tag="send", frozen=True):
    client_id: ClientId
    body: str
    # The author's content warning: clients collapse the message. ``themes`` says what it
    # is about (optional); a warning with no theme is still a warning.
    cw: bool = False
    themes: Themes = []


class History(_ClientFrame, tag="history", frozen=True):
    before: Seq | None = None
    limit: Limit = 50


class Resume(_ClientFrame, tag="resume", frozen=True):
    after: Seq
    limit: Limit = 200


class Typing(_ClientFrame, tag="typing", frozen=True):
    pass


class Delete(_ClientFrame, tag="delete", frozen=True):
    seq: Annotated[int, msgspec.Meta(ge=1)]


class Ping(_ClientFrame, tag="ping", frozen=True):
    pass


RiskCategory = Literal[
    "suicide",
    "self_harm",
    "immediate_danger",
    "child_at_risk",
    "harm_to_others",
    "medical_emergency",
]
RiskSeverity = Literal["concern", "high", "critical"]


class Flag(_ClientFrame, tag="flag", frozen=True):
    """Facilitators and moderators only: raise an escalation for a message by hand."""

    seq: Annotated[int, msgspec.Meta(ge=1)]
    category: RiskCategory
    severity: RiskSeverity
    ref: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]


# --- facilitator and moderator tools (moderation/room_actions.py) ---


class Mute(_ClientFrame, tag="mute", frozen=True):
    """Mute a participant for ``minutes`` (0 lifts a mute)."""

    pseudonym: Pseudonym
    minutes: Annotated[int, msgspec.Meta(ge=0, le=10080)]
    ref: Ref


class Remove(_ClientFrame, tag="remove", frozen=True):
    pseudonym: Pseudonym
    ref: Ref


class Ban(_ClientFrame, tag="ban", frozen=True):
    pseudonym: Pseudonym
    scope: Literal["room", "service"]
    ref: Ref


class Hide(_ClientFrame, tag="hide", frozen=True):
    seq: MessageSeq
    reason: HideReason
    ref: Ref


class Pin(_ClientFrame, tag="pin", frozen=True):
    seq: MessageSeq
    ref: Ref


class Unpin(_ClientFrame, tag="unpin", frozen=True):
    seq: MessageSeq
    ref: Ref


class SlowMode(_ClientFrame, tag="slow_mode", frozen=True):
    seconds: Annotated[int, msgspec.Meta(ge=0, le=3600)]
    ref: Ref


class SetRoomState(_ClientFrame, tag="set_room_state", frozen=True):
    """Pause a room (members cannot post) or reopen it."""

    state: Literal["open", "paused"]
    ref: Ref


class Announce(_ClientFrame, tag="announce", frozen=True):
    body: str
    ref: Ref


class Release(_ClientFrame, tag="release", frozen=True):
    """Publish a held message to the room."""

    id: Annotated[int, msgspec.Meta(ge=1)]
    ref: Ref


class Reject(_ClientFrame, tag="reject", frozen=True):
    """Do not publish a held message; its author is told, and its text is destroyed."""

    id: Annotated[int, msgspec.Meta(ge=1)]
    ref: Ref


# --- sessions with a waiting room (rooms/sittings.py) ---


class Agree(_ClientFrame, tag="agree", frozen=True):
    """A member in the waiting room accepts the agreement for this session."""

    version: Annotated[int, msgspec.Meta(ge=0)]


class Admit(_ClientFrame, tag="admit", frozen=True):
    pseudonym: Pseudonym
    ref: Ref


class SessionControl(_ClientFrame, tag="session", frozen=True):
    """Open a session, lock it (nobody new comes in), unlock it, or close it."""

    action: Literal["open", "lock", "unlock", "close"]
    ref: Ref


# --- member tools ---


class Report(_ClientFrame, tag="report", frozen=True):
    seq: MessageSeq
    reason: ReportReason
    ref: Ref
    note: Annotated[str, msgspec.Meta(max_length=1000)] = ""


class Ignore(_ClientFrame, tag="ignore", frozen=True):
    pseudonym: Pseudonym
    ref: Ref


class Unignore(_ClientFrame, tag="unignore", frozen=True):
    pseudonym: Pseudonym
    ref: Ref


class Preferences(_ClientFrame, tag="preferences", frozen=True):
    """Themes to blur for this participant (replaces the previous choice)."""

    blur: Themes
    ref: Ref


class Leave(_ClientFrame, tag="leave", frozen=True):
    """Leave the room: the membership ends and every socket of it in the room closes."""

    ref: Ref


ClientFrame = (
    Send
    | History
    | Resume
    | Typing
    | Delete
    | Ping
    | Flag
    | Mute
    | Remove
    | Ban
    | Hide
    | Pin
    | Unpin
    | SlowMode
    | SetRoomState
    | Announce
    | Release
    | Reject
    | Agree
    | Admit
    | SessionControl
    | Report
    | Ignore
    | Unignore
    | Preferences
    | Leave
)
_decoder = msgspec.json.Decoder(ClientFrame)


def parse_client_frame(text: str | None, *, max_bytes: int, max_chars: int) -> ClientFrame:
    """Parse one text frame, or raise ``ProtocolError`` with the code to send back."""
    if text is None:
        raise ProtocolError(ErrorCode.INVALID_FRAME, "binary frames are not supported")
    if len(text) > max_bytes or len(text.encode()) > max_bytes:
        raise ProtocolError(ErrorCode.FRAME_TOO_LARGE, f"frames are limited to {max_bytes} bytes")
    try:
        frame = _decoder.decode(text)
    except msgspec.ValidationError as exc:
        detail = str(exc)
        if "`$.type`" in detail or "missing required field `type`" in detail:
            raise ProtocolError(ErrorCode.UNKNOWN_TYPE, detail) from None
        raise ProtocolError(ErrorCode.INVALID_FRAME, detail) from None
    except msgspec.DecodeError:
        raise ProtocolError(ErrorCode.BAD_JSON, "frame is not valid JSON") from None
    if isinstance(frame, Send):
        _check_body(frame.body, max_chars, ref=frame.client_id)
    elif isinstance(frame, Announce):
        _check_body(frame.body, max_chars, ref=frame.ref)
    return frame


def _check_body(body: str, max_chars: int, *, ref: str) -> None:
    if not body.strip():
        raise ProtocolError(ErrorCode.EMPTY_MESSAGE, "message is empty", ref=ref)
    if len(body) > max_chars:
        raise ProtocolError(
            ErrorCode.MESSAGE_TOO_LONG,
            f"messages are limited to {max_chars} characters",
            ref=ref,
        )


# --- server frames ------------------------------------------------------------------------


class _ServerFrame(msgspec.Struct, tag_field="type", omit_defaults=True):
    pass


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


class Welcome(_ServerFrame, tag="welcome"):
    protocol: int
    room: RoomInfo
    you: You
    latest_seq: int
    heartbeat_seconds: float
    limits: Limits
    pins: list[PinItem] = []


class YouFrame(_ServerFrame, tag="you"):
    """This participant's own settings changed (possibly from another device)."""

    you: You


class Ack(_ServerFrame, tag="ack"):
    client_id: str
    seq: int
    ts: datetime
    duplicate: bool = False


class MessageFrame(_ServerFrame, tag="message"):
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


class Deleted(_ServerFrame, tag="deleted"):
    seq: int
    ts: datetime
    target: int


class Hidden(_ServerFrame, tag="hidden"):
    """A facilitator hid message ``target``; this entry has its own sequence number."""

    seq: int
    ts: datetime
    target: int
    reason: str


LogEntry = MessageFrame | Deleted | Hidden


class HistoryPage(_ServerFrame, tag="history"):
    messages: list[LogEntry]
    has_more: bool


class Resumed(_ServerFrame, tag="resumed"):
    after: int
    messages: list[LogEntry]
    latest_seq: int
    has_more: bool


class PresenceMember(msgspec.Struct):
    pseudonym: str
    role: str


class Presence(_ServerFrame, tag="presence"):
    members: list[PresenceMember]


class TypingFrame(_ServerFrame, tag="typing"):
    author: str


class Heartbeat(_ServerFrame, tag="heartbeat"):
    latest_seq: int
    ts: datetime


class RoomState(_ServerFrame, tag="room_state"):
    state: str
    slow_mode_seconds: int = 0


class Pins(_ServerFrame, tag="pins"):
    """The room's pinned messages (the whole list, sent on connect and on every change)."""

    items: list[PinItem]


class Moderated(_ServerFrame, tag="moderated"):
    """Private to the participant a facilitator acted on: what happened and why."""

    action: Literal["muted", "unmuted", "hidden", "removed", "banned"]
    message: str
    until: datetime | None = None
    seq: int | None = None
    reason: str | None = None


class ModAction(_ServerFrame, tag="mod_action"):
    """To the facilitators and moderators in the room: who did what, so they can hold the
    room together (never sent to members)."""

    actor: str
    action: str
    target: str | None = None
    detail: str | None = None


class HeldItem(msgspec.Struct):
    id: int
    author: str
    body: str | None
    reason: str
    ts: datetime


class Held(_ServerFrame, tag="held"):
    """To the sender: the message was kept back for a facilitator's review."""

    client_id: str
    reason: str
    message: str


class HeldDecision(_ServerFrame, tag="held_decision"):
    """To the sender: a facilitator released (``seq`` set) or did not publish their message."""

    client_id: str
    status: Literal["released", "rejected"]
    seq: int | None = None


class HeldQueue(_ServerFrame, tag="held_queue"):
    """To facilitators: every message waiting for review (on connect and on every change)."""

    items: list[HeldItem]


class ReportNotice(_ServerFrame, tag="report_notice"):
    """To the room's facilitators: a message was reported. Never names the reporter."""

    id: int
    seq: int
    author: str
    reason: str


class ReportItem(msgspec.Struct):
    id: int
    seq: int
    reason: str
    status: str
    replies: list[str]


class MyReports(_ServerFrame, tag="my_reports"):
    """To a reporter: their open reports and any private replies from moderators."""

    items: list[ReportItem]


class Waiting(_ServerFrame, tag="waiting"):
    """To a member outside the current session: wait here. ``agreement`` is shown again at
    every session; once ``agreed`` a facilitator can admit them."""

    session: str  # "none" (no session yet), "open", "locked"
    agreement_version: int
    agreement: str
    agreed: bool
    schedule: str = ""


class WaitingMember(msgspec.Struct):
    pseudonym: str
    agreed: bool


class WaitingRoom(_ServerFrame, tag="waiting_room"):
    """To facilitators: the current session's state and who is waiting to come in."""

    session: str
    members: list[WaitingMember]


class Pong(_ServerFrame, tag="pong"):
    pass


class Error(_ServerFrame, tag="error"):
    code: str
    message: str
    ref: str | None = None
    retry_after: float | None = None


class Resource(msgspec.Struct):
    name: str
    contact: str
    note: str = ""


class Signpost(_ServerFrame, tag="signpost"):
    """Private to the member whose message showed risk; never shown to anyone else."""

    message: str
    resources: list[Resource]


class RiskNotice(_ServerFrame, tag="risk_notice"):
    """A private heads-up to the room's facilitators and moderators."""

    seq: int | None
    author: str
    category: str
    severity: str


class LanguageNotice(_ServerFrame, tag="language_notice"):
    """To the room's facilitators and moderators: a message is in a language the risk
    detector does not read, so a person should read it (it was not assessed, which is not
    the same as safe)."""

    seq: int | None
    author: str
    language: str


class SupportOffer(_ServerFrame, tag="support_offer"):
    """Private to a member: staff opened a one-to-one support room for them."""

    room: str
    title: str


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


class Escalations(_ServerFrame, tag="escalations"):
    items: list[EscalationItem]


class EscalationFrame(_ServerFrame, tag="escalation"):
    item: EscalationItem


class NoteItem(msgspec.Struct):
    author: str
    ts: datetime
    text: str | None


class EscalationDetail(_ServerFrame, tag="escalation_detail"):
    id: int
    excerpt: str | None
    notes: list[NoteItem]


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


class StaffReports(_ServerFrame, tag="reports"):
    items: list[StaffReportItem]


class StaffReport(_ServerFrame, tag="report"):
    item: StaffReportItem


class ReplyFrame(_ServerFrame, tag="moderator_reply"):
    """Private to a reporter: a moderator's answer to their report."""

    report_id: int
    seq: int
    text: str | None


class Done(_ServerFrame, tag="done"):
    """Acknowledges a staff action; ``ref`` echoes the request's ``ref``."""

    ref: str
    room: str | None = None


ServerFrame = (
    YouFrame
    | StaffReports
    | StaffReport
    | ReplyFrame
    | Hidden
    | Pins
    | Moderated
    | ModAction
    | Held
    | HeldDecision
    | HeldQueue
    | ReportNotice
    | MyReports
    | Waiting
    | WaitingRoom
    | Signpost
    | RiskNotice
    | LanguageNotice
    | SupportOffer
    | Escalations
    | EscalationFrame
    | EscalationDetail
    | Done
    | Welcome
    | Ack
    | MessageFrame
    | Deleted
    | HistoryPage
    | Resumed
    | Presence
    | TypingFrame
    | Heartbeat
    | RoomState
    | Pong
    | Error
)

_encoder = msgspec.json.Encoder()


def encode(frame: ServerFrame) -> str:
    return _encoder.encode(frame).decode()


def error_frame(exc: ProtocolError, *, retry_after: float | None = None) -> str:
    return encode(Error(code=exc.code, message=exc.message, ref=exc.ref, retry_after=retry_after))


# --- pages of the log (history, resumed) ----------------------------------------------------
#
# A page is cut to fit one frame of the advertised ``max_frame_bytes``, counted in encoded
# bytes, whatever the messages' length and script: 200 messages of 3,000 characters made a
# 619,496-byte frame, which the websocket layer refused, so ``resume`` failed every time and
# the messages could never be read (issue 13, finding 16). A cut page says ``has_more`` and
# the client asks for the rest.

_LARGEST_SEQ: Final = 2**63 - 1
# JSON escapes a control character as six bytes (\u0000): no character encodes longer.
_WIDEST_CHAR: Final = "\x00"
# The bytes of a page frame around its entries at their largest (sequence numbers at their
# maximum, the longer of the two frames, ``has_more`` spelled "false").
PAGE_ENVELOPE_BYTES: Final = max(
    len(_encoder.encode(HistoryPage(messages=[], has_more=False))),
    len(
        _encoder.encode(
            Resumed(after=_LARGEST_SEQ, messages=[], latest_seq=_LARGEST_SEQ, has_more=False)
        )
    ),
)


class PageBudget:
    """What is left of one page frame's bytes as entries are added. Each entry is measured
    as the encoder writes it (UTF-8, escapes and all) plus one byte for its comma, so the
    whole frame is never longer than ``max_bytes``."""

    def __init__(self, max_bytes: int) -> None:
        self.left = max_bytes - PAGE_ENVELOPE_BYTES

    def take(self, entry: LogEntry) -> bool:
        """Count ``entry`` in if it fits; False (and nothing counted) if it does not."""
        size = len(_encoder.encode(entry)) + 1
        if size > self.left:
            return False
        self.left -= size
        return True


def largest_entry_bytes(max_message_chars: int) -> int:
    """An upper bound on one log entry's encoded size for messages of ``max_message_chars``:
    every field at its longest, every character the widest JSON can make it. A page (and a
    live ``message`` frame) can hold any one message only if the frame limit allows this."""
    longest = MessageFrame(
        seq=_LARGEST_SEQ,
        ts=datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
        author=_WIDEST_CHAR * 64,
        body=_WIDEST_CHAR * max_message_chars,
        deleted=True,
        unavailable=True,
        hidden=True,
        hidden_reason=_WIDEST_CHAR * 20,
        announcement=True,
        cw=True,
        themes=list(get_args(Theme)),
        ignored=True,
    )
    return len(_encoder.encode(longest)) + 1


# --- staff frames (the /ws/staff/ socket) ---------------------------------------------------

EscalationId = Annotated[int, msgspec.Meta(ge=1)]


class EscalationAck(_ClientFrame, tag="esc_ack", frozen=True):
    id: EscalationId
    ref: Ref


class EscalationProgress(_ClientFrame, tag="esc_progress", frozen=True):
    id: EscalationId
    ref: Ref


class EscalationNoteAdd(_ClientFrame, tag="esc_note", frozen=True):
    id: EscalationId
    ref: Ref
    text: Annotated[str, msgspec.Meta(min_length=1, max_length=4000)]


class EscalationResolve(_ClientFrame, tag="esc_resolve", frozen=True):
    id: EscalationId
    ref: Ref
    outcome: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    false_alarm: bool = False


class EscalationView(_ClientFrame, tag="esc_view", frozen=True):
    id: EscalationId
    ref: Ref


class EscalationSupport(_ClientFrame, tag="esc_support", frozen=True):
    id: EscalationId
    ref: Ref


class ReportReplySend(_ClientFrame, tag="report_reply", frozen=True):
    """A moderator answers the person who made a report, privately."""

    id: Annotated[int, msgspec.Meta(ge=1)]
    ref: Ref
    text: Annotated[str, msgspec.Meta(min_length=1, max_length=2000)]


class ReportView(_ClientFrame, tag="report_view", frozen=True):
    """Read a report's message and note (an audited view of decrypted content)."""

    id: Annotated[int, msgspec.Meta(ge=1)]
    ref: Ref


class ReportClose(_ClientFrame, tag="report_close", frozen=True):
    id: Annotated[int, msgspec.Meta(ge=1)]
    ref: Ref
    outcome: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]


StaffFrame = (
    ReportReplySend
    | ReportView
    | ReportClose
    | EscalationAck
    | EscalationProgress
    | EscalationNoteAdd
    | EscalationResolve
    | EscalationView
    | EscalationSupport
    | Ping
)
_staff_decoder = msgspec.json.Decoder(StaffFrame)


def parse_staff_frame(text: str | None, *, max_bytes: int) -> StaffFrame:
    if text is None:
        raise ProtocolError(ErrorCode.INVALID_FRAME, "binary frames are not supported")
    if len(text.encode()) > max_bytes:
        raise ProtocolError(ErrorCode.FRAME_TOO_LARGE, f"frames are limited to {max_bytes} bytes")
    try:
        return _staff_decoder.decode(text)
    except msgspec.ValidationError as exc:
        detail = str(exc)
        code = ErrorCode.UNKNOWN_TYPE if "`$.type`" in detail else ErrorCode.INVALID_FRAME
        raise ProtocolError(code, detail) from None
    except msgspec.DecodeError:
        raise ProtocolError(ErrorCode.BAD_JSON, "frame is not valid JSON") from None
