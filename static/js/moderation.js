// Facilitator tools (shown when the welcome's role is not "member"): messages held for review,
// reports and safety alerts from the room, the room's controls (pause, slow mode, announce)
// and what other facilitators did. Every control sends an action; the server decides and
// says why when it refuses. Everything from the server is shown as text.

import { $, button, el, showOutcome } from "./core/dom.js";
import { count, label, timeOfDay } from "./core/format.js";
import { FLAG_CATEGORY_LABELS, FLAG_SEVERITY_LABELS, HELD_REASON_LABELS, REPORT_REASON_LABELS } from "./core/words.js";
import { slowModeInterval } from "./composer.js";
import { MAX_SLOW_MODE_SECONDS } from "./protocol.js";
import { announce } from "./views.js";

const SLOW_MODE_CHOICES = [0, 10, 30, 60, 120, 300];
const ALERTS_KEPT = 30;
const LOG_KEPT = 20;

const at = (ts) => timeOfDay(ts || Date.now());

/** One line of the activity log: "Ash muted Calm Heron 3 (15 min)". */
export function describeModAction({ actor, action, target, detail }) {
  const who = target ?? "";
  const verbs = {
    mute: `muted ${who}`,
    unmute: `lifted the mute on ${who}`,
    remove: `removed ${who} from the room`,
    ban_room: `banned ${who} from the room`,
    ban_service: `banned ${who} from the service`,
    hide: `hid a message from ${who}`,
    pin: "pinned a message",
    unpin: "unpinned a message",
    slow_mode: "changed slow mode",
    pause: "paused the room",
    reopen: "reopened the room",
  };
  const verb = Object.hasOwn(verbs, action) ? verbs[action] : `${action.replace(/_/g, " ")} ${who}`.trim();
  return `${actor} ${verb}${detail ? ` (${detail})` : ""}`;
}

const smallButton = (text, onClick, hiddenText = "", quiet = false) => button(text, onClick, { hiddenText, quiet });

export class FacilitatorPanel {
  /** `act(name, ...args)` returns a promise; `onShow(seq)` jumps to a message. */
  constructor({ act, onShow }) {
    this.act = act;
    this.onShow = onShow;
    this.state = "open";
    this.slowSeconds = 0;
    this.held = [];
    this.alerts = 0;
    this.alertKeys = new Set(); // alerts shown, so a reconnect's snapshot adds none twice
    this.dismissed = new Set(); // and those dismissed on this page stay dismissed
    $("room-pause").addEventListener("click", () => this.togglePause());
    $("slow-mode-form").addEventListener("submit", (event) => this.setSlowMode(event));
    $("announce-form").addEventListener("submit", (event) => this.announce(event));
  }

  reset() {
    $("facilitator").hidden = true;
    this.held = [];
    this.alerts = 0;
    this.alertKeys.clear();
    this.dismissed.clear();
    $("held-list").replaceChildren();
    $("fac-alerts").replaceChildren();
    $("mod-log").replaceChildren();
    $("mod-log-empty").hidden = false;
    $("fac-status").textContent = "";
    $("announce-input").value = "";
    this.renderHeld();
    this.renderAlerts();
  }

  setRole(role) {
    const on = role !== "member";
    $("facilitator").hidden = !on;
  }

  /** Run an action from the panel and say how it went, in the panel's status line. */
  run(promise, doneText) {
    return showOutcome($("fac-status"), promise, { pending: "Working…", done: doneText });
  }

  // --- room controls --------------------------------------------------------------------

  roomState(state, slowSeconds) {
    this.state = state;
    this.slowSeconds = slowSeconds;
    const paused = state === "paused";
    $("room-pause").textContent = paused ? "Reopen the room" : "Pause the room";
    $("room-state-text").textContent = paused
      ? "The room is paused: members can read but not post."
      : "The room is open.";
    const choice = $("slow-mode-select");
    const values = new Set(SLOW_MODE_CHOICES);
    if (slowSeconds) values.add(slowSeconds);
    choice.replaceChildren(
      ...[...values]
        .sort((a, b) => a - b)
        .map((seconds) =>
          el("option", {
            text: seconds ? `One message every ${slowModeInterval(seconds)}` : "Off",
            attrs: { value: String(seconds) },
          }),
        ),
    );
    choice.value = String(slowSeconds);
  }

  togglePause() {
    const next = this.state === "paused" ? "open" : "paused";
    this.run(this.act("roomState", next), next === "paused" ? "The room is paused." : "The room is open again.");
  }

  setSlowMode(event) {
    event.preventDefault();
    const seconds = Math.min(MAX_SLOW_MODE_SECONDS, Math.max(0, Number($("slow-mode-select").value) || 0));
    this.run(
      this.act("slowMode", seconds),
      seconds ? `Slow mode is on: one message every ${slowModeInterval(seconds)}.` : "Slow mode is off.",
    );
  }

  async announce(event) {
    event.preventDefault();
    const field = $("announce-input");
    const body = field.value.trim();
    if (!body) {
      $("fac-status").textContent = "Please write the announcement first.";
      field.focus();
      return;
    }
    if (await this.run(this.act("announce", body), "Announcement posted.")) field.value = "";
  }

  // --- held messages ----------------------------------------------------------------------

  heldQueue(items) {
    const before = new Set(this.held.map((h) => h.id));
    this.held = items;
    const arrived = items.filter((h) => !before.has(h.id)).length;
    if (arrived) {
      announce(
        arrived === 1 ? "A message is waiting for your review." : `${arrived} messages are waiting for your review.`,
      );
    }
    this.renderHeld();
  }

