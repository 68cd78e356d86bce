// What every socket to the server has in common (docs/protocol.md; the staff socket is in
// docs/escalation.md; the server side of both is rooms/protocol.py): frames are JSON objects
// tagged by `type`; the close codes; the frames both sockets know (ping, pong, done, error);
// the field checks; and the one way a server frame is decoded. The room's own frames are in
// ../protocol.js and the staff socket's in ../staff/protocol.js, both built on this; no other
// module builds or reads raw socket JSON.

export const Close = Object.freeze({
  NORMAL: 1000,
  FRAME_TOO_LARGE: 1009,
  UNAUTHENTICATED: 4001, // no session, or it expired
  FORBIDDEN: 4003, // not allowed here (a room: agreement, invite, ban; the staff socket: no staff role)
  ROOM_NOT_FOUND: 4004,
  ROOM_CLOSED: 4010,
  SESSION_ENDED: 4011, // logged out (possibly elsewhere), erased, or role changed
  REMOVED: 4012, // removed from the room by a facilitator (may come back), or left
  SITTING_CLOSED: 4013, // the room's session ended; it can be joined at the next one
  FLOODING: 4029, // kept sending after being rate limited
  TOO_MANY_SOCKETS: 4030, // this session already has the most room sockets open it may
});

/** Server frames every socket knows. */
export const CommonType = Object.freeze({
  DONE: "done", // an action with a `ref` succeeded
  ERROR: "error",
  PONG: "pong",
});

// --- client frames --------------------------------------------------------------------------

export const encode = (frame) => JSON.stringify(frame);

export const pingFrame = () => encode({ type: "ping" });

/** Hex from the browser's random source. getRandomValues works on plain http too
 * (randomUUID needs a secure context, which a laptop on a LAN address is not). */
export function randomHex(bytes) {
  return Array.from(crypto.getRandomValues(new Uint8Array(bytes)), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** The `ref` of an action, answered by `done` or `error` with the same ref. It starts with
 * "a-", so it is never confused with a message's client_id (those start with "c-"). */
export function newRef() {
  return "a-" + randomHex(8);
}

// --- checks on server frames ------------------------------------------------------------------

export const isObject = (v) => typeof v === "object" && v !== null && !Array.isArray(v);
export const isString = (v) => typeof v === "string";
export const isBool = (v) => typeof v === "boolean";
export const isNumber = (v) => typeof v === "number";
export const isSeq = (v) => Number.isSafeInteger(v) && v >= 0; // also any count
export const isId = (v) => Number.isSafeInteger(v) && v > 0;
export const isTime = (v) => isString(v) && !Number.isNaN(Date.parse(v));
export const isOptional = (v, check) => v === undefined || v === null || check(v);
export const isListOf = (v, check) => Array.isArray(v) && v.every(check);
export const isStringList = (v) => isListOf(v, isString);

/** A reader for frames that only need a check: the frame as it is, or null. */
export const checked = (check) => (frame) => (check(frame) ? frame : null);

/** Readers for the frames both sockets know. `ref` is always present (null when none). */
export const COMMON_READERS = Object.freeze({
  [CommonType.DONE]: checked((f) => isString(f.ref)),
  [CommonType.ERROR]: (f) =>
    isString(f.code) && isString(f.message) && isOptional(f.ref, isString) && isOptional(f.retry_after, isNumber)
      ? { ...f, ref: isString(f.ref) ? f.ref : null }
      : null,
  [CommonType.PONG]: (f) => f,
});

/**
 * Decode one text frame from the server. `readers` maps each known `type` to a function that
 * returns the checked frame (optional fields filled in, times parsed as the socket's module
 * wants them) or null when a field is missing or of the wrong type. Returns null for anything
 * that is not JSON, not an object, or has no string `type`. Frames of types this version does
 * not know are returned as they are, for the caller to ignore: a newer server may add some.
 */
export function parseFrame(text, readers) {
  if (typeof text !== "string") return null;
  let frame;
  try {
    frame = JSON.parse(text);
  } catch {
    return null;
  }
  if (!isObject(frame) || !isString(frame.type)) return null;
  const read = Object.hasOwn(readers, frame.type) ? readers[frame.type] : null;
  return read ? read(frame) : frame;
}
