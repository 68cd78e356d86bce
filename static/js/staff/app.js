// The staff dashboard (/staff/): sign-in, then the live escalation queue and members' reports
// over /ws/staff/. docs/staff-dashboard.md describes what it shows and each action.

import { $, el } from "../core/dom.js";
import { sentence } from "../core/format.js";
import { Close } from "../core/protocol.js";
import { ApiError, confirmOtp, login, logout, parseProvisioningUri, prepare, serverNow } from "./api.js";
import {
  NOTE_MAX_CHARS,
  OUTCOME_MAX_CHARS,
  REPLY_MAX_CHARS,
  ackFrame,
  noteFrame,
  progressFrame,
  reportCloseFrame,
  reportReplyFrame,
  reportViewFrame,
  resolveFrame,
  supportFrame,
  viewFrame,
} from "./protocol.js";
import { Queue } from "./queue.js";
import {
  aboutReport,
  buildReportCard,
  describeReport,
  hideReportContent,
  setReportResult,
  showReportContent,
  tickReportCard,
  updateReportCard,
} from "./reportcards.js";
import { initDebrief } from "./debrief.js";
import { ReportList } from "./reports.js";
import { StaffSocket } from "./socket.js";
import {
  buildCard,
  categoryText,
  describeItem,
  formatTime,
  recentEntry,
  setResult,
  severityText,
  statusText,
  tickCard,
  updateCard,
} from "./view.js";

const ANNOUNCE_KEEP_MS = 20_000;
const LOADING_GRACE_MS = 3000;

const queue = new Queue();
const cards = new Map(); // id -> card parts (view.js)
const overdueAnnounced = new Set(); // ids whose "overdue" was read out once
const busy = new Set(); // ids with an action waiting for the server
const reportList = new ReportList();
const reportCards = new Map(); // report id -> card parts (reportcards.js)
const reportBusy = new Set(); // report ids with an action waiting for the server
const closingReports = new Set(); // report ids this page is closing (not a colleague)
let signedInAs = "";
let loadingTimer = null;

// --- views ----------------------------------------------------------------------------------

const VIEWS = ["loading", "signin", "queue", "facilitator"];

function showView(name, { focus = true } = {}) {
  for (const view of VIEWS) $(`view-${view}`).hidden = view !== name;
  document.body.dataset.view = name;
  if (focus) document.querySelector(`#view-${name} h1`)?.focus();
}

function setNotice(text) {
  $("notice").textContent = text;
}

/** Read a line out politely; lines are added (never replaced) so none is cut off. */
function announce(text) {
  const line = el("p", { text });
  $("announcer").append(line);
  setTimeout(() => line.remove(), ANNOUNCE_KEEP_MS);
}

// --- connection -----------------------------------------------------------------------------

const CONNECTION_TEXT = {
  connecting: "Connecting…",
  live: "Live",
  reconnecting: "Reconnecting…",
  "signed-out": "Signed out",
};

function setConnection(state) {
  const pill = $("conn");
  pill.hidden = state === "signed-out";
  pill.dataset.state = state;
  const text = CONNECTION_TEXT[state] ?? state;
  if (pill.textContent !== text) pill.textContent = text;
  $("stale").hidden = !(state === "reconnecting" && queue.loaded);
  if (state === "reconnecting" && $("view-loading").hidden === false && loadingTimer === null) {
    // The server is unreachable: show the (empty, loading) queue with its status rather than
    // a bare "Loading…".
    loadingTimer = setTimeout(() => {
      loadingTimer = null;
      if (!$("view-loading").hidden) showView("queue");
    }, LOADING_GRACE_MS);
  }
}

