// Wiring: the flow from the room list through the agreement and the recovery phrase into a
// room, and back. The API lives in api.js, the socket in chat.js, the DOM in views.js and
// chatview.js.

import { $, setBusy, setNotice } from "./core/dom.js";
import { sentence } from "./core/format.js";
import * as api from "./api.js";
import { ActionError, RoomConnection } from "./chat.js";
import { ChatView } from "./chatview.js";
import { initHelp } from "./help.js";
import { Close, CloseAction } from "./protocol.js";
import { installQuickExit, onQuickExit } from "./quickexit.js";
import * as views from "./views.js";

const state = {
  member: false,
  staff: null, // { username, role } when a staff user is signed in (GET /api/session)
  room: null, // the room whose agreement or chat is shown
  connection: null,
  // The recovery phrase between creating the session and showing it; then only in the DOM.
  phrase: null,
  exitExplained: true, // whether this member was told what Quick exit does (the server keeps it)
};

const MAX_MESSAGE_CHARS = 4000;
const LEAVE_WAIT_MS = 5000; // how long "Leave room" waits for the server before stepping out

const CLOSE_NOTICES = {
  [Close.FORBIDDEN]: "You can't take part in that room just now.",
  [Close.ROOM_NOT_FOUND]: "That room is no longer available.",
  [Close.ROOM_CLOSED]: "That room has closed. Thank you for being part of it.",
};
const SESSION_ENDED_NOTICE = "Your session has ended. You can join again as someone new, or use your recovery phrase.";
const SITTING_CLOSED_NOTICE =
  "This session has ended. Thank you for being part of it. You're welcome back at the next one.";
const NOT_CONNECTED = "You're not connected just now. Please try again in a moment.";

const chatView = new ChatView({
  onRetry: (clientId) => state.connection?.retry(clientId),
  onDiscard: (clientId) => state.connection?.discard(clientId),
  onDelete: (seq) => state.connection?.deleteMessage(seq) ?? false,
  onLoadEarlier: () => state.connection?.requestEarlier(),
  onOpenRoom: (slug) => openRoom(slug),
  onAgree: (version) => state.connection?.agree(version) ?? false,
  act: (name, ...args) =>
    state.connection ? state.connection.act(name, ...args) : Promise.reject(new ActionError(NOT_CONNECTED)),
});

// --- session ------------------------------------------------------------------------------

async function refreshSession() {
  const session = await api.getSession();
  state.member = Boolean(session.member);
  state.staff = session.staff && typeof session.staff.role === "string" ? session.staff : null;
  state.exitExplained = !state.member || session.exit_explained !== false;
  views.setSignedIn(state.member);
}

/**
 * Make sure there is a member session; a new one brings a recovery phrase to show. A signed-in
 * staff user joins rooms as themselves (their role), never as an anonymous member.
 */
async function ensureMember() {
  if (state.member || state.staff) return;
  const created = await api.createSession();
  state.member = true;
  state.exitExplained = false;
  state.phrase = created.recovery_phrase || null;
  views.setSignedIn(true);
}

// --- views --------------------------------------------------------------------------------

function leaveRoom() {
  if (state.connection) state.connection.stop();
  state.connection = null;
  chatView.reset();
  views.clearPhrase();
}

async function showRooms(notice = "") {
  leaveRoom();
  state.room = null;
  views.showView("rooms");
  setNotice(notice);
  views.setRoomsStatus("Loading rooms…");
  try {
    views.renderRooms(await api.listRooms(), openRoom);
  } catch (error) {
    views.setRoomsStatus(error.message);
  }
}

async function openRoom(slug) {
  setNotice("");
  let room;
  try {
    room = await api.getRoom(slug);
  } catch (error) {
    return showRooms(error.status === 404 ? "That room is no longer available." : error.message);
  }
  leaveRoom(); // an offer of another room can come from inside a chat
  state.room = room;
  // `joined` is true only for someone with a current membership: a member, or a staff
  // user (facilitators are given theirs, and sign in at /staff/).
  if (room.joined) return enterChat(room);
  views.renderAgreement(room);
  views.showView("agreement", { route: "room", slug: room.slug });
  return undefined;
}

