// The "⋯" button on a message and the small panel it opens: Report and Ignore for everyone,
// and for facilitators Hide, Pin, Mute, Remove, Ban (by role) and Flag. A disclosure, not a
// menu widget: plain buttons and forms in the tab order, Esc closes it. Each action goes to
// the server; its answer (done, or the server's reason for refusing) is shown in place.

import { button as plainButton, el } from "./core/dom.js";
import { FLAG_CATEGORY_LABELS, FLAG_SEVERITY_LABELS, HIDE_REASON_LABELS, REPORT_REASON_LABELS } from "./core/words.js";
import {
  FLAG_CATEGORIES,
  FLAG_SEVERITIES,
  HIDE_REASONS,
  MAX_REPORT_NOTE_CHARS,
  REPORT_REASONS,
  roleAtLeast,
} from "./protocol.js";

const MUTE_CHOICES = [
  [5, "5 minutes"],
  [15, "15 minutes"],
  [60, "1 hour"],
  [1440, "24 hours"],
  [0, "Lift the mute"],
];

let openMenu = null; // the one panel open at a time: { close }

export function closeOpenMenu() {
  if (openMenu) openMenu.close({ focus: false });
}

const button = (text, onClick) => plainButton(text, onClick, { quiet: true });

function select(id, labelText, choices) {
  return [
    el("label", { text: labelText, attrs: { for: id } }),
    el(
      "select",
      { attrs: { id } },
      ...choices.map(([value, text]) => el("option", { text, attrs: { value: String(value) } })),
    ),
  ];
}

/**
 * The actions offered on one message. `ctx`: { entry, role, me, pinned, act, onResult,
 * onReported }. `act(name, ...args)` returns a promise (rejected with the reason to show).
 */
function menuItems(ctx) {
  const { entry, role, me, pinned } = ctx;
  const author = entry.author;
  const mine = author === me;
  const readable = !entry.deleted && !entry.hidden && !entry.ignored;
  const facilitator = role !== "member";
  const person = !mine && author && !entry.announcement;
  const items = [];
  if (readable && !mine) items.push({ label: "Report", form: reportForm });
  if (readable && person && !facilitator) items.push({ label: `Ignore ${author}`, form: ignoreForm });
  if (!facilitator) return items;
  if (readable && !mine) items.push({ label: "Hide", form: hideForm });
  if (pinned) {
    items.push({ label: "Unpin", run: () => ctx.act("unpin", entry.seq), done: "Unpinned." });
  } else if (readable) {
    items.push({ label: "Pin", run: () => ctx.act("pin", entry.seq), done: "Pinned for everyone in the room." });
  }
  if (person) {
    items.push({ label: `Mute ${author}`, form: muteForm });
    items.push({ label: `Remove ${author}`, form: removeForm });
    if (roleAtLeast(role, "moderator")) items.push({ label: `Ban ${author}`, form: banForm });
  }
  if (readable && !mine) items.push({ label: "Flag a safety concern", form: flagForm });
  return items;
}

// --- forms: each returns { fields, submitLabel, submit } ----------------------------------

function reportForm(ctx, id) {
  const note = el("textarea", {
    attrs: {
      id: `${id}-note`,
      rows: "2",
      maxlength: String(MAX_REPORT_NOTE_CHARS),
      "aria-describedby": `${id}-note-help`,
    },
  });
  return {
    fields: [
      ...select(
        `${id}-reason`,
        "Why are you reporting it?",
        REPORT_REASONS.map((r) => [r, REPORT_REASON_LABELS[r]]),
      ),
      el("label", { text: "Anything else they should know? (optional)", attrs: { for: `${id}-note` } }),
      note,
      el("p", {
        className: "help",
        attrs: { id: `${id}-note-help` },
        text: "Your report goes to the facilitators and moderators. They are not told who sent it.",
      }),
    ],
    submitLabel: "Send report",
    sheet: true,
    submit: async (form) => {
      const reason = form.querySelector("select").value;
      await ctx.act("report", ctx.entry.seq, reason, note.value.trim());
      ctx.onReported(ctx.entry.seq, reason);
      return "Thank you for telling us. The facilitators have been told, without your name.";
    },
  };
}

function ignoreForm(ctx) {
  const name = ctx.entry.author;
  return {
    fields: [
      el("p", {
        text: `You won't see new messages from ${name}, on any device. They aren't told. You can stop ignoring them in My settings.`,
      }),
    ],
    submitLabel: `Ignore ${name}`,
    submit: async () => {
      await ctx.act("ignore", name);
      return `You're ignoring ${name}. Their messages won't be shown to you.`;
    },
  };
}

function hideForm(ctx, id) {
  return {
    fields: select(
      `${id}-hide`,
      "Why hide it?",
      HIDE_REASONS.map((r) => [r, HIDE_REASON_LABELS[r]]),
    ),
    submitLabel: "Hide message",
    submit: async (form) => {
      await ctx.act("hide", ctx.entry.seq, form.querySelector("select").value);
      return "The message is hidden. Its author has been told why.";
    },
  };
}

function muteForm(ctx, id) {
  const name = ctx.entry.author;
  return {
    fields: select(`${id}-mute`, "For how long?", MUTE_CHOICES),
    submitLabel: `Mute ${name} for 5 minutes`,
    // The button says what it will do, for the choice made.
    labelFor: (form) => {
      const minutes = Number(form.querySelector("select").value);
      const choice = MUTE_CHOICES.find(([value]) => value === minutes);
      return minutes ? `Mute ${name} for ${choice ? choice[1] : `${minutes} minutes`}` : `Lift the mute on ${name}`;
    },
    submit: async (form) => {
      const minutes = Number(form.querySelector("select").value);
      await ctx.act("mute", name, minutes);
      if (!minutes) return `${name} can post again.`;
      const choice = MUTE_CHOICES.find(([value]) => value === minutes);
      return `${name} can't post for ${choice ? choice[1] : `${minutes} minutes`}. They have been told.`;
    },
  };
}

