// The chat view: the message list, the messages being sent, presence, typing, the
// connection line, and the panels around them (pins, my settings, my reports, facilitator
// tools, the waiting room). RoomConnection (chat.js) calls these methods; nothing here
// touches the socket. Message text is set with textContent only.

import { $, el } from "./core/dom.js";
import { label, timeOfDay } from "./core/format.js";
import { ROLE_BADGES } from "./core/words.js";
import { Composer } from "./composer.js";
import { openHelp } from "./help.js";
import { closeOpenMenu } from "./messageactions.js";
import { CareStatus } from "./care.js";
import { fillMessage, fillOutbox, roleBadge } from "./messageview.js";
import { FacilitatorPanel } from "./moderation.js";
import { PinsPanel } from "./pins.js";
import { roleAtLeast } from "./protocol.js";
import { MyReports } from "./reports.js";
import { MySettings } from "./settings.js";
import { collapseReason } from "./themes.js";
import { announce, showView } from "./views.js";
import { SessionControls, WaitingView } from "./waiting.js";

const CONNECTION_TEXT = {
  connecting: "Connecting…",
  connected: "",
  reconnecting: "Connection lost. Reconnecting… Messages you write will be sent when it's back.",
  offline: "You're offline. We'll reconnect when your connection is back.",
  paused: "The connection is paused because messages were sent very quickly. It will reconnect in a minute.",
};

const ROLE_LABELS = {
  facilitator: "peer facilitator",
  moderator: "moderator",
  staff: "professional staff",
  admin: "admin",
};

const TYPING_SHOWN_MS = 4000;
const CONNECTED_SHOWN_MS = 4000; // "Connected again." stays this long, then fades
const CONNECTED_FADE_MS = 600;
const ANNOUNCE_MAX_CHARS = 300;
const NEAR_BOTTOM_PX = 80;
const HIGHLIGHT_MS = 2500;
const ACTION_STATUS_MS = 20_000;

const shorten = (text) => (text.length > ANNOUNCE_MAX_CHARS ? `${text.slice(0, ANNOUNCE_MAX_CHARS)}…` : text);

export class ChatView {
  constructor({ onRetry, onDiscard, onDelete, onLoadEarlier, onOpenRoom, onAgree, act }) {
    this.actions = { onRetry, onDiscard, onDelete };
    this.act = act;
    this.log = $("log");
    this.list = $("messages");
    this.outbox = $("outbox");
    this.bySeq = new Map(); // seq -> <li>
    this.messages = new Map(); // seq -> message entry, shown or not (ignored authors)
    this.byClientId = new Map(); // client_id -> <li> in the outbox
    this.typists = new Map(); // pseudonym -> timer
    this.revealed = new Set(); // seqs of collapsed messages this reader chose to show
    this.marks = new Map(); // seq -> {risk, reports} learnt live (facilitators)
    this.me = "";
    this.role = "member";
    this.blur = [];
    this.ignoring = new Set();
    this.slug = "";
    this.title = "";
    this.roomStateKnown = null;
    this.isLoaded = false;
    this.hadConnection = false;
    this.composer = new Composer();
    this.pins = new PinsPanel({ onShow: (seq) => this.showMessage(seq), onUnpin: (seq) => act("unpin", seq) });
    this.settings = new MySettings({ act });
    this.reports = new MyReports();
    this.facilitator = new FacilitatorPanel({ act, onShow: (seq) => this.showMessage(seq) });
    this.session = new SessionControls({ act, run: (promise, text) => this.facilitator.run(promise, text) });
    this.waitingView = new WaitingView({ onAgree });
    this.care = new CareStatus({ onOpenRoom });
    $("load-earlier").addEventListener("click", onLoadEarlier);
    this.offeredRoom = "";
    $("offer-go").addEventListener("click", () => onOpenRoom(this.offeredRoom));
    $("offer-dismiss").addEventListener("click", () => {
      $("offer").hidden = true;
      $("message-input").focus();
    });
    $("private-dismiss").addEventListener("click", () => {
      $("private").hidden = true;
      $("message-input").focus();
    });
    // The side panels sit in a column on wide screens and fold away on phones, where one
    // open panel at a time leaves the messages in view.
    this.wide = window.matchMedia("(min-width: 48rem)");
    this.wide.addEventListener("change", () => this.openPanels());
    for (const panel of document.querySelectorAll(".side-panel")) {
      panel.addEventListener("toggle", () => {
        if (!panel.open || this.wide.matches) return;
        for (const other of document.querySelectorAll(".side-panel[open]")) if (other !== panel) other.open = false;
      });
    }
    this.statusTimer = null;
    // Kept at the newest message when the log is resized (a phone's keyboard opening or
    // closing, a panel folding) if the reader was there, and when they start writing.
    this.atNewest = true;
    this.log.addEventListener("scroll", () => {
      this.atNewest = this.nearBottom();
    });
    new ResizeObserver(() => {
      if (this.atNewest) this.scrollToBottom();
    }).observe(this.log);
    $("message-input").addEventListener("focus", () => {
      if (this.atNewest) requestAnimationFrame(() => this.scrollToBottom());
    });
  }

