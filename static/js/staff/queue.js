// The queue's state: the open items by id (an OpenList: a snapshot replaces it), and a short
// list of items resolved during this session (kept in memory only, never stored). An
// `escalation` frame adds, updates or (once resolved) removes one item.

import { OpenList } from "./openlist.js";
import { OPEN_STATUSES, STATUS_RANK, Status } from "./protocol.js";

const RECENT_LIMIT = 10;

export class Queue extends OpenList {
  constructor() {
    super((item) => OPEN_STATUSES.has(item.status));
    this.recent = []; // newest first: {item, note}
  }

  /** Replace the open list with a snapshot (OpenList). Returns {added, closed, first}. */
  replace(items) {
    const { added, gone, first } = super.replace(items);
    for (const item of gone) this.remember(item, "Closed by a colleague while this page was reconnecting.");
    return { added, closed: gone, first };
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
    super.clear();
    this.recent = [];
  }
}
