"""The websocket wire protocol, version 1: every client and server frame, the limits, the
error codes and the close codes. Documented in docs/protocol.md; the web client mirrors it in
static/js/protocol.js. Nothing else reads or writes raw socket JSON.

Client frames are parsed against closed schemas: an unknown field, a wrong type or an unknown
``type`` is refused with a machine-readable error code, never an exception in the consumer.
Server frames are encoded once; a broadcast is encoded once per message, not per recipient.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Final, Literal, get_args

import msgspec

# The codes are part of the protocol (docs/protocol.md); they live below both apps.
from chatserver.codes import Close as Close
from chatserver.codes import ErrorCode as ErrorCode
from rooms import values

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


RoomInfo = values.RoomInfo


You = values.You


Limits = values.Limits


PinItem = values.PinItem


class Welcome(_ServerFrame, tag="welcome"):
    protocol: int
    room: RoomInfo
    you: You
    latest_seq: int
    heartbeat_seconds: float
    limits: Limits
    pins: list[PinItem] = []


class YouFrame(values.YouChanged, _ServerFrame, tag="you"): ...


class Ack(_ServerFrame, tag="ack"):
    client_id: str
    seq: int
    ts: datetime
    duplicate: bool = False


class MessageFrame(values.Message, _ServerFrame, tag="message"): ...


class Deleted(values.Deleted, _ServerFrame, tag="deleted"): ...


class Hidden(values.Hidden, _ServerFrame, tag="hidden"): ...


LogEntry = MessageFrame | Deleted | Hidden


class HistoryPage(_ServerFrame, tag="history"):
    messages: list[LogEntry]
    has_more: bool


class Resumed(_ServerFrame, tag="resumed"):
    after: int
    messages: list[LogEntry]
    latest_seq: int
    has_more: bool


PresenceMember = values.PresenceMember


class Presence(values.Presence, _ServerFrame, tag="presence"): ...


class TypingFrame(_ServerFrame, tag="typing"):
    author: str


class Heartbeat(values.Heartbeat, _ServerFrame, tag="heartbeat"): ...


class RoomState(values.RoomState, _ServerFrame, tag="room_state"): ...


class Pins(values.Pins, _ServerFrame, tag="pins"): ...


class Moderated(values.Moderated, _ServerFrame, tag="moderated"): ...


class ModAction(values.ModAction, _ServerFrame, tag="mod_action"): ...


HeldItem = values.HeldItem


class Held(_ServerFrame, tag="held"):
    """To the sender: the message was kept back for a facilitator's review."""

    client_id: str
    reason: str
    message: str


class HeldDecision(values.HeldDecision, _ServerFrame, tag="held_decision"): ...


class HeldQueue(values.HeldQueue, _ServerFrame, tag="held_queue"): ...


class ReportNotice(values.ReportNotice, _ServerFrame, tag="report_notice"): ...


ReportItem = values.ReportItem


class MyReports(values.MyReports, _ServerFrame, tag="my_reports"): ...


class Waiting(values.Waiting, _ServerFrame, tag="waiting"): ...


WaitingMember = values.WaitingMember


class WaitingRoom(values.WaitingRoom, _ServerFrame, tag="waiting_room"): ...


class Pong(_ServerFrame, tag="pong"):
    pass


class Error(_ServerFrame, tag="error"):
    code: str
    message: str
    ref: str | None = None
    retry_after: float | None = None


Resource = values.Resource


class Signpost(values.Signpost, _ServerFrame, tag="signpost"): ...


class RiskNotice(values.RiskNotice, _ServerFrame, tag="risk_notice"): ...


class LanguageNotice(values.LanguageNotice, _ServerFrame, tag="language_notice"): ...


Risk = values.Risk
AlertItem = values.AlertItem


class RoomAlerts(values.RoomAlerts, _ServerFrame, tag="room_alerts"): ...


