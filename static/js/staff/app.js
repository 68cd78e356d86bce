// The staff dashboard (/staff/): sign-in, then the live escalation queue and members' reports
// over /ws/staff/. docs/staff-dashboard.md describes what it shows and each action. The
// socket, the card skeleton, the DOM helpers and the words are shared (../core/, cards.js);
// what is here is the page: its views, the lists, the actions and their dialogs.

import { $, el, setNotice, switchView } from "../core/dom.js";
import { count, sentence } from "../core/format.js";
import { Close } from "../core/protocol.js";
import { ApiError, confirmOtp, login, logout, parseProvisioningUri, prepare, serverNow } from "./api.js";
import { addResultLink, focusFirstAction, formatTime, setResult, syncCards } from "./cards.js";
import { initDebrief } from "./debrief.js";
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
  showReportContent,
  tickReportCard,
  updateReportCard,
} from "./reportcards.js";
import { ReportList } from "./reports.js";
import { hideRoomName, initRoomName, showRoomName } from "./roomname.js";
import { StaffSocket } from "./socket.js";
import { aboutItem, buildEscalationCard, describeItem, recentEntry, statusText, tickCard, updateCard } from "./view.js";

const ANNOUNCE_KEEP_MS = 20_000;
const LOADING_GRACE_MS = 3000;

const queue = new Queue();
const reportList = new ReportList();
// Each list's cards (id -> card parts, cards.js) and the ids with an action waiting for the
// server. Escalations and reports number their ids apart.
const escalations = { cards: new Map(), busy: new Set() };
const reports = { cards: new Map(), busy: new Set() };
const overdueAnnounced = new Set(); // escalation ids whose "overdue" was read out once
const closingReports = new Set(); // report ids this page is closing (not a colleague)
let signedInAs = "";
let loadingTimer = null;

// --- views ----------------------------------------------------------------------------------

const VIEWS = ["loading", "signin", "queue", "facilitator"];

const showView = (name, { focus = true } = {}) => switchView(VIEWS, name, { focus });

/** Read a line out politely; lines are added (never replaced) so none is cut off. */
function announce(text) {
  const line = el("p", { text });
  $("announcer").append(line);
  setTimeout(() => line.remove(), ANNOUNCE_KEEP_MS);
}

