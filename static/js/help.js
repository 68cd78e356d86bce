// "Get help now": crisis contacts, one tap away from every view. The list is the server's
// (moderation/data/crisis_resources.json), rendered into the page before any script runs; the
// server's `signpost` frame after a risky message carries the same list with gentle words.
// The panel keeps its own Quick exit in a bar that stays in view however far it is scrolled:
// it is modal, so the header's button is behind it, and phones have no Esc key.

import { $, el } from "./core/dom.js";
import { safeContactHref } from "./protocol.js";

let serverList = []; // the list as the page was served

function resourceItem({ name, contact, note, href }) {
  const link = safeContactHref(href);
  return el(
    "li",
    {},
    el("span", { className: "resource-name", text: name }),
    link
      ? el("a", { className: "resource-contact", text: contact, attrs: { href: link } })
      : el("span", { className: "resource-contact", text: contact }),
    note ? el("span", { className: "resource-note", text: note }) : null,
  );
}

/** A short list of contacts, one line each (the care status's, when nobody is on call). */
export function compactResourceItems(resources) {
  return resources.map(({ name, contact, href }) => {
    const link = safeContactHref(href);
    return el(
      "li",
      {},
      link
        ? el("a", { className: "resource-contact", text: contact, attrs: { href: link } })
        : el("span", { className: "resource-contact", text: contact }),
      ` ${name}`,
    );
  });
}

/** Open the panel; `message` and `resources` come from a signpost frame. */
export function openHelp({ message = "", resources = null } = {}) {
  const dialog = $("help-dialog");
  $("help-message").textContent = message;
  $("help-list").replaceChildren(
    ...(resources && resources.length ? resources.map(resourceItem) : serverList.map((item) => item.cloneNode(true))),
  );
  if (!dialog.open) dialog.showModal();
  dialog.scrollTop = 0;
  $("help-title").focus();
}

export function initHelp() {
  const dialog = $("help-dialog");
  serverList = [...$("help-list").children].map((item) => item.cloneNode(true));
  $("help-open").addEventListener("click", () => openHelp());
  $("help-close").addEventListener("click", () => dialog.close());
  // A click on the dimmed backdrop (outside the panel) closes it too.
  dialog.addEventListener("click", (event) => {
    if (event.target === dialog) {
      const box = dialog.getBoundingClientRect();
      const inside =
        event.clientX >= box.left && event.clientX <= box.right && event.clientY >= box.top && event.clientY <= box.bottom;
      if (!inside) dialog.close();
    }
  });
}