  openPanels() {
    for (const id of ["presence", "pins", "facilitator"]) $(id).open = this.wide.matches;
  }

  /** Empty everything, so no message text stays in the page after leaving a room. */
  reset(room = null) {
    closeOpenMenu();
    this.list.replaceChildren();
    this.outbox.replaceChildren();
    this.bySeq.clear();
    this.messages.clear();
    this.byClientId.clear();
    for (const timer of this.typists.values()) clearTimeout(timer);
    this.typists.clear();
    this.revealed.clear();
    this.marks.clear();
    this.me = "";
    this.role = "member";
    this.blur = [];
    this.ignoring = new Set();
    this.slug = room ? room.slug : "";
    this.title = room ? room.title : "";
    this.roomStateKnown = null;
    this.isLoaded = false;
    this.hadConnection = false;
    this.lostConnection = false;
    clearTimeout(this.connTimer);
    $("chat-title").textContent = this.title;
    $("chat-you").textContent = room && room.pseudonym ? room.pseudonym : "";
    $("chat-role").textContent = "";
    $("presence-list").replaceChildren();
    $("presence-count").textContent = "0";
    $("typing").textContent = "";
    $("conn-status").textContent = "";
    $("waiting-conn").textContent = "";
    $("action-status").textContent = "";
    $("offer").hidden = true;
    $("private").hidden = true;
    $("private-text").textContent = "";
    this.offeredRoom = "";
    $("load-earlier").hidden = true;
    $("log-empty").hidden = true;
    this.composer.reset();
    this.pins.reset();
    this.settings.reset();
    this.reports.reset();
    this.facilitator.reset();
    this.session.reset();
    this.waitingView.reset();
    this.care.reset();
    $("settings").open = false;
    $("my-reports").open = false;
    this.openPanels();
  }

  // --- called by RoomConnection -------------------------------------------------------------

  welcome(frame, { admitted = false } = {}) {
    $("chat-title").textContent = frame.room.title;
    this.title = frame.room.title;
    this.role = frame.you.role;
    $("chat-role").textContent = ROLE_LABELS[this.role] ? ` (${ROLE_LABELS[this.role]})` : "";
    this.composer.setRole(this.role);
    this.pins.setRole(this.role);
    this.facilitator.setRole(this.role);
    this.applyYou(frame.you, { announceIt: false });
    this.roomState(frame.room.state, frame.room.slow_mode_seconds);
    this.pinsChanged(frame.pins, { quiet: true });
    if (admitted || this.waitingView.active) {
      this.waitingView.reset();
      showView("chat", { slug: this.slug });
      announce("You're in the room now. Welcome.");
    }
  }

  you(you) {
    this.applyYou(you, { announceIt: true });
  }

  applyYou(you, { announceIt }) {
    this.me = you.pseudonym;
    $("chat-you").textContent = you.pseudonym;
    this.blur = you.blur;
    const ignoring = new Set(you.ignoring);
    const changed = ignoring.size !== this.ignoring.size || [...ignoring].some((p) => !this.ignoring.has(p));
    this.ignoring = ignoring;
    this.settings.update(you);
    this.composer.setMuted(you.muted_until, { announceIt });
    // Blurring or ignoring changed: render every message again (a few hundred at most).
    for (const entry of this.messages.values()) this.renderMessage(entry);
    if (changed) this.updateEmpty();
  }

