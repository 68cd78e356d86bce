// The member page's views: which one is shown and the address bar, the live region, the room
// list, the agreement and the recovery phrase. Text from the server is only ever set with
// textContent (through `el`, core/dom.js): never parsed as HTML.

import { $, el, switchView } from "./core/dom.js";

// --- views and the address bar ----------------------------------------------------------

const VIEWS = ["rooms", "agreement", "phrase", "chat", "waiting"];

/**
 * Show one view and move focus to its heading. The address is updated with replaceState,
 * never pushState: no view adds a history entry, so Back leaves the site instead of
 * returning to a chat, and a quick exit leaves nothing behind to go back to.
 */
export function showView(name, { route = name, slug = "" } = {}) {
  const hash = slug ? `#${route}/${encodeURIComponent(slug)}` : `#${route}`;
  history.replaceState(null, "", hash);
  switchView(VIEWS, name);
  $("main").scrollTop = 0;
}

/** Where a reload should go: #rooms, #room/<slug> (its agreement) or #chat/<slug>. */
export function parseRoute() {
  const [view, slug = ""] = location.hash.replace(/^#/, "").split("/", 2);
  try {
    return { view, slug: decodeURIComponent(slug) };
  } catch {
    return { view: "rooms", slug: "" };
  }
}

/**
 * Read something out through the polite live region. Cleared first, so the same words
 * twice are still announced.
 */
export function announce(text) {
  const region = $("announcer");
  region.textContent = "";
  setTimeout(() => {
    region.textContent = text;
  }, 50);
}

// --- room list ----------------------------------------------------------------------------

const STATE_LABELS = { paused: "Paused for now: you can read, but not post", closed: "Closed" };

export function setRoomsStatus(text) {
  $("rooms-status").textContent = text;
  $("rooms-status").hidden = !text;
}

export function setSignedIn(signedIn) {
  $("session-box").hidden = !signedIn;
}

export function renderRooms(rooms, onOpen) {
  const list = $("room-list");
  list.replaceChildren(
    ...rooms.map((room) => {
      const label = room.joined ? "Enter the room" : "Read the agreement";
      return el(
        "li",
        { className: "room" },
        el("h3", { text: room.title }),
        room.description ? el("p", { text: room.description }) : null,
        room.schedule ? el("p", { className: "room-schedule", text: `When: ${room.schedule}` }) : null,
        room.sessions
          ? el("p", { className: "room-sessions", text: "Sessions start in a waiting room: a facilitator lets you in." })
          : null,
        STATE_LABELS[room.state] ? el("p", { className: "room-state", text: STATE_LABELS[room.state] }) : null,
        room.state === "closed"
          ? null
          : el(
              "button",
              { className: "button", attrs: { type: "button" }, on: { click: () => onOpen(room.slug) } },
              label,
              // Every room has this button: the hidden title tells them apart when listed.
              el("span", { className: "visually-hidden", text: `(${room.title})` }),
            ),
      );
    }),
  );
  setRoomsStatus(rooms.length ? "" : "There are no open rooms just now. Please come back later.");
}

// --- agreement ----------------------------------------------------------------------------

export function renderAgreement(room) {
  $("agreement-title").textContent = room.title;
  $("agreement-description").textContent = room.description || "";
  $("agreement-text").textContent = room.agreement.text || "This room has no written agreement.";
  $("agree").checked = false;
  setJoinError("");
}

export function setJoinError(text) {
  $("join-error").textContent = text;
}

// --- recovery phrase ------------------------------------------------------------------------

/** "Before you go in": the name in this room (another can be drawn), the recovery phrase when
 * there is a new one (it exists only in this element until the member moves on), and what
 * Quick exit does. */
export function showPhrase(pseudonym, phrase = null) {
  $("phrase-pseudonym").textContent = pseudonym;
  $("phrase-words").textContent = phrase ?? "";
  $("phrase-box").hidden = !phrase;
  $("phrase-actions").hidden = !phrase;
  $("go-in-actions").hidden = Boolean(phrase);
  $("rename-status").textContent = "";
  $("rename").disabled = false;
}

export function setPseudonym(pseudonym) {
  $("phrase-pseudonym").textContent = pseudonym;
}

export function clearPhrase() {
  $("phrase-words").textContent = "";
  $("phrase-pseudonym").textContent = "";
  $("exit-phrase").textContent = "";
}
