// The dashboard's cards, for escalations (view.js) and members' reports (reportcards.js)
// alike: a list item holding an article named by its heading, a list of facts, a result line
// and a row of action buttons. Cards are kept by id and updated in place, so a button keeps
// focus while the item it belongs to changes. Every piece of text from the server is set
// with textContent.

import { button, el, showResult } from "../core/dom.js";
import { formatAge, timeOfDay } from "../core/format.js";

export const LOCALE = "en-GB"; // the dashboard's times, whatever the browser's language

/** "14:05", for a time in milliseconds. */
export const formatTime = (ms) => timeOfDay(ms, LOCALE);

/** An empty slot for one fact's value (`<span class=…>`), filled in on every update. */
export const slot = (className, tag = "span") => el(tag, { className });

/**
 * Build a card. `spec`:
 * - `item`, `idPrefix` ("esc", "report": the heading's id is `<idPrefix>-<id>-title`),
 *   `className` (the list item's), `titleClass`;
 * - `heading(title)`: the node that holds the heading (default: the heading itself);
 * - `facts`: [[label, slot, text(item)]], shown as a description list; `fill` sets each
 *   slot that has a `text` from the item (the others the caller keeps up to date);
 * - `before`, `after`: nodes above and below the result line;
 * - `buttons`: [[action, label, {describedBy, quiet}]]; `describedBy` defaults to the
 *   heading, so "Acknowledge" is never ambiguous out of context;
 * - `onAction(action, item, button)`: a button was pressed; `action` is the button's
 *   `data-action`, which may change (see `setAction`).
 * Returns `parts`: {item, li, title, result, buttons: {action: button}}.
 */
export function buildCard({ item, idPrefix, className, titleClass, heading = (title) => title, facts, before = [], after = [], buttons, onAction }) {
  const titleId = `${idPrefix}-${item.id}-title`;
  const parts = { item, titleId, facts };
  parts.title = el("h3", { className: titleClass, attrs: { id: titleId, tabindex: "-1" } });
  parts.result = el("p", { className: "esc-result" }); // also read out through the announcer
  parts.buttons = {};
  for (const [action, label, { describedBy = titleId, quiet = true } = {}] of buttons) {
    parts.buttons[action] = button(label, (event) => onAction(event.currentTarget.dataset.action, parts.item, event.currentTarget), {
      quiet,
      attrs: { "data-action": action, "aria-describedby": describedBy },
    });
  }
  parts.li = el(
    "li",
    { className, attrs: { "data-id": String(item.id) } },
    el(
      "article",
      { attrs: { "aria-labelledby": titleId } },
      heading(parts.title),
      el(
        "dl",
        { className: "esc-facts" },
        ...facts.map(([label, value]) => el("div", { className: "esc-fact" }, el("dt", { text: label }), el("dd", {}, value))),
      ),
      ...before,
      parts.result,
      ...after,
      el("div", { className: "esc-actions" }, ...Object.values(parts.buttons)),
    ),
  );
  return parts;
}

/** Show `item` on its card: the heading's text and every fact's. */
export function fill(parts, item, title) {
  parts.item = item;
  parts.li.dataset.status = item.status;
  parts.title.textContent = title;
  for (const [, node, text] of parts.facts) if (text) node.textContent = text(item);
}

/** Change what a card's button does and says (Read message / Hide message). */
export function setAction(node, action, label) {
  node.dataset.action = action;
  node.textContent = label;
}

/** The card's result line: what an action did, or why the server refused it. */
export function setResult(parts, text, { error = false } = {}) {
  showResult(parts.result, text, { error });
}

/** A link after a card's result line ("Go to the support room"); `href` is this site's. */
export function addResultLink(parts, { href, text }) {
  if (!href.startsWith("/")) return;
  parts.result.append(" ", el("a", { className: "result-link", text, attrs: { href } }));
}

/** A `<time>` slot showing how long ago `at` (ms) was; its title is the time of day. */
export function showAge(node, at, now) {
  const age = formatAge(now - at);
  if (node.textContent !== age) node.textContent = age;
  node.title = formatTime(at);
}

/** Set once per item: the machine-readable time of a `<time>` slot. */
export function setDatetime(node, at) {
  node.setAttribute("datetime", new Date(at).toISOString());
}

/** Focus the first visible action of a card, or its heading when it has none. */
export function focusFirstAction(parts) {
  const first = Object.values(parts.buttons).find((b) => !b.hidden);
  (first ?? parts.title).focus();
}

/**
 * Make `list` show one card per item of `items`, in that order. `cards` (id -> parts) keeps
 * them: a new item gets a card from `build(item)`, a changed one `update(parts, item)`, and
 * the card of an item no longer there leaves (`gone(id)`). Cards are moved, never rebuilt,
 * so focus inside one stays.
 */
export function syncCards(list, cards, items, { build, update, gone = () => {} }) {
  const keep = new Set(items.map((item) => item.id));
  for (const [id, parts] of cards) {
    if (!keep.has(id)) {
      parts.li.remove();
      cards.delete(id);
      gone(id);
    }
  }
  let previous = null;
  for (const item of items) {
    let parts = cards.get(item.id);
    if (!parts) {
      parts = build(item);
      cards.set(item.id, parts);
    } else if (parts.item !== item) {
      update(parts, item);
    }
    const expected = previous ? previous.nextSibling : list.firstChild;
    if (expected !== parts.li) list.insertBefore(parts.li, expected);
    previous = parts.li;
  }
}