const socket = new StaffSocket({
  onState: setConnection,
  onSnapshot(items) {
    const wasLoaded = queue.loaded;
    const { added, closed } = queue.replace(items);
    if (!wasLoaded) {
      $("who").hidden = false;
      $("who-name").textContent = signedInAs ? `Signed in as ${signedInAs}` : "Signed in";
      showView("queue", { focus: document.body.dataset.view !== "queue" });
      const count = queue.open.size;
      announce(count === 0 ? "No open escalations." : `${count} open escalation${count === 1 ? "" : "s"}.`);
    } else {
      for (const item of added) announce(`New ${describeItem(item)}`);
      if (closed.length) announce(`${closed.length} closed by colleagues while reconnecting.`);
    }
    render();
  },
  onItem(item) {
    const result = queue.apply(item);
    if (result === "added") announce(`New ${describeItem(item)}`);
    if (result !== "ignored") render();
  },
  onReports(items) {
    const { added, gone, first } = reportList.replace(items);
    if (first && reportList.open.size > 0) {
      const count = reportList.open.size;
      announce(`${count} open report${count === 1 ? "" : "s"}.`);
    }
    for (const item of added) announce(`New ${describeReport(item)}.`);
    if (gone.length) announce(`${gone.length} report${gone.length === 1 ? "" : "s"} closed by colleagues while reconnecting.`);
    renderReports();
  },
  onReport(item) {
    const result = reportList.apply(item);
    if (result === "added") announce(`New ${describeReport(item)}.`);
    if (result === "closed" && !closingReports.has(item.id)) {
      announce(`Closed by a colleague: ${describeReport(item)}.`);
    }
    if (result !== "ignored") renderReports();
  },
  onSignedOut(code) {
    const wasLive = queue.loaded;
    endSession();
    if (code === Close.FORBIDDEN) setNotice("This account can't see the escalation queue.");
    else if (code === Close.SESSION_ENDED) setNotice("You were signed out. Please sign in again.");
    else if (wasLive) setNotice("Your session has ended. Please sign in again.");
    showSignIn();
  },
});

// --- the queue ------------------------------------------------------------------------------

function render() {
  const list = $("queue");
  const focused = document.activeElement;
  const focusedCard = focused instanceof Element ? focused.closest("li.esc") : null;
  const focusedId = focusedCard ? Number(focusedCard.dataset.id) : null;
  const focusedIndex = focusedCard ? [...list.children].indexOf(focusedCard) : -1;
  const now = serverNow();

  const sorted = queue.sorted();
  const keep = new Set(sorted.map((item) => item.id));
  for (const [id, parts] of cards) {
    if (!keep.has(id)) {
      parts.li.remove();
      cards.delete(id);
      overdueAnnounced.delete(id);
    }
  }
  let previous = null;
  for (const item of sorted) {
    let parts = cards.get(item.id);
    if (!parts) {
      parts = buildCard(item, onAction);
      cards.set(item.id, parts);
    } else if (parts.item !== item) {
      updateCard(parts, item, now);
    }
    const expected = previous ? previous.nextSibling : list.firstChild;
    if (expected !== parts.li) list.insertBefore(parts.li, expected);
    previous = parts.li;
    noteOverdue(parts, tickCard(parts, now));
  }

  // Focus that was in a card that moved, changed or left goes somewhere sensible.
  if (focusedId !== null && (document.activeElement !== focused || focused.hidden)) {
    const same = cards.get(focusedId);
    if (same) {
      if (focused.isConnected && !focused.hidden) focused.focus();
      else focusFirstAction(same);
    } else {
      const next = list.children[Math.min(focusedIndex, list.children.length - 1)];
      if (next) next.querySelector("h3").focus();
      else $("queue-title").focus();
    }
  }

  const count = sorted.length;
  $("queue-count").textContent = queue.loaded ? `(${count} open)` : "";
  $("queue-loading").hidden = queue.loaded;
  $("queue-empty").hidden = !queue.loaded || count > 0;

  const recent = $("recent");
  recent.replaceChildren(...queue.recent.map(recentEntry));
  $("recent-empty").hidden = queue.recent.length > 0;
}

function focusFirstAction(parts) {
  const button = Object.values(parts.buttons).find((b) => !b.hidden);
  (button ?? parts.title).focus();
}

function noteOverdue(parts, sla) {
  const { item } = parts;
  if (sla.overdue && !overdueAnnounced.has(item.id)) {
    overdueAnnounced.add(item.id);
    announce(`Overdue: ${describeItem(item)} is not acknowledged yet.`);
  }
}

function tick() {
  const now = serverNow();
  for (const parts of cards.values()) noteOverdue(parts, tickCard(parts, now));
  for (const parts of reportCards.values()) tickReportCard(parts, now);
}

// --- actions --------------------------------------------------------------------------------

const about = (item) =>
  `${severityText(item.severity)} · ${categoryText(item.category)} · ${item.pseudonym} in ${item.roomTitle}`;

function messageOf(error) {
  if (error && typeof error.message === "string" && error.message) {
    if (error.code === "not_found") return "This item no longer exists.";
    if (error.code === "forbidden") return "Your account is not allowed to do this.";
    return error.message;
  }
  return "Something went wrong. Please try again.";
}

