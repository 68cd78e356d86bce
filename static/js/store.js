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
    this.hiddenTargets = new Map(); // seq -> reason, for hides whose message is not loaded (yet)
    // Moderators may still read a hidden message; everyone else's copy of the text is dropped.
    this.keepHiddenText = false;
  }

  /**
   * Apply entries in seq order, ignoring any seq already held. Returns the new messages and
   * the seqs of loaded messages that a new `deleted` or `hidden` entry changed, for the view
   * to render again.
   */
  apply(list) {
    const messages = [];
    const changed = [];
    for (const entry of [...list].sort((a, b) => a.seq - b.seq)) {
      if (this.entries.has(entry.seq)) continue;
      this.entries.set(entry.seq, entry);
      this.maxSeq = Math.max(this.maxSeq, entry.seq);
      this.oldest = this.oldest === null ? entry.seq : Math.min(this.oldest, entry.seq);
      if (entry.type === "deleted" || entry.type === "hidden") {
        const target = this.entries.get(entry.target);
        if (entry.type === "deleted") this.deletedTargets.add(entry.target);
        else this.hiddenTargets.set(entry.target, entry.reason);
        if (target && target.type === "message" && this.settle(target)) changed.push(target.seq);
      } else {
        this.settle(entry);
        messages.push(entry);
      }
    }
    this.advance();
    return { messages, changed };
  }

  /** Apply a deletion or hide that arrived before (or after) its message. True if changed. */
  settle(message) {
    if (this.deletedTargets.has(message.seq) && !message.deleted) {
      Object.assign(message, { deleted: true, body: null });
      return true;
    }
    if (this.hiddenTargets.has(message.seq) && !message.hidden && !message.deleted) {
      message.hidden = true;
      message.hidden_reason = this.hiddenTargets.get(message.seq);
      if (!this.keepHiddenText) message.body = null;
      return true;
    }
    return false;
  }

  /** The loaded messages, in seq order. */
  messages() {
    return [...this.entries.values()].filter((e) => e.type === "message").sort((a, b) => a.seq - b.seq);
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

/**
 * Messages typed here that the server has not stored yet (`pending`), refused (`failed`),
 * acknowledged before their broadcast arrived (`sent`), kept back for a facilitator's review
 * (`held`), or that a facilitator decided not to share (`rejected`). A retry keeps the
 * client_id, so the server stores a message once however often it is sent.
 */
export class Outbox {
  constructor() {
    this.items = new Map(); // client_id -> item, in the order they were written
  }

  add(body, { cw = false, themes = [] } = {}) {
    const item = { clientId: newClientId(), body, cw, themes, state: "pending", seq: null, ts: null, error: "" };
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
    if (item && item.state !== "sent" && item.state !== "rejected") Object.assign(item, { state: "failed", error });
    return item;
  }

  /** Kept for review: `note` is the server's own words for the sender. */
  held(clientId, note) {
    const item = this.get(clientId);
    if (item && item.state !== "sent") Object.assign(item, { state: "held", error: "", note });
    return item;
  }

  rejected(clientId) {
    const item = this.get(clientId);
    if (item && item.state !== "sent") Object.assign(item, { state: "rejected", error: "" });
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

  /**
   * Held items are asked about again after a reconnect (same client_id): the decision may
   * have been sent while the connection was down. The server answers `held` again, or the
   * ack of the released message.
   */
  awaitingReview() {
    return [...this.items.values()].filter((item) => item.state === "held");
  }
}