  waiting(frame) {
    this.waitingView.update(frame, { title: this.title, slug: this.slug });
  }

  waitingError(text) {
    this.waitingView.error(text);
  }

  /** The connection line. "Connected again." only after a connection was lost (not when a
   * waiting room lets someone in), and it fades away after a few seconds. */
  connection(state) {
    let text = CONNECTION_TEXT[state] ?? "";
    if (state === "connected" && this.hadConnection && this.lostConnection) text = "Connected again.";
    if (state === "connected") {
      this.hadConnection = true;
      this.lostConnection = false;
    } else if (state !== "connecting") {
      this.lostConnection = true;
    }
    clearTimeout(this.connTimer);
    for (const id of ["conn-status", "waiting-conn"]) {
      $(id).textContent = text;
      $(id).classList.remove("conn-fading");
    }
    if (text === "Connected again.") {
      this.connTimer = setTimeout(() => {
        for (const id of ["conn-status", "waiting-conn"]) $(id).classList.add("conn-fading");
        this.connTimer = setTimeout(() => {
          for (const id of ["conn-status", "waiting-conn"]) {
            $(id).textContent = "";
            $(id).classList.remove("conn-fading");
          }
        }, CONNECTED_FADE_MS);
      }, CONNECTED_SHOWN_MS);
    }
  }

  loaded() {
    this.isLoaded = true;
    this.updateEmpty();
    this.scrollToBottom();
  }

  entries({ messages, changed }, source) {
    const stick = source !== "earlier" && this.nearBottom();
    const fromBottom = this.log.scrollHeight - this.log.scrollTop;
    for (const message of messages) {
      this.messages.set(message.seq, message);
      this.renderMessage(message);
    }
    for (const seq of changed) {
      const entry = this.messages.get(seq);
      if (entry) this.renderMessage(entry);
    }
    const others = messages.filter((m) => m.author !== this.me && this.shown(m) && m.body !== null && !m.deleted);
    for (const message of others) this.stoppedTyping(message.author);
    this.updateEmpty();
    if (source === "earlier") {
      this.log.scrollTop = this.log.scrollHeight - fromBottom; // keep the reader's place
      announce(messages.length === 1 ? "1 earlier message loaded." : `${messages.length} earlier messages loaded.`);
    } else if (stick || messages.some((m) => m.author === this.me)) {
      this.scrollToBottom();
    }
    // Only new arrivals are read out, never the history loaded on entry.
    if (source === "live" && others.length === 1) {
      announce(this.spoken(others[0]));
    } else if ((source === "live" || source === "resume") && others.length > 1) {
      announce(`${others.length} new messages.`);
    }
  }

  /** How a new message is read out: a collapsed one by its warning, never its text. */
  spoken(message) {
    const who = message.role ? `${message.author}, ${label(ROLE_BADGES, message.role).toLowerCase()}` : message.author;
    const prefix = message.announcement ? `Announcement from ${who}` : who;
    const collapsed = collapseReason(message, this.blur, this.role);
    if (collapsed) return `${prefix}: a message folded away. ${collapsed.text}.`;
    return `${prefix}: ${shorten(message.body)}`;
  }

  outboxChanged(item) {
    if (!item) return;
    if (item.state === "sent" && item.seq !== null) {
      // Acknowledged: it now has its place in the log, ahead of its broadcast.
      const li = this.byClientId.get(item.clientId);
      this.byClientId.delete(item.clientId);
      if (li) li.remove();
      if (!this.messages.has(item.seq)) {
        const entry = {
          type: "message",
          seq: item.seq,
          ts: item.ts,
          author: this.me,
          body: item.body,
          cw: item.cw,
          themes: item.themes,
        };
        this.messages.set(item.seq, entry);
        this.renderMessage(entry);
      }
      this.updateEmpty();
      return;
    }
    let li = this.byClientId.get(item.clientId);
    if (!li) {
      li = el("li", { className: "msg msg-mine" });
      this.byClientId.set(item.clientId, li);
      this.outbox.append(li);
      this.scrollToBottom();
    }
    fillOutbox(li, item, this);
    this.updateEmpty();
  }

