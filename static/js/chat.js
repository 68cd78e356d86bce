// One room's socket: connecting, the sequence rules of docs/protocol.md (history on a first
// visit, resume after every reconnect, on a seq gap and when a heartbeat is ahead), sending
// with acks and retries, actions answered by `done`/`error` with their `ref`, the waiting
// room, and reconnecting with exponential back-off and jitter.
//
// The page is told what changed through the `ui` object (chatview.js); `onEnded` is called
// when the close code says the room, the membership, the session or the sitting is over.

import { ActionError, ReconnectingSocket } from "./core/socket.js";
import { sentence } from "./core/format.js";
import * as wire from "./protocol.js";
import { Outbox, RoomLog } from "./store.js";

const {
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
} = wire;

export { ActionError };

const FLOODING_PAUSE_MS = 60_000; // after 4029 the server wants us to slow right down
const RESUME_STALE_MS = 15_000; // a resume that got no answer may be asked again
// A send with no answer this long is shown as failed, with a retry that is always safe
// (same client_id). The connection staying open but the server failing without an error
// `ref` would otherwise leave it "Sending…" for ever.
const ACK_TIMEOUT_MS = 15_000;
// The waiting room gets no heartbeats: the page pings to keep the socket (and its watchdog)
// alive, and to notice a dead connection.
const WAITING_PING_MS = 20_000;
const NOT_CONNECTED = "You're not connected just now. Please try again in a moment.";
const WORDS = {
  notConnected: NOT_CONNECTED,
  noAnswer: "There was no answer in time. Please check, and try again if needed.",
  dropped: "The connection dropped before this was confirmed. Please check, and try again if needed.",
};

// Actions the page may ask for: method name -> frame builder taking (...args, ref).
const ACTIONS = {
  report: wire.reportFrame,
  ignore: wire.ignoreFrame,
  unignore: wire.unignoreFrame,
  preferences: wire.preferencesFrame,
  mute: wire.muteFrame,
  remove: wire.removeFrame,
  ban: wire.banFrame,
  hide: wire.hideFrame,
  pin: wire.pinFrame,
  unpin: wire.unpinFrame,
  slowMode: wire.slowModeFrame,
  roomState: wire.roomStateFrame,
  announce: wire.announceFrame,
  release: wire.releaseFrame,
  reject: wire.rejectFrame,
  session: wire.sessionFrame,
  admit: wire.admitFrame,
  flag: wire.flagFrame,
};

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
    case ErrorCode.MUTED:
      return "A facilitator has paused your messages for a while. You can still read the room.";
    case ErrorCode.SLOW_MODE: {
      const wait = Math.max(1, Math.ceil(frame.retry_after ?? 1));
      return `The room is in slow mode. You can send again in ${wait} second${wait === 1 ? "" : "s"}.`;
    }
    case ErrorCode.WAITING:
      return "You're in the waiting room: a facilitator will let you in.";
    case ErrorCode.ROOM_LOCKED:
      return "The session is locked, so nobody new can come in just now.";
    default:
      return sentence(frame.message);
  }
}

export class RoomConnection extends ReconnectingSocket {
  constructor(slug, ui, onEnded) {
    super({ path: `/ws/rooms/${encodeURIComponent(slug)}/`, parse: parseServerFrame, words: WORDS });
    this.slug = slug;
    this.ui = ui;
    this.onEnded = onEnded;
    this.log = new RoomLog();
    this.outbox = new Outbox();
    // `ready` (ReconnectingSocket): welcomed, frames may be sent.
    this.waiting = false; // in the waiting room: only agreeing, leaving and pings make sense
    this.leaving = false; // the member asked to leave: the close that follows is expected
    this.endMessage = ""; // a facilitator's words (removed, banned) for the close that follows
    this.heartbeatMs = 15_000;
    this.me = "";
    this.latestKnown = 0; // the highest seq the server has told us exists
    this.resumeSentAt = 0;
    this.historyKind = null; // "initial" or "earlier" while a history request is out
    this.historyWanted = 0; // how many entries that request asked for
    this.historyRest = 0; // entries still to come when the server cut a page short
    this.lastTypingAt = 0;
    this.ackTimers = new Map(); // client_id -> timer, while a send waits for its ack
  }

  /** Close for good: leaving the room, a quick exit, or the room/session being gone. */
  stop() {
    super.stop("You left the room before this was confirmed.");
  }

  // --- connection lifecycle (the hooks of ReconnectingSocket) ---------------------------------

  canSend() {
    return this.ready || this.waiting;
  }

  connecting(again) {
    this.ui.connection(again ? "reconnecting" : "connecting");
  }

  reconnecting() {
    this.ui.connection(navigator.onLine === false ? "offline" : "reconnecting");
  }

  wentOffline() {
    if (!this.ready) this.ui.connection("offline");
  }

  dropped() {
    this.waiting = false;
    this.resumeSentAt = 0;
    this.clearAckTimers(); // unsent messages wait for the next welcome instead
    if (this.historyKind === "earlier" && !this.stopped) this.ui.earlierState(this.log.hasEarlier, false);
    this.historyKind = null;
    this.historyRest = 0;
  }

