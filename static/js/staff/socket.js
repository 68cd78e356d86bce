// The staff socket: connect, reconnect with exponential back-off and jitter, keep-alive
// pings, and request/answer matching by `ref`. The server sends the full open snapshots
// (escalations, then reports) on every connect, so a reconnect never loses an item (the
// queue and the report list replace their lists with them).

import {
  StaffServerType,
  closeNeedsSignIn,
  newRef,
  parseStaffFrame,
  pingFrame,
} from "./protocol.js";

const BACKOFF_BASE_MS = 500;
const BACKOFF_MAX_MS = 30_000;
const CONNECT_TIMEOUT_MS = 15_000; // a handshake lost in a dead network may never close
const PING_EVERY_MS = 25_000;
const PONG_TIMEOUT_MS = 10_000;
const REQUEST_TIMEOUT_MS = 15_000;

/** Exponential, capped, with "equal jitter": half fixed, half random. */
export function backoffDelay(attempt, random = Math.random) {
  const cap = Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** attempt);
  return cap / 2 + (random() * cap) / 2;
}

export class RequestError extends Error {
  constructor(code, message) {
    super(message);
    this.code = code;
  }
}

/**
 * `handlers`: onState(state) with "connecting" | "live" | "reconnecting" | "signed-out";
 * onSnapshot(items); onItem(item); onReports(items); onReport(item); onSignedOut(code).
 * Report items passed to onReports/onReport never carry the decrypted message or note: those
 * come only to the request that read them (see `request`'s `reportId`).
 */
export class StaffSocket {
  constructor(handlers) {
    this.handlers = handlers;
    this.ws = null;
    this.attempt = 0;
    this.everLive = false;
    this.stopped = true;
    this.reconnectTimer = null;
    this.connectTimer = null;
    this.pingTimer = null;
    this.pongTimer = null;
    this.pending = new Map(); // ref -> {resolve, reject, timer, viewId, reportId}
    this.details = new Map(); // escalation id -> the latest escalation_detail frame
    this.reportViews = new Map(); // report id -> the item read by a pending report_view
    window.addEventListener("online", () => this.retryNow());
  }