async function run(item, work, { done }) {
  if (busy.has(item.id)) return;
  busy.add(item.id);
  const parts = cards.get(item.id);
  parts?.li.setAttribute("aria-busy", "true");
  try {
    const answer = await work();
    const current = cards.get(item.id);
    if (current && done) setResult(current, done(answer));
    if (done) announce(done(answer));
    return answer;
  } catch (error) {
    const current = cards.get(item.id);
    if (current) setResult(current, messageOf(error), { error: true });
    announce(messageOf(error));
    return null;
  } finally {
    busy.delete(item.id);
    cards.get(item.id)?.li.removeAttribute("aria-busy");
  }
}

function onAction(name, item, button) {
  switch (name) {
    case "ack":
      run(item, () => socket.request((ref) => ackFrame(item.id, ref)), {
        done: () => `Acknowledged at ${formatTime(Date.now())}.`,
      });
      break;
    case "progress":
      run(item, () => socket.request((ref) => progressFrame(item.id, ref)), {
        done: () => "Marked in progress.",
      });
      break;
    case "support":
      run(item, () => socket.request((ref) => supportFrame(item.id, ref)), {
        done: ({ room }) =>
          `Support room opened: ${room ?? "(no name)"}. The member has been offered it privately.`,
      });
      break;
    case "view":
      openView(item, button);
      break;
    case "note":
      openForm("note", item, button);
      break;
    case "resolve":
      openForm("resolve", item, button);
      break;
    default:
      break;
  }
}

// Dialogs return focus to the button that opened them (or the queue heading if it is gone).
let returnFocus = null;

function openDialog(dialog, opener) {
  returnFocus = opener;
  if (!dialog.open) dialog.showModal();
  dialog.querySelector("h2").focus();
}

function restoreFocus() {
  const target = returnFocus;
  returnFocus = null;
  if (target && target.isConnected && !target.hidden) {
    target.focus();
    return;
  }
  const report = target?.closest?.("li.report-card");
  if (report) {
    // The report was closed while the dialog was open: the next one, or the list's heading.
    const next = $("reports").querySelector("li.report-card h3");
    (next ?? $("reports-title")).focus();
    return;
  }
  const card = target?.closest?.("li.esc");
  if (card?.isConnected) focusFirstAction(cards.get(Number(card.dataset.id)));
  else $("queue-title").focus();
}

async function openView(item, button) {
  const dialog = $("view-dialog");
  $("view-about").textContent = about(item);
  $("view-status").textContent = "Loading…";
  for (const id of ["view-excerpt", "view-excerpt-title", "view-notes", "view-notes-title"]) $(id).hidden = true;
  $("view-notes").replaceChildren();
  $("view-excerpt").textContent = "";
  openDialog(dialog, button);
  try {
    const { detail } = await socket.request((ref) => viewFrame(item.id, ref), { viewId: item.id });
    if (!dialog.open) return;
    $("view-status").textContent = "";
    $("view-excerpt-title").hidden = false;
    $("view-excerpt").hidden = false;
    $("view-excerpt").textContent =
      detail?.excerpt ?? "The message is no longer available (it was erased, or its key was).";
    const notes = detail?.notes ?? [];
    $("view-notes-title").hidden = false;
    $("view-notes").hidden = false;
    $("view-notes").replaceChildren(
      ...(notes.length
        ? notes.map((n) =>
            el(
              "li",
              { className: "note" },
              el("span", { className: "note-meta", text: `${n.author}, ${formatTime(n.ts)}` }),
              el("span", { className: "note-text", text: n.text ?? "(This note can no longer be read.)" }),
            ),
          )
        : [el("li", { className: "muted", text: "No notes yet." })]),
    );
  } catch (error) {
    if (dialog.open) $("view-status").textContent = messageOf(error);
  }
}

let formItem = null;

function openForm(kind, item, button) {
  formItem = item;
  $(`${kind}-about`).textContent = about(item);
  $(`${kind}-error`).textContent = "";
  if (kind === "note") $("note-text").value = "";
  if (kind === "resolve") {
    $("resolve-outcome").value = "";
    $("resolve-false-alarm").checked = false;
  }
  openDialog($(`${kind}-dialog`), button);
  $(kind === "note" ? "note-text" : "resolve-outcome").focus();
}

