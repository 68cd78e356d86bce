// The chat view: the message list, the messages being sent, presence, typing and the
// connection line. RoomConnection (chat.js) calls these methods; nothing here touches the
// socket. Message text is set with textContent only.

import { openHelp } from "./help.js";
import { announce, el, setNotice } from "./views.js";

const $ = (id) => document.getElementById(id);

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
const ANNOUNCE_MAX_CHARS = 300;
const NEAR_BOTTOM_PX = 80;

const timeFormat = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });
const dayFormat = new Intl.DateTimeFormat(undefined, { day: "numeric", month: "short" });

function formatTime(ts) {
  const date = new Date(ts);
  if (Number.isNaN(date.getTime())) return "";
  const sameDay = date.toDateString() === new Date().toDateString();
  return sameDay ? timeFormat.format(date) : `${dayFormat.format(date)}, ${timeFormat.format(date)}`;
}

export class ChatView {
  constructor({ onRetry, onDiscard, onDelete, onLoadEarlier, onOpenRoom }) {
    this.actions = { onRetry, onDiscard, onDelete };
    this.log = $("log");
    this.list = $("messages");
    this.outbox = $("outbox");
    this.bySeq = new Map(); // seq -> <li>
    this.byClientId = new Map(); // client_id -> <li> in the outbox
    this.typists = new Map(); // pseudonym -> timer
    this.me = "";
    this.isLoaded = false;
    this.hadConnection = false;
    $("load-earlier").addEventListener("click", onLoadEarlier);
    this.offeredRoom = "";
    $("offer-go").addEventListener("click", () => onOpenRoom(this.offeredRoom));
    $("offer-dismiss").addEventListener("click", () => {
      $("offer").hidden = true;
      $("message-input").focus();
    });
    // Presence is a side column on wide screens and a fold-away list on phones.
    this.wide = window.matchMedia("(min-width: 48rem)");
    this.wide.addEventListener("change", () => {
      $("presence").open = this.wide.matches;
    });
  }

  /** Empty everything, so no message text stays in the page after leaving a room. */
  reset(room = null) {
    this.list.replaceChildren();
    this.outbox.replaceChildren();
    this.bySeq.clear();
    this.byClientId.clear();
    for (const timer of this.typists.values()) clearTimeout(timer);
    this.typists.clear();
    this.me = "";
    this.isLoaded = false;
    this.hadConnection = false;
    $("chat-title").textContent = room ? room.title : "";
    $("chat-you").textContent = room && room.pseudonym ? room.pseudonym : "";
    $("presence-list").replaceChildren();
    $("presence-count").textContent = "0";
    $("typing").textContent = "";
    $("conn-status").textContent = "";
    $("offer").hidden = true;
    this.offeredRoom = "";
    $("load-earlier").hidden = true;
    $("log-empty").hidden = true;
    $("composer-error").textContent = "";
    $("message-input").value = "";
    $("presence").open = this.wide.matches;
  }

  // --- called by RoomConnection -------------------------------------------------------------

  welcome(frame) {
    this.me = frame.you.pseudonym;
    $("chat-title").textContent = frame.room.title;
    $("chat-you").textContent = frame.you.pseudonym;
    this.roomState(frame.room.state);
  }

  connection(state) {
    let text = CONNECTION_TEXT[state] ?? "";
    if (state === "connected" && this.hadConnection) text = "Connected again.";
    if (state === "connected") this.hadConnection = true;
    $("conn-status").textContent = text;
  }

  loaded() {
    this.isLoaded = true;
    this.updateEmpty();
    this.scrollToBottom();
  }

