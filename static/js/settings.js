// "My settings" in a room: the themes to blur, and the people this person ignores. Both are
// kept by the server for the membership, so they hold on every device; a `you` frame brings
// changes made elsewhere.

import { checkedThemes, setCheckedThemes, themeCheckboxes } from "./themes.js";
import { el } from "./views.js";

const $ = (id) => document.getElementById(id);

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
    const status = $("blur-status");
    const button = $("blur-save");
    button.disabled = true;
    status.textContent = "Saving…";
    status.classList.remove("error-text");
    try {
      await this.act("preferences", checkedThemes(this.boxes));
      status.textContent = "Saved.";
    } catch (failure) {
      status.textContent = failure.message;
      status.classList.add("error-text");
    } finally {
      button.disabled = false;
    }
  }

  renderIgnoring() {
    $("ignore-none").hidden = this.ignoring.length > 0;
    $("ignore-list").replaceChildren(
      ...this.ignoring.map((name) =>
        el(
          "li",
          {},
          el("span", { text: name }),
          el(
            "button",
            {
              className: "button button-small button-quiet",
              attrs: { type: "button" },
              on: { click: () => this.unignore(name) },
            },
            `Stop ignoring ${name}`,
          ),
        ),
      ),
    );
  }

  async unignore(name) {
    const status = $("ignore-status");
    status.classList.remove("error-text");
    try {
      await this.act("unignore", name);
      status.textContent = `You'll see new messages from ${name} again.`;
      $("ignore-heading").focus();
    } catch (failure) {
      status.textContent = failure.message;
      status.classList.add("error-text");
    }
  }
}
