// The queue's cards and the words on them. Every piece of text from the server is set with
// textContent (through `el`), never parsed as HTML. Cards are kept by id and updated in
// place, so a button keeps focus while the item it belongs to changes.

import { el } from "../core/dom.js";
import { Status } from "./protocol.js";

const SEVERITY = {
  critical: "Critical",
  high: "High",
  concern: "Concern",
};

const CATEGORY = {
  suicide: "Suicide risk",
  self_harm: "Self-harm",
  immediate_danger: "In immediate danger",
  child_at_risk: "A child at risk",
  harm_to_others: "Risk of harm to others",
  medical_emergency: "Medical emergency",
};

const STATUS = {
  [Status.OPEN]: "Not acknowledged yet",
  [Status.ACKNOWLEDGED]: "Acknowledged",
  [Status.IN_PROGRESS]: "In progress",
  [Status.RESOLVED]: "Resolved",
  [Status.FALSE_ALARM]: "False alarm",
};

const QUEUE = { staff: "Staff alert", review: "Moderator review" };
const SOURCE = { detector: "found by the risk detector", manual: "flagged by a person" };

const humanise = (code) => {
  const words = String(code).replace(/[_-]+/g, " ").trim();
  return words ? words[0].toUpperCase() + words.slice(1) : "Unknown";
};

export const severityText = (s) => SEVERITY[s] ?? humanise(s);
export const categoryText = (c) => CATEGORY[c] ?? humanise(c);
export const statusText = (s) => STATUS[s] ?? humanise(s);
const severityClass = (s) => (Object.hasOwn(SEVERITY, s) ? s : "other");

/** mm:ss; minutes keep counting past 59 (an hour is 60:00). */
export function formatClock(ms) {
  const total = Math.max(0, Math.floor(ms / 1000));
  const minutes = Math.floor(total / 60);
  const seconds = total % 60;
  return `${String(minutes).padStart(2, "0")}:${String(seconds).padStart(2, "0")}`;
}

export function formatAge(ms) {
  const minutes = Math.floor(Math.max(0, ms) / 60_000);
  if (minutes < 1) return "just now";
  if (minutes < 60) return `${minutes} min ago`;
  const hours = Math.floor(minutes / 60);
  const rest = minutes % 60;
  return rest ? `${hours} h ${rest} min ago` : `${hours} h ago`;
}

const TIME = new Intl.DateTimeFormat("en-GB", { hour: "2-digit", minute: "2-digit" });
export const formatTime = (ms) => TIME.format(new Date(ms));

/**
 * The SLA line for an item at `now`: {text, overdue}. Only an item still waiting for
 * acknowledgement has a running clock. Once re-notified it stays overdue: its deadline has
 * moved on to the next reminder, but the first one was missed.
 */
export function slaState(item, now) {
  if (item.status !== Status.OPEN) {
    const at = item.acknowledgedAt ? ` at ${formatTime(item.acknowledgedAt)}` : "";
    return { text: `Clock stopped: acknowledged${at}`, overdue: false, running: false };
  }
  const left = item.slaDueAt - now;
  if (left <= 0) return { text: `Overdue by ${formatClock(-left)}`, overdue: true, running: true };
  if (item.renotified > 0) {
    return { text: `Overdue · next reminder in ${formatClock(left)}`, overdue: true, running: true };
  }
  return { text: `${formatClock(left)} left to acknowledge`, overdue: false, running: true };
}

export function describeItem(item) {
  return `${severityText(item.severity).toLowerCase()} escalation in ${item.roomTitle}`;
}

function fact(label, valueNode) {
  return el("div", { className: "esc-fact" }, el("dt", { text: label }), el("dd", {}, valueNode));
}

/**
 * Build one card. `onAction(name, item, button)` is called for the buttons. Returns the
 * card's parts for `updateCard`.
 */