  renderHeld() {
    $("held-count").textContent = String(this.held.length);
    $("held-empty").hidden = this.held.length > 0;
    $("held-list").replaceChildren(...this.held.map((item) => this.heldItem(item)));
    this.renderBadge();
  }

  heldItem(item) {
    const from = `from ${item.author}`;
    return el(
      "li",
      { className: "held" },
      el(
        "p",
        { className: "held-meta" },
        el("strong", { text: item.author }),
        ` · ${at(item.ts)} · ${label(HELD_REASON_LABELS, item.reason)}`,
      ),
      el("p", { className: "held-body", text: item.body ?? "This message can no longer be read." }),
      el(
        "div",
        { className: "menu-buttons" },
        smallButton(
          "Release",
          () => this.run(this.act("release", item.id), `The message from ${item.author} was shared with the room.`),
          from,
        ),
        smallButton(
          "Don't publish",
          () =>
            this.run(
              this.act("reject", item.id),
              `The message from ${item.author} won't be published. They have been told.`,
            ),
          from,
          true,
        ),
      ),
    );
  }

  // --- reports and safety alerts ------------------------------------------------------------

  reportNotice(frame, { quiet = false } = {}) {
    this.alert({
      key: `report:${frame.id}`,
      kind: "report",
      text: `A message from ${frame.author} was reported: ${label(REPORT_REASON_LABELS, frame.reason)}.`,
      seq: frame.seq,
      ts: frame.ts,
      spoken: quiet ? "" : "A message was reported.",
    });
  }

  riskNotice(frame, { quiet = false } = {}) {
    const what = `${label(FLAG_CATEGORY_LABELS, frame.category)}, ${label(FLAG_SEVERITY_LABELS, frame.severity).toLowerCase()}`;
    this.alert({
      key: frame.id ? `risk:${frame.id}` : null,
      kind: "risk",
      text: `Possible risk in a message from ${frame.author} (${what}). Staff have been alerted.`,
      seq: frame.seq ?? null,
      ts: frame.ts,
      spoken: quiet ? "" : "A safety alert came in.",
    });
  }

  /** The risk check cannot read this language: a person has to. */
  languageNotice(frame) {
    this.alert({
      key: null,
      kind: "language",
      text: `A message from ${frame.author} is in a language our safety check can't read. Please read it yourself.`,
      seq: frame.seq ?? null,
      spoken: "A message needs reading by a person.",
    });
  }

  /** On entering the room: its open alerts and reports from before this facilitator came. */
  roomAlerts(items) {
    const before = this.alerts;
    for (const item of [...items].reverse()) {
      if (item.kind === "risk") this.riskNotice(item, { quiet: true });
      else this.reportNotice(item, { quiet: true });
    }
    const added = this.alerts - before;
    if (added > 0) {
      announce(
        added === 1
          ? "1 alert or report from before you came is waiting in Facilitator tools."
          : `${added} alerts and reports from before you came are waiting in Facilitator tools.`,
      );
    }
  }

  alert({ key, kind, text, seq, ts = null, spoken }) {
    if (key && (this.alertKeys.has(key) || this.dismissed.has(key))) return;
    if (key) this.alertKeys.add(key);
    const item = el(
      "li",
      { className: "fac-alert" },
      el("span", { className: "muted", text: `${at(ts)} ` }),
      text,
      " ",
    );
    item.dataset.kind = kind;
    if (seq) item.append(smallButton(`Show message #${seq}`, () => this.onShow(seq), "", true));
    item.append(
      smallButton(
        "Dismiss",
        () => {
          item.remove();
          if (key) this.dismissed.add(key);
          this.alerts = $("fac-alerts").childElementCount;
          this.renderAlerts();
          $("fac-alerts-heading").focus();
        },
        `the alert about ${seq ? `message #${seq}` : "a message"}`,
        true,
      ),
    );
    const list = $("fac-alerts");
    list.prepend(item);
    while (list.childElementCount > ALERTS_KEPT) list.lastElementChild.remove();
    this.alerts = list.childElementCount;
    this.renderAlerts();
    if (spoken) announce(spoken);
  }

  renderAlerts() {
    $("fac-alerts-empty").hidden = this.alerts > 0;
    this.renderBadge();
  }

  /** The count on the folded summary, and what it is made of. */
  renderBadge() {
    const waiting = this.held.length + this.alerts;
    const kinds = { risk: 0, report: 0, language: 0 };
    for (const item of $("fac-alerts").children) kinds[item.dataset.kind] = (kinds[item.dataset.kind] ?? 0) + 1;
    const parts = [
      kinds.risk ? count(kinds.risk, "safety alert") : "",
      kinds.report ? count(kinds.report, "report") : "",
      kinds.language ? `${kinds.language} to read` : "",
      this.held.length ? `${this.held.length} held` : "",
    ].filter(Boolean);
    $("fac-badge").textContent = waiting ? ` · ${waiting} to look at (${parts.join(", ")})` : "";
  }

  // --- what other facilitators did ----------------------------------------------------------

  modAction(frame) {
    const list = $("mod-log");
    list.prepend(el("li", {}, el("span", { className: "muted", text: `${at()} ` }), describeModAction(frame)));
    while (list.childElementCount > LOG_KEPT) list.lastElementChild.remove();
    $("mod-log-empty").hidden = true;
  }
}
