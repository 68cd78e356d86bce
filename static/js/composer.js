// The message box: what is written, its optional content warning and themes, and whether
// this person can post just now (muted by a facilitator, the room paused, slow mode), with
// the reason in plain words next to the box.

import { $ } from "./core/dom.js";
import { timeOfDay } from "./core/format.js";
import { checkedThemes, setCheckedThemes, themeCheckboxes } from "./themes.js";
import { announce } from "./views.js";

/** "30 seconds", "minute", "5 minutes": how often one message may be sent. */
export function slowModeInterval(seconds) {
  if (seconds === 60) return "minute";
  if (seconds % 60 === 0) return `${seconds / 60} minutes`;
  return seconds === 1 ? "second" : `${seconds} seconds`;
}

function slowModeText(seconds) {
  return seconds ? `Slow mode is on: one message every ${slowModeInterval(seconds)}.` : "";
}

export class Composer {
  constructor() {
    this.input = $("message-input");
    this.send = $("send");
    this.status = $("composer-status");
    this.cwToggle = $("cw-toggle");
    this.cwThemes = themeCheckboxes("cw-theme", "What is it about? (optional)");
    $("cw-themes").append(this.cwThemes);
    this.cwToggle.addEventListener("change", () => {
      $("cw-themes").hidden = !this.cwToggle.checked;
    });
    this.mutedUntil = null;
    this.mutedTimer = null;
    this.paused = false;
    this.slowSeconds = 0;
    this.member = true;
  }

  /** What to send: the text, and the content warning if one is set. */
  read() {
    const cw = this.cwToggle.checked;
    return { body: this.input.value, cw, themes: cw ? checkedThemes(this.cwThemes) : [] };
  }

  /** After sending: an empty box, and no warning carried over to the next message. */
  clear() {
    this.input.value = "";
    this.cwToggle.checked = false;
    setCheckedThemes(this.cwThemes, []);
    $("cw-themes").hidden = true;
  }

  reset() {
    this.clear();
    clearTimeout(this.mutedTimer);
    this.mutedUntil = null;
    this.paused = false;
    this.slowSeconds = 0;
    this.member = true;
    $("composer-error").textContent = "";
    this.render();
  }

  setRole(role) {
    this.member = role === "member";
    this.render();
  }

  setRoomState(state, slowSeconds) {
    this.paused = state === "paused";
    this.slowSeconds = slowSeconds;
    this.render();
  }

  /** Muted until `until` (an ISO time), or not muted (null). With `announceIt`, a change is
   * read out (the same mute again, from another frame, is not). */
  setMuted(until, { announceIt = false } = {}) {
    clearTimeout(this.mutedTimer);
    const date = until ? new Date(until) : null;
    const before = this.mutedUntil ? this.mutedUntil.getTime() : null;
    this.mutedUntil = date && date.getTime() > Date.now() ? date : null;
    if (this.mutedUntil) {
      // setTimeout holds at most ~24.8 days; a mute is at most a week.
      const wait = this.mutedUntil.getTime() - Date.now() + 500;
      this.mutedTimer = setTimeout(() => this.setMuted(null, { announceIt: true }), wait);
    }
    this.render();
    const after = this.mutedUntil ? this.mutedUntil.getTime() : null;
    if (!announceIt || before === after) return;
    announce(after ? this.status.textContent : "You can post again.");
  }

  get muted() {
    return this.mutedUntil !== null;
  }

  render() {
    let text = "";
    let blocked = false;
    if (this.member && this.muted) {
      text = `A facilitator has paused your messages until ${timeOfDay(this.mutedUntil)}. You can still read the room.`;
      blocked = true;
    } else if (this.paused && this.member) {
      text = "The room is paused just now. You can read, but not post.";
      blocked = true;
    } else if (this.paused) {
      text = "The room is paused: members can read but not post. Facilitators can still post.";
    } else if (this.member) {
      text = slowModeText(this.slowSeconds);
    } else if (this.slowSeconds) {
      text = `${slowModeText(this.slowSeconds)} (for members)`;
    }
    this.status.textContent = text;
    this.input.disabled = blocked;
    this.send.disabled = blocked;
    this.cwToggle.disabled = blocked;
    $("composer").classList.toggle("composer-blocked", blocked);
  }
}
