// One message on the page: its author, time and state, its text (or the words shown instead:
// deleted, hidden, can't be shown), a content warning or blurred theme that folds it away,
// and its actions (Delete for your own, the "⋯" options). Text only ever via textContent.

import { el, linkButton } from "./core/dom.js";
import { label, timeOfDay } from "./core/format.js";
import {
  FLAG_CATEGORY_LABELS,
  HIDE_REASON_BECAUSE,
  HIDE_REASON_LABELS,
  ROLE_BADGES,
  SEVERITY_LABELS,
} from "./core/words.js";
import { messageMenu } from "./messageactions.js";
import { collapseReason } from "./themes.js";

const dayFormat = new Intl.DateTimeFormat(undefined, { day: "numeric", month: "short" });

export function formatTime(ts) {
  const date = new Date(ts);
  if (Number.isNaN(date.getTime())) return "";
  const sameDay = date.toDateString() === new Date().toDateString();
  return sameDay ? timeOfDay(date) : `${dayFormat.format(date)}, ${timeOfDay(date)}`;
}

/** The words in place of a message that is not shown as written, or null. */
function placeholder(entry, mine, role) {
  if (entry.deleted) return "This message was deleted.";
  if (entry.hidden && entry.body === null) {
    const reason = entry.hidden_reason ?? "";
    if (mine) {
      const because = HIDE_REASON_BECAUSE[reason] ?? "it should not stay up";
      return `A facilitator hid this message because ${because}.`;
    }
    if (role !== "member") return `Hidden by a facilitator: ${label(HIDE_REASON_LABELS, reason || "other")}.`;
    return "A facilitator hid this message.";
  }
  if (entry.unavailable || entry.body === null) return "This message can't be shown.";
  return null;
}

const EXCERPT_WORDS = 8;

/** A message's first words ("My reports" says which message a report was about). */
function firstWords(body) {
  if (typeof body !== "string" || !body.trim()) return null;
  const words = body.trim().split(/\s+/);
  return words.slice(0, EXCERPT_WORDS).join(" ") + (words.length > EXCERPT_WORDS ? "…" : "");
}

/** The visible badge beside a facilitator's or staff member's name ("Peer facilitator"). */
export function roleBadge(role) {
  return role && Object.hasOwn(ROLE_BADGES, role) ? el("span", { className: "role-badge", text: ROLE_BADGES[role] }) : null;
}

/** For facilitators: what the history knows about a message (an alert, reports, hidden). */
function markers(entry, view) {
  if (view.role === "member") return [];
  const { risk, reports } = view.markerOf(entry);
  const tags = [];
  if (risk) {
    const what = `${label(FLAG_CATEGORY_LABELS, risk.category)}, ${label(SEVERITY_LABELS, risk.severity).toLowerCase()}`;
    tags.push(el("span", { className: "msg-marker msg-marker-risk", text: `Safety alert: ${what}` }));
  }
  if (reports) {
    tags.push(el("span", { className: "msg-marker", text: reports === 1 ? "Reported" : `Reported ${reports} times` }));
  }
  if (entry.hidden) tags.push(el("span", { className: "msg-marker", text: "Hidden" }));
  if (entry.care) tags.push(el("span", { className: "msg-marker", text: "Folded for members" }));
  return tags;
}

/** Render one stored message into its <li>. `view` is the ChatView (who reads, and how). */
export function fillMessage(li, entry, view) {
  const hadFocus = li.contains(document.activeElement);
  li.entry = entry;
  const mine = entry.author === view.me;
  const shownInstead = placeholder(entry, mine, view.role);
  li.className = "msg";
  li.classList.toggle("msg-mine", mine);
  li.classList.toggle("msg-deleted", Boolean(entry.deleted));
  li.classList.toggle("msg-unavailable", Boolean(entry.unavailable));
  li.classList.toggle("msg-hidden", Boolean(entry.hidden));
  li.classList.toggle("msg-announcement", Boolean(entry.announcement));
  const meta = el(
    "p",
    { className: "msg-meta" },
    entry.announcement ? el("span", { className: "msg-tag", text: "Announcement" }) : null,
    el("span", { className: "msg-author", text: mine ? `${entry.author} (you)` : entry.author }),
    roleBadge(entry.role),
    el("time", { attrs: { datetime: entry.ts }, text: formatTime(entry.ts) }),
    view.pins.has(entry.seq) ? el("span", { className: "msg-tag", text: "Pinned" }) : null,
    ...(entry.deleted ? [] : markers(entry, view)),
  );
  const children = [meta];
  const bodyId = `msg-body-${entry.seq}`;
  const body = el("p", { className: "msg-body", text: shownInstead ?? entry.body, attrs: { id: bodyId } });
  const collapsed = shownInstead === null && !mine ? collapseReason(entry, view.blur, view.role) : null;
  if (collapsed) {
    children.push(foldControls(entry.seq, collapsed, body, view.revealed));
  }
  children.push(body);
  if (entry.hidden && entry.body !== null) {
    const why = label(HIDE_REASON_LABELS, entry.hidden_reason || "other");
    children.push(el("p", { className: "msg-note", text: `Hidden from the room: ${why}. Members can't see it.` }));
  }
  const actions = el("div", { className: "msg-actions" });
  if (mine && !entry.deleted) {
    li.dataset.state = "sent";
    meta.append(el("span", { className: "msg-state", text: "Sent" }));
    actions.append(deleteControls(entry.seq, view));
  } else {
    delete li.dataset.state;
  }
  const menu = messageMenu({
    entry,
    role: view.role,
    me: view.me,
    pinned: view.pins.has(entry.seq),
    act: view.act,
    onResult: (text) => view.actionResult(text),
    onReported: (seq, reason) => view.reports.added(seq, reason, firstWords(entry.body)),
  });
  if (actions.childElementCount) children.push(actions);
  // The "⋯" button comes after the text for screen readers; the stylesheet puts it top right.
  if (menu) children.push(el("div", { className: "msg-corner" }, menu.toggle), menu.panel);
  li.replaceChildren(...children);
  if (hadFocus) (li.querySelector(".msg-more") ?? view.log).focus();
}

