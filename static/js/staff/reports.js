// The open reports: by id, newest first (an OpenList: a `reports` snapshot replaces the list);
// a `report` frame then adds, updates or (once closed) removes one. Items here never hold the
// decrypted message or note.

import { OpenList } from "./openlist.js";
import { ReportStatus } from "./protocol.js";

export class ReportList extends OpenList {
  constructor() {
    super((item) => item.status === ReportStatus.OPEN);
    this.closed = new Set(); // ids seen closed: a late copy of an older state is ignored
  }

  replace(items) {
    const result = super.replace(items);
    for (const item of result.gone) this.closed.add(item.id);
    return result;
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
    super.clear();
    this.closed = new Set();
  }
}