  afterClose(code) {
    if (code === Close.FRAME_TOO_LARGE) {
      // "Do not resend that frame": only a message can be that big, so let the member decide.
      for (const item of this.outbox.unsent()) {
        this.ui.outboxChanged(this.outbox.failed(item.clientId, "This message is too large to send."));
      }
    }
    const action = closeAction(code);
    if (action === CloseAction.RETRY && this.leaving) {
      // The member asked to leave and the socket went: do not come back.
      this.stop();
      this.onEnded(CloseAction.REMOVED, Close.REMOVED, { left: true, message: "" });
    } else if (action !== CloseAction.LATER && action !== CloseAction.RETRY) {
      this.stop();
      this.onEnded(action, code, { left: this.leaving, message: this.endMessage });
    } else if (action === CloseAction.LATER) {
      this.ui.connection("paused");
      this.reconnectIn(FLOODING_PAUSE_MS * (1 + Math.random() / 2));
    } else {
      this.scheduleReconnect();
    }
  }

  // Heartbeats arrive every `heartbeat_seconds`; if nothing at all arrives for two of them,
  // the socket is given up and started again (ReconnectingSocket's watchdog).
  get heartbeatSilenceMs() {
    return this.heartbeatMs * 2 + 5_000;
  }

  // --- frames from the server --------------------------------------------------------------

  receive(frame) {
    if (!frame) return; // not a valid frame: ignored, never shown
    switch (frame.type) {
      case ServerType.WELCOME:
        return this.onWelcome(frame);
      case ServerType.WAITING:
        return this.onWaiting(frame);
      case ServerType.ACK:
        return this.onAck(frame);
      case ServerType.MESSAGE:
      case ServerType.DELETED:
      case ServerType.HIDDEN:
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
      case ServerType.ERROR:
        return this.onError(frame);
      case ServerType.DONE:
        return this.settle(frame.ref, null);
      case ServerType.HELD:
        return this.onHeld(frame);
      case ServerType.HELD_DECISION:
        return this.onHeldDecision(frame);
      case ServerType.MODERATED:
        if (frame.action === "removed" || frame.action === "banned") this.endMessage = frame.message;
        return this.ui.moderated(frame);
      case ServerType.YOU:
        return this.onYou(frame.you);
      case ServerType.ROOM_STATE:
      case ServerType.PINS:
      case ServerType.SIGNPOST:
      case ServerType.SUPPORT_OFFER:
      case ServerType.MY_REPORTS:
      case ServerType.MODERATOR_REPLY:
      case ServerType.HELD_QUEUE:
      case ServerType.MOD_ACTION:
      case ServerType.REPORT_NOTICE:
      case ServerType.RISK_NOTICE:
      case ServerType.LANGUAGE_NOTICE:
      case ServerType.WAITING_ROOM:
      case ServerType.ROOM_ALERTS:
      case ServerType.CARE_STATUS:
        return this.ui.roomFrame(frame); // nothing here for the socket to track
      default:
        return undefined; // pong, or a frame type from a newer server
    }
  }

  onWaiting(frame) {
    const first = !this.waiting;
    this.waiting = true;
    this.ready = false;
    if (first) {
      this.connected(WAITING_PING_MS * 2 + 5_000);
      this.keepAlive(WAITING_PING_MS);
      this.ui.connection("connected");
    }
    this.ui.waiting(frame);
  }

  onYou(you) {
    this.me = you.pseudonym;
    this.log.keepHiddenText = wire.roleAtLeast(you.role, "moderator");
    this.ui.you(you);
  }

  onWelcome(frame) {
    const admitted = this.waiting;
    this.waiting = false;
    this.stopKeepAlive(); // heartbeats from here on
    this.ready = true;
    this.heartbeatMs = Math.max(frame.heartbeat_seconds, 1) * 1000;
    this.connected(this.heartbeatSilenceMs);
    this.me = frame.you.pseudonym;
    this.log.keepHiddenText = wire.roleAtLeast(frame.you.role, "moderator");
    this.latestKnown = Math.max(this.latestKnown, frame.latest_seq);
    this.ui.welcome(frame, { admitted });
    this.ui.connection("connected");
    if (this.log.loaded) {
      this.requestResume({ force: true });
    } else {
      this.historyKind = "initial";
      this.requestHistory(HISTORY_PAGE);
    }
    // Anything not acknowledged before the connection dropped goes again with the same
    // client_id: the server answers a duplicate with the original ack.
    for (const item of this.outbox.unsent()) this.transmitSend(item);
    for (const item of this.outbox.awaitingReview()) this.transmitSend(item, { timeout: false });
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
    this.historyRest = 0;
    // The server cuts a page to fit its frame limit (long messages, any script): fewer
    // entries than asked for, with has_more. The rest of the page is asked for at once.
    const rest = frame.has_more && frame.messages.length > 0 ? this.historyWanted - frame.messages.length : 0;
    if (kind === "earlier") {
      this.applyEntries(frame.messages, "earlier");
      this.log.hasEarlier = frame.has_more;
      this.ui.earlierState(this.log.hasEarlier, false);
    } else {
      this.applyEntries(frame.messages, "history");
      const pageMax = frame.messages.reduce((max, entry) => Math.max(max, entry.seq), 0);
      this.log.markLoaded(pageMax, frame.has_more);
      this.ui.loaded();
      this.ui.earlierState(this.log.hasEarlier, false);
      this.checkGap();
    }
    if (rest > 0) this.continueHistory(rest);
  }