/** A collapsed message: its warning, and Show / Hide again. The text stays out of sight
 * (and out of the accessibility tree) until asked for; `revealed` remembers the choice. */
function foldControls(seq, collapsed, body, revealed) {
  const open = revealed.has(seq);
  body.hidden = !open;
  const noteId = `msg-cw-${seq}`;
  const toggle = el(
    "button",
    {
      className: "button button-small button-quiet",
      attrs: { type: "button", "aria-expanded": String(open), "aria-controls": body.id, "aria-describedby": noteId },
      on: {
        click: () => {
          const now = !revealed.has(seq);
          if (now) revealed.add(seq);
          else revealed.delete(seq);
          body.hidden = !now;
          toggle.setAttribute("aria-expanded", String(now));
          toggle.textContent = now ? "Hide again" : "Show";
        },
      },
    },
    open ? "Hide again" : "Show",
  );
  return el(
    "div",
    { className: `msg-cw msg-cw-${collapsed.kind}` },
    el("p", { className: "msg-cw-text", text: collapsed.text, attrs: { id: noteId } }),
    toggle,
  );
}

/** A message typed here and not (yet) in the log: sending, not sent, held or not shared. */
export function fillOutbox(li, item, view) {
  li.dataset.state = item.state;
  li.dataset.clientId = item.clientId;
  const stateText =
    {
      failed: "Not sent",
      held: "Waiting for review",
      rejected: "Not shared",
    }[item.state] ?? "Sending…";
  const children = [
    el(
      "p",
      { className: "msg-meta" },
      el("span", { className: "msg-author", text: view.me ? `${view.me} (you)` : "You" }),
      el("span", { className: "msg-state", text: stateText }),
      item.cw ? el("span", { className: "msg-tag", text: "Content warning" }) : null,
    ),
    el("p", { className: "msg-body", text: item.body }),
  ];
  if (item.state === "failed") {
    children.push(
      el("p", { className: "error-text", text: item.error }),
      el(
        "div",
        { className: "msg-actions" },
        linkButton("Try again", () => view.actions.onRetry(item.clientId)),
        linkButton("Remove", () => view.actions.onDiscard(item.clientId)),
      ),
    );
  } else if (item.state === "held") {
    children.push(el("p", { className: "msg-note", text: item.note }));
  } else if (item.state === "rejected") {
    children.push(
      el("p", {
        className: "msg-note",
        text: "A facilitator decided not to share this message. Only you can see it here.",
      }),
      el(
        "div",
        { className: "msg-actions" },
        linkButton("Remove", () => view.actions.onDiscard(item.clientId)),
      ),
    );
  }
  li.replaceChildren(...children);
}

/** Delete asks once more in place, so a slip of the finger does not remove a message. */
function deleteControls(seq, view) {
  const box = el("span", { className: "msg-delete" });
  const ask = linkButton("Delete", () => {
    const yes = linkButton("Yes, delete it", () => {
      if (view.actions.onDelete(seq)) view.log.focus();
      else reset();
    });
    const no = linkButton("Keep it", () => {
      reset();
      ask.focus();
    });
    box.replaceChildren(el("span", { text: "Delete this message for everyone?" }), yes, no);
    yes.focus();
  });
  const reset = () => box.replaceChildren(ask);
  box.append(ask);
  return box;
}