  outboxRemoved(clientId) {
    const li = this.byClientId.get(clientId);
    this.byClientId.delete(clientId);
    if (li) li.remove();
    this.updateEmpty();
  }

  held(frame) {
    announce(frame.message);
  }

  heldDecision(frame) {
    announce(
      frame.status === "released"
        ? "A facilitator shared your message with the room."
        : "A facilitator decided not to share your message. Only you saw it.",
    );
  }

  earlierState(hasEarlier, loading) {
    const button = $("load-earlier");
    const hadFocus = document.activeElement === button;
    button.hidden = !hasEarlier;
    button.disabled = loading;
    button.textContent = loading ? "Loading earlier messages…" : "Load earlier messages";
    if (hadFocus && !hasEarlier) this.log.focus();
  }

  presence(members) {
    $("presence-count").textContent = String(members.length);
    $("presence-list").replaceChildren(
      ...members.map((member) =>
        el("li", {}, member.pseudonym, member.pseudonym === this.me ? " (you)" : "", " ", roleBadge(member.role)),
      ),
    );
  }

  typing(author) {
    if (this.ignoring.has(author)) return;
    clearTimeout(this.typists.get(author));
    this.typists.set(
      author,
      setTimeout(() => this.stoppedTyping(author), TYPING_SHOWN_MS),
    );
    this.renderTyping();
  }

  /** Private to this person: a facilitator acted on them. Said plainly, and read out. */
  moderated(frame) {
    let text = frame.message;
    if (frame.action === "muted") {
      this.composer.setMuted(frame.until ?? null);
      if (frame.until && this.composer.muted) {
        text = `${frame.message} This lasts until ${timeOfDay(frame.until)}.`;
      }
    } else if (frame.action === "unmuted") {
      this.composer.setMuted(null);
    }
    this.privateNotice(text);
  }

  mutedFor(seconds) {
    if (!this.composer.muted) this.composer.setMuted(new Date(Date.now() + seconds * 1000).toISOString());
  }

  privateNotice(text) {
    $("private-text").textContent = text;
    $("private").hidden = false;
    announce(text);
  }

  /** Frames that only change what is shown. */
  roomFrame(frame) {
    switch (frame.type) {
      case "room_state":
        return this.roomState(frame.state, frame.slow_mode_seconds, { announceIt: true });
      case "pins":
        return this.pinsChanged(frame.items);
      case "signpost":
        return openHelp({ message: frame.message, resources: frame.resources.length ? frame.resources : null });
      case "support_offer":
        return this.supportOffer(frame);
      case "my_reports":
        return this.reports.update(frame.items);
      case "moderator_reply":
        return this.reports.reply(frame);
      case "held_queue":
        return this.facilitator.heldQueue(frame.items);
      case "mod_action":
        return this.facilitator.modAction(frame);
      case "report_notice":
        this.mark(frame.seq, (m) => ({ ...m, reports: m.reports + 1 }));
        return this.facilitator.reportNotice(frame);
      case "risk_notice":
        if (frame.seq) this.mark(frame.seq, (m) => ({ ...m, risk: { category: frame.category, severity: frame.severity } }));
        return this.facilitator.riskNotice(frame);
      case "room_alerts":
        return this.facilitator.roomAlerts(frame.items);
      case "care_status":
        return this.care.update(frame);
      case "language_notice":
        return this.facilitator.languageNotice(frame);
      case "waiting_room":
        return this.session.update(frame);
      default:
        return undefined;
    }
  }

  roomState(state, slowSeconds, { announceIt = false } = {}) {
    const before = this.roomStateKnown;
    this.roomStateKnown = { state, slowSeconds };
    this.composer.setRoomState(state, slowSeconds);
    this.facilitator.roomState(state, slowSeconds);
    if (!announceIt || !before) return;
    if (before.state !== state) {
      announce(
        state === "paused" ? "The room is paused just now. You can read, but not post." : "The room is open again.",
      );
    } else if (before.slowSeconds !== slowSeconds) {
      announce(slowSeconds ? $("composer-status").textContent || "Slow mode is on." : "Slow mode is off.");
    }
  }