  requestHistory(limit, before = null) {
    this.historyWanted = limit;
    this.transmit(historyFrame({ before, limit }));
  }

  /** The rest of a history page the server cut short, from just before the oldest loaded. */
  continueHistory(rest) {
    if (!this.ready || this.historyKind || this.log.oldest === null) return;
    this.historyKind = "earlier";
    this.historyRest = rest;
    this.ui.earlierState(true, true);
    this.requestHistory(rest, this.log.oldest);
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
      if (frame.code === ErrorCode.MUTED && frame.retry_after) {
        this.ui.mutedFor(frame.retry_after);
      }
      return;
    }
    if (frame.ref && this.pending.has(frame.ref)) {
      this.settle(frame.ref, new ActionError(describeError(frame), frame.code));
      return;
    }
    if (this.waiting) {
      // `agree` has no ref: in the waiting room an error is about agreeing.
      this.ui.waitingError(describeError(frame));
      return;
    }
    if (frame.code === ErrorCode.RATE_LIMITED) {
      // A history or resume was refused: ask again once the server says we may.
      const kind = this.historyKind;
      const rest = this.historyRest;
      this.historyKind = null;
      this.historyRest = 0;
      this.resumeSentAt = 0;
      if (kind === "earlier") this.ui.earlierState(this.log.hasEarlier, false);
      setTimeout(
        () => {
          if (kind === "initial" && this.ready && !this.log.loaded) {
            this.historyKind = "initial";
            this.requestHistory(HISTORY_PAGE);
          } else {
            if (kind === "earlier" && rest > 0) this.continueHistory(rest);
            this.checkGap();
          }
        },
        (frame.retry_after ?? 1) * 1000,
      );
    } else if (frame.code === ErrorCode.NOT_FOUND || frame.code === ErrorCode.FORBIDDEN) {
      this.ui.notice("That message couldn't be deleted.");
    }
    // Anything else comes just before a close code, which decides what happens.
  }

  onHeld(frame) {
    const item = this.outbox.get(frame.client_id);
    if (!item) return;
    this.clearAckTimer(item.clientId);
    this.ui.outboxChanged(this.outbox.held(item.clientId, frame.message));
    this.ui.held(frame);
  }

  onHeldDecision(frame) {
    const item = this.outbox.get(frame.client_id);
    if (frame.status === "released" && frame.seq) {
      if (item) this.onAck({ client_id: frame.client_id, seq: frame.seq, ts: new Date().toISOString() });
      this.latestKnown = Math.max(this.latestKnown, frame.seq);
      this.checkGap();
    } else if (frame.status === "rejected" && item) {
      this.ui.outboxChanged(this.outbox.rejected(item.clientId));
    }
    this.ui.heldDecision(frame);
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

  transmitSend(item, { timeout = true } = {}) {
    if (!this.transmit(sendFrame(item.clientId, item.body, item))) return; // sent on reconnect
    this.clearAckTimer(item.clientId);
    if (!timeout) return;
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

  send(body, { cw = false, themes = [] } = {}) {
    const item = this.outbox.add(body, { cw, themes });
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

  // --- actions answered by done/error (ReconnectingSocket.request) ----------------------------

  /** One of ACTIONS by name: `act("mute", pseudonym, minutes)`. */
  act(name, ...args) {
    const build = Object.hasOwn(ACTIONS, name) ? ACTIONS[name] : null;
    if (!build) return Promise.reject(new ActionError(`Unknown action ${name}.`));
    return this.request((ref) => build(...args, ref));
  }

  /** Leave the room for good: the server closes every socket of this membership (4012). */
  leave() {
    if (!this.ws || !(this.ready || this.waiting))
      return Promise.reject(new ActionError(NOT_CONNECTED, "not_connected"));
    this.leaving = true;
    return this.request((ref) => wire.leaveFrame(ref)).catch((error) => {
      this.leaving = false;
      throw error;
    });
  }

  agree(version) {
    if (this.transmit(wire.agreeFrame(version))) return true;
    this.ui.waitingError(NOT_CONNECTED);
    return false;
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
    this.requestHistory(HISTORY_PAGE, this.log.oldest);
  }

  typing() {
    const now = Date.now();
    if (now - this.lastTypingAt < TYPING_INTERVAL_MS) return;
    if (this.transmit(typingFrame())) this.lastTypingAt = now;
  }
}