  start() {
    this.stopped = false;
    this.attempt = 0;
    this.everLive = false;
    this.connect();
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.reconnectTimer);
    this.drop();
  }

  /** Skip the rest of the back-off (the network came back). */
  retryNow() {
    if (!this.stopped && !this.ws && this.reconnectTimer !== null) {
      clearTimeout(this.reconnectTimer);
      this.connect();
    }
  }

  connect() {
    this.reconnectTimer = null;
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    let ws;
    try {
      ws = new WebSocket(`${scheme}//${location.host}/ws/staff/`);
    } catch {
      this.scheduleReconnect();
      return;
    }
    this.ws = ws;
    this.handlers.onState(this.everLive ? "reconnecting" : "connecting");
    this.connectTimer = setTimeout(() => {
      if (this.ws === ws && ws.readyState !== WebSocket.OPEN) ws.close();
    }, CONNECT_TIMEOUT_MS);
    ws.addEventListener("message", (event) => {
      if (this.ws === ws) this.receive(event.data);
    });
    ws.addEventListener("close", (event) => {
      if (this.ws !== ws) return;
      this.drop();
      if (this.stopped) return;
      if (closeNeedsSignIn(event.code)) {
        this.stopped = true;
        this.handlers.onState("signed-out");
        this.handlers.onSignedOut(event.code);
        return;
      }
      this.scheduleReconnect();
    });
  }

  /** Forget the current socket; every request waiting on it fails. */
  drop() {
    clearTimeout(this.connectTimer);
    clearInterval(this.pingTimer);
    clearTimeout(this.pongTimer);
    const ws = this.ws;
    this.ws = null;
    if (ws && ws.readyState <= WebSocket.OPEN) ws.close();
    this.reportViews.clear();
    for (const [ref, waiting] of this.pending) {
      clearTimeout(waiting.timer);
      waiting.reject(new RequestError("disconnected", "The connection dropped before the server answered. Please try again."));
      this.pending.delete(ref);
    }
  }

  scheduleReconnect() {
    const delay = backoffDelay(this.attempt);
    this.attempt += 1;
    this.handlers.onState("reconnecting");
    this.reconnectTimer = setTimeout(() => this.connect(), delay);
  }

  receive(text) {
    const frame = parseStaffFrame(text);
    if (!frame) return;
    switch (frame.type) {
      case StaffServerType.ESCALATIONS:
        // The snapshot arrives first on every connect: only now is the queue live.
        clearTimeout(this.connectTimer);
        this.attempt = 0;
        this.everLive = true;
        this.startPings();
        this.handlers.onSnapshot(frame.items);
        this.handlers.onState("live");
        break;
      case StaffServerType.ESCALATION:
        this.handlers.onItem(frame.item);
        break;
      case StaffServerType.DETAIL:
        this.details.set(frame.id, frame);
        break;
      case StaffServerType.REPORTS:
        this.handlers.onReports(frame.items.map(withoutContent));
        break;
      case StaffServerType.REPORT:
        // The server answers report_view with the item (text included) just before `done`.
        if (this.readingReport(frame.item.id)) this.reportViews.set(frame.item.id, frame.item);
        this.handlers.onReport(withoutContent(frame.item));
        break;
      case StaffServerType.DONE:
        this.settle(frame.ref, (waiting) => {
          const detail = waiting.viewId ? this.details.get(waiting.viewId) ?? null : null;
          if (waiting.viewId) this.details.delete(waiting.viewId);
          const report = waiting.reportId ? this.reportViews.get(waiting.reportId) ?? null : null;
          if (waiting.reportId) this.reportViews.delete(waiting.reportId);
          waiting.resolve({ room: frame.room, detail, report });
        });
        break;
      case StaffServerType.ERROR:
        if (frame.ref) {
          this.settle(frame.ref, (waiting) => waiting.reject(new RequestError(frame.code, frame.message)));
        }
        break;
      case StaffServerType.PONG:
        clearTimeout(this.pongTimer);
        break;
      default:
        break; // a newer server may send frames this version does not know
    }
  }

  readingReport(id) {
    for (const waiting of this.pending.values()) if (waiting.reportId === id) return true;
    return false;
  }

  settle(ref, action) {
    const waiting = this.pending.get(ref);
    if (!waiting) return;
    clearTimeout(waiting.timer);
    this.pending.delete(ref);
    action(waiting);
  }

  startPings() {
    clearInterval(this.pingTimer);
    const ws = this.ws;
    this.pingTimer = setInterval(() => {
      if (this.ws !== ws || ws.readyState !== WebSocket.OPEN) return;
      ws.send(pingFrame());
      clearTimeout(this.pongTimer);
      // No answer: the connection is dead without having closed. Close it and reconnect.
      this.pongTimer = setTimeout(() => {
        if (this.ws === ws) ws.close();
      }, PONG_TIMEOUT_MS);
    }, PING_EVERY_MS);
  }

  get live() {
    return this.ws !== null && this.ws.readyState === WebSocket.OPEN && this.everLive;
  }

  /**
   * Send one action built by `build(ref)`. Resolves with {room, detail, report} on `done`
   * (`detail` for an escalation view, `report` for a report view); rejects with a
   * RequestError on `error`, a dropped connection or no answer in time.
   */
  request(build, { viewId = null, reportId = null } = {}) {
    if (!this.live) {
      return Promise.reject(
        new RequestError("not_connected", "The dashboard is reconnecting. Try again when it says Live."),
      );
    }
    const ref = newRef();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(ref);
        if (reportId) this.reportViews.delete(reportId);
        reject(new RequestError("timeout", "The server did not answer in time. Please check and try again."));
      }, REQUEST_TIMEOUT_MS);
      this.pending.set(ref, { resolve, reject, timer, viewId, reportId });
      this.ws.send(build(ref));
    });
  }
}

/** A report item for lists and state: decrypted text is never kept there. */
function withoutContent(item) {
  return { ...item, body: null, note: null };
}
