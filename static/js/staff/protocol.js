// The staff socket (/ws/staff/, docs/escalation.md; the server side is rooms/protocol.py):
// frame builders for staff actions and a checked parser for what the server sends, on top of
// what every socket shares (../core/protocol.js: close codes, ping, done, error, the checks
// and the decoding). No other staff module builds or reads raw socket JSON.

import {
  COMMON_READERS,
  Close,
  CommonType,
  encode,
  isId,
  isObject,
  isOptional,
  isSeq as isCount,
  isString,
  isTime,
  parseFrame,
} from "../core/protocol.js";

export const StaffServerType = Object.freeze({
  ESCALATIONS: "escalations", // the full open snapshot, sent on every connect
  ESCALATION: "escalation", // one new or changed item
  DETAIL: "escalation_detail", // the answer to esc_view: decrypted excerpt and notes
  REPORTS: "reports", // every open report, sent on every connect after the escalations
  REPORT: "report", // one new or changed report; also the answer to report_view (with text)
  ...CommonType, // done (an action succeeded; `ref` echoes the request), error, pong
});

// On the staff socket: 4001 no session, or it expired; 4003 signed in, but not moderator,
// staff or admin; 4011 signed out (possibly in another tab), or the role changed.
const SIGN_IN_AGAIN = new Set([Close.UNAUTHENTICATED, Close.FORBIDDEN, Close.SESSION_ENDED]);

/** Close codes after which reconnecting cannot help: the person has to sign in again. */
export const closeNeedsSignIn = (code) => SIGN_IN_AGAIN.has(code);

export const Status = Object.freeze({
  OPEN: "open",
  ACKNOWLEDGED: "acknowledged",
  IN_PROGRESS: "in_progress",
  RESOLVED: "resolved",
  FALSE_ALARM: "false_alarm",
});

export const OPEN_STATUSES = new Set([Status.OPEN, Status.ACKNOWLEDGED, Status.IN_PROGRESS]);

// Statuses only move forward (open, acknowledged, in progress, then resolved or false
// alarm). The rank lets a late, older copy of an item be recognised and ignored.
export const STATUS_RANK = Object.freeze({
  [Status.OPEN]: 0,
  [Status.ACKNOWLEDGED]: 1,
  [Status.IN_PROGRESS]: 2,
  [Status.RESOLVED]: 3,
  [Status.FALSE_ALARM]: 3,
});

export const NOTE_MAX_CHARS = 4000;
export const OUTCOME_MAX_CHARS = 200;
export const REPLY_MAX_CHARS = 2000;

export const ReportStatus = Object.freeze({ OPEN: "open", CLOSED: "closed" });

// --- client frames --------------------------------------------------------------------------

// Each action takes the `ref` the socket gives it (core/protocol.js newRef); the server
// answers `done` or `error` with the same ref.

export const ackFrame = (id, ref) => encode({ type: "esc_ack", id, ref });
export const progressFrame = (id, ref) => encode({ type: "esc_progress", id, ref });
export const noteFrame = (id, ref, text) => encode({ type: "esc_note", id, ref, text });
export const viewFrame = (id, ref) => encode({ type: "esc_view", id, ref });
export const supportFrame = (id, ref) => encode({ type: "esc_support", id, ref });
export const resolveFrame = (id, ref, outcome, falseAlarm) =>
  encode({ type: "esc_resolve", id, ref, outcome, false_alarm: Boolean(falseAlarm) });
export const reportViewFrame = (id, ref) => encode({ type: "report_view", id, ref });
export const reportReplyFrame = (id, ref, text) => encode({ type: "report_reply", id, ref, text });
export const reportCloseFrame = (id, ref, outcome) => encode({ type: "report_close", id, ref, outcome });

// --- server frames --------------------------------------------------------------------------

