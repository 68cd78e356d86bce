// The staff socket, on the shared one (../core/socket.js: reconnecting with back-off and
// jitter, the watchdog, requests matched to answers by `ref`). The server sends the full open
// snapshots (escalations, then reports) on every connect, so a reconnect never loses an item
// (the queue and the report list replace their lists with them); the server sends no
// heartbeats here, so the page pings.

import { ActionError, ReconnectingSocket } from "../core/socket.js";
import { StaffServerType, closeNeedsSignIn, parseStaffFrame } from "./protocol.js";

const PING_EVERY_MS = 25_000;
const PONG_TIMEOUT_MS = 10_000; // no answer to a ping by then: the connection died without closing

export { ActionError };

/**
 * `handlers`: onState(state) with "connecting" | "live" | "reconnecting" | "signed-out";
 * onSnapshot(items); onItem(item); onReports(items); onReport(item); onSignedOut(code).
 * Report items passed to onReports/onReport never carry the decrypted message or note: those
 * come only to the request that read them (see `request`'s `reportId`).
 */
export class StaffSocket extends ReconnectingSocket {
  constructor(handlers) {
    super({
      path: "/ws/staff/",
      parse: parseStaffFrame,
      words: {
        notConnected: "The dashboard is reconnecting. Try again when it says Live.",
        noAnswer: "The server did not answer in time. Please check and try again.",
        dropped: "The connection dropped before the server answered. Please try again.",
      },
    });
    this.handlers = handlers;
    this.details = new Map(); // escalation id -> the latest escalation_detail frame
    this.reportViews = new Map(); // report id -> the item read by a pending report_view
  }

  connecting(again) {
    this.handlers.onState(again ? "reconnecting" : "connecting");
  }

  reconnecting() {
    this.handlers.onState("reconnecting");
  }

  dropped() {
    this.reportViews.clear();
  }

  afterClose(code) {
    if (!closeNeedsSignIn(code)) {
      this.scheduleReconnect();
      return;
    }
    this.stop();
    this.handlers.onState("signed-out");
    this.handlers.onSignedOut(code);
  }

  settled(waiting) {
    if (waiting.viewId) this.details.delete(waiting.viewId);
    if (waiting.reportId) this.reportViews.delete(waiting.reportId);
  }

  receive(frame) {
    if (!frame) return;
    switch (frame.type) {
      case StaffServerType.ESCALATIONS:
        // The snapshot arrives first on every connect: only now is the queue live.
        this.ready = true;
        this.connected(PING_EVERY_MS + PONG_TIMEOUT_MS);
        this.keepAlive(PING_EVERY_MS);
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
        if (this.waitingFor("reportId", frame.item.id)) this.reportViews.set(frame.item.id, frame.item);
        this.handlers.onReport(withoutContent(frame.item));
        break;
      case StaffServerType.DONE:
        this.settle(frame.ref, null, (waiting) => ({
          room: frame.room,
          detail: (waiting.viewId && this.details.get(waiting.viewId)) ?? null,
          report: (waiting.reportId && this.reportViews.get(waiting.reportId)) ?? null,
        }));
        break;
      case StaffServerType.ERROR:
        if (frame.ref) this.settle(frame.ref, new ActionError(frame.message, frame.code));
        break;
      default:
        break; // pong (the watchdog has seen it), or a frame a newer server sends
    }
  }

  /**
   * Send one action built by `build(ref)`. Resolves with {room, detail, report} on `done`
   * (`detail` for an escalation view, `report` for a report view); rejects with an
   * ActionError on `error`, a dropped connection or no answer in time.
   */
  request(build, { viewId = null, reportId = null } = {}) {
    return super.request(build, { viewId, reportId });
  }
}

/** A report item for lists and state: decrypted text is never kept there. */
function withoutContent(item) {
  return { ...item, body: null, note: null };
}
