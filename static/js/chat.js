// One room's socket: connecting, the sequence rules of docs/protocol.md (history on a first
// visit, resume after every reconnect, on a seq gap and when a heartbeat is ahead), sending
// with acks and retries, and reconnecting with exponential back-off and jitter.
//
// The page is told what changed through the `ui` object (chatview.js); `onEnded` is called
// when the close code says the room or the session is gone.

import {
  Close,
  CloseAction,
  ErrorCode,
  HISTORY_PAGE,
  ServerType,
  TYPING_INTERVAL_MS,
  closeAction,
  deleteFrame,
  historyFrame,
  parseServerFrame,
  resumeFrame,
  sendFrame,
  typingFrame,
} from "./protocol.js";
import { Outbox, RoomLog } from "./store.js";

const BACKOFF_BASE_MS = 500;
const BACKOFF_MAX_MS = 30_000;
const FLOODING_PAUSE_MS = 60_000; // after 4029 the server wants us to slow right down
const RESUME_STALE_MS = 15_000; // a resume that got no answer may be asked again
// A send with no answer this long is shown as failed, with a retry that is always safe
// (same client_id). The connection staying open but the server failing without an error
// `ref` would otherwise leave it "Sending…" for ever.
const ACK_TIMEOUT_MS = 15_000;
const CONNECT_TIMEOUT_MS = 15_000; // a handshake lost in a dead network may never close

/**
 * Delay before reconnect attempt `attempt` (0, 1, 2, ...): exponential, capped, with "equal
 * jitter" (half fixed, half random) so a restarted server is not hit by every client at once.
 */
export function backoffDelay(attempt, random = Math.random) {
  const cap = Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** attempt);
  return cap / 2 + (random() * cap) / 2;
}

/** A calm sentence for an error frame about one of our messages. */
export function describeError(frame) {
  switch (frame.code) {
    case ErrorCode.RATE_LIMITED:
      return "You're sending quickly. Wait a moment, then try again.";
    case ErrorCode.ROOM_PAUSED:
      return "The room is paused just now, so messages can't be sent.";
    case ErrorCode.MESSAGE_TOO_LONG:
      return "This message is too long. Please shorten it.";
    case ErrorCode.EMPTY_MESSAGE:
      return "This message is empty.";
    case ErrorCode.INTERNAL:
      return "Something went wrong on our side. Please try again.";
    default:
      return frame.message;
  }
}

export class RoomConnection {
  constructor(slug, ui, onEnded) {
    this.slug = slug;
    this.ui = ui;
    this.onEnded = onEnded;
    this.log = new RoomLog();
    this.outbox = new Outbox();
    this.ws = null;
    this.ready = false; // welcomed: frames may be sent
    this.stopped = false;
    this.everConnected = false;
    this.attempt = 0;
    this.reconnectTimer = null;
    this.watchdogTimer = null;
    this.heartbeatMs = 15_000;
    this.me = "";
    this.latestKnown = 0; // the highest seq the server has told us exists
    this.resumeSentAt = 0;
    this.historyKind = null; // "initial" or "earlier" while a history request is out
    this.lastTypingAt = 0;
    this.ackTimers = new Map(); // client_id -> timer, while a send waits for its ack
    // When the network comes back, try at once rather than waiting out the back-off.
    this.handleOnline = () => {
      if (!this.ws && !this.stopped && this.reconnectTimer !== null) {
        clearTimeout(this.reconnectTimer);
        this.connect();
      }
    };
    this.handleOffline = () => {
      if (!this.ready) this.ui.connection("offline");
    };
  }

  start() {
    window.addEventListener("online", this.handleOnline);
    window.addEventListener("offline", this.handleOffline);
    this.connect();
  }

  /** Close for good: leaving the room, a quick exit, or the room/session being gone. */
  stop() {
    this.stopped = true;
    this.ready = false;
    clearTimeout(this.reconnectTimer);
    clearTimeout(this.watchdogTimer);
    this.clearAckTimers();
    window.removeEventListener("online", this.handleOnline);
    window.removeEventListener("offline", this.handleOffline);
    const ws = this.ws;
    this.ws = null;
    if (ws) ws.close(Close.NORMAL);
  }

  // --- connection lifecycle ----------------------------------------------------------------

  connect() {
    this.reconnectTimer = null;
    if (this.stopped) return;
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    let ws;
    try {
      ws = new WebSocket(`${scheme}//${location.host}/ws/rooms/${encodeURIComponent(this.slug)}/`);
    } catch {
      this.scheduleReconnect();
      return;
    }
    this.ws = ws;
    this.armWatchdog(CONNECT_TIMEOUT_MS);
    this.ui.connection(this.everConnected ? "reconnecting" : "connecting");
    ws.addEventListener("message", (event) => {
      if (this.ws === ws) this.handleFrame(parseServerFrame(event.data));
    });
    ws.addEventListener("close", (event) => {
      if (this.ws === ws) this.handleClose(event.code);
    });
  }

