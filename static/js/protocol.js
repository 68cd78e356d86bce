// The room socket, protocol version 1 (docs/protocol.md; the server side is rooms/protocol.py):
// the room's frames, closed lists and close-code rules, on top of what every socket shares
// (core/protocol.js: close codes, ping, done, error, the checks and the decoding). Everything
// else gets plain objects that have been checked here, so a malformed or hostile frame cannot
// reach the page.

import {
  COMMON_READERS,
  Close,
  encode,
  isBool,
  isId,
  isListOf,
  isNumber,
  isObject,
  isOptional,
  isSeq,
  isString,
  isStringList,
  newRef,
  parseFrame,
  pingFrame,
  randomHex,
} from "./core/protocol.js";

export { Close, newRef, pingFrame };

export const PROTOCOL_VERSION = 1;

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
  MUTED: "muted",
  SLOW_MODE: "slow_mode",
  WAITING: "waiting", // not admitted to the session yet
  ROOM_LOCKED: "room_locked",
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
  // A facilitator hid message `target` (a log entry with its own seq, like `deleted`).
  HIDDEN: "hidden",
  PINS: "pins",
  YOU: "you", // this participant's own settings changed, maybe on another device
  DONE: "done", // an action with a `ref` succeeded
  // Private to the participant a facilitator acted on.
  MODERATED: "moderated",
  // To the sender: the message waits for a facilitator's review (instead of an ack) ...
  HELD: "held",
  // ... and what the facilitator decided.
  HELD_DECISION: "held_decision",
  MY_REPORTS: "my_reports",
  MODERATOR_REPLY: "moderator_reply",
  // A member outside the room's current session.
  WAITING: "waiting",
  // Facilitators only.
  HELD_QUEUE: "held_queue",
  MOD_ACTION: "mod_action",
  REPORT_NOTICE: "report_notice",
  RISK_NOTICE: "risk_notice",
  LANGUAGE_NOTICE: "language_notice",
  WAITING_ROOM: "waiting_room",
  // Facilitators, on entering: the room's open alerts and reports from before they came.
  ROOM_ALERTS: "room_alerts",
  // Private to this member: where the alert about their message stands, and who is on call.
  CARE_STATUS: "care_status",
});

// Closed lists, as the server's schemas have them.
export const THEMES = Object.freeze([
  "suicide",
  "self_harm",
  "sexual_violence",
  "violence",
  "child_abuse",
  "substances",
  "eating",
]);
export const REPORT_REASONS = Object.freeze([
  "harassment",
  "unsafe",
  "identifying",
  "graphic",
  "spam",
  "impersonation",
  "other",
]);
export const HIDE_REASONS = Object.freeze(["agreement", "identifying", "graphic", "harassment", "spam", "other"]);
export const FLAG_CATEGORIES = Object.freeze([
  "suicide",
  "self_harm",
  "immediate_danger",
  "child_at_risk",
  "harm_to_others",
  "medical_emergency",
]);
export const FLAG_SEVERITIES = Object.freeze(["concern", "high", "critical"]);
// Roles from least to most trusted. What each may do is the server's decision; the page only
// uses this to choose which controls to offer.
export const ROLES = Object.freeze(["member", "facilitator", "moderator", "staff", "admin"]);
export const MAX_SLOW_MODE_SECONDS = 3600;
export const MAX_MUTE_MINUTES = 10080;
export const MAX_REPORT_NOTE_CHARS = 1000;

export function roleAtLeast(role, minimum) {
  const have = ROLES.indexOf(role);
  return have >= 0 && have >= ROLES.indexOf(minimum);
}

export const HISTORY_PAGE = 50;
export const RESUME_LIMIT = 200;
export const TYPING_INTERVAL_MS = 2000; // the server coalesces faster typing notices anyway

// --- client frames --------------------------------------------------------------------------