function enterChat(room) {
  leaveRoom();
  state.room = room;
  chatView.reset(room);
  showExitNote();
  $("leave-confirm").hidden = true;
  views.showView("chat", { slug: room.slug });
  state.connection = new RoomConnection(room.slug, chatView, onConnectionEnded);
  state.connection.start();
}

/** The socket closed for good: say why, calmly, on the room list. Never reconnects. */
function onConnectionEnded(action, code, { left = false, message = "" } = {}) {
  state.connection = null;
  const title = state.room?.title ?? "the room";
  if (action === CloseAction.START) {
    state.member = false;
    views.setSignedIn(false);
    showRooms(SESSION_ENDED_NOTICE);
  } else if (action === CloseAction.SITTING_CLOSED) {
    showRooms(SITTING_CLOSED_NOTICE);
  } else if (left) {
    showRooms(`You've left ${title}. You can come back whenever you like by accepting its agreement again.`);
  } else if (action === CloseAction.REMOVED) {
    showRooms(message || "You're no longer in that room. You can come back after accepting its agreement again.");
  } else {
    showRooms(message || CLOSE_NOTICES[code] || "That room isn't available just now.");
  }
}

/** "Leave room" asks first: leaving ends the membership (the agreement is accepted again to
 * come back). Facilitators and staff only step out: their place is given, not joined. */
function onLeaveAsk() {
  if (!state.connection || chatView.role !== "member") return showRooms();
  $("leave-confirm").hidden = false;
  $("leave-yes").focus();
  return undefined;
}

function onLeaveCancel() {
  $("leave-confirm").hidden = true;
  $("leave").focus();
}

/** "Yes, leave": end the membership (the server closes the socket with 4012, which brings
 * the room list). If the server can't be reached, just step out of the room. */
async function onLeave() {
  $("leave-confirm").hidden = true;
  const connection = state.connection;
  if (!connection || chatView.role !== "member") return showRooms();
  const button = $("leave");
  const title = state.room?.title ?? "the room";
  let confirmed = false;
  setBusy(button, true);
  // The close (4012) normally follows at once; if it does not, step out anyway.
  const fallback = setTimeout(() => {
    if (state.connection !== connection) return;
    showRooms(confirmed ? `You've left ${title}.` : `You've stepped out of ${title}.`);
  }, LEAVE_WAIT_MS);
  try {
    await connection.leave();
    confirmed = true;
  } catch {
    clearTimeout(fallback);
    if (state.connection === connection) showRooms();
  } finally {
    setBusy(button, false);
  }
  return undefined;
}

// --- forms and buttons --------------------------------------------------------------------

async function onJoin(event) {
  event.preventDefault();
  const room = state.room;
  const agree = $("agree");
  if (!agree.checked) {
    views.setJoinError("Please tick the box to show you agree, then join.");
    agree.focus();
    return;
  }
  const button = event.submitter ?? $("join-form").querySelector("button");
  setBusy(button, true);
  views.setJoinError("");
  try {
    await ensureMember();
    const joined = await api.joinRoom(room.slug, room.agreement.version);
    const entered = { ...room, joined: true, pseudonym: joined.pseudonym };
    state.room = entered;
    if (state.phrase || (state.member && joined.new)) {
      // Before going in: the name (another can be drawn), a new phrase, what Quick exit does.
      views.showPhrase(joined.pseudonym, state.phrase);
      state.phrase = null;
      // A reload from here goes into the room: the phrase is never shown twice.
      views.showView("phrase", { route: "chat", slug: room.slug });
    } else {
      enterChat(entered);
    }
  } catch (error) {
    if (error.code === "agreement_required") {
      await openRoom(room.slug);
      views.setJoinError("The group agreement has just changed. Please read it again.");
    } else if (error.code === "not_authenticated") {
      state.member = false;
      views.setJoinError("Your session had ended. Please try again.");
    } else {
      views.setJoinError(error.message);
    }
  } finally {
    setBusy(button, false);
  }
}

