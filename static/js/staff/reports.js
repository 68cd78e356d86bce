// The open reports: by id, newest first. A `reports` snapshot REPLACES the list (so a report
// closed by a colleague while this page was disconnected goes); a `report` frame then adds,
// updates or (once closed) removes one. Items here never hold the decrypted message or note.

import { ReportStatus } from "./protocol.js";

export class ReportList {
  constructor() {
    this.open = new Map(); // id -> item
    this.closed = new Set(); // ids seen closed: a late copy of an older state is ignored
    this.loaded = false;
  }

  /** Replace the list with a snapshot. Returns {added, gone, first}. */
  replace(items) {
    const before = this.open;
    const first = !this.loaded;
    this.open = new Map();
    const added = [];
    for (const item of items) {
      if (item.status !== ReportStatus.OPEN) continue;
      this.open.set(item.id, item);
      if (!first && !before.has(item.id)) added.push(item);
    }
    const gone = [...before.values()].filter((item) => !this.open.has(item.id));
    for (const item of gone) this.closed.add(item.id);
    this.loaded = true;
    return { added, gone, first };
  }

  /** Apply one update: "added", "updated", "closed" or "ignored" (stale, or never open here). */
  apply(item) {
    if (this.closed.has(item.id)) return "ignored";
    const known = this.open.get(item.id);
    if (item.status !== ReportStatus.OPEN) {
      this.closed.add(item.id);
      if (!known) return "ignored";
      this.open.delete(item.id);
      return "closed";
    }
    if (known && item.replies < known.replies) return "ignored";
    this.open.set(item.id, item);
    return known ? "updated" : "added";
  }

  /** Newest first: a report is most useful while the conversation is still going on. */
  sorted() {
    return [...this.open.values()].sort((a, b) => b.createdAt - a.createdAt || b.id - a.id);
  }

  clear() {
    this.open = new Map();
    this.closed = new Set();
    this.loaded = false;
  }
}