async function submitNote(event) {
  event.preventDefault();
  const item = formItem;
  const text = $("note-text").value.trim();
  if (!item) return;
  if (!text) {
    $("note-error").textContent = "Write the note first.";
    $("note-text").focus();
    return;
  }
  if (text.length > NOTE_MAX_CHARS) {
    $("note-error").textContent = `Notes are limited to ${NOTE_MAX_CHARS} characters.`;
    return;
  }
  try {
    await socket.request((ref) => noteFrame(item.id, ref, text));
  } catch (error) {
    $("note-error").textContent = messageOf(error);
    return;
  }
  $("note-dialog").close();
  const parts = cards.get(item.id);
  if (parts) setResult(parts, "Note added.");
  announce("Note added.");
}

async function submitResolve(event) {
  event.preventDefault();
  const item = formItem;
  const outcome = $("resolve-outcome").value.trim();
  const falseAlarm = $("resolve-false-alarm").checked;
  if (!item) return;
  if (!outcome) {
    $("resolve-error").textContent = "Write a short outcome first.";
    $("resolve-outcome").focus();
    return;
  }
  if (outcome.length > OUTCOME_MAX_CHARS) {
    $("resolve-error").textContent = `The outcome is limited to ${OUTCOME_MAX_CHARS} characters.`;
    return;
  }
  try {
    await socket.request((ref) => resolveFrame(item.id, ref, outcome, falseAlarm));
  } catch (error) {
    $("resolve-error").textContent = messageOf(error);
    return;
  }
  $("resolve-dialog").close();
  announce(`${falseAlarm ? statusText("false_alarm") : statusText("resolved")}: ${about(item)}.`);
}

function initDialogs() {
  for (const dialog of document.querySelectorAll("dialog")) {
    for (const close of dialog.querySelectorAll("[data-close]")) {
      close.addEventListener("click", () => dialog.close());
    }
    dialog.addEventListener("close", () => {
      formItem = null;
      restoreFocus();
    });
  }
  $("note-form").addEventListener("submit", submitNote);
  $("resolve-form").addEventListener("submit", submitResolve);
  $("reply-form").addEventListener("submit", submitReply);
  $("close-form").addEventListener("submit", submitClose);
}

// --- reports --------------------------------------------------------------------------------

function renderReports() {
  const list = $("reports");
  const focused = document.activeElement;
  const focusedCard = focused instanceof Element ? focused.closest("li.report-card") : null;
  const focusedIndex = focusedCard ? [...list.children].indexOf(focusedCard) : -1;
  const now = serverNow();

  const sorted = reportList.sorted();
  const keep = new Set(sorted.map((item) => item.id));
  for (const [id, parts] of reportCards) {
    if (!keep.has(id)) {
      parts.li.remove();
      reportCards.delete(id);
    }
  }
  let previous = null;
  for (const item of sorted) {
    let parts = reportCards.get(item.id);
    if (!parts) {
      parts = buildReportCard(item, onReportAction);
      reportCards.set(item.id, parts);
    } else if (parts.item !== item) {
      updateReportCard(parts, item, now);
    }
    const expected = previous ? previous.nextSibling : list.firstChild;
    if (expected !== parts.li) list.insertBefore(parts.li, expected);
    previous = parts.li;
  }

  // Focus in a card that left (closed) goes to the next card, or to the list's heading.
  if (focusedCard && !focusedCard.isConnected) {
    const next = list.children[Math.min(focusedIndex, list.children.length - 1)];
    (next ? next.querySelector("h3") : $("reports-title")).focus();
  } else if (focusedCard && document.activeElement !== focused && focused.isConnected) {
    focused.focus(); // moved to keep the order: keep focus where it was
  }

  const count = sorted.length;
  $("reports-count").textContent = reportList.loaded ? `(${count} open)` : "";
  $("reports-loading").hidden = reportList.loaded;
  $("reports-empty").hidden = !reportList.loaded || count > 0;
}

async function runReport(item, work, { done }) {
  if (reportBusy.has(item.id)) return null;
  reportBusy.add(item.id);
  reportCards.get(item.id)?.li.setAttribute("aria-busy", "true");
  try {
    const answer = await work();
    const text = done(answer);
    const current = reportCards.get(item.id);
    if (current) setReportResult(current, text);
    announce(text);
    return answer;
  } catch (error) {
    const current = reportCards.get(item.id);
    if (current) setReportResult(current, messageOf(error), { error: true });
    announce(messageOf(error));
    return null;
  } finally {
    reportBusy.delete(item.id);
    reportCards.get(item.id)?.li.removeAttribute("aria-busy");
  }
}

