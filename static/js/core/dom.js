// The DOM helpers both pages build with. Text from the server or from a member is only ever
// set with textContent (through `el`, or as a child string, which becomes a text node): never
// parsed as HTML.

export const $ = (id) => document.getElementById(id);

/** Build an element. `text` becomes textContent; children may be nodes or plain strings. */
export function el(tag, { className = "", text = null, attrs = {}, on = {} } = {}, ...children) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== null) node.textContent = text;
  for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, value);
  for (const [type, handler] of Object.entries(on)) node.addEventListener(type, handler);
  for (const child of children) {
    if (child !== null && child !== undefined && child !== false) node.append(child);
  }
  return node;
}

/**
 * A plain button (`type="button"`), small unless `className` says otherwise; `quiet` for the
 * less prominent style. `hiddenText` is added for screen readers only, to tell apart buttons
 * with the same label ("Release" … "from Calm Heron 3").
 */
export function button(label, onClick, { className = "button button-small", quiet = false, hiddenText = "", attrs = {} } = {}) {
  return el(
    "button",
    {
      className: quiet ? `${className} button-quiet` : className,
      attrs: { type: "button", ...attrs },
      on: { click: onClick },
    },
    label,
    hiddenText ? el("span", { className: "visually-hidden", text: ` ${hiddenText}` }) : null,
  );
}

/** A small text-link style button ("Try again", "Show in the chat"). */
export const linkButton = (label, onClick) => button(label, onClick, { className: "button-link small" });

/** Put the result of an action in its status line; a refusal is styled as an error. */
export function showResult(node, text, { error = false } = {}) {
  node.textContent = text;
  node.classList.toggle("error-text", error);
}

/**
 * Wait for an action (a promise) and say in `node` how it went: `pending` while it runs (null
 * leaves the line as it is), then `done`, or the reason it was refused. True if it was done.
 */
export async function showOutcome(node, action, { pending = null, done }) {
  node.classList.remove("error-text");
  if (pending !== null) node.textContent = pending;
  try {
    await action;
  } catch (failure) {
    showResult(node, failure.message, { error: true });
    return false;
  }
  showResult(node, done);
  return true;
}

export function setBusy(node, busy) {
  node.disabled = busy;
  node.setAttribute("aria-busy", busy ? "true" : "false");
}

/**
 * Show the view `view-<name>` (one of `names`) and hide the others; `body[data-view]` says
 * which is shown. With `focus`, its heading takes focus, so screen reader and keyboard users
 * land in the right place.
 */
export function switchView(names, name, { focus = true } = {}) {
  for (const view of names) $(`view-${view}`).hidden = view !== name;
  document.body.dataset.view = name;
  if (focus) document.querySelector(`#view-${name} h1`)?.focus();
}

/** A calm message at the top of the page. Empty hides it. */
export function setNotice(text) {
  $("notice").textContent = text;
}