function onPhraseDone() {
  views.clearPhrase();
  markExitExplained(); // said on this page, before first use
  enterChat(state.room);
}

/** "Give me another name", before going in. */
async function onRename() {
  const button = $("rename");
  const status = $("rename-status");
  setBusy(button, true);
  try {
    const renamed = await api.renameInRoom(state.room.slug);
    state.room = { ...state.room, pseudonym: renamed.pseudonym };
    views.setPseudonym(renamed.pseudonym);
    status.textContent = `You'll be called ${renamed.pseudonym}.`;
  } catch (error) {
    status.textContent = sentence(error.message);
  } finally {
    setBusy(button, false);
  }
}

// --- what Quick exit does, said once before first use --------------------------------------

function markExitExplained() {
  if (!state.member || state.exitExplained) return;
  state.exitExplained = true;
  api.exitExplained().catch(() => {}); // if it fails, it is said again next time
}

function showExitNote() {
  const show = state.member && !state.exitExplained;
  $("exit-note").hidden = !show;
  $("exit-phrase").textContent = "";
  $("exit-phrase").hidden = true;
  $("exit-phrase-intro").hidden = true;
  $("exit-new-phrase").hidden = false;
  $("exit-note-ok").textContent = "Got it";
  $("exit-note-error").textContent = "";
}

function closeExitNote() {
  $("exit-phrase").textContent = ""; // the phrase leaves the page at once
  $("exit-note").hidden = true;
  markExitExplained();
  $("message-input").focus();
}

/** A new recovery phrase, at the moment Quick exit is explained: the old one stops working. */
async function onExitNewPhrase() {
  const button = $("exit-new-phrase");
  setBusy(button, true);
  $("exit-note-error").textContent = "";
  try {
    const { recovery_phrase: phrase } = await api.newPhrase();
    $("exit-phrase").textContent = phrase;
    $("exit-phrase").hidden = false;
    $("exit-phrase-intro").hidden = false;
    button.hidden = true;
    $("exit-note-ok").textContent = "I have saved it";
    $("exit-note-ok").focus();
  } catch (error) {
    $("exit-note-error").textContent = sentence(error.message);
  } finally {
    setBusy(button, false);
  }
}

async function onRecover(event) {
  event.preventDefault();
  const field = $("recover-phrase");
  const error = $("recover-error");
  const phrase = field.value.trim().replace(/\s+/g, " ");
  if (!phrase) {
    error.textContent = "Please type your recovery phrase.";
    field.focus();
    return;
  }
  error.textContent = "";
  try {
    await api.recoverSession(phrase);
  } catch (failure) {
    error.textContent =
      failure.code === "recovery_failed" || failure.code === "bad_request"
        ? "That phrase doesn't match an account. Check the eight words and their order."
        : failure.message;
    field.focus();
    return;
  }
  field.value = "";
  field.closest("details").open = false;
  state.member = true;
  views.setSignedIn(true);
  try {
    await refreshSession(); // whether they have been told what Quick exit does
  } catch {
    // keep going: the note is shown again, at worst
  }
  await showRooms("Welcome back. The rooms you're in say “Enter the room”.");
}

async function onInvite(event) {
  event.preventDefault();
  const field = $("invite-code");
  const error = $("invite-error");
  const code = field.value.trim();
  if (!code) {
    error.textContent = "Please type your invite code.";
    field.focus();
    return;
  }
  error.textContent = "";
  try {
    await ensureMember();
    const redeemed = await api.redeemInvite(code);
    field.value = "";
    await openRoom(redeemed.slug);
  } catch (failure) {
    error.textContent =
      failure.code === "invite_invalid" ? "That invite code isn't valid or has expired." : failure.message;
    field.focus();
  }
}

