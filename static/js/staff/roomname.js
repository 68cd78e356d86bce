// The name a staff member goes by in rooms: asked for once, after signing in, until it is
// chosen; then shown, so they know how members see them. The server checks it (no
// look-alike of another staff member's name, no invisible characters, no role, no member's
// random name) and says why it refuses one.

import { $, setBusy } from "../core/dom.js";
import { sentence } from "../core/format.js";
import { chooseRoomName } from "./api.js";

let announce = () => {};

/** Show the box for this signed-in account: the form while `name` is null, else the name. */
export function showRoomName(name) {
  const box = $("room-name");
  box.hidden = false;
  const chosen = typeof name === "string" && name !== "";
  $("room-name-form").hidden = chosen;
  $("room-name-current").hidden = !chosen;
  $("room-name-value").textContent = chosen ? name : "";
  box.classList.toggle("room-name-chosen", chosen);
}

export function hideRoomName() {
  $("room-name").hidden = true;
  $("room-name-input").value = "";
  $("room-name-error").textContent = "";
}

async function submit(event) {
  event.preventDefault();
  const field = $("room-name-input");
  const error = $("room-name-error");
  const name = field.value.trim();
  if (!name) {
    error.textContent = "Type the name you want members to see.";
    field.focus();
    return;
  }
  const button = $("room-name-submit");
  setBusy(button, true);
  error.textContent = "";
  try {
    const answer = await chooseRoomName(name);
    showRoomName(answer.name);
    announce(`Your name in rooms is ${answer.name}.`);
    $("room-name-title").focus();
  } catch (failure) {
    error.textContent = sentence(failure.message);
    field.focus();
  } finally {
    setBusy(button, false);
  }
}

export function initRoomName({ announce: say }) {
  announce = say;
  $("room-name-form").addEventListener("submit", submit);
}
