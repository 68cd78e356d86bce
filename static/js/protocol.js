// The websocket protocol, version 1 (docs/protocol.md; the server side is rooms/protocol.py).
// This is the only module that builds or reads raw socket JSON: everything else gets plain
// objects that have been checked here, so a malformed or hostile frame cannot reach the page.

export const PROTOCOL_VERSION = 1;

export const Close = Object.freeze({
  NORMAL: 1000,
  FRAME_TOO_LARGE: 1009,
  UNAUTHENTICATED: 4001, // no session, or it expired
  FORBIDDEN: 4003, // not allowed in this room (agreement, invite, ban)
  ROOM_NOT_FOUND: 4004,
  ROOM_CLOSED: 4010,
  SESSION_ENDED: 4011, // logged out (possibly elsewhere), erased, or role changed
  FLOODING: 4029, // kept sending after being rate limited
});

export const ErrorCode = Object.freeze({
  BAD_JSON: "bad_json",
  UNKNOWN_TYPE: "unknown_type",
  INVALID_FRAME: "invalid_frame",
  FRAME_TOO_LARGE: "frame_too_large",
  EMPTY_MESSAGE: "empty_message",
  MESSAGE_TOO_LONG: "message_too_long",
  RATE_LIMITED: "rate_limited",
  ROOM_PAUSED: "room_paused",
  ROOM_CLOSED: "room_closed",
  NOT_FOUND: "not_found",
  FORBIDDEN: "forbidden",
  INTERNAL: "internal_error",
  // Sent once at connect time (or when a session ends), just before the close code.
  NOT_AUTHENTICATED: "not_authenticated",
  ROOM_NOT_FOUND: "room_not_found",
  AGREEMENT_REQUIRED: "agreement_required",
  SESSION_ENDED: "session_ended",
});

export const ServerType = Object.freeze({
  WELCOME: "welcome",
  ACK: "ack",
  MESSAGE: "message",
  DELETED: "deleted",
  HISTORY: "history",
  RESUMED: "resumed",
  PRESENCE: "presence",
  TYPING: "typing",
  HEARTBEAT: "heartbeat",
  ROOM_STATE: "room_state",
  PONG: "pong",
  ERROR: "error",
  // Private to this member: gentle words and crisis resources, after a worrying message.
  SIGNPOST: "signpost",
  // Private to this member: staff opened a one-to-one support room for them.
  SUPPORT_OFFER: "support_offer",
});

export const HISTORY_PAGE = 50;
export const RESUME_LIMIT = 200;
export const TYPING_INTERVAL_MS = 2000; // the server coalesces faster typing notices anyway

// --- client frames --------------------------------------------------------------------------

const encode = (frame) => JSON.stringify(frame);

export function sendFrame(clientId, body) {
  return encode({ type: "send", client_id: clientId, body });
}

export function historyFrame({ before = null, limit = HISTORY_PAGE } = {}) {
  const frame = { type: "history", limit };
  if (before !== null) frame.before = before;
  return encode(frame);
}

export function resumeFrame(after, limit = RESUME_LIMIT) {
  return encode({ type: "resume", after, limit });
}

export function typingFrame() {
  return encode({ type: "typing" });
}

export function deleteFrame(seq) {
  return encode({ type: "delete", seq });
}

export function pingFrame() {
  return encode({ type: "ping" });
}

// A client_id is 1-64 of A-Z a-z 0-9 _ . : -. Random, so a retry after a reconnect can reuse
// it and the server stores the message once. getRandomValues works on plain http too
// (randomUUID needs a secure context, which a laptop on a LAN address is not).
export const CLIENT_ID_PATTERN = /^[A-Za-z0-9_.:-]{1,64}$/;

export function newClientId() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return "c-" + Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

// --- close codes ----------------------------------------------------------------------------

export const CloseAction = Object.freeze({
  START: "start", // the session is gone: back to the start
  ROOMS: "rooms", // this room is not available: back to the room list
  LATER: "later", // flooding: reconnect, but only after a long pause
  RETRY: "retry", // anything else is temporary: reconnect with back-off and resume
});

