// The queue's state: the open items by id, and a short list of items resolved during this
// session (kept in memory only, never stored). A snapshot REPLACES the open list; an
// `escalation` frame then adds, updates or (once resolved) removes one item.

import { OPEN_STATUSES, STATUS_RANK, Status } from "./protocol.js";

const RECENT_LIMIT = 10;

export class Queue {
  constructor() {
    this.open = new Map(); // id -> item
    this.recent = []; // newest first: {item, note}
    this.loaded = false;
  }

  /**
   * Replace the open list with a snapshot. Returns {added, closed}: items that were not known
   * before (new while disconnected), and known items missing from the snapshot (closed by
   * someone else while this page was disconnected).
   */
  replace(items) {
    const before = this.open;
    const first = !this.loaded;
    this.open = new Map();
    const added = [];
    for (const item of items) {
      if (!OPEN_STATUSES.has(item.status)) continue;
      this.open.set(item.id, item);
      if (!first && !before.has(item.id)) added.push(item);
    }
    const closed = [];
    for (const [id, item] of before) {
      if (!this.open.has(id)) {
        closed.push(item);
        this.remember(item, "Closed by a colleague while this page was reconnecting.");
      }
    }
    this.loaded = true;
    return { added, closed, first };
  }

  /**
   * Apply one item update. Returns "added", "updated", "resolved" or "ignored" (a stale copy,
   * or a resolution of something this page never had open).
   */
  apply(item) {
    const known = this.open.get(item.id);
    if (known && STATUS_RANK[item.status] < STATUS_RANK[known.status]) return "ignored";
    if (!OPEN_STATUSES.has(item.status)) {
      if (!known && this.recent.some((r) => r.item.id === item.id)) return "ignored";
      this.open.delete(item.id);
      this.remember(item, "");
      return "resolved";
    }
    this.open.set(item.id, item);
    return known ? "updated" : "added";
  }

  remember(item, note) {
    this.recent = [{ item, note }, ...this.recent.filter((r) => r.item.id !== item.id)].slice(0, RECENT_LIMIT);
  }

  /**
   * Open items in the order to work on them: waiting for acknowledgement first (their SLA
   * clock is running), then those being handled; each group by SLA deadline, then age.
   */
  sorted() {
    const waiting = (item) => (item.status === Status.OPEN ? 0 : 1);
    return [...this.open.values()].sort(
      (a, b) => waiting(a) - waiting(b) || a.slaDueAt - b.slaDueAt || a.createdAt - b.createdAt || a.id - b.id,
    );
  }

  clear() {
    this.open = new Map();
    this.recent = [];
    this.loaded = false;
  }
}
