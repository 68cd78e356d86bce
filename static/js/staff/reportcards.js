// Members' reports as cards (cards.js) and their words; showing and hiding what a reported
// message says. A card never shows who made the report: the server does not send it.

import { el } from "../core/dom.js";
import { label } from "../core/format.js";
import { REPORT_STATUS_LABELS, STAFF_REPORT_REASON_LABELS } from "../core/words.js";
import { buildCard, fill, setAction, setDatetime, showAge, slot } from "./cards.js";

export { setResult as setReportResult } from "./cards.js";

export const reasonText = (r) => label(STAFF_REPORT_REASON_LABELS, r, { capital: true });
const reportStatusText = (s) => label(REPORT_STATUS_LABELS, s, { capital: true });

/** "report of message 12 in Welcome room (Harassment or bullying)", for announcements. */
export function describeReport(item) {
  return `report of message ${item.seq} in ${item.roomTitle} (${reasonText(item.reason)})`;
}

export const aboutReport = (item) =>
  `${reasonText(item.reason)} · message ${item.seq} by ${item.author} in ${item.roomTitle}`;

/**
 * Build one report card; `onAction(name, item, button)` is called for its buttons ("read",
 * "hide", "reply", "close"). Returns the card's parts for the functions below.
 */
export function buildReportCard(item, onAction) {
  const titleId = `report-${item.id}-title`;
  const contentId = `report-${item.id}-content`;
  const age = slot("report-age", "time");
  const body = el("blockquote", { className: "excerpt report-body" });
  const note = el("blockquote", { className: "excerpt report-note" });
  const content = el(
    "div",
    { className: "report-content", attrs: { id: contentId } },
    el("h4", { text: "What they wrote" }),
    body,
    el("h4", { text: "Note from the person who reported it" }),
    note,
  );
  content.hidden = true;
  const parts = buildCard({
    item,
    idPrefix: "report",
    className: "report-card",
    titleClass: "report-title",
    facts: [
      ["Room", slot("report-room"), (it) => it.roomTitle],
      ["Message", slot("report-seq"), (it) => `No. ${it.seq}`],
      ["Written by", slot("report-author"), (it) => it.author],
      ["Reported", age], // changes every second: tickReportCard
      ["Status", slot("report-status"), (it) => reportStatusText(it.status)],
      ["Replies sent", slot("report-replies"), (it) => String(it.replies)],
    ],
    after: [content],
    buttons: [
      ["read", "Read message", { describedBy: `${titleId} report-hint` }],
      ["reply", "Reply privately"],
      ["close", "Close report"],
    ],
    onAction,
  });
  Object.assign(parts, { age, body, note, content, reading: false });
  parts.buttons.read.setAttribute("aria-controls", contentId);
  parts.buttons.read.setAttribute("aria-expanded", "false");
  updateReportCard(parts, item, Date.now());
  return parts;
}

export function updateReportCard(parts, item, now) {
  fill(parts, item, reasonText(item.reason));
  setDatetime(parts.age, item.createdAt);
  tickReportCard(parts, now);
}

export function tickReportCard(parts, now) {
  showAge(parts.age, parts.item.createdAt, now);
}

/** Show what report_view returned. Text only: `textContent`, never markup. */
export function showReportContent(parts, report) {
  parts.body.textContent =
    report?.body ?? "The message is no longer available (deleted, or its key was erased).";
  parts.note.textContent = report?.note ?? "No note was added (or it can no longer be read).";
  parts.content.hidden = false;
  parts.reading = true;
  setAction(parts.buttons.read, "hide", "Hide message");
  parts.buttons.read.setAttribute("aria-expanded", "true");
}

/** Take the decrypted text off the screen (and out of the page). */
export function hideReportContent(parts) {
  parts.body.textContent = "";
  parts.note.textContent = "";
  parts.content.hidden = true;
  parts.reading = false;
  setAction(parts.buttons.read, "read", "Read message");
  parts.buttons.read.setAttribute("aria-expanded", "false");
}