export function closeAction(code) {
  switch (code) {
    case Close.UNAUTHENTICATED:
    case Close.SESSION_ENDED:
      return CloseAction.START;
    case Close.FORBIDDEN:
    case Close.ROOM_NOT_FOUND:
    case Close.ROOM_CLOSED:
      return CloseAction.ROOMS;
    case Close.FLOODING:
      return CloseAction.LATER;
    default:
      return CloseAction.RETRY;
  }
}

// --- server frames --------------------------------------------------------------------------

const isObject = (v) => typeof v === "object" && v !== null && !Array.isArray(v);
const isString = (v) => typeof v === "string";
const isSeq = (v) => Number.isSafeInteger(v) && v >= 0;
const isOptional = (v, check) => v === undefined || v === null || check(v);

function isMessage(f) {
  return (
    isSeq(f.seq) &&
    f.seq > 0 &&
    isString(f.ts) &&
    isString(f.author) &&
    (f.body === null || isString(f.body))
  );
}

function isDeleted(f) {
  return isSeq(f.seq) && f.seq > 0 && isSeq(f.target) && isString(f.ts);
}

// A log entry inside `history` or `resumed`: objects tagged like the live frames.
function isEntry(e) {
  if (!isObject(e)) return false;
  if (e.type === ServerType.MESSAGE) return isMessage(e);
  if (e.type === ServerType.DELETED) return isDeleted(e);
  return false;
}

const isEntryList = (v) => Array.isArray(v) && v.every(isEntry);

const VALIDATORS = {
  [ServerType.WELCOME]: (f) =>
    isObject(f.room) &&
    isString(f.room.title) &&
    isObject(f.you) &&
    isString(f.you.pseudonym) &&
    isSeq(f.latest_seq) &&
    typeof f.heartbeat_seconds === "number",
  [ServerType.ACK]: (f) => isString(f.client_id) && isSeq(f.seq) && f.seq > 0,
  [ServerType.MESSAGE]: isMessage,
  [ServerType.DELETED]: isDeleted,
  [ServerType.HISTORY]: (f) => isEntryList(f.messages) && typeof f.has_more === "boolean",
  [ServerType.RESUMED]: (f) =>
    isSeq(f.after) && isEntryList(f.messages) && isSeq(f.latest_seq) && typeof f.has_more === "boolean",
  [ServerType.PRESENCE]: (f) =>
    Array.isArray(f.members) && f.members.every((m) => isObject(m) && isString(m.pseudonym)),
  [ServerType.TYPING]: (f) => isString(f.author),
  [ServerType.HEARTBEAT]: (f) => isSeq(f.latest_seq),
  [ServerType.ROOM_STATE]: (f) => isString(f.state),
  [ServerType.PONG]: () => true,
  [ServerType.ERROR]: (f) =>
    isString(f.code) &&
    isString(f.message) &&
    isOptional(f.ref, isString) &&
    isOptional(f.retry_after, (v) => typeof v === "number"),
  [ServerType.SIGNPOST]: (f) => isOptional(f.message, isString),
  [ServerType.SUPPORT_OFFER]: (f) => isString(f.room) && f.room !== "" && isString(f.title),
};

// A signpost's resources are shown as text; entries without a name and contact are dropped
// rather than refusing the whole prompt, which is about someone's safety.
function normaliseSignpost(f) {
  const resources = Array.isArray(f.resources)
    ? f.resources
        .filter((r) => isObject(r) && isString(r.name) && isString(r.contact))
        .map((r) => ({ name: r.name, contact: r.contact, note: isString(r.note) ? r.note : "" }))
    : [];
  return { type: ServerType.SIGNPOST, message: isString(f.message) ? f.message : "", resources };
}

/**
 * Parse one text frame from the server. Returns the frame object, or null when it is not
 * JSON, not an object, has no string `type`, or a known type with missing or wrong fields.
 * Frames of types this version does not know are returned as they are, for the caller to
 * ignore: a newer server may add some.
 */
export function parseServerFrame(text) {
  if (typeof text !== "string") return null;
  let frame;
  try {
    frame = JSON.parse(text);
  } catch {
    return null;
  }
  if (!isObject(frame) || !isString(frame.type)) return null;
  const check = Object.hasOwn(VALIDATORS, frame.type) ? VALIDATORS[frame.type] : null;
  if (check && !check(frame)) return null;
  if (frame.type === ServerType.SIGNPOST) return normaliseSignpost(frame);
  return frame;
}