function showWho() {
  $("who").hidden = false;
  $("who-name").textContent = signedInAs ? `Signed in as ${signedInAs}` : "Signed in";
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
      showWho();
      showView("queue", { focus: document.body.dataset.view !== "queue" });
      const open = queue.open.size;
      announce(open === 0 ? "No open escalations." : `${count(open, "open escalation")}.`);
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
    if (first && reportList.open.size > 0) announce(`${count(reportList.open.size, "open report")}.`);
    for (const item of added) announce(`New ${describeReport(item)}.`);
    if (gone.length) announce(`${count(gone.length, "report")} closed by colleagues while reconnecting.`);
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
  const { cards } = escalations;
  const focused = document.activeElement;
  const focusedCard = focused instanceof Element ? focused.closest("li.esc") : null;
  const focusedId = focusedCard ? Number(focusedCard.dataset.id) : null;
  const focusedIndex = focusedCard ? [...list.children].indexOf(focusedCard) : -1;
  const now = serverNow();

  const sorted = queue.sorted();
  syncCards(list, cards, sorted, {
    build: (item) => buildEscalationCard(item, onAction),
    update: (parts, item) => updateCard(parts, item, now),
    gone: (id) => overdueAnnounced.delete(id),
  });
  for (const item of sorted) {
    const parts = cards.get(item.id);
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

  const total = sorted.length;
  $("queue-count").textContent = queue.loaded ? `(${total} open)` : "";
  $("queue-loading").hidden = queue.loaded;
  $("queue-empty").hidden = !queue.loaded || total > 0;

  const recent = $("recent");
  recent.replaceChildren(...queue.recent.map(recentEntry));
  $("recent-empty").hidden = queue.recent.length > 0;
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
  for (const parts of escalations.cards.values()) noteOverdue(parts, tickCard(parts, now));
  for (const parts of reports.cards.values()) tickReportCard(parts, now);
}

// --- actions --------------------------------------------------------------------------------

function messageOf(error) {
  if (error && typeof error.message === "string" && error.message) {
    if (error.code === "not_found") return "This item no longer exists.";
    if (error.code === "forbidden") return "Your account is not allowed to do this.";
    return error.message;
  }
  return "Something went wrong. Please try again.";
}

/**
 * Run `work()` for the item on one card of `list` (escalations or reports): the card is busy
 * meanwhile (one action at a time), and its result line and the live region say how it
 * went: `done(answer)`, or the reason it failed.
 */
async function runOnCard(list, item, work, done) {
  if (list.busy.has(item.id)) return null;
  list.busy.add(item.id);
  list.cards.get(item.id)?.li.setAttribute("aria-busy", "true");
  try {
    const answer = await work();
    const text = done(answer);
    const current = list.cards.get(item.id);
    if (current) setResult(current, text);
    announce(text);
    return answer;
  } catch (error) {
    const current = list.cards.get(item.id);
    if (current) setResult(current, messageOf(error), { error: true });
    announce(messageOf(error));
    return null;
  } finally {
    list.busy.delete(item.id);
    list.cards.get(item.id)?.li.removeAttribute("aria-busy");
  }
}

// The escalation actions that need no dialog: the frame, and what is said when it is done.
const QUICK_ACTIONS = {
  ack: [ackFrame, () => `Acknowledged at ${formatTime(Date.now())}.`],
  progress: [progressFrame, () => "Marked in progress."],
  support: [
    supportFrame,
    () => "Support room opened. The member has been offered it privately.",
    // The way in: the room on the member page, where staff talk with the member.
    ({ room }) => (room ? { href: `/#chat/${encodeURIComponent(room)}`, text: "Go to the support room" } : null),
  ],
};

function onAction(name, item, button) {
  if (Object.hasOwn(QUICK_ACTIONS, name)) {
    const [frame, done, link] = QUICK_ACTIONS[name];
    runOnCard(escalations, item, () => socket.request((ref) => frame(item.id, ref)), done).then((answer) => {
      const to = answer && link ? link(answer) : null;
      const current = escalations.cards.get(item.id);
      if (to && current) addResultLink(current, to);
    });
  } else if (name === "view") {
    openView(item, button);
  } else if (name === "note" || name === "resolve") {
    openForm(name, item, button);
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
  if (card?.isConnected) focusFirstAction(escalations.cards.get(Number(card.dataset.id)));
  else $("queue-title").focus();
}

async function openView(item, button) {
  const dialog = $("view-dialog");
  $("view-about").textContent = aboutItem(item);
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

// --- dialogs with a text to send ----------------------------------------------------------------

/** Result words on a card that is still there, and read out. */
function tellOnCard(list, item, text) {
  const parts = list.cards.get(item.id);
  if (parts) setResult(parts, text);
  announce(text);
}

// Each dialog `<kind>-dialog` with its form `<kind>-form`: the text field and its limits,
// what the dialog is about, the request it sends and what is said when it is done.
const FORMS = {
  note: {
    field: "note-text",
    about: aboutItem,
    empty: "Write the note first.",
    max: NOTE_MAX_CHARS,
    tooLong: `Notes are limited to ${NOTE_MAX_CHARS} characters.`,
    send: (item, text) => socket.request((ref) => noteFrame(item.id, ref, text)),
    done: (item) => tellOnCard(escalations, item, "Note added."),
  },
  resolve: {
    field: "resolve-outcome",
    about: aboutItem,
    empty: "Write a short outcome first.",
    max: OUTCOME_MAX_CHARS,
    tooLong: `The outcome is limited to ${OUTCOME_MAX_CHARS} characters.`,
    reset: () => {
      $("resolve-false-alarm").checked = false;
    },
    read: () => ({ falseAlarm: $("resolve-false-alarm").checked }),
    send: (item, text, { falseAlarm }) => socket.request((ref) => resolveFrame(item.id, ref, text, falseAlarm)),
    done: (item, { falseAlarm }) => announce(`${statusText(falseAlarm ? "false_alarm" : "resolved")}: ${aboutItem(item)}.`),
  },
  reply: {
    field: "reply-text",
    about: aboutReport,
    empty: "Write the reply first.",
    max: REPLY_MAX_CHARS,
    tooLong: `A reply is limited to ${REPLY_MAX_CHARS.toLocaleString("en-GB")} characters.`,
    send: (item, text) => socket.request((ref) => reportReplyFrame(item.id, ref, text)),
    done: (item) => tellOnCard(reports, item, "Reply sent privately to the person who made the report."),
  },
  close: {
    field: "close-outcome",
    about: aboutReport,
    empty: "Write a short outcome first.",
    max: OUTCOME_MAX_CHARS,
    tooLong: `The outcome is limited to ${OUTCOME_MAX_CHARS.toLocaleString("en-GB")} characters.`,
    send: (item, text) => {
      closingReports.add(item.id); // its card leaves: not "closed by a colleague"
      return socket.request((ref) => reportCloseFrame(item.id, ref, text)).catch((error) => {
        closingReports.delete(item.id);
        throw error;
      });
    },
    done: (item) => announce(`Report closed: ${aboutReport(item)}.`),
  },
};

let formItem = null;

function openForm(kind, item, button) {
  const form = FORMS[kind];
  formItem = item;
  $(`${kind}-about`).textContent = form.about(item);
  $(`${kind}-error`).textContent = "";
  $(form.field).value = "";
  form.reset?.();
  openDialog($(`${kind}-dialog`), button);
  $(form.field).focus();
}

/** Check the form's text; returns it trimmed, or null after saying what is wrong. */
function formText(kind) {
  const { field, empty, max, tooLong } = FORMS[kind];
  const text = $(field).value.trim();
  const problem = !text ? empty : text.length > max ? tooLong : "";
  if (!problem) return text;
  $(`${kind}-error`).textContent = problem;
  $(field).focus();
  return null;
}

async function submitForm(kind, event) {
  event.preventDefault();
  const form = FORMS[kind];
  const item = formItem;
  const extra = form.read?.() ?? {};
  if (!item) return;
  const text = formText(kind);
  if (text === null) return;
  try {
    await form.send(item, text, extra);
  } catch (error) {
    $(`${kind}-error`).textContent = messageOf(error);
    return;
  }
  $(`${kind}-dialog`).close();
  form.done(item, extra);
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
  for (const kind of Object.keys(FORMS)) {
    $(`${kind}-form`).addEventListener("submit", (event) => submitForm(kind, event));
  }
}

// --- reports --------------------------------------------------------------------------------

function renderReports() {
  const list = $("reports");
  const focused = document.activeElement;
  const focusedCard = focused instanceof Element ? focused.closest("li.report-card") : null;
  const focusedIndex = focusedCard ? [...list.children].indexOf(focusedCard) : -1;
  const now = serverNow();

  const sorted = reportList.sorted();
  syncCards(list, reports.cards, sorted, {
    build: (item) => buildReportCard(item, onReportAction),
    update: (parts, item) => updateReportCard(parts, item, now),
  });

  // Focus in a card that left (closed) goes to the next card, or to the list's heading.
  if (focusedCard && !focusedCard.isConnected) {
    const next = list.children[Math.min(focusedIndex, list.children.length - 1)];
    (next ? next.querySelector("h3") : $("reports-title")).focus();
  } else if (focusedCard && document.activeElement !== focused && focused.isConnected) {
    focused.focus(); // moved to keep the order: keep focus where it was
  }

  const total = sorted.length;
  $("reports-count").textContent = reportList.loaded ? `(${total} open)` : "";
  $("reports-loading").hidden = reportList.loaded;
  $("reports-empty").hidden = !reportList.loaded || total > 0;
}

function onReportAction(name, item, button) {
  switch (name) {
    case "read":
      readReport(item);
      break;
    case "hide": {
      const parts = reports.cards.get(item.id);
      if (parts) {
        hideReportContent(parts);
        setResult(parts, "");
      }
      break;
    }
    case "reply":
    case "close":
      openForm(name, item, button);
      break;
    default:
      break;
  }
}

/** report_view: an audited read; the text is shown in the card until hidden or closed. */
function readReport(item) {
  runOnCard(
    reports,
    item,
    async () => {
      const { report } = await socket.request((ref) => reportViewFrame(item.id, ref), { reportId: item.id });
      const parts = reports.cards.get(item.id);
      if (parts) showReportContent(parts, report);
      return report;
    },
    () => "Message shown below. This view is recorded in the audit log.",
  );
}

// --- signing in and out ---------------------------------------------------------------------

// The sign-in steps: "password", then "code" (the account has an authenticator), or "enrol"
// (it needs one: the set-up code an administrator issued) and then "setup" (the key is shown
// once and the first code confirms it).
let signInStep = "password";
// Whether this browser also holds a member session, which signing in ends first, and whether
// this sign-in has ended it (the person is told once they are in).
let memberHere = false;
let memberEnded = false;
const MEMBER_ENDED_NOTICE =
  "Your member session in this browser has ended, so it is never linked to your staff account. You can come back as a member with your recovery phrase (another browser keeps the two apart).";

// The QR code the server drew (an SVG as a data: URI, shown as an image: no script runs).
const QR_IMAGE = /^data:image\/svg\+xml[;,]/;

function setSignInStep(step, { secret = null, qr = null } = {}) {
  signInStep = step;
  $("otp-field").hidden = step === "password" || step === "enrol";
  $("enrol-field").hidden = step !== "enrol";
  $("otp-setup").hidden = step !== "setup";
  $("signin-otp").value = "";
  if (step !== "enrol") $("signin-enrol").value = "";
  const image = $("otp-qr");
  const showQr = step === "setup" && typeof qr === "string" && QR_IMAGE.test(qr);
  if (showQr) image.src = qr;
  else image.removeAttribute("src");
  image.hidden = !showQr;
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
  $("signin-member-note").hidden = !memberHere;
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
    case "enrol_code_required":
      return "That set-up code didn't work. Check it, or ask an administrator for a new one: each works once, for a day.";
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
  const otp = signInStep === "password" || signInStep === "enrol" ? "" : $("signin-otp").value.replace(/\s+/g, "");
  const enrolCode = signInStep === "enrol" ? $("signin-enrol").value.trim() : "";
  const error = $("signin-error");
  if (signInStep !== "setup" && (!username || !password)) {
    error.textContent = "Enter your username and password.";
    $(username ? "signin-password" : "signin-username").focus();
    return;
  }
  if (signInStep === "enrol" && !enrolCode) {
    error.textContent = "Enter the set-up code.";
    $("signin-enrol").focus();
    return;
  }
  if (signInStep !== "password" && signInStep !== "enrol" && !otp) {
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
    who = signInStep === "setup" ? await confirmOtp(otp) : await login(username, password, otp, enrolCode);
  } catch (caught) {
    submit.removeAttribute("aria-disabled");
    error.textContent = explainSignInError(caught);
    if (caught instanceof ApiError && caught.code === "enrol_code_required") {
      if (signInStep === "password") {
        setSignInStep("enrol");
        error.textContent = "This account needs an authenticator app first: enter the set-up code an administrator gave you.";
      }
      $("signin-enrol").focus();
      return;
    }
    if (caught instanceof ApiError && caught.code === "otp_setup_required") {
      const secret = parseProvisioningUri(caught.data?.otp_setup?.provisioning_uri);
      if (caught.data?.member_session_ended === true) {
        memberHere = false;
        memberEnded = true;
        $("signin-member-note").hidden = true;
        setNotice(MEMBER_ENDED_NOTICE);
      }
      setSignInStep("setup", { secret, qr: caught.data?.otp_setup?.qr_svg ?? null });
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
      error.textContent = "The set-up did not finish in time, or its set-up code is no longer valid. Sign in with your password and set-up code again (an administrator can issue a new code).";
    }
    $("signin-password").value = "";
    $("signin-password").focus();
    return;
  }
  submit.removeAttribute("aria-disabled");
  signedInAs = typeof who?.username === "string" ? who.username : username;
  $("signin-password").value = "";
  setSignInStep("password");
  if (who?.member_session_ended === true) memberEnded = true;
  if (memberEnded) memberHere = false;
  setNotice(memberEnded ? MEMBER_ENDED_NOTICE : "");
  memberEnded = false;
  begin(who?.role, who?.name ?? null);
}

/** Peer facilitators have no queue here: they facilitate in the rooms and file debriefs.
 * Everyone signed in is asked for their name in rooms until they have chosen it. */
function begin(role, name = null) {
  if (typeof role === "string" && role) showRoomName(name);
  // The anonymous service figures are for professional staff and admins (the server checks).
  $("figures-link").hidden = !(role === "staff" || role === "admin");
  if (role === "facilitator") showFacilitator();
  else startSession();
}

function showFacilitator() {
  showWho();
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
  reportList.clear();
  for (const list of [escalations, reports]) {
    for (const parts of list.cards.values()) parts.li.remove();
    list.cards.clear();
  }
  overdueAnnounced.clear();
  closingReports.clear();
  for (const dialog of document.querySelectorAll("dialog")) if (dialog.open) dialog.close();
  signedInAs = "";
  hideRoomName();
  $("figures-link").hidden = true;
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
  initRoomName({ announce });
  initDebrief({ announce, openDialog, openers: [$("debrief-open"), $("debrief-open-main")] });
  setInterval(tick, 250); // each countdown changes within a quarter second of its second
  // The server's clock (for the countdowns), and whether this is a reload while signed in.
  // Without an answer, the socket decides: the snapshot, or a close asking to sign in.
  prepare().then((session) => {
    memberHere = session?.member === true;
    const staff = session?.staff;
    if (staff && typeof staff.username === "string") signedInAs = staff.username;
    begin(staff?.role, staff?.name ?? null);
  });
}

init();