  pinsChanged(items, { quiet = false } = {}) {
    for (const seq of this.pins.update(items, { quiet })) {
      const entry = this.messages.get(seq);
      if (entry) this.renderMessage(entry);
    }
  }

  /** Staff opened a private room for this member: offer it, never move them without asking. */
  supportOffer(frame) {
    this.offeredRoom = frame.room;
    const text = `Someone from our support team has opened a private space for you: “${frame.title}”. Only you and them can see it.`;
    $("offer-text").textContent = text;
    $("offer").hidden = false;
    announce(text);
  }

  notice(text) {
    this.actionResult(text);
  }

  /** The result of an action from a message's options, in the room's status line (read
   * out as it appears; cleared after a while so it does not crowd a small screen). */
  actionResult(text) {
    $("action-status").textContent = text;
    clearTimeout(this.statusTimer);
    this.statusTimer = setTimeout(() => {
      $("action-status").textContent = "";
    }, ACTION_STATUS_MS);
  }

  /** Scroll to a message and put focus on it (from a pin, a report or an alert). */
  showMessage(seq) {
    const li = this.bySeq.get(seq);
    if (!li) {
      this.notice(
        "That message isn't on the page. It may be further back (Load earlier messages), hidden, or from someone you ignore.",
      );
      return;
    }
    li.tabIndex = -1;
    li.scrollIntoView({ block: "center" });
    li.focus();
    li.classList.add("msg-highlight");
    setTimeout(() => li.classList.remove("msg-highlight"), HIGHLIGHT_MS);
  }

  // --- facilitators' markers ----------------------------------------------------------------

  /** What is known of a message's alerts and reports: from the history, and live notices. */
  markerOf(entry) {
    const live = this.marks.get(entry.seq);
    return {
      risk: live?.risk ?? entry.risk ?? null,
      reports: Math.max(entry.reports ?? 0, live?.reports ?? 0),
    };
  }

  mark(seq, change) {
    const entry = this.messages.get(seq);
    const before = this.marks.get(seq) ?? { risk: null, reports: entry?.reports ?? 0 };
    this.marks.set(seq, change(before));
    if (entry) this.renderMessage(entry);
  }

  // --- rendering ----------------------------------------------------------------------------

  /** Whether a message is shown at all: not from someone this reader ignores. */
  shown(entry) {
    return !entry.ignored && !(entry.author !== this.me && this.ignoring.has(entry.author));
  }

  renderMessage(entry) {
    let li = this.bySeq.get(entry.seq);
    if (!this.shown(entry)) {
      // Kept in the log (its seq counts) but never on the page.
      if (li) li.remove();
      this.bySeq.delete(entry.seq);
      return;
    }
    if (!li) {
      li = el("li", { className: "msg" });
      this.bySeq.set(entry.seq, li);
      this.place(li, entry.seq);
    }
    fillMessage(li, entry, this);
  }

  /** Insert in seq order; new messages nearly always go last, earlier pages first. */
  place(li, seq) {
    li.dataset.seq = String(seq);
    let next = null;
    for (let node = this.list.lastElementChild; node; node = node.previousElementSibling) {
      if (Number(node.dataset.seq) < seq) break;
      next = node;
    }
    this.list.insertBefore(li, next);
  }

  stoppedTyping(author) {
    if (!this.typists.has(author)) return;
    clearTimeout(this.typists.get(author));
    this.typists.delete(author);
    this.renderTyping();
  }

  renderTyping() {
    const names = [...this.typists.keys()];
    let text = "";
    if (names.length === 1) text = `${names[0]} is typing…`;
    else if (names.length === 2) text = `${names[0]} and ${names[1]} are typing…`;
    else if (names.length > 2) text = "Several people are typing…";
    $("typing").textContent = text;
  }

  updateEmpty() {
    $("log-empty").hidden = !this.isLoaded || this.list.childElementCount + this.outbox.childElementCount > 0;
  }

  nearBottom() {
    return this.log.scrollHeight - this.log.scrollTop - this.log.clientHeight < NEAR_BOTTOM_PX;
  }

  scrollToBottom() {
    this.log.scrollTop = this.log.scrollHeight;
    this.atNewest = true;
  }
}