/** A message; `cw` and `themes` (the author's content warning) only when set. */
export function sendFrame(clientId, body, { cw = false, themes = [] } = {}) {
  const frame = { type: "send", client_id: clientId, body };
  if (cw) frame.cw = true;
  const known = themes.filter((t) => THEMES.includes(t));
  if (known.length) frame.themes = known;
  return encode(frame);
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

/** In the waiting room: accept this session's agreement (no ref: a `waiting` or `welcome`
 * frame answers it). */
export function agreeFrame(version) {
  return encode({ type: "agree", version });
}

// Actions answered by `done {ref}` or `error {code, message, ref}`. Each builder takes the
// ref last; RoomConnection.request() supplies it.

export const reportFrame = (seq, reason, note, ref) => {
  const frame = { type: "report", seq, reason, ref };
  if (note) frame.note = note.slice(0, MAX_REPORT_NOTE_CHARS);
  return encode(frame);
};
export const ignoreFrame = (pseudonym, ref) => encode({ type: "ignore", pseudonym, ref });
export const unignoreFrame = (pseudonym, ref) => encode({ type: "unignore", pseudonym, ref });
export const preferencesFrame = (blur, ref) =>
  encode({ type: "preferences", blur: blur.filter((t) => THEMES.includes(t)), ref });
export const leaveFrame = (ref) => encode({ type: "leave", ref });
// Facilitators and up (the server checks every one).
export const muteFrame = (pseudonym, minutes, ref) => encode({ type: "mute", pseudonym, minutes, ref });
export const removeFrame = (pseudonym, ref) => encode({ type: "remove", pseudonym, ref });
export const banFrame = (pseudonym, scope, ref) => encode({ type: "ban", pseudonym, scope, ref });
export const hideFrame = (seq, reason, ref) => encode({ type: "hide", seq, reason, ref });
export const pinFrame = (seq, ref) => encode({ type: "pin", seq, ref });
export const unpinFrame = (seq, ref) => encode({ type: "unpin", seq, ref });
export const slowModeFrame = (seconds, ref) => encode({ type: "slow_mode", seconds, ref });
export const roomStateFrame = (state, ref) => encode({ type: "set_room_state", state, ref });
export const announceFrame = (body, ref) => encode({ type: "announce", body, ref });
export const releaseFrame = (id, ref) => encode({ type: "release", id, ref });
export const rejectFrame = (id, ref) => encode({ type: "reject", id, ref });
export const sessionFrame = (action, ref) => encode({ type: "session", action, ref });
export const admitFrame = (pseudonym, ref) => encode({ type: "admit", pseudonym, ref });
export const flagFrame = (seq, category, severity, ref) => encode({ type: "flag", seq, category, severity, ref });

// A client_id is 1-64 of A-Z a-z 0-9 _ . : -. Random, so a retry after a reconnect can reuse
// it and the server stores the message once. (An action's `ref` starts with "a-": newRef.)
export const CLIENT_ID_PATTERN = /^[A-Za-z0-9_.:-]{1,64}$/;

export function newClientId() {
  return "c-" + randomHex(16);
}

// --- close codes ----------------------------------------------------------------------------

export const CloseAction = Object.freeze({
  START: "start", // the session is gone: back to the start
  ROOMS: "rooms", // this room is not available: back to the room list
  LATER: "later", // flooding: reconnect, but only after a long pause
  REMOVED: "removed", // removed by a facilitator, or left: back to the room list, no reconnect
  SITTING_CLOSED: "sitting_closed", // the session ended: say so, no reconnect
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
    case Close.REMOVED:
      return CloseAction.REMOVED;
    case Close.SITTING_CLOSED:
      return CloseAction.SITTING_CLOSED;
    case Close.FLOODING:
    case Close.TOO_MANY_SOCKETS:
      return CloseAction.LATER;
    default:
      return CloseAction.RETRY;
  }
}

// --- server frames --------------------------------------------------------------------------

const knownThemes = (v) => (Array.isArray(v) ? THEMES.filter((t) => v.includes(t)) : []);

const isRisk = (r) => isObject(r) && isString(r.category) && isString(r.severity);

function isMessage(f) {
  return (
    isSeq(f.seq) &&
    f.seq > 0 &&
    isString(f.ts) &&
    isString(f.author) &&
    (f.body === null || isString(f.body)) &&
    isOptional(f.hidden_reason, isString) &&
    isOptional(f.themes, isStringList) &&
    isOptional(f.role, isString) &&
    isOptional(f.care, isString) &&
    isOptional(f.risk, isRisk) &&
    isOptional(f.reports, isSeq)
  );
}

// `deleted` and `hidden` entries: their own seq, and the message they act on.
function isDeleted(f) {
  return isSeq(f.seq) && f.seq > 0 && isSeq(f.target) && isString(f.ts);
}

const isHidden = (f) => isDeleted(f) && isString(f.reason);

// A log entry inside `history` or `resumed`: objects tagged like the live frames.
function isEntry(e) {
  if (!isObject(e)) return false;
  if (e.type === ServerType.MESSAGE) return isMessage(e);
  if (e.type === ServerType.DELETED) return isDeleted(e);
  if (e.type === ServerType.HIDDEN) return isHidden(e);
  return false;
}

const isEntryList = (v) => isListOf(v, isEntry);
const isPin = (p) => isObject(p) && isId(p.seq) && isString(p.author) && (p.body === null || isString(p.body));
const isYou = (y) =>
  isObject(y) &&
  isString(y.pseudonym) &&
  isOptional(y.role, isString) &&
  isOptional(y.blur, isStringList) &&
  isOptional(y.ignoring, isStringList) &&
  isOptional(y.muted_until, isString);
const isHeldItem = (h) =>
  isObject(h) &&
  isId(h.id) &&
  isString(h.author) &&
  (h.body === null || isString(h.body)) &&
  isString(h.reason) &&
  isString(h.ts);
const isReportItem = (r) =>
  isObject(r) &&
  isId(r.id) &&
  isSeq(r.seq) &&
  isString(r.reason) &&
  isString(r.status) &&
  isStringList(r.replies) &&
  isOptional(r.excerpt, isString);
const isWaitingMember = (m) => isObject(m) && isString(m.pseudonym) && isBool(m.agreed);
const isAlertItem = (a) =>
  isObject(a) &&
  (a.kind === "risk" || a.kind === "report") &&
  isId(a.id) &&
  isOptional(a.seq, isSeq) &&
  isString(a.author) &&
  isString(a.ts) &&
  isOptional(a.category, isString) &&
  isOptional(a.severity, isString) &&
  isOptional(a.reason, isString);
const CARE_STATES = ["told", "acknowledged", "support_offered", "closed"];

const VALIDATORS = {
  [ServerType.WELCOME]: (f) =>
    isObject(f.room) &&
    isString(f.room.title) &&
    isOptional(f.room.slow_mode_seconds, isSeq) &&
    isYou(f.you) &&
    isSeq(f.latest_seq) &&
    isNumber(f.heartbeat_seconds) &&
    isOptional(f.pins, (v) => isListOf(v, isPin)),
  [ServerType.ACK]: (f) => isString(f.client_id) && isSeq(f.seq) && f.seq > 0,
  [ServerType.MESSAGE]: isMessage,
  [ServerType.DELETED]: isDeleted,
  [ServerType.HIDDEN]: isHidden,
  [ServerType.HISTORY]: (f) => isEntryList(f.messages) && isBool(f.has_more),
  [ServerType.RESUMED]: (f) => isSeq(f.after) && isEntryList(f.messages) && isSeq(f.latest_seq) && isBool(f.has_more),
  [ServerType.PRESENCE]: (f) => isListOf(f.members, (m) => isObject(m) && isString(m.pseudonym)),
  [ServerType.TYPING]: (f) => isString(f.author),
  [ServerType.HEARTBEAT]: (f) => isSeq(f.latest_seq),
  [ServerType.ROOM_STATE]: (f) => isString(f.state) && isOptional(f.slow_mode_seconds, isSeq),
  [ServerType.SIGNPOST]: (f) => isOptional(f.message, isString),
  [ServerType.SUPPORT_OFFER]: (f) => isString(f.room) && f.room !== "" && isString(f.title),
  [ServerType.PINS]: (f) => isListOf(f.items, isPin),
  [ServerType.YOU]: (f) => isYou(f.you),
  [ServerType.MODERATED]: (f) =>
    isString(f.action) && isString(f.message) && isOptional(f.until, isString) && isOptional(f.seq, isSeq),
  [ServerType.HELD]: (f) => isString(f.client_id) && isString(f.reason) && isString(f.message),
  [ServerType.HELD_DECISION]: (f) =>
    isString(f.client_id) && (f.status === "released" || f.status === "rejected") && isOptional(f.seq, isSeq),
  [ServerType.MY_REPORTS]: (f) => isListOf(f.items, isReportItem),
  [ServerType.MODERATOR_REPLY]: (f) => isId(f.report_id) && isSeq(f.seq) && isOptional(f.text, isString),
  [ServerType.WAITING]: (f) =>
    isString(f.session) &&
    isSeq(f.agreement_version) &&
    isString(f.agreement) &&
    isBool(f.agreed) &&
    isOptional(f.schedule, isString),
  [ServerType.HELD_QUEUE]: (f) => isListOf(f.items, isHeldItem),
  [ServerType.MOD_ACTION]: (f) =>
    isString(f.actor) && isString(f.action) && isOptional(f.target, isString) && isOptional(f.detail, isString),
  [ServerType.REPORT_NOTICE]: (f) => isId(f.id) && isSeq(f.seq) && isString(f.author) && isString(f.reason),
  [ServerType.RISK_NOTICE]: (f) =>
    isString(f.author) &&
    isString(f.category) &&
    isString(f.severity) &&
    isOptional(f.seq, isSeq) &&
    isOptional(f.id, isId) &&
    isOptional(f.ts, isString),
  [ServerType.LANGUAGE_NOTICE]: (f) => isString(f.author) && isString(f.language) && isOptional(f.seq, isSeq),
  [ServerType.WAITING_ROOM]: (f) => isString(f.session) && isListOf(f.members, isWaitingMember),
  [ServerType.ROOM_ALERTS]: (f) => isListOf(f.items, isAlertItem),
  [ServerType.CARE_STATUS]: (f) =>
    CARE_STATES.includes(f.state) &&
    isBool(f.on_call) &&
    isString(f.message) &&
    isOptional(f.seq, isSeq) &&
    isOptional(f.support_room, isString) &&
    isOptional(f.support_title, isString),
};

/** A contact link is used only if it is a phone call or a text message. */
export function safeContactHref(href) {
  return isString(href) && /^(tel:\+?[0-9]{3,15}|sms:\+?[0-9]{3,15}(\?body=[A-Za-z0-9 ]{1,40})?)$/.test(href)
    ? href
    : null;
}

// A contact without a link of its own is linked only if it is plainly a phone number.
function phoneHref(contact) {
  return /^\+?[0-9 ]{3,20}$/.test(contact.trim()) ? `tel:${contact.replace(/ /g, "")}` : null;
}

function readResources(list) {
  return Array.isArray(list)
    ? list
        .filter((r) => isObject(r) && isString(r.name) && isString(r.contact))
        .map((r) => ({
          name: r.name,
          contact: r.contact,
          note: isString(r.note) ? r.note : "",
          href: safeContactHref(r.href) ?? phoneHref(r.contact),
        }))
    : [];
}

// A signpost's resources are shown as text; entries without a name and contact are dropped
// rather than refusing the whole prompt, which is about someone's safety.
function normaliseSignpost(f) {
  return { type: ServerType.SIGNPOST, message: isString(f.message) ? f.message : "", resources: readResources(f.resources) };
}

/** The participant's own settings, with every optional field present. */
function normaliseYou(y) {
  return {
    pseudonym: y.pseudonym,
    role: isString(y.role) ? y.role : "member",
    blur: knownThemes(y.blur),
    ignoring: isStringList(y.ignoring) ? [...y.ignoring] : [],
    muted_until: isString(y.muted_until) ? y.muted_until : null,
  };
}

// A message's optional fields, with their defaults: its themes, its author's role (null for a
// member), the care note other members see it folded behind, and facilitators' markers.
const withThemes = (m) =>
  m.type === ServerType.MESSAGE
    ? {
        ...m,
        themes: knownThemes(m.themes),
        role: isString(m.role) && m.role !== "member" ? m.role : null,
        care: isString(m.care) && m.care ? m.care : null,
        risk: isRisk(m.risk) ? { category: m.risk.category, severity: m.risk.severity } : null,
        reports: isSeq(m.reports) ? m.reports : 0,
      }
    : m;

// Optional fields get their defaults here, so the rest of the page never checks for them.
const NORMALISERS = {
  [ServerType.SIGNPOST]: normaliseSignpost,
  [ServerType.WELCOME]: (f) => ({
    ...f,
    room: { ...f.room, slow_mode_seconds: f.room.slow_mode_seconds ?? 0 },
    you: normaliseYou(f.you),
    pins: f.pins ?? [],
  }),
  [ServerType.YOU]: (f) => ({ ...f, you: normaliseYou(f.you) }),
  [ServerType.MESSAGE]: withThemes,
  [ServerType.HISTORY]: (f) => ({ ...f, messages: f.messages.map(withThemes) }),
  [ServerType.RESUMED]: (f) => ({ ...f, messages: f.messages.map(withThemes) }),
  [ServerType.ROOM_STATE]: (f) => ({ ...f, slow_mode_seconds: f.slow_mode_seconds ?? 0 }),
  [ServerType.WAITING]: (f) => ({ ...f, schedule: f.schedule ?? "" }),
  [ServerType.CARE_STATUS]: (f) => ({
    ...f,
    seq: f.seq ?? null,
    support_room: f.support_room || null,
    support_title: f.support_title ?? "",
    resources: readResources(f.resources),
  }),
};

// Each type's reader: its check, then its defaults. `done`, `error` and `pong` are read as on
// every socket (core/protocol.js).
const READERS = { ...COMMON_READERS };
for (const [type, check] of Object.entries(VALIDATORS)) {
  const normalise = Object.hasOwn(NORMALISERS, type) ? NORMALISERS[type] : (f) => f;
  READERS[type] = (frame) => (check(frame) ? normalise(frame) : null);
}

/**
 * Parse one text frame from the server. Returns the frame object, or null when it is not
 * JSON, not an object, has no string `type`, or a known type with missing or wrong fields.
 * Frames of types this version does not know are returned as they are, for the caller to
 * ignore: a newer server may add some.
 */
export const parseServerFrame = (text) => parseFrame(text, READERS);
