// "My settings" in a room: the themes to blur, and the people this person ignores. Both are
// kept by the server for the membership, so they hold on every device; a `you` frame brings
// changes made elsewhere.

import { $, button, el, showOutcome } from "./core/dom.js";
import { checkedThemes, setCheckedThemes, themeCheckboxes } from "./themes.js";

export class MySettings {
  /** `act(name, ...args)` sends an action and returns a promise. */
  constructor({ act }) {
    this.act = act;
    this.boxes = themeCheckboxes(
      "blur-theme",
      "Blur messages about",
      "Messages about these themes start folded away, with a Show button.",
    );
    $("blur-fields").append(this.boxes);
    $("blur-form").addEventListener("submit", (event) => this.save(event));
    this.ignoring = [];
  }

  reset() {
    setCheckedThemes(this.boxes, []);
    this.ignoring = [];
    $("blur-status").textContent = "";
    $("ignore-status").textContent = "";
    this.renderIgnoring();
  }

  update(you) {
    setCheckedThemes(this.boxes, you.blur);
    this.ignoring = you.ignoring;
    this.renderIgnoring();
  }

  async save(event) {
    event.preventDefault();
    const save = $("blur-save");
    save.disabled = true;
    const blur = checkedThemes(this.boxes);
    await showOutcome($("blur-status"), this.act("preferences", blur), { pending: "Saving…", done: "Saved." });
    save.disabled = false;
  }

  renderIgnoring() {
    $("ignore-none").hidden = this.ignoring.length > 0;
    $("ignore-list").replaceChildren(
      ...this.ignoring.map((name) =>
        el(
          "li",
          {},
          el("span", { text: name }),
          button(`Stop ignoring ${name}`, () => this.unignore(name), { quiet: true }),
        ),
      ),
    );
  }

  async unignore(name) {
    const done = `You'll see new messages from ${name} again.`;
    if (await showOutcome($("ignore-status"), this.act("unignore", name), { done })) $("ignore-heading").focus();
  }
}