  handleClose(code) {
    this.ws = null;
    this.ready = false;
    this.resumeSentAt = 0;
    clearTimeout(this.watchdogTimer);
    this.clearAckTimers(); // unsent messages wait for the next welcome instead
    if (this.historyKind === "earlier") this.ui.earlierState(this.log.hasEarlier, false);
    this.historyKind = null;
    if (this.stopped) return;
    if (code === Close.FRAME_TOO_LARGE) {
      // "Do not resend that frame": only a message can be that big, so let the member decide.
      for (const item of this.outbox.unsent()) {
        this.ui.outboxChanged(this.outbox.failed(item.clientId, "This message is too large to send."));
      }
    }
    const action = closeAction(code);
    if (action === CloseAction.START || action === CloseAction.ROOMS) {
      this.stop();
      this.onEnded(action, code);
    } else if (action === CloseAction.LATER) {
      this.ui.connection("paused");
      this.reconnectTimer = setTimeout(() => this.connect(), FLOODING_PAUSE_MS * (1 + Math.random() / 2));
    } else {
      this.scheduleReconnect();
    }
  }

  scheduleReconnect() {
    const delay = backoffDelay(this.attempt);
    this.attempt += 1;
    this.ui.connection(navigator.onLine === false ? "offline" : "reconnecting");
    this.reconnectTimer = setTimeout(() => this.connect(), delay);
  }

  // A phone can lose a socket without either side seeing a close. Heartbeats arrive every
  // `heartbeat_seconds`; if nothing at all arrives for two of them (or the handshake does
  // not finish), drop the socket and start again.
  armWatchdog(timeoutMs = this.heartbeatMs * 2 + 5_000) {
    clearTimeout(this.watchdogTimer);
    this.watchdogTimer = setTimeout(() => {
      const ws = this.ws;
      if (!ws) return;
      this.ws = null;
      ws.close();
      this.handleClose(0);
    }, timeoutMs);
  }

  transmit(text) {
    if (!this.ready || !this.ws) return false;
    try {
      this.ws.send(text);
      return true;
    } catch {
      return false;
    }
  }

  // --- frames from the server --------------------------------------------------------------

  handleFrame(frame) {
    if (!frame) return; // not a valid frame: ignored, never shown
    if (this.ready) this.armWatchdog();
    switch (frame.type) {
      case ServerType.WELCOME:
        return this.onWelcome(frame);
      case ServerType.ACK:
        return this.onAck(frame);
      case ServerType.MESSAGE:
      case ServerType.DELETED:
        this.applyEntries([frame], "live");
        return this.checkGap();
      case ServerType.HISTORY:
        return this.onHistory(frame);
      case ServerType.RESUMED:
        return this.onResumed(frame);
      case ServerType.PRESENCE:
        return this.ui.presence(frame.members);
      case ServerType.TYPING:
        if (frame.author !== this.me) this.ui.typing(frame.author);
        return undefined;
      case ServerType.HEARTBEAT:
        this.latestKnown = Math.max(this.latestKnown, frame.latest_seq);
        return this.checkGap();
      case ServerType.ROOM_STATE:
        return this.ui.roomState(frame.state);
      case ServerType.ERROR:
        return this.onError(frame);
      case ServerType.SIGNPOST:
        return this.ui.signpost(frame);
      case ServerType.SUPPORT_OFFER:
        return this.ui.supportOffer(frame);
      default:
        return undefined; // pong, or a frame type from a newer server
    }
  }

  onWelcome(frame) {
    this.ready = true;
    this.everConnected = true;
    this.attempt = 0;
    this.me = frame.you.pseudonym;
    this.heartbeatMs = Math.max(frame.heartbeat_seconds, 1) * 1000;
    this.latestKnown = Math.max(this.latestKnown, frame.latest_seq);
    this.ui.welcome(frame);
    this.ui.connection("connected");
    if (this.log.loaded) {
      this.requestResume({ force: true });
    } else {
      this.historyKind = "initial";
      this.transmit(historyFrame({ limit: HISTORY_PAGE }));
    }
    // Anything not acknowledged before the connection dropped goes again with the same
    // client_id: the server answers a duplicate with the original ack.
    for (const item of this.outbox.unsent()) this.transmitSend(item);
    this.armWatchdog();
  }

  onAck(frame) {
    const item = this.outbox.get(frame.client_id);
    if (!item) return;
    this.clearAckTimer(item.clientId);
    if (this.log.entries.has(frame.seq)) {
      this.outbox.remove(item.clientId);
      this.ui.outboxRemoved(item.clientId);
    } else {
      this.ui.outboxChanged(this.outbox.acked(item.clientId, frame.seq, frame.ts));
    }
  }

