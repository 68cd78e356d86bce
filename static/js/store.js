// What this page knows of one room: the log entries it has, keyed by sequence number, and the
// messages it is still sending. No storage API is touched: everything here is gone when the
// page is.

import { newClientId } from "./protocol.js";

/**
 * The room's log as far as it has been loaded. Entries are kept in a Map keyed by `seq`, so
 * an entry that arrives twice (a broadcast and a resume after a reconnect) is applied once.
 *
 * `last` is the highest seq up to which nothing is missing, counting from the newest page
 * loaded on the first visit. Anything above it that has arrived (`maxSeq > last`) means a
 * broadcast was dropped: the connection then resumes after `last`.
 */
export class RoomLog {
  constructor() {
    this.entries = new Map();
    this.last = 0;
    this.maxSeq = 0;
    this.oldest = null; // lowest seq loaded, the `before` of "load earlier"
    this.hasEarlier = false;
    this.loaded = false; // the first page has arrived; from now on reconnects resume
    this.deletedTargets = new Set(); // deletions whose message is not loaded (yet)
  }

  /**
   * Apply entries in seq order, ignoring any seq already held. Returns the new messages and
   * the seqs of loaded messages that a new `deleted` entry removed, for the view to render.
   */
  apply(list) {
    const messages = [];
    const deletions = [];
    for (const entry of [...list].sort((a, b) => a.seq - b.seq)) {
      if (this.entries.has(entry.seq)) continue;
      this.entries.set(entry.seq, entry);
      this.maxSeq = Math.max(this.maxSeq, entry.seq);
      this.oldest = this.oldest === null ? entry.seq : Math.min(this.oldest, entry.seq);
      if (entry.type === "deleted") {
        this.deletedTargets.add(entry.target);
        const target = this.entries.get(entry.target);
        if (target && target.type === "message" && !target.deleted) {
          markDeleted(target);
          deletions.push(target.seq);
        }
      } else {
        if (this.deletedTargets.has(entry.seq)) markDeleted(entry);
        messages.push(entry);
      }
    }
    this.advance();
    return { messages, deletions };
  }

  /** The first page (the newest entries) has arrived; `pageMax` is its highest seq. */
  markLoaded(pageMax, hasEarlier) {
    this.loaded = true;
    this.hasEarlier = hasEarlier;
    this.last = Math.max(this.last, pageMax);
    this.advance();
  }

  advance() {
    while (this.entries.has(this.last + 1)) this.last += 1;
  }

  get hasGap() {
    return this.maxSeq > this.last;
  }
}

function markDeleted(message) {
  message.deleted = true;
  message.body = null;
}

/**
 * Messages typed here that the server has not stored yet (`pending`), refused (`failed`), or
 * acknowledged before their broadcast arrived (`sent`). A retry keeps the client_id, so the
 * server stores a message once however often it is sent.
 */
export class Outbox {
  constructor() {
    this.items = new Map(); // client_id -> item, in the order they were written
  }

  add(body) {
    const item = { clientId: newClientId(), body, state: "pending", seq: null, ts: null, error: "" };
    this.items.set(item.clientId, item);
    return item;
  }

  get(clientId) {
    return this.items.get(clientId) ?? null;
  }

  bySeq(seq) {
    for (const item of this.items.values()) if (item.seq === seq) return item;
    return null;
  }

  acked(clientId, seq, ts) {
    const item = this.get(clientId);
    if (item) Object.assign(item, { state: "sent", seq, ts, error: "" });
    return item;
  }

  failed(clientId, error) {
    const item = this.get(clientId);
    if (item && item.state !== "sent") Object.assign(item, { state: "failed", error });
    return item;
  }

  retry(clientId) {
    const item = this.get(clientId);
    if (item && item.state === "failed") Object.assign(item, { state: "pending", error: "" });
    return item;
  }

  remove(clientId) {
    this.items.delete(clientId);
  }

  /** Items still waiting for an ack: sent again (same client_id) after every reconnect. */
  unsent() {
    return [...this.items.values()].filter((item) => item.state === "pending");
  }
}
