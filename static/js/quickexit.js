// Quick exit: the button at the top of every view, or Esc pressed twice within a second.
// It blanks the page at once, closes the socket, clears this site's web storage, logs the
// session out without waiting for the answer, and replaces this page in the tab's history
// with a neutral site, so Back does not return here.
//
// It cannot erase what the server, a network or the browser recorded before (see
// docs/web-client.md): it makes the screen safe quickly, that is all.

import { endSessionOnExit } from "./api.js";

const FALLBACK_URL = "https://www.bbc.co.uk/weather";
const DOUBLE_ESCAPE_MS = 1000;

const cleanups = new Set();

/** Register something to stop on exit (the room socket). Returns an unregister function. */
export function onQuickExit(fn) {
  cleanups.add(fn);
  return () => cleanups.delete(fn);
}

/** The neutral site, from <meta name="quick-exit-url">; only an http(s) address is used. */
export function quickExitUrl() {
  const value = document.querySelector('meta[name="quick-exit-url"]')?.content ?? "";
  try {
    const url = new URL(value);
    if (url.protocol === "https:" || url.protocol === "http:") return url.href;
  } catch {
    // fall through to the default
  }
  return FALLBACK_URL;
}

export function quickExit() {
  const url = quickExitUrl();
  // Nothing of the page should stay on screen while the neutral site loads.
  document.body.replaceChildren();
  for (const fn of cleanups) {
    try {
      fn();
    } catch {
      // keep going: leaving matters more
    }
  }
  try {
    sessionStorage.clear();
    localStorage.clear();
  } catch {
    // storage can be disabled; nothing to clear then
  }
  endSessionOnExit();
  location.replace(url);
}

export function installQuickExit() {
  // The header's button, and a copy inside every modal panel: a modal dialog makes the rest
  // of the page inert, and the way out must never be behind it.
  for (const link of document.querySelectorAll("#quick-exit, [data-quick-exit]")) {
    link.href = quickExitUrl();
    link.addEventListener("click", (event) => {
      event.preventDefault();
      quickExit();
    });
  }
  let lastEscape = -Infinity;
  // Capture phase, so an open dialog or a text field cannot swallow the key first.
  window.addEventListener(
    "keydown",
    (event) => {
      if (event.key !== "Escape" && event.key !== "Esc") return;
      const now = performance.now();
      if (now - lastEscape <= DOUBLE_ESCAPE_MS) {
        event.preventDefault();
        quickExit();
      } else {
        lastEscape = now;
      }
    },
    { capture: true },
  );
}