/** A checked copy of one EscalationItem, or null. Times become milliseconds. */
export function parseItem(v) {
  if (
    !isObject(v) ||
    !isId(v.id) ||
    !isString(v.room) ||
    !isString(v.room_title) ||
    !isOptional(v.seq, isCount) ||
    !isString(v.pseudonym) ||
    !isString(v.category) ||
    !isString(v.severity) ||
    !isString(v.status) ||
    !isTime(v.created_at) ||
    !isTime(v.sla_due_at) ||
    !isCount(v.renotified) ||
    !isOptional(v.acknowledged_at, isTime)
  ) {
    return null;
  }
  return {
    id: v.id,
    room: v.room,
    roomTitle: v.room_title,
    seq: isCount(v.seq) ? v.seq : null,
    pseudonym: v.pseudonym,
    category: v.category,
    severity: v.severity,
    queue: isString(v.queue) ? v.queue : "",
    source: isString(v.source) ? v.source : "",
    status: v.status,
    createdAt: Date.parse(v.created_at),
    slaDueAt: Date.parse(v.sla_due_at),
    renotified: v.renotified,
    acknowledgedAt: isTime(v.acknowledged_at) ? Date.parse(v.acknowledged_at) : null,
    outcome: isString(v.outcome) ? v.outcome : "",
  };
}

/**
 * A checked copy of one StaffReportItem, or null. `body` and `note` are only ever filled in
 * the answer to report_view (an audited read); lists and updates carry null.
 */
export function parseReportItem(v) {
  if (
    !isObject(v) ||
    !isId(v.id) ||
    !isString(v.room) ||
    !isString(v.room_title) ||
    !isId(v.seq) ||
    !isString(v.author) ||
    !isString(v.reason) ||
    !isString(v.status) ||
    !isTime(v.created_at) ||
    !isOptional(v.body, isString) ||
    !isOptional(v.note, isString) ||
    !isOptional(v.replies, isCount)
  ) {
    return null;
  }
  return {
    id: v.id,
    room: v.room,
    roomTitle: v.room_title,
    seq: v.seq,
    author: v.author,
    reason: v.reason,
    status: v.status,
    createdAt: Date.parse(v.created_at),
    replies: isCount(v.replies) ? v.replies : 0,
    body: isString(v.body) ? v.body : null,
    note: isString(v.note) ? v.note : null,
  };
}

function parseDetail(f) {
  if (!isId(f.id) || !isOptional(f.excerpt, isString) || !Array.isArray(f.notes)) return null;
  const notes = f.notes
    .filter((n) => isObject(n) && isString(n.author) && isTime(n.ts) && isOptional(n.text, isString))
    .map((n) => ({ author: n.author, ts: Date.parse(n.ts), text: isString(n.text) ? n.text : null }));
  return { type: StaffServerType.DETAIL, id: f.id, excerpt: isString(f.excerpt) ? f.excerpt : null, notes };
}

const checkedItems = (parse) => (f) =>
  Array.isArray(f.items) ? { type: f.type, items: f.items.map(parse).filter((item) => item !== null) } : null;
const checkedItem = (parse) => (f) => {
  const item = parse(f.item);
  return item ? { type: f.type, item } : null;
};

const READERS = {
  ...COMMON_READERS,
  [StaffServerType.ESCALATIONS]: checkedItems(parseItem),
  [StaffServerType.ESCALATION]: checkedItem(parseItem),
  [StaffServerType.DETAIL]: parseDetail,
  [StaffServerType.REPORTS]: checkedItems(parseReportItem),
  [StaffServerType.REPORT]: checkedItem(parseReportItem),
  // `room`: the support room esc_support opened.
  [StaffServerType.DONE]: (f) => (isString(f.ref) ? { type: f.type, ref: f.ref, room: isString(f.room) ? f.room : null } : null),
};

/**
 * Parse one text frame from the staff socket. Returns a checked frame, or null for anything
 * malformed. Items that do not check out are dropped from a snapshot, never the whole
 * snapshot; frames of types this version does not know are returned for the caller to ignore.
 */
export const parseStaffFrame = (text) => parseFrame(text, READERS);
