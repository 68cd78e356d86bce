// Pinned messages: the whole list from the server (on welcome and on every change), shown in
// their own panel. Facilitators can unpin from here; anyone can jump to a pinned message.

import { $, el, linkButton } from "./core/dom.js";
import { announce } from "./views.js";

export class PinsPanel {
  /** `onShow(seq)` scrolls to a message; `onUnpin(seq)` returns a promise. */
  constructor({ onShow, onUnpin }) {
    this.onShow = onShow;
    this.onUnpin = onUnpin;
    this.seqs = new Set();
    this.canUnpin = false;
    this.items = [];
  }

  reset() {
    this.seqs.clear();
    this.items = [];
    this.canUnpin = false;
    this.render();
  }

  has(seq) {
    return this.seqs.has(seq);
  }

  setRole(role) {
    this.canUnpin = role !== "member";
    this.render();
  }

  /** The new list; announced when something was newly pinned. Returns the seqs that changed. */
  update(items, { quiet = false } = {}) {
    const before = this.seqs;
    this.items = items;
    this.seqs = new Set(items.map((p) => p.seq));
    const added = items.filter((p) => !before.has(p.seq));
    if (!quiet && added.length) announce(added.length === 1 ? "A message was pinned." : "Messages were pinned.");
    this.render();
    return [...before, ...this.seqs].filter((seq) => before.has(seq) !== this.seqs.has(seq));
  }

  render() {
    $("pins").hidden = this.items.length === 0;
    $("pins-count").textContent = String(this.items.length);
    $("pin-list").replaceChildren(...this.items.map((pin) => this.item(pin)));
  }

  item(pin) {
    const error = el("p", { className: "error-text" });
    const buttons = el(
      "div",
      { className: "pin-actions" },
      linkButton("Show in the chat", () => this.onShow(pin.seq)),
    );
    if (this.canUnpin) {
      const unpin = linkButton("Unpin", async () => {
        unpin.disabled = true;
        try {
          await this.onUnpin(pin.seq);
        } catch (failure) {
          unpin.disabled = false;
          error.textContent = failure.message;
        }
      });
      buttons.append(unpin);
    }
    return el(
      "li",
      { className: "pin" },
      el("span", { className: "pin-author", text: pin.author }),
      el("span", { className: "pin-body", text: pin.body ?? "This message is no longer shown." }),
      buttons,
      error,
    );
  }
}
