// One socket to the server, as both pages use it: connecting; reconnecting with exponential
// back-off and jitter (and at once when the browser is back online); a watchdog that gives up
// on a socket gone silent without a close (phones lose sockets that way); keep-alive pings;
// and actions answered by `done` or `error` with their `ref`.
//
// What the frames mean belongs to the page, in a subclass that fills in the hooks below:
// RoomConnection (../chat.js) adds the room's sequence rules (history on a first visit,
// resume from the last seq after every reconnect, sends and their acks) and StaffSocket
// (../staff/socket.js) the staff snapshots.

import { Close, newRef, pingFrame } from "./protocol.js";

const BACKOFF_BASE_MS = 500;
const BACKOFF_MAX_MS = 30_000;
const CONNECT_TIMEOUT_MS = 15_000; // a handshake lost in a dead network may never close
const REQUEST_TIMEOUT_MS = 15_000; // an action with no done/error by then is reported as unknown

/**
 * Delay before reconnect attempt `attempt` (0, 1, 2, ...): exponential, capped, with "equal
 * jitter" (half fixed, half random) so a restarted server is not hit by every client at once.
 */
export function backoffDelay(attempt, random = Math.random) {
  const cap = Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** attempt);
  return cap / 2 + (random() * cap) / 2;
}

/** An action the server refused, or that could not be sent or answered: `message` is for
 * people, `code` the server's error code (or not_connected, timeout). */
export class ActionError extends Error {
  constructor(message, code = "") {
    super(message);
    this.code = code;
  }
}

export class ReconnectingSocket {
  /**
   * `path`: where the socket is ("/ws/staff/"); `parse(text)`: the page's checked decoder
   * (null for a frame to ignore); `words`: what a person is told when an action could not be
   * sent (`notConnected`), got no answer (`noAnswer`) or was cut off by the socket closing
   * (`dropped`).
   */
  constructor({ path, parse, words }) {
    this.path = path;
    this.parse = parse;
    this.words = words;
    this.ws = null;
    this.ready = false; // the server has greeted this socket: actions may be sent
    this.stopped = true;
    this.everConnected = false;
    this.attempt = 0;
    this.reconnectTimer = null;
    this.watchdogTimer = null;
    this.silenceLimitMs = null; // once greeted: the longest the server may stay silent
    this.pingTimer = null;
    this.pending = new Map(); // ref -> {resolve, reject, timer, ...what the page keeps}
    this.handleOnline = () => this.retryNow();
    this.handleOffline = () => this.wentOffline();
  }

  // --- hooks for the page -------------------------------------------------------------------

  /** A socket is opening; `again` after the server has greeted an earlier one. */
  connecting(again) {}

  /** Waiting out the back-off before the next try. */
  reconnecting() {}

  /** The browser says it is offline. */
  wentOffline() {}

  /** One checked frame (or null: not valid, ignored). */
  receive(frame) {}

  /** The socket is gone (closed, given up on, or stopped): forget what belonged to it. */
  dropped() {}

  /** After a close with `code` (0: gone silent), unless stopped: reconnect, or not. */
  afterClose() {
    this.scheduleReconnect();
  }

  /** Whether frames may be sent now. */
  canSend() {
    return this.ready;
  }

  /** A request with this `waiting` entry was settled, whichever way. */
  settled(waiting) {}

  // --- lifecycle ----------------------------------------------------------------------------

  start() {
    this.stopped = false;
    this.attempt = 0;
    this.everConnected = false;
    window.addEventListener("online", this.handleOnline);
    window.addEventListener("offline", this.handleOffline);
    this.connect();
  }

  /** Close for good (until `start` again); every action still waiting fails with `reason`. */
  stop(reason = this.words.dropped) {
    this.stopped = true;
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
    window.removeEventListener("online", this.handleOnline);
    window.removeEventListener("offline", this.handleOffline);
    const ws = this.ws;
    this.forget(reason);
    if (ws) ws.close(Close.NORMAL);
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
    if (this.stopped) return;
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    let ws;
    try {
      ws = new WebSocket(`${scheme}//${location.host}${this.path}`);
    } catch {
      this.scheduleReconnect();
      return;
    }
    this.ws = ws;
    this.armWatchdog(CONNECT_TIMEOUT_MS);
    this.connecting(this.everConnected);
    ws.addEventListener("message", (event) => {
      if (this.ws !== ws) return;
      const frame = this.parse(event.data);
      if (frame && this.silenceLimitMs !== null) this.armWatchdog(this.silenceLimitMs);
      this.receive(frame);
    });
    ws.addEventListener("close", (event) => {
      if (this.ws === ws) this.closed(event.code);
    });
  }