  entries({ messages, deletions }, source) {
    const stick = source !== "earlier" && this.nearBottom();
    const fromBottom = this.log.scrollHeight - this.log.scrollTop;
    for (const message of messages) this.renderMessage(message);
    for (const seq of deletions) {
      const li = this.bySeq.get(seq);
      if (li) this.fill(li, li.entry);
    }
    const others = messages.filter((m) => m.author !== this.me && !m.deleted && m.body !== null);
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
      const body = others[0].body;
      const text = body.length > ANNOUNCE_MAX_CHARS ? `${body.slice(0, ANNOUNCE_MAX_CHARS)}…` : body;
      announce(`${others[0].author}: ${text}`);
    } else if ((source === "live" || source === "resume") && others.length > 1) {
      announce(`${others.length} new messages.`);
    }
  }

  outboxChanged(item) {
    if (!item) return;
    if (item.state === "sent" && item.seq !== null) {
      // Acknowledged: it now has its place in the log, ahead of its broadcast.
      const li = this.byClientId.get(item.clientId);
      this.byClientId.delete(item.clientId);
      if (li) li.remove();
      if (!this.bySeq.has(item.seq)) {
        this.renderMessage({
          type: "message",
          seq: item.seq,
          ts: item.ts,
          author: this.me,
          body: item.body,
        });
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
    this.fillOutbox(li, item);
    this.updateEmpty();
  }

  outboxRemoved(clientId) {
    const li = this.byClientId.get(clientId);
    this.byClientId.delete(clientId);
    if (li) li.remove();
    this.updateEmpty();
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
      ...members.map((member) => {
        const role = ROLE_LABELS[member.role];
        return el(
          "li",
          {},
          member.pseudonym,
          member.pseudonym === this.me ? " (you)" : "",
          role ? el("span", { className: "role", text: ` · ${role}` }) : null,
        );
      }),
    );
  }

  typing(author) {
    clearTimeout(this.typists.get(author));
    this.typists.set(
      author,
      setTimeout(() => this.stoppedTyping(author), TYPING_SHOWN_MS),
    );
    this.renderTyping();
  }

  roomState(state) {
    if (state === "paused") setNotice("This room is paused just now. You can read, but not post.");
    else if (state === "open") setNotice("");
  }

  signpost(frame) {
    openHelp({ message: frame.message, resources: frame.resources.length ? frame.resources : null });
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
    setNotice(text);
  }

  // --- rendering ----------------------------------------------------------------------------

  renderMessage(entry) {
    let li = this.bySeq.get(entry.seq);
    if (!li) {
      li = el("li", { className: "msg" });
      this.bySeq.set(entry.seq, li);
      this.place(li, entry.seq);
    }
    this.fill(li, entry);
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

  fill(li, entry) {
    li.entry = entry;
    const mine = entry.author === this.me;
    li.className = "msg";
    li.classList.toggle("msg-mine", mine);
    li.classList.toggle("msg-deleted", Boolean(entry.deleted));
    li.classList.toggle("msg-unavailable", Boolean(entry.unavailable));
    let text = entry.body;
    if (entry.deleted) text = "This message was deleted.";
    else if (entry.unavailable || text === null) text = "This message can't be shown.";
    const meta = el(
      "p",
      { className: "msg-meta" },
      el("span", { className: "msg-author", text: mine ? `${entry.author} (you)` : entry.author }),
      el("time", { attrs: { datetime: entry.ts }, text: formatTime(entry.ts) }),
    );
    const children = [meta, el("p", { className: "msg-body", text })];
    if (mine && !entry.deleted) {
      li.dataset.state = "sent";
      meta.append(el("span", { className: "msg-state", text: "Sent" }));
      children.push(this.deleteControls(entry.seq));
    } else {
      delete li.dataset.state;
    }
    li.replaceChildren(...children);
  }

  fillOutbox(li, item) {
    li.dataset.state = item.state;
    li.dataset.clientId = item.clientId;
    const stateText = item.state === "failed" ? "Not sent" : "Sending…";
    const children = [
      el(
        "p",
        { className: "msg-meta" },
        el("span", { className: "msg-author", text: this.me ? `${this.me} (you)` : "You" }),
        el("span", { className: "msg-state", text: stateText }),
      ),
      el("p", { className: "msg-body", text: item.body }),
    ];
    if (item.state === "failed") {
      children.push(
        el("p", { className: "error-text", text: item.error }),
        el(
          "div",
          { className: "msg-actions" },
          this.button("Try again", () => this.actions.onRetry(item.clientId)),
          this.button("Remove", () => this.actions.onDiscard(item.clientId)),
        ),
      );
    }
    li.replaceChildren(...children);
  }

  /** Delete asks once more in place, so a slip of the finger does not remove a message. */
  deleteControls(seq) {
    const box = el("div", { className: "msg-actions" });
    const ask = this.button("Delete", () => {
      const yes = this.button("Yes, delete it", () => {
        if (this.actions.onDelete(seq)) this.log.focus();
        else reset();
      });
      const no = this.button("Keep it", () => {
        reset();
        ask.focus();
      });
      box.replaceChildren(el("span", { text: "Delete this message for everyone?" }), yes, no);
      yes.focus();
    });
    const reset = () => box.replaceChildren(ask);
    box.append(ask);
    return box;
  }

  button(label, onClick) {
    return el("button", { className: "button-link small", attrs: { type: "button" }, on: { click: onClick } }, label);
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
  }
}
