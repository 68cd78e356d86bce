// Report cards and their words. Like the escalation cards (view.js), every piece of text from
// the server is set with textContent (through `el`), never parsed as HTML, and cards are kept
// by id and updated in place so a button keeps focus while its report changes. A card never
// shows who made the report: the server does not send it.

import { el } from "../core/dom.js";
import { formatAge, formatTime } from "./view.js";

const REASON = {
  harassment: "Harassment or bullying",
  unsafe: "Someone may be unsafe",
  identifying: "Shares identifying details",
  graphic: "Graphic detail without a warning",
  spam: "Spam or advertising",
  impersonation: "Not who they say they are",
  other: "Something else",
};

const STATUS = { open: "Open", closed: "Closed" };

const humanise = (code) => {
  const words = String(code).replace(/[_-]+/g, " ").trim();
  return words ? words[0].toUpperCase() + words.slice(1) : "Unknown";
};

export const reasonText = (r) => REASON[r] ?? humanise(r);
const reportStatusText = (s) => STATUS[s] ?? humanise(s);

/** "report of message 12 in Welcome room (Harassment or bullying)", for announcements. */
export function describeReport(item) {
  return `report of message ${item.seq} in ${item.roomTitle} (${reasonText(item.reason)})`;
}

export const aboutReport = (item) =>
  `${reasonText(item.reason)} · message ${item.seq} by ${item.author} in ${item.roomTitle}`;

function fact(label, valueNode) {
  return el("div", { className: "esc-fact" }, el("dt", { text: label }), el("dd", {}, valueNode));
}

/**
 * Build one report card; `onAction(name, item, button)` is called for its buttons ("read",
 * "hide", "reply", "close"). Returns the card's parts for the functions below.
 */
export function buildReportCard(item, onAction) {
  const titleId = `report-${item.id}-title`;
  const contentId = `report-${item.id}-content`;
  const parts = { item, reading: false };
  parts.title = el("h3", { className: "report-title", attrs: { id: titleId, tabindex: "-1" } });
  parts.room = el("span", { className: "report-room" });
  parts.seq = el("span", { className: "report-seq" });
  parts.author = el("span", { className: "report-author" });
  parts.age = el("time", { className: "report-age" });
  parts.status = el("span", { className: "report-status" });
  parts.replies = el("span", { className: "report-replies" });
  parts.result = el("p", { className: "esc-result" }); // also read out through the announcer
  parts.body = el("blockquote", { className: "excerpt report-body" });
  parts.note = el("blockquote", { className: "excerpt report-note" });
  parts.content = el(
    "div",
    { className: "report-content", attrs: { id: contentId } },
    el("h4", { text: "What they wrote" }),
    parts.body,
    el("h4", { text: "Note from the person who reported it" }),
    parts.note,
  );
  parts.content.hidden = true;
  const button = (name, label, describedBy) => {
    const node = el("button", {
      className: "button button-small button-quiet",
      text: label,
      attrs: { type: "button", "data-action": name, "aria-describedby": describedBy },
      on: { click: () => onAction(node.dataset.action, parts.item, node) },
    });
    return node;
  };
  parts.buttons = {
    read: button("read", "Read message", `${titleId} report-hint`),
    reply: button("reply", "Reply privately", titleId),
    close: button("close", "Close report", titleId),
  };
  parts.buttons.read.setAttribute("aria-controls", contentId);
  parts.buttons.read.setAttribute("aria-expanded", "false");
  parts.li = el(
    "li",
    { className: "report-card", attrs: { "data-id": String(item.id) } },
    el(
      "article",
      { attrs: { "aria-labelledby": titleId } },
      parts.title,
      el(
        "dl",
        { className: "esc-facts" },
        fact("Room", parts.room),
        fact("Message", parts.seq),
        fact("Written by", parts.author),
        fact("Reported", parts.age),
        fact("Status", parts.status),
        fact("Replies sent", parts.replies),
      ),
      parts.result,
      parts.content,
      el("div", { className: "esc-actions" }, ...Object.values(parts.buttons)),
    ),
  );
  updateReportCard(parts, item, Date.now());
  return parts;
}

export function updateReportCard(parts, item, now) {
  parts.item = item;
  parts.li.dataset.status = item.status;
  parts.title.textContent = reasonText(item.reason);
  parts.room.textContent = item.roomTitle;
  parts.seq.textContent = `No. ${item.seq}`;
  parts.author.textContent = item.author;
  parts.status.textContent = reportStatusText(item.status);
  parts.replies.textContent = String(item.replies);
  parts.age.setAttribute("datetime", new Date(item.createdAt).toISOString());
  tickReportCard(parts, now);
}

export function tickReportCard(parts, now) {
  const { item } = parts;
  const age = formatAge(now - item.createdAt);
  if (parts.age.textContent !== age) parts.age.textContent = age;
  parts.age.title = formatTime(item.createdAt);
}

/** Show what report_view returned. Text only: `textContent`, never markup. */
export function showReportContent(parts, report) {
  parts.body.textContent =
    report?.body ?? "The message is no longer available (deleted, or its key was erased).";
  parts.note.textContent = report?.note ?? "No note was added (or it can no longer be read).";
  parts.content.hidden = false;
  parts.reading = true;
  setReadButton(parts, "hide", "Hide message", "true");
}

/** Take the decrypted text off the screen (and out of the page). */
export function hideReportContent(parts) {
  parts.body.textContent = "";
  parts.note.textContent = "";
  parts.content.hidden = true;
  parts.reading = false;
  setReadButton(parts, "read", "Read message", "false");
}

function setReadButton(parts, action, label, expanded) {
  const { read } = parts.buttons;
  read.dataset.action = action;
  read.textContent = label;
  read.setAttribute("aria-expanded", expanded);
}

export function setReportResult(parts, text, { error = false } = {}) {
  parts.result.textContent = text;
  parts.result.classList.toggle("error-text", error);
}
