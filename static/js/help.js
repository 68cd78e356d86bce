// "Get help now": crisis contacts, one tap away from every view. Opened by the button, or by
// the server with a `signpost` frame, whose own message and resources replace the built-in
// list when it sends some.

import { $, el } from "./core/dom.js";

// UK services. `href` makes the number tappable on a phone.
const BUILT_IN = [
  {
    name: "Emergency services",
    contact: "999",
    href: "tel:999",
    note: "If you are in danger now. If you can't speak, call 999 from a mobile and press 55 when asked.",
  },
  {
    name: "Samaritans",
    contact: "116 123",
    href: "tel:116123",
    note: "Free, day or night, whatever you are going through.",
  },
  {
    name: "Rape Crisis 24/7 Support Line",
    contact: "0808 500 2222",
    href: "tel:08085002222",
    note: "Free, any time, for anyone aged 16 or over affected by sexual violence or abuse.",
  },
  {
    name: "Shout",
    contact: "Text SHOUT to 85258",
    href: "sms:85258?body=SHOUT",
    note: "Free, confidential text support, day or night.",
  },
];

// A contact from the server is linked only if it is plainly a phone number.
function hrefFor(contact) {
  return /^\+?[0-9 ]{3,20}$/.test(contact.trim()) ? `tel:${contact.replace(/ /g, "")}` : null;
}

function resourceItem({ name, contact, note, href }) {
  const link = href ?? hrefFor(contact);
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

/** Open the panel; `message` and `resources` come from a signpost frame. */
export function openHelp({ message = "", resources = null } = {}) {
  const dialog = $("help-dialog");
  $("help-message").textContent = message;
  $("help-list").replaceChildren(...(resources ?? BUILT_IN).map(resourceItem));
  if (!dialog.open) dialog.showModal();
  $("help-title").focus();
}

export function initHelp() {
  const dialog = $("help-dialog");
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