  onHistory(frame) {
    const kind = this.historyKind;
    this.historyKind = null;
    if (kind === "earlier") {
      this.applyEntries(frame.messages, "earlier");
      this.log.hasEarlier = frame.has_more;
      this.ui.earlierState(this.log.hasEarlier, false);
      return;
    }
    this.applyEntries(frame.messages, "history");
    const pageMax = frame.messages.reduce((max, entry) => Math.max(max, entry.seq), 0);
    this.log.markLoaded(pageMax, frame.has_more);
    this.ui.loaded();
    this.ui.earlierState(this.log.hasEarlier, false);
    this.checkGap();
  }

  onResumed(frame) {
    this.applyEntries(frame.messages, "resume");
    this.latestKnown = Math.max(this.latestKnown, frame.latest_seq);
    if (frame.has_more && frame.messages.length > 0) {
      // Protocol: resume again after the last seq received.
      this.resumeSentAt = Date.now();
      this.transmit(resumeFrame(frame.messages[frame.messages.length - 1].seq));
      return;
    }
    this.resumeSentAt = 0;
    this.checkGap();
  }

  onError(frame) {
    const item = frame.ref ? this.outbox.get(frame.ref) : null;
    if (item) {
      this.clearAckTimer(item.clientId);
      this.ui.outboxChanged(this.outbox.failed(item.clientId, describeError(frame)));
      return;
    }
    if (frame.code === ErrorCode.RATE_LIMITED) {
      // A history or resume was refused: ask again once the server says we may.
      const kind = this.historyKind;
      this.historyKind = null;
      this.resumeSentAt = 0;
      if (kind === "earlier") this.ui.earlierState(this.log.hasEarlier, false);
      setTimeout(() => {
        if (kind === "initial" && this.ready && !this.log.loaded) {
          this.historyKind = "initial";
          this.transmit(historyFrame({ limit: HISTORY_PAGE }));
        } else {
          this.checkGap();
        }
      }, (frame.retry_after ?? 1) * 1000);
    } else if (frame.code === ErrorCode.NOT_FOUND || frame.code === ErrorCode.FORBIDDEN) {
      this.ui.notice("That message couldn't be deleted.");
    }
    // Anything else comes just before a close code, which decides what happens.
  }

  applyEntries(entries, source) {
    const changes = this.log.apply(entries);
    for (const message of changes.messages) {
      const item = this.outbox.bySeq(message.seq);
      if (item) {
        this.outbox.remove(item.clientId);
        this.ui.outboxRemoved(item.clientId);
      }
    }
    this.ui.entries(changes, source);
  }

  /** Resume when a seq is missing or the server has told us of entries we do not have. */
  checkGap() {
    if (!this.log.loaded || this.historyKind === "initial") return;
    if (this.log.hasGap || this.latestKnown > this.log.last) this.requestResume();
  }

  requestResume({ force = false } = {}) {
    const now = Date.now();
    if (!force && this.resumeSentAt && now - this.resumeSentAt < RESUME_STALE_MS) return;
    if (this.transmit(resumeFrame(this.log.last))) this.resumeSentAt = now;
  }

  // --- sending ---------------------------------------------------------------------------

  transmitSend(item) {
    if (!this.transmit(sendFrame(item.clientId, item.body))) return; // sent on reconnect
    this.clearAckTimer(item.clientId);
    this.ackTimers.set(
      item.clientId,
      setTimeout(() => {
        this.ackTimers.delete(item.clientId);
        const failed = this.outbox.failed(
          item.clientId,
          "This is taking longer than usual. You can try again: it won't be posted twice.",
        );
        if (failed && failed.state === "failed") this.ui.outboxChanged(failed);
      }, ACK_TIMEOUT_MS),
    );
  }

  clearAckTimer(clientId) {
    clearTimeout(this.ackTimers.get(clientId));
    this.ackTimers.delete(clientId);
  }

  clearAckTimers() {
    for (const timer of this.ackTimers.values()) clearTimeout(timer);
    this.ackTimers.clear();
  }

  // --- actions from the page ---------------------------------------------------------------

  send(body) {
    const item = this.outbox.add(body);
    this.ui.outboxChanged(item);
    this.transmitSend(item);
    return item;
  }

  retry(clientId) {
    const item = this.outbox.retry(clientId);
    if (!item) return;
    this.ui.outboxChanged(item);
    this.transmitSend(item);
  }

  discard(clientId) {
    this.clearAckTimer(clientId);
    this.outbox.remove(clientId);
    this.ui.outboxRemoved(clientId);
  }

  deleteMessage(seq) {
    if (this.transmit(deleteFrame(seq))) return true;
    this.ui.notice("You're not connected just now. Please try again in a moment.");
    return false;
  }

  requestEarlier() {
    if (!this.ready || this.historyKind || !this.log.hasEarlier || this.log.oldest === null) return;
    this.historyKind = "earlier";
    this.ui.earlierState(true, true);
    this.transmit(historyFrame({ before: this.log.oldest, limit: HISTORY_PAGE }));
  }

  typing() {
    const now = Date.now();
    if (now - this.lastTypingAt < TYPING_INTERVAL_MS) return;
    if (this.transmit(typingFrame())) this.lastTypingAt = now;
  }
}
