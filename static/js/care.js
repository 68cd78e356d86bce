// The writer's care status: after a message of theirs raised an alert to our support team, a
// box that stays in the room (it is not a passing notice) and says, in the server's words,
// that a person has been told, whether anyone is on call now and, if nobody is, what to do
// instead; then that someone has read it, that a private space is open for them (with the
// way there), and that the alert was closed. It never says someone is coming when nobody is:
// the words and `on_call` are the server's, which knows who has the staff dashboard open.

import { $, el } from "./core/dom.js";
import { compactResourceItems, openHelp } from "./help.js";
import { announce } from "./views.js";

const TITLES = {
  told: "A trained person has been told.",
  acknowledged: "Someone has read it.",
  support_offered: "A private space is open for you.",
  closed: "This alert is closed.",
};

export class CareStatus {
  constructor({ onOpenRoom }) {
    this.room = "";
    this.last = "";
    $("care-go").addEventListener("click", () => this.room && onOpenRoom(this.room));
    $("care-help").addEventListener("click", () => openHelp());
    $("care-dismiss").addEventListener("click", () => {
      $("care").hidden = true;
      $("message-input").focus();
    });
  }

  reset() {
    $("care").hidden = true;
    $("care-title").textContent = "";
    $("care-text").textContent = "";
    $("care-on-call").textContent = "";
    $("care-resources").replaceChildren();
    $("care-go").hidden = true;
    $("care-dismiss").hidden = true;
    this.room = "";
    this.last = "";
  }

  update(frame) {
    const box = $("care");
    box.dataset.state = frame.state;
    box.dataset.onCall = String(frame.on_call);
    $("care-title").textContent = TITLES[frame.state] ?? TITLES.told;
    $("care-text").textContent = frame.message;
    $("care-on-call").textContent =
      frame.state === "closed"
        ? ""
        : frame.on_call
          ? "Someone from our support team is on call now."
          : "Nobody from our support team is on call right now.";
    $("care-text").hidden = false;
    $("care-resources").replaceChildren(...compactResourceItems(frame.resources));
    this.room = frame.support_room ?? "";
    const go = $("care-go");
    go.hidden = !this.room;
    go.textContent = frame.support_title ? `Go to “${frame.support_title}”` : "Go to the private space";
    $("care-dismiss").hidden = frame.state !== "closed";
    box.hidden = false;
    // Opened and read out when what it says changes, not on every reconnect; the member may
    // fold it away to make room, and it stays folded until there is news.
    const said = `${frame.state}|${frame.on_call}|${this.room}`;
    if (said !== this.last) {
      box.open = true;
      announce(`${$("care-title").textContent} ${$("care-on-call").textContent}`.trim());
    }
    this.last = said;
  }
}