function removeForm(ctx) {
  const name = ctx.entry.author;
  return {
    fields: [
      el("p", { text: `${name} will leave the room now. They can come back after accepting the agreement again.` }),
    ],
    submitLabel: `Remove ${name}`,
    submit: async () => {
      await ctx.act("remove", name);
      return `${name} has been removed from the room.`;
    },
  };
}

function banForm(ctx, id) {
  const name = ctx.entry.author;
  const scopes = [["room", "From this room"]];
  if (roleAtLeast(ctx.role, "staff")) scopes.push(["service", "From the whole service"]);
  return {
    fields: select(`${id}-ban`, "Ban them from", scopes),
    submitLabel: `Ban ${name}`,
    submit: async (form) => {
      const scope = form.querySelector("select").value;
      await ctx.act("ban", name, scope);
      return scope === "room" ? `${name} is banned from this room.` : `${name} is banned from the service.`;
    },
  };
}

function flagForm(ctx, id) {
  return {
    fields: [
      ...select(
        `${id}-category`,
        "What is the concern?",
        FLAG_CATEGORIES.map((c) => [c, FLAG_CATEGORY_LABELS[c]]),
      ),
      ...select(
        `${id}-severity`,
        "How urgent?",
        FLAG_SEVERITIES.map((s) => [s, FLAG_SEVERITY_LABELS[s]]),
      ),
    ],
    submitLabel: "Flag to staff",
    submit: async (form) => {
      const [category, severity] = [...form.querySelectorAll("select")].map((s) => s.value);
      await ctx.act("flag", ctx.entry.seq, category, severity);
      return "Flagged. Professional staff have been alerted.";
    },
  };
}

// --- the button and its panel ---------------------------------------------------------------

/** The "⋯" button and its panel for one message, or null when nothing can be done to it. */
export function messageMenu(ctx) {
  const items = menuItems(ctx);
  if (!items.length) return null;
  const id = `menu-${ctx.entry.seq}`;
  const about = ctx.entry.author ? `the message from ${ctx.entry.author}` : "this message";
  const toggle = el(
    "button",
    {
      className: "msg-more",
      attrs: { type: "button", "aria-expanded": "false", "aria-controls": id, "aria-label": `Options for ${about}` },
    },
    el("span", { text: "⋯", attrs: { "aria-hidden": "true" } }),
  );
  const panel = el("div", {
    className: "msg-menu",
    attrs: { id, role: "group", "aria-label": `Options for ${about}`, hidden: "" },
  });
  const menu = {
    close({ focus = true } = {}) {
      panel.hidden = true;
      panel.replaceChildren();
      toggle.setAttribute("aria-expanded", "false");
      if (openMenu === menu) openMenu = null;
      if (focus) toggle.focus();
    },
  };

  const showItems = () => {
    panel.replaceChildren(
      ...items.map((item) => button(item.label, () => (item.form ? showForm(item) : runNow(item)))),
    );
    panel.querySelector("button")?.focus();
  };

  const finish = (text) => {
    menu.close();
    ctx.onResult(text);
  };

  const runNow = async (item) => {
    try {
      await item.run();
      finish(item.done);
    } catch (error) {
      showItems();
      panel.append(el("p", { className: "error-text", text: error.message, attrs: { role: "alert" } }));
    }
  };

  const showForm = (item) => {
    const spec = item.form(ctx, id);
    const error = el("p", { className: "error-text", attrs: { role: "alert" } });
    const submit = el("button", { className: "button button-small", attrs: { type: "submit" } }, spec.submitLabel);
    // On a phone a form opens as a sheet over the bottom of the screen, not inside the log,
    // titled with what it is about (the stylesheet decides; the order for the keyboard and
    // screen readers is the same everywhere).
    const form = el(
      "form",
      {
        className: spec.sheet ? "menu-form stack sheet" : "menu-form stack",
        attrs: { novalidate: "", "aria-label": `${item.label}: ${about}` },
      },
      spec.sheet ? el("h3", { className: "sheet-title", text: `${item.label}: ${about}` }) : null,
      ...spec.fields,
      error,
      el("div", { className: "menu-buttons" }, submit, button("Cancel", showItems)),
    );
    if (spec.labelFor) {
      const relabel = () => {
        submit.textContent = spec.labelFor(form);
      };
      form.addEventListener("change", relabel);
      relabel();
    }
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      submit.disabled = true;
      error.textContent = "";
      try {
        finish(await spec.submit(form));
      } catch (failure) {
        submit.disabled = false;
        error.textContent = failure.message;
      }
    });
    panel.replaceChildren(form);
    form.querySelector("select, textarea, button")?.focus();
  };

  toggle.addEventListener("click", () => {
    if (!panel.hidden) {
      menu.close();
      return;
    }
    closeOpenMenu();
    openMenu = menu;
    panel.hidden = false;
    toggle.setAttribute("aria-expanded", "true");
    showItems();
  });
  panel.addEventListener("keydown", (event) => {
    if (event.key === "Escape") menu.close(); // twice quickly is still a quick exit
  });
  return { toggle, panel };
}