class CareStatus(values.CareStatus, _ServerFrame, tag="care_status"): ...


class SupportOffer(values.SupportOffer, _ServerFrame, tag="support_offer"): ...


EscalationItem = values.EscalationItem


class Escalations(_ServerFrame, tag="escalations"):
    items: list[EscalationItem]


class EscalationFrame(values.EscalationUpdate, _ServerFrame, tag="escalation"): ...


NoteItem = values.NoteItem


class EscalationDetail(values.EscalationDetail, _ServerFrame, tag="escalation_detail"): ...


StaffReportItem = values.StaffReportItem


class StaffReports(_ServerFrame, tag="reports"):
    items: list[StaffReportItem]


class StaffReport(values.StaffReportUpdate, _ServerFrame, tag="report"): ...


class ReplyFrame(values.ModeratorReply, _ServerFrame, tag="moderator_reply"): ...


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
    | RoomAlerts
    | CareStatus
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

# Each value the domain modules publish (``rooms.values``) and the frame that carries it: the
# frame class is the value class plus its tag.
_FRAME_OF: Final[dict[type, type]] = {
    cls.__bases__[0]: cls for cls in get_args(ServerFrame) if cls.__bases__[0] is not _ServerFrame
}


def frame(item: ServerFrame | msgspec.Struct) -> ServerFrame:
    """The frame for a domain value, with its tag (a frame is returned as it is)."""
    if isinstance(item, _ServerFrame):
        return item  # type: ignore[return-value]
    try:
        cls = _FRAME_OF[type(item)]
    except KeyError:
        raise TypeError(f"no frame carries a {type(item).__name__}") from None
    return cls(**msgspec.structs.asdict(item))  # type: ignore[no-any-return]


def encode(item: ServerFrame | msgspec.Struct) -> str:
    """One frame's JSON, from the frame or from the domain value it carries."""
    return _encoder.encode(frame(item)).decode()


def log_entries(entries: list[values.LogValue]) -> list[LogEntry]:
    """A page's entries as frames (each tagged, so a client tells a message from a deletion)."""
    return [frame(e) for e in entries]  # type: ignore[misc]


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

    def take(self, entry: LogEntry | values.LogValue) -> bool:
        """Count ``entry`` in if it fits; False (and nothing counted) if it does not."""
        size = len(_encoder.encode(frame(entry))) + 1
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
        role=_WIDEST_CHAR * 12,
        care=_WIDEST_CHAR * 32,
        risk=values.Risk(category=_WIDEST_CHAR * 32, severity=_WIDEST_CHAR * 12),
        reports=_LARGEST_SEQ,
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


# --- building answers from what the services return ----------------------------------------


def ref_of(frame: object) -> str | None:
    """The id a client gave a request, echoed on its answer (a send's is its client id)."""
    if isinstance(frame, Send):
        return frame.client_id
    return getattr(frame, "ref", None)


def send_result(client_id: str, sent: Any) -> Ack | Held:
    """The answer to a ``send``: its acknowledgement, or word that it was held for review
    (``sent`` is ``rooms.services.Sent``)."""
    if sent.held is not None:
        return Held(client_id=client_id, reason=sent.held, message=sent.held_message)
    return Ack(client_id=client_id, seq=sent.seq, ts=sent.ts, duplicate=sent.duplicate)


def history_page(entries: list[values.LogValue], has_more: bool) -> HistoryPage:
    return HistoryPage(messages=log_entries(entries), has_more=has_more)


def resumed(after: int, entries: list[values.LogValue], latest: int, has_more: bool) -> Resumed:
    return Resumed(after=after, messages=log_entries(entries), latest_seq=latest, has_more=has_more)


def ignored_placeholder(seq: int, ts: datetime) -> MessageFrame:
    """In place of a message from someone the reader ignores: no author, no body, and the
    sequence stays gap-free."""
    return MessageFrame(seq=seq, ts=ts, author="", body=None, ignored=True)