export function buildCard(item, onAction) {
  const titleId = `esc-${item.id}-title`;
  const parts = { item };
  parts.severity = el("span", { className: "sev" });
  parts.title = el("h3", { className: "esc-title", attrs: { id: titleId, tabindex: "-1" } });
  parts.room = el("span", { className: "esc-room" });
  parts.pseudonym = el("span", { className: "esc-pseudonym" });
  parts.age = el("time", { className: "esc-age" });
  parts.status = el("span", { className: "esc-status" });
  parts.sla = el("span", { className: "esc-sla" });
  parts.renotified = el("span", { className: "esc-renotified" });
  parts.origin = el("p", { className: "esc-origin" });
  parts.result = el("p", { className: "esc-result" });
  const button = (name, label, extra = "", quiet = true) => {
    const node = el("button", {
      className: `button button-small${quiet ? " button-quiet" : ""}`,
      text: label,
      attrs: { type: "button", "data-action": name, "aria-describedby": `${titleId}${extra}` },
      on: { click: () => onAction(name, parts.item, node) },
    });
    return node;
  };
  parts.buttons = {
    ack: button("ack", "Acknowledge", "", false),
    progress: button("progress", "In progress"),
    view: button("view", "View message", " audit-hint"),
    note: button("note", "Add note"),
    support: button("support", "Open support room"),
    resolve: button("resolve", "Resolve"),
  };
  parts.li = el(
    "li",
    { className: "esc", attrs: { "data-id": String(item.id) } },
    el(
      "article",
      { attrs: { "aria-labelledby": titleId } },
      el("div", { className: "esc-head" }, parts.severity, parts.title),
      el(
        "dl",
        { className: "esc-facts" },
        fact("Room", parts.room),
        fact("Member", parts.pseudonym),
        fact("Raised", parts.age),
        fact("Status", parts.status),
        fact("Response", parts.sla),
        fact("Reminders sent", parts.renotified),
      ),
      parts.origin,
      parts.result,
      el("div", { className: "esc-actions" }, ...Object.values(parts.buttons)),
    ),
  );
  updateCard(parts, item, Date.now());
  return parts;
}

export function updateCard(parts, item, now) {
  parts.item = item;
  const { li } = parts;
  li.dataset.severity = severityClass(item.severity);
  li.dataset.status = item.status;
  parts.severity.className = `sev sev-${severityClass(item.severity)}`;
  parts.severity.textContent = severityText(item.severity);
  parts.title.textContent = categoryText(item.category);
  parts.room.textContent = item.roomTitle;
  parts.pseudonym.textContent = item.pseudonym;
  parts.status.textContent = statusText(item.status);
  parts.renotified.textContent = String(item.renotified);
  const origin = [QUEUE[item.queue], SOURCE[item.source]].filter(Boolean).join(", ");
  parts.origin.textContent = origin ? `${origin[0].toUpperCase()}${origin.slice(1)}.` : "";
  parts.age.setAttribute("datetime", new Date(item.createdAt).toISOString());
  parts.buttons.ack.hidden = item.status !== Status.OPEN;
  parts.buttons.progress.hidden = item.status === Status.IN_PROGRESS;
  tickCard(parts, now);
}

/** The once-a-second update: age and SLA. Returns the SLA state. */
export function tickCard(parts, now) {
  const { item } = parts;
  parts.age.textContent = formatAge(now - item.createdAt);
  parts.age.title = formatTime(item.createdAt);
  const sla = slaState(item, now);
  if (parts.sla.textContent !== sla.text) parts.sla.textContent = sla.text;
  parts.li.dataset.overdue = sla.overdue ? "true" : "false";
  return sla;
}

export function setResult(parts, text, { error = false } = {}) {
  parts.result.textContent = text;
  parts.result.classList.toggle("error-text", error);
}

/** One line of the "recently resolved" list. */
export function recentEntry({ item, note }) {
  const outcome = item.outcome ? `: ${item.outcome}` : "";
  const what = `${severityText(item.severity)} · ${categoryText(item.category)} · ${item.pseudonym} in ${item.roomTitle}`;
  return el(
    "li",
    { className: "recent-item", attrs: { "data-id": String(item.id) } },
    el("span", { className: "recent-what", text: what }),
    el("span", { className: "recent-outcome", text: note || `${statusText(item.status)}${outcome}` }),
  );
}
