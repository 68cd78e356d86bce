// Rooms that run as sessions. A member waits outside (`waiting`): the agreement is shown again
// for every session with an "I agree" button, then they wait for a facilitator to let them in
// (the server then sends the normal welcome on the same socket). Facilitators get the
// session's controls and the list of people waiting (`waiting_room`), with Admit.

import { $, button, el } from "./core/dom.js";
import { announce, showView } from "./views.js";

// --- the member's waiting room ----------------------------------------------------------------

export class WaitingView {
  /** `onAgree(version)` sends the agreement; true if it could be sent. */
  constructor({ onAgree }) {
    this.onAgree = onAgree;
    this.version = 0;
    this.shown = false;
    this.agreed = false;
    $("waiting-agree").addEventListener("click", () => {
      $("waiting-error").textContent = "";
      if (this.onAgree(this.version)) {
        $("waiting-agree").disabled = true;
        $("waiting-status").textContent = "Sending…";
      }
    });
  }

  reset() {
    this.shown = false;
    this.agreed = false;
    $("waiting-agreement").textContent = "";
    $("waiting-error").textContent = "";
    $("waiting-status").textContent = "";
  }

  get active() {
    return this.shown;
  }

  /** A `waiting` frame: show the waiting room (moving there the first time). */
  update(frame, { title, slug }) {
    this.version = frame.agreement_version;
    $("waiting-room-title").textContent = title;
    $("waiting-schedule").textContent = frame.schedule ? `Sessions: ${frame.schedule}` : "";
    $("waiting-schedule").hidden = !frame.schedule;
    const open = frame.session === "open";
    const askToAgree = open && !frame.agreed;
    $("waiting-agreement-box").hidden = !askToAgree;
    $("waiting-agreement").textContent = frame.agreement || "This room has no written agreement.";
    $("waiting-agree").disabled = false;
    $("waiting-error").textContent = "";
    let status;
    if (frame.session === "none") {
      status =
        "There's no session running just now. You can wait here: when a session opens, you'll be asked to read the agreement.";
    } else if (frame.session === "locked") {
      status =
        "This session has started and isn't taking new people just now. You can wait here in case it opens again, or come back for the next one.";
    } else if (frame.agreed) {
      status = "Thank you. You're waiting for a facilitator to let you in. You can keep this page open.";
    } else {
      status =
        "A session is open. The group agreement is shown again for every session: please read it, then choose “I agree”.";
    }
    $("waiting-status").textContent = status;
    if (!this.shown) {
      this.shown = true;
      showView("waiting", { route: "chat", slug });
    } else if (frame.agreed && !this.agreed) {
      announce(status);
    } else if (askToAgree && !$("waiting-agreement-box").dataset.announced) {
      announce("A session has opened. Please read the agreement.");
    }
    $("waiting-agreement-box").dataset.announced = askToAgree ? "yes" : "";
    this.agreed = frame.agreed;
  }

  error(text) {
    $("waiting-agree").disabled = false;
    $("waiting-error").textContent = text;
  }
}

// --- the facilitator's session controls -------------------------------------------------------

const SESSION_TEXT = {
  none: "No session is running. Members who arrive wait here until one opens.",
  open: "A session is open. People come in when you admit them.",
  locked: "The session is locked: nobody new can come in.",
};

export class SessionControls {
  /** `act(name, ...args)` returns a promise; `run(promise, doneText)` reports how it went. */
  constructor({ act, run }) {
    this.act = act;
    this.run = run;
    this.ready = new Set(); // who has agreed, so newcomers can be announced once
  }

  reset() {
    $("session-section").hidden = true;
    this.ready.clear();
  }

  update(frame) {
    $("session-section").hidden = false;
    $("session-state").textContent = SESSION_TEXT[frame.session] ?? `Session: ${frame.session}`;
    this.renderButtons(frame.session);
    const fresh = frame.members.filter((m) => m.agreed && !this.ready.has(m.pseudonym));
    this.ready = new Set(frame.members.filter((m) => m.agreed).map((m) => m.pseudonym));
    if (fresh.length === 1) announce(`${fresh[0].pseudonym} is ready to come in.`);
    else if (fresh.length > 1) announce(`${fresh.length} people are ready to come in.`);
    $("waiting-empty").hidden = frame.members.length > 0;
    $("waiting-list").replaceChildren(
      ...frame.members.map((m) =>
        el(
          "li",
          { className: "waiting-member" },
          el("span", { text: m.pseudonym }),
          el("span", {
            className: "muted",
            text: m.agreed ? " has accepted the agreement" : " is reading the agreement",
          }),
          m.agreed && frame.session === "open"
            ? this.button(`Admit ${m.pseudonym}`, () =>
                this.run(this.act("admit", m.pseudonym), `${m.pseudonym} is in the room.`),
              )
            : null,
        ),
      ),
    );
  }

  button(text, onClick, quiet = false) {
    return button(text, onClick, { quiet });
  }

  renderButtons(session) {
    const box = $("session-buttons");
    const control = (action, text, done, quiet = false) =>
      this.button(text, () => this.run(this.act("session", action), done), quiet);
    const close = this.button("Close the session", () => this.confirmClose(session), true);
    if (session === "none") box.replaceChildren(control("open", "Open a session", "The session is open."));
    else if (session === "open")
      box.replaceChildren(control("lock", "Lock the session", "The session is locked.", true), close);
    else
      box.replaceChildren(
        control("unlock", "Unlock the session", "The session is open to new people again.", true),
        close,
      );
  }

  confirmClose(session) {
    const box = $("session-buttons");
    const yes = this.button("Yes, close it", () => this.run(this.act("session", "close"), "The session is closed."));
    const no = this.button(
      "Keep it open",
      () => {
        this.renderButtons(session);
        box.querySelector("button")?.focus();
      },
      true,
    );
    box.replaceChildren(el("span", { text: "Close the session? Members leave the room until the next one." }), yes, no);
    yes.focus();
  }
}