  /**
   * The server greeted this socket (a welcome, a snapshot): the back-off starts again from
   * the beginning. From now on any frame keeps the socket alive, and `silenceLimitMs` of
   * silence gives it up.
   */
  connected(silenceLimitMs) {
    this.everConnected = true;
    this.attempt = 0;
    this.watchSilence(silenceLimitMs);
  }

  /** A new limit (a new heartbeat interval), counted from now. */
  watchSilence(silenceLimitMs) {
    this.silenceLimitMs = silenceLimitMs;
    this.armWatchdog(silenceLimitMs);
  }

  armWatchdog(timeoutMs) {
    clearTimeout(this.watchdogTimer);
    this.watchdogTimer = setTimeout(() => this.abandon(), timeoutMs);
  }

  /** Give up on a socket that went silent: close it and go on as if it had closed. */
  abandon() {
    const ws = this.ws;
    if (!ws) return;
    this.ws = null; // its own close event, whenever it comes, is not ours any more
    ws.close();
    this.closed(0);
  }

  /** Ping every `everyMs` (for sockets the server sends no heartbeats on). */
  keepAlive(everyMs) {
    clearInterval(this.pingTimer);
    this.pingTimer = setInterval(() => this.transmit(pingFrame()), everyMs);
  }

  stopKeepAlive() {
    clearInterval(this.pingTimer);
    this.pingTimer = null;
  }

  closed(code) {
    this.forget(this.words.dropped);
    if (this.stopped) return;
    this.afterClose(code);
  }

  /** Forget the current socket; every action waiting on it fails with `reason`. */
  forget(reason) {
    this.ws = null;
    this.ready = false;
    this.silenceLimitMs = null;
    clearTimeout(this.watchdogTimer);
    this.stopKeepAlive();
    this.dropped();
    for (const ref of [...this.pending.keys()]) this.settle(ref, new ActionError(reason, "not_connected"));
  }

  scheduleReconnect() {
    const delay = backoffDelay(this.attempt);
    this.attempt += 1;
    this.reconnecting();
    this.reconnectIn(delay);
  }

  reconnectIn(delayMs) {
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = setTimeout(() => this.connect(), delayMs);
  }

  // --- sending and actions ------------------------------------------------------------------

  /** Send one frame; false when it could not be sent (not connected, not greeted yet). */
  transmit(text) {
    if (!this.ws || !this.canSend()) return false;
    try {
      this.ws.send(text);
      return true;
    } catch {
      return false;
    }
  }

  /**
   * Send an action frame built by `build(ref)`. Resolves on `done` (with what the page passes
   * to `settle`); rejects with an ActionError on `error`, when it could not be sent, when the
   * socket closes first, or when no answer comes in time. `keep` is stored with the request
   * for the page (which item it is about).
   */
  request(build, keep = {}) {
    return new Promise((resolve, reject) => {
      const ref = newRef();
      if (!this.transmit(build(ref))) {
        reject(new ActionError(this.words.notConnected, "not_connected"));
        return;
      }
      const timer = setTimeout(
        () => this.settle(ref, new ActionError(this.words.noAnswer, "timeout")),
        REQUEST_TIMEOUT_MS,
      );
      this.pending.set(ref, { ...keep, resolve, reject, timer });
    });
  }

  /**
   * Settle the request with this `ref`: reject it with `error`, or resolve it with
   * `answer(waiting)`. False if no request with that ref is waiting.
   */
  settle(ref, error, answer = () => undefined) {
    const waiting = this.pending.get(ref);
    if (!waiting) return false;
    this.pending.delete(ref);
    clearTimeout(waiting.timer);
    if (error) waiting.reject(error);
    else waiting.resolve(answer(waiting));
    this.settled(waiting);
    return true;
  }

  /** Whether some waiting request was stored with `keep[key] === value`. */
  waitingFor(key, value) {
    for (const waiting of this.pending.values()) if (waiting[key] === value) return true;
    return false;
  }
}
