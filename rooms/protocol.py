"""The websocket wire protocol, version 1: every client and server frame, the limits, the
error codes and the close codes. Documented in docs/protocol.md; the web client mirrors it in
static/js/protocol.js. Nothing else reads or writes raw socket JSON.

Client frames are parsed against closed schemas: an unknown field, a wrong type or an unknown
``type`` is refused with a machine-readable error code, never an exception in the consumer.
Server frames are encoded once; a broadcast is encoded once per message, not per recipient.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Final, Literal

import msgspec

PROTOCOL_VERSION: Final = 1


class Close:
    """Close codes (4000-4999 is the application range of RFC 6455)."""

    NORMAL: Final = 1000
    FRAME_TOO_LARGE: Final = 1009
    UNAUTHENTICATED: Final = 4001  # no session, or it expired
    FORBIDDEN: Final = 4003  # not allowed in this room (agreement, invite, ban)
    ROOM_NOT_FOUND: Final = 4004
    ROOM_CLOSED: Final = 4010
    SESSION_ENDED: Final = 4011  # logged out (possibly elsewhere), erased, or role changed
    FLOODING: Final = 4029  # kept sending after being rate limited


class ErrorCode:
    BAD_JSON: Final = "bad_json"
    UNKNOWN_TYPE: Final = "unknown_type"
    INVALID_FRAME: Final = "invalid_frame"
    FRAME_TOO_LARGE: Final = "frame_too_large"
    EMPTY_MESSAGE: Final = "empty_message"
    MESSAGE_TOO_LONG: Final = "message_too_long"
    RATE_LIMITED: Final = "rate_limited"
    ROOM_PAUSED: Final = "room_paused"
    ROOM_CLOSED: Final = "room_closed"
    NOT_FOUND: Final = "not_found"
    FORBIDDEN: Final = "forbidden"
    INTERNAL: Final = "internal_error"


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


class Send(_ClientFrame, tag="send", frozen=True):
    client_id: ClientId
    body: str


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


ClientFrame = Send | History | Resume | Typing | Delete | Ping | Flag
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
        _check_body(frame, max_chars)
    return frame


def _check_body(frame: Send, max_chars: int) -> None:
    if not frame.body.strip():
        raise ProtocolError(ErrorCode.EMPTY_MESSAGE, "message is empty", ref=frame.client_id)
    if len(frame.body) > max_chars:
        raise ProtocolError(
            ErrorCode.MESSAGE_TOO_LONG,
            f"messages are limited to {max_chars} characters",
            ref=frame.client_id,
        )


# --- server frames ------------------------------------------------------------------------


class _ServerFrame(msgspec.Struct, tag_field="type", omit_defaults=True):
    pass


class RoomInfo(msgspec.Struct):
    slug: str
    title: str
    state: str


class You(msgspec.Struct):
    pseudonym: str
    role: str


class Limits(msgspec.Struct):
    max_message_chars: int
    max_frame_bytes: int
    rate_per_second: float
    burst: int


class Welcome(_ServerFrame, tag="welcome"):
    protocol: int
    room: RoomInfo
    you: You
    latest_seq: int
    heartbeat_seconds: float
    limits: Limits


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


class Deleted(_ServerFrame, tag="deleted"):
    seq: int
    ts: datetime
    target: int


LogEntry = MessageFrame | Deleted


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


class Done(_ServerFrame, tag="done"):
    """Acknowledges a staff action; ``ref`` echoes the request's ``ref``."""

    ref: str
    room: str | None = None


ServerFrame = (
    Signpost
    | RiskNotice
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


# --- staff frames (the /ws/staff/ socket) ---------------------------------------------------

Ref = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
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


StaffFrame = (
    EscalationAck
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


ServerFrameType = Literal[
    "welcome",
    "ack",
    "message",
    "deleted",
    "history",
    "resumed",
    "presence",
    "typing",
    "heartbeat",
    "room_state",
    "pong",
    "error",
]