function onReportAction(name, item, button) {
  switch (name) {
    case "read":
      readReport(item);
      break;
    case "hide": {
      const parts = reportCards.get(item.id);
      if (parts) {
        hideReportContent(parts);
        setReportResult(parts, "");
      }
      break;
    }
    case "reply":
    case "close":
      openReportForm(name, item, button);
      break;
    default:
      break;
  }
}

/** report_view: an audited read; the text is shown in the card until hidden or closed. */
function readReport(item) {
  runReport(
    item,
    async () => {
      const { report } = await socket.request((ref) => reportViewFrame(item.id, ref), { reportId: item.id });
      const parts = reportCards.get(item.id);
      if (parts) showReportContent(parts, report);
      return report;
    },
    { done: () => "Message shown below. This view is recorded in the audit log." },
  );
}

function openReportForm(kind, item, button) {
  formItem = item;
  $(`${kind}-about`).textContent = aboutReport(item);
  $(`${kind}-error`).textContent = "";
  const field = $(kind === "reply" ? "reply-text" : "close-outcome");
  field.value = "";
  openDialog($(`${kind}-dialog`), button);
  field.focus();
}

/** Check a form field; returns the trimmed text, or null after saying what is wrong. */
function formText(fieldId, errorId, { empty, max, what }) {
  const text = $(fieldId).value.trim();
  if (!text) {
    $(errorId).textContent = empty;
    $(fieldId).focus();
    return null;
  }
  if (text.length > max) {
    $(errorId).textContent = `${what} is limited to ${max.toLocaleString("en-GB")} characters.`;
    $(fieldId).focus();
    return null;
  }
  return text;
}

async function submitReply(event) {
  event.preventDefault();
  const item = formItem;
  if (!item) return;
  const text = formText("reply-text", "reply-error", {
    empty: "Write the reply first.",
    max: REPLY_MAX_CHARS,
    what: "A reply",
  });
  if (text === null) return;
  try {
    await socket.request((ref) => reportReplyFrame(item.id, ref, text));
  } catch (error) {
    $("reply-error").textContent = messageOf(error);
    return;
  }
  $("reply-dialog").close();
  const parts = reportCards.get(item.id);
  const done = "Reply sent privately to the person who made the report.";
  if (parts) setReportResult(parts, done);
  announce(done);
}

async function submitClose(event) {
  event.preventDefault();
  const item = formItem;
  if (!item) return;
  const outcome = formText("close-outcome", "close-error", {
    empty: "Write a short outcome first.",
    max: OUTCOME_MAX_CHARS,
    what: "The outcome",
  });
  if (outcome === null) return;
  closingReports.add(item.id);
  try {
    await socket.request((ref) => reportCloseFrame(item.id, ref, outcome));
  } catch (error) {
    closingReports.delete(item.id);
    $("close-error").textContent = messageOf(error);
    return;
  }
  $("close-dialog").close();
  announce(`Report closed: ${aboutReport(item)}.`);
}

// --- signing in and out ---------------------------------------------------------------------

// The sign-in steps: "password", then "code" (the account has an authenticator) or "setup"
// (it needs one: the key is shown once and the first code confirms it).
let signInStep = "password";

function setSignInStep(step, { secret = null } = {}) {
  signInStep = step;
  $("otp-field").hidden = step === "password";
  $("otp-setup").hidden = step !== "setup";
  $("signin-otp").value = "";
  if (step === "setup" && secret) {
    $("otp-secret").textContent = secret.secret.match(/.{1,4}/g).join(" ");
    const account = secret.account ? `Account: ${secret.account}. ` : "";
    $("otp-setup-details").textContent =
      `${account}Time-based, ${secret.digits} digits, a new code every ${secret.period} seconds.`;
  } else if (step !== "setup") {
    $("otp-secret").textContent = "";
    $("otp-setup-details").textContent = "";
  }
}

function showSignIn() {
  setSignInStep("password");
  $("signin-error").textContent = "";
  $("signin-password").value = "";
  showView("signin", { focus: false });
  $("signin-username").focus();
}

function explainSignInError(caught) {
  if (!(caught instanceof ApiError)) return messageOf(caught);
  switch (caught.code) {
    case "login_failed":
      return "That username and password didn't match an account that can use the dashboard.";
    case "otp_required":
      return "Enter the one-time code from your authenticator app.";
    case "otp_invalid":
      return "That code didn't work. Codes change every 30 seconds: try the one the app shows now.";
    case "locked_out":
    case "not_authenticated":
      return sentence(caught.message);
    default:
      return messageOf(caught);
  }
}

