// A live list of open items by id, kept from the staff socket: a snapshot (sent on every
// connect) REPLACES the list, so an item closed elsewhere while this page was disconnected
// goes; updates then add, change or remove one item. The queue (queue.js) and the open
// reports (reports.js) are such lists.

export class OpenList {
  /** `isOpen(item)`: whether an item belongs on the list. */
  constructor(isOpen) {
    this.isOpen = isOpen;
    this.open = new Map(); // id -> item
    this.loaded = false;
  }

  /**
   * Replace the list with a snapshot. Returns {added, gone, first}: items that were not known
   * before (new while disconnected; none on the first snapshot), and known items missing from
   * the snapshot (closed by someone else while this page was disconnected).
   */
  replace(items) {
    const before = this.open;
    const first = !this.loaded;
    this.open = new Map();
    const added = [];
    for (const item of items) {
      if (!this.isOpen(item)) continue;
      this.open.set(item.id, item);
      if (!first && !before.has(item.id)) added.push(item);
    }
    const gone = [...before.values()].filter((item) => !this.open.has(item.id));
    this.loaded = true;
    return { added, gone, first };
  }

  clear() {
    this.open = new Map();
    this.loaded = false;
  }
}
