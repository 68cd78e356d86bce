// The service figures page: asks /api/figures (staff and admins only) and fills the tables.
// Text goes in with textContent only; nothing from the server is parsed as HTML. It wears
// the dashboard's look (app.css, staff.css) and its words for categories and severities.

import { label } from "./core/format.js";
import { CATEGORY_LABELS, SEVERITY_LABELS } from "./core/words.js";

const statusLine = document.getElementById("status");
const result = document.getElementById("result");

function row(name, value) {
  const tr = document.createElement("tr");
  const th = document.createElement("th");
  th.scope = "row";
  th.textContent = name;
  const td = document.createElement("td");
  td.textContent = value === null || value === undefined ? "withheld or none yet" : String(shown(value));
  tr.append(th, td);
  return tr;
}

function fill(id, rows) {
  const body = document.getElementById(id);
  body.replaceChildren(...rows.map(([label, value]) => row(label, value)));
  if (rows.length === 0) body.append(row("None in this period", 0));
}

function duration(value) {
  if (typeof value !== "number") return value;
  if (value < 120) return `${Math.round(value)} seconds`;
  if (value < 7200) return `${Math.round(value / 60)} minutes`;
  return `${(value / 3600).toFixed(1)} hours`;
}


// Dates as people in the UK write them, whatever the browser's own language.
const dayFormat = new Intl.DateTimeFormat("en-GB", { day: "numeric", month: "long", year: "numeric" });

/** "fewer than 5" for the server's "<5": a count small enough to single someone out. */
function shown(value) {
  return value === "<5" ? "fewer than 5" : value;
}

async function load(days) {
  statusLine.textContent = "Loading…";
  let response;
  try {
    response = await fetch(`/api/figures?days=${encodeURIComponent(days)}`, {
      headers: { Accept: "application/json" },
      credentials: "same-origin",
    });
  } catch {
    statusLine.textContent = "We couldn't reach the service. Try again.";
    return;
  }
  const data = await response.json().catch(() => ({}));
  if (!response.ok) {
    result.hidden = true;
    statusLine.textContent =
      (data.error && data.error.message) || "These figures are for staff and admins.";
    return;
  }
  const e = data.escalations;
  document.getElementById("range").textContent =
    `From ${dayFormat.format(new Date(data.period.from))} to ${dayFormat.format(new Date(data.period.to))}`;
  fill("activity", [
    ["Rooms open", data.rooms.open],
    ["Rooms closed", data.rooms.closed],
    ["Sessions held", data.sessions_held],
    ["Facilitated sessions (with a waiting room)", data.facilitated_sessions],
    ["Participants", data.participants],
    ["Messages", data.messages],
    ["Reports", data.reports],
    ["Escalations", e.total],
    ["Escalations acknowledged", e.acknowledged],
    ["Median time to acknowledge", duration(e.median_seconds_to_acknowledge)],
  ]);
  fill("by-category", Object.entries(e.by_category).map(([k, v]) => [label(CATEGORY_LABELS, k, { capital: true }), v]));
  fill("by-severity", Object.entries(e.by_severity).map(([k, v]) => [label(SEVERITY_LABELS, k, { capital: true }), v]));
  result.hidden = false;
  statusLine.textContent = "";
}

document.getElementById("period").addEventListener("submit", (event) => {
  event.preventDefault();
  load(document.getElementById("days").value);
});
load(30);