async function submitSignIn(event) {
  event.preventDefault();
  const username = $("signin-username").value.trim();
  const password = $("signin-password").value;
  const otp = signInStep === "password" ? "" : $("signin-otp").value.replace(/\s+/g, "");
  const error = $("signin-error");
  if (signInStep !== "setup" && (!username || !password)) {
    error.textContent = "Enter your username and password.";
    $(username ? "signin-password" : "signin-username").focus();
    return;
  }
  if (signInStep !== "password" && !otp) {
    error.textContent = "Enter the one-time code.";
    $("signin-otp").focus();
    return;
  }
  const submit = $("signin-submit");
  if (submit.getAttribute("aria-disabled") === "true") return; // already signing in
  submit.setAttribute("aria-disabled", "true");
  error.textContent = "";
  let who;
  try {
    who = signInStep === "setup" ? await confirmOtp(otp) : await login(username, password, otp);
  } catch (caught) {
    submit.removeAttribute("aria-disabled");
    error.textContent = explainSignInError(caught);
    if (caught instanceof ApiError && caught.code === "otp_setup_required") {
      const secret = parseProvisioningUri(caught.data?.otp_setup?.provisioning_uri);
      setSignInStep("setup", { secret });
      error.textContent = secret
        ? "Set up your authenticator app with the key below, then enter its code."
        : "This account needs an authenticator app. Ask an administrator to set it up.";
      $(secret ? "otp-setup-title" : "signin-username").focus();
      return;
    }
    if (caught instanceof ApiError && ["otp_required", "otp_invalid"].includes(caught.code)) {
      if (signInStep === "password") setSignInStep("code");
      $("signin-otp").value = "";
      $("signin-otp").focus();
      return;
    }
    if (caught instanceof ApiError && caught.code === "not_authenticated" && signInStep === "setup") {
      setSignInStep("password");
      error.textContent = "The time to set up the app ran out. Sign in with your password again to get a new key.";
    }
    $("signin-password").value = "";
    $("signin-password").focus();
    return;
  }
  submit.removeAttribute("aria-disabled");
  signedInAs = typeof who?.username === "string" ? who.username : username;
  $("signin-password").value = "";
  setSignInStep("password");
  setNotice("");
  begin(who?.role);
}

/** Peer facilitators have no queue here: they facilitate in the rooms and file debriefs. */
function begin(role) {
  if (role === "facilitator") showFacilitator();
  else startSession();
}

function showFacilitator() {
  $("who").hidden = false;
  $("who-name").textContent = signedInAs ? `Signed in as ${signedInAs}` : "Signed in";
  setConnection("signed-out");
  showView("facilitator");
}

function startSession() {
  showView("loading", { focus: false });
  render();
  renderReports();
  socket.start();
}

/** Forget everything from the queue: nothing stays on screen after signing out. */
function endSession() {
  socket.stop();
  queue.clear();
  for (const parts of cards.values()) parts.li.remove();
  cards.clear();
  overdueAnnounced.clear();
  reportList.clear();
  for (const parts of reportCards.values()) parts.li.remove();
  reportCards.clear();
  closingReports.clear();
  for (const dialog of document.querySelectorAll("dialog")) if (dialog.open) dialog.close();
  signedInAs = "";
  $("who").hidden = true;
  setConnection("signed-out");
  render();
  renderReports();
}

async function signOut() {
  endSession();
  try {
    await logout();
    setNotice("You have signed out.");
  } catch {
    setNotice("You may not be fully signed out: the server could not be reached. Close this window to be safe.");
  }
  showSignIn();
}

// --- start ----------------------------------------------------------------------------------

function init() {
  $("signin-form").addEventListener("submit", submitSignIn);
  $("sign-out").addEventListener("click", signOut);
  initDialogs();
  initDebrief({ announce, openDialog, openers: [$("debrief-open"), $("debrief-open-main")] });
  setInterval(tick, 250); // each countdown changes within a quarter second of its second
  // The server's clock (for the countdowns), and whether this is a reload while signed in.
  // Without an answer, the socket decides: the snapshot, or a close asking to sign in.
  prepare().then((session) => {
    const staff = session?.staff;
    if (staff && typeof staff.username === "string") signedInAs = staff.username;
    begin(staff?.role);
  });
}

init();
