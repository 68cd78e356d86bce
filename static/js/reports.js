// "My reports": the reports this person made in the room and the moderators' private replies.
// The server sends the list on connect (`my_reports`) and each reply as it is written
// (`moderator_reply`); a report made on this page is listed at once, before the next list.

import { $, el } from "./core/dom.js";
import { label } from "./core/format.js";
import { REPORT_REASON_LABELS, REPORT_STATUS_LABELS } from "./core/words.js";
import { announce } from "./views.js";

export class MyReports {
  constructor() {
    this.items = []; // { id (null until the server lists it), seq, reason, status, replies }
  }

  reset() {
    this.items = [];
    this.render();
  }

  /** The server's list replaces ours; reports made here that it does not have yet stay. */
  update(items) {
    const listed = new Set(items.map((r) => r.seq));
    const local = this.items.filter((r) => r.id === null && !listed.has(r.seq));
    this.items = [...items.map((r) => ({ ...r, replies: [...r.replies] })), ...local];
    this.render();
  }

  /** A report made on this page; `excerpt` is the message's first words, as on the server. */
  added(seq, reason, excerpt = null) {
    if (this.items.some((r) => r.seq === seq)) return;
    this.items.unshift({ id: null, seq, reason, status: "open", replies: [], excerpt });
    this.render();
  }

  reply(frame) {
    let item = this.items.find((r) => r.id === frame.report_id) ?? this.items.find((r) => r.seq === frame.seq);
    if (!item) {
      item = { id: frame.report_id, seq: frame.seq, reason: "", status: "open", replies: [] };
      this.items.unshift(item);
    }
    item.id = frame.report_id;
    if (frame.text) item.replies.push(frame.text);
    this.render();
    $("my-reports").open = true;
    announce("A moderator replied to your report. It's in My reports.");
  }

  render() {
    $("my-reports").hidden = this.items.length === 0;
    $("my-reports-count").textContent = String(this.items.length);
    $("my-report-list").replaceChildren(
      ...this.items.map((r) =>
        el(
          "li",
          { className: "report" },
          el("p", {
            className: "report-head",
            text: `Message #${r.seq}${r.reason ? `: ${label(REPORT_REASON_LABELS, r.reason)}` : ""}`,
          }),
          r.excerpt ? el("p", { className: "report-excerpt", text: `“${r.excerpt}”` }) : null,
          el("p", { className: "muted", text: `Status: ${label(REPORT_STATUS_LABELS, r.status)}` }),
          ...r.replies.map((text) =>
            el(
              "p",
              { className: "report-reply" },
              el("span", { className: "report-reply-from", text: "Reply from a moderator: " }),
              text,
            ),
          ),
        ),
      ),
    );
  }
}