/** "Delete all my data", after a second, explicit step. */
function onDeleteDataAsk() {
  $("delete-data-confirm").hidden = false;
  $("delete-data-ask").hidden = true;
  $("delete-data-yes").focus();
}

function onDeleteDataCancel() {
  $("delete-data-confirm").hidden = true;
  $("delete-data-ask").hidden = false;
  $("delete-data-error").textContent = "";
  $("delete-data-ask").focus();
}

async function onDeleteData() {
  const button = $("delete-data-yes");
  setBusy(button, true);
  $("delete-data-error").textContent = "";
  try {
    await api.deleteMyData();
  } catch (error) {
    $("delete-data-error").textContent = error.message;
    return;
  } finally {
    setBusy(button, false);
  }
  $("delete-data-confirm").hidden = true;
  $("delete-data-ask").hidden = false;
  state.member = false;
  views.setSignedIn(false);
  await showRooms("Your data has been deleted. What you wrote can no longer be read, and this device is signed out.");
}

async function onSignOut() {
  try {
    await api.endSession();
  } catch (error) {
    setNotice(error.message);
    return;
  }
  state.member = false;
  views.setSignedIn(false);
  await showRooms("You've signed out on this device.");
}

function onSend(event) {
  event.preventDefault();
  const field = $("message-input");
  const error = $("composer-error");
  const { body, cw, themes } = chatView.composer.read();
  if (!body.trim()) {
    error.textContent = "Please write a message first.";
    return;
  }
  if (body.length > MAX_MESSAGE_CHARS) {
    error.textContent = `Messages can be up to ${MAX_MESSAGE_CHARS} characters.`;
    return;
  }
  error.textContent = "";
  state.connection?.send(body, { cw, themes });
  chatView.composer.clear();
  field.focus();
}

function onComposerKey(event) {
  // Enter sends; Shift+Enter is a new line; an IME composition is left alone.
  if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
    event.preventDefault();
    $("composer").requestSubmit();
  }
}

// --- start --------------------------------------------------------------------------------

function bind() {
  installQuickExit();
  onQuickExit(() => state.connection?.stop());
  initHelp();
  for (const button of document.querySelectorAll('[data-action="rooms"]')) {
    button.addEventListener("click", () => showRooms());
  }
  $("join-form").addEventListener("submit", onJoin);
  $("phrase-saved").addEventListener("click", onPhraseDone);
  $("phrase-skip").addEventListener("click", onPhraseDone);
  $("go-in").addEventListener("click", onPhraseDone);
  $("rename").addEventListener("click", onRename);
  $("exit-new-phrase").addEventListener("click", onExitNewPhrase);
  $("exit-note-ok").addEventListener("click", closeExitNote);
  $("recover-form").addEventListener("submit", onRecover);
  $("invite-form").addEventListener("submit", onInvite);
  $("sign-out").addEventListener("click", onSignOut);
  $("leave").addEventListener("click", onLeaveAsk);
  $("leave-yes").addEventListener("click", onLeave);
  $("leave-no").addEventListener("click", onLeaveCancel);
  $("waiting-back").addEventListener("click", () => showRooms());
  $("delete-data-ask").addEventListener("click", onDeleteDataAsk);
  $("delete-data-no").addEventListener("click", onDeleteDataCancel);
  $("delete-data-yes").addEventListener("click", onDeleteData);
  $("composer").addEventListener("submit", onSend);
  $("message-input").addEventListener("keydown", onComposerKey);
  $("message-input").addEventListener("input", () => state.connection?.typing());
}

async function start() {
  bind();
  const route = views.parseRoute();
  try {
    await refreshSession();
  } catch (error) {
    setNotice(error.message);
  }
  if ((route.view === "chat" || route.view === "room") && route.slug) await openRoom(route.slug);
  else await showRooms();
}

start();
