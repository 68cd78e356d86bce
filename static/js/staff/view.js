// The queue's cards (cards.js) and the words on them: severity, category, status and the SLA
// countdown.

import { formatClock, label } from "../core/format.js";
import { el } from "../core/dom.js";
import {
  CATEGORY_LABELS,
  ESCALATION_STATUS_LABELS,
  QUEUE_LABELS,
  SEVERITY_LABELS,
  SOURCE_LABELS,
} from "../core/words.js";
import { buildCard, fill, formatTime, setDatetime, showAge, slot } from "./cards.js";
import { Status } from "./protocol.js";

export { formatTime, setResult } from "./cards.js";

export const severityText = (s) => label(SEVERITY_LABELS, s, { capital: true });
export const categoryText = (c) => label(CATEGORY_LABELS, c, { capital: true });
export const statusText = (s) => label(ESCALATION_STATUS_LABELS, s, { capital: true });
const severityClass = (s) => (Object.hasOwn(SEVERITY_LABELS, s) ? s : "other");

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

/** "Critical · Suicide risk · Calm Heron 3 in Welcome room": what a dialog is about. */
export const aboutItem = (item) =>
  `${severityText(item.severity)} · ${categoryText(item.category)} · ${item.pseudonym} in ${item.roomTitle}`;

/**
 * Build one card. `onAction(name, item, button)` is called for the buttons. Returns the
 * card's parts for `updateCard`.
 */
export function buildEscalationCard(item, onAction) {
  const severity = el("span", { className: "sev" });
  const age = slot("esc-age", "time");
  const sla = slot("esc-sla");
  const origin = el("p", { className: "esc-origin" });
  const parts = buildCard({
    item,
    idPrefix: "esc",
    className: "esc",
    titleClass: "esc-title",
    heading: (title) => el("div", { className: "esc-head" }, severity, title),
    facts: [
      ["Room", slot("esc-room"), (it) => it.roomTitle],
      ["Member", slot("esc-pseudonym"), (it) => it.pseudonym],
      ["Raised", age], // this and Response change every second: tickCard
      ["Status", slot("esc-status"), (it) => statusText(it.status)],
      ["Response", sla],
      ["Reminders sent", slot("esc-renotified"), (it) => String(it.renotified)],
    ],
    before: [origin],
    buttons: [
      ["ack", "Acknowledge", { quiet: false }],
      ["progress", "In progress"],
      ["view", "View message", { describedBy: `esc-${item.id}-title audit-hint` }],
      ["note", "Add note"],
      ["support", "Open support room"],
      ["resolve", "Resolve"],
    ],
    onAction,
  });
  Object.assign(parts, { severity, origin, age, sla });
  updateCard(parts, item, Date.now());
  return parts;
}

export function updateCard(parts, item, now) {
  fill(parts, item, categoryText(item.category));
  parts.li.dataset.severity = severityClass(item.severity);
  parts.severity.className = `sev sev-${severityClass(item.severity)}`;
  parts.severity.textContent = severityText(item.severity);
  const origin = [QUEUE_LABELS[item.queue], SOURCE_LABELS[item.source]].filter(Boolean).join(", ");
  parts.origin.textContent = origin ? `${origin[0].toUpperCase()}${origin.slice(1)}.` : "";
  setDatetime(parts.age, item.createdAt);
  parts.buttons.ack.hidden = item.status !== Status.OPEN;
  parts.buttons.progress.hidden = item.status === Status.IN_PROGRESS;
  tickCard(parts, now);
}

/** The once-a-second update: age and SLA. Returns the SLA state. */
export function tickCard(parts, now) {
  const { item } = parts;
  showAge(parts.age, item.createdAt, now);
  const sla = slaState(item, now);
  if (parts.sla.textContent !== sla.text) parts.sla.textContent = sla.text;
  parts.li.dataset.overdue = sla.overdue ? "true" : "false";
  return sla;
}

/** One line of the "recently resolved" list. */
export function recentEntry({ item, note }) {
  const outcome = item.outcome ? `: ${item.outcome}` : "";
  return el(
    "li",
    { className: "recent-item", attrs: { "data-id": String(item.id) } },
    el("span", { className: "recent-what", text: aboutItem(item) }),
    el("span", { className: "recent-outcome", text: note || `${statusText(item.status)}${outcome}` }),
  );
}
