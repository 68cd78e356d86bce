// Filing a debrief after a session (POST /api/staff/debriefs; docs/governance.md). Used by
// facilitators and by moderators and staff who held a room. The text is sent once and then
// cleared from the page.

import { $ } from "../core/dom.js";
import { fileDebrief } from "./api.js";

export const DEBRIEF_MAX_CHARS = 8000;

function today() {
  const now = new Date();
  const local = new Date(now.getTime() - now.getTimezoneOffset() * 60_000);
  return local.toISOString().slice(0, 10);
}

function reset() {
  $("debrief-room").value = "";
  $("debrief-date").value = today();
  $("debrief-date").max = today();
  $("debrief-text").value = "";
  $("debrief-support").checked = false;
  $("debrief-error").textContent = "";
}

/** Validates the form; returns the request body, or null after showing what is wrong. */
function readForm() {
  const error = $("debrief-error");
  const text = $("debrief-text").value.trim();
  if (!text) {
    error.textContent = "Write a few words first.";
    $("debrief-text").focus();
    return null;
  }
  if (text.length > DEBRIEF_MAX_CHARS) {
    error.textContent = `A debrief can be up to ${DEBRIEF_MAX_CHARS} characters.`;
    $("debrief-text").focus();
    return null;
  }
  const body = { text, needs_support: $("debrief-support").checked };
  const date = $("debrief-date").value;
  if (date) body.session_on = date;
  const room = $("debrief-room").value.trim();
  if (room) body.room = room;
  return body;
}

/**
 * Wires the dialog. `announce(text)` reads the result out; `openDialog(dialog, opener)` is the
 * dashboard's (focus handling and restore).
 */
export function initDebrief({ announce, openDialog, openers }) {
  const dialog = $("debrief-dialog");
  for (const opener of openers) {
    opener.addEventListener("click", () => {
      reset();
      openDialog(dialog, opener);
      $("debrief-text").focus();
    });
  }
  $("debrief-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = readForm();
    if (body === null) return;
    const submit = event.submitter ?? $("debrief-form").querySelector("[type=submit]");
    submit.setAttribute("aria-disabled", "true");
    try {
      await fileDebrief(body);
    } catch (caught) {
      $("debrief-error").textContent = caught.message || "The debrief could not be filed. Please try again.";
      return;
    } finally {
      submit.removeAttribute("aria-disabled");
    }
    reset();
    dialog.close();
    announce(
      body.needs_support
        ? "Debrief filed. A supervisor will reach out to you."
        : "Debrief filed. Thank you.",
    );
  });
}
