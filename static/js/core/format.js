// Words and times as both pages show them: server phrases as sentences, codes as words, times
// of day, ages ("4 min ago") and countdowns ("04:59").

/** Server messages are lower-case phrases; shown to people, they start with a capital and
 * end with a full stop. An empty one becomes `fallback`. */
export function sentence(text, fallback = "Something went wrong. Please try again.") {
  const trimmed = String(text ?? "").trim();
  if (!trimmed) return fallback;
  const first = trimmed.charAt(0).toUpperCase() + trimmed.slice(1);
  return /[.!?]$/.test(first) ? first : `${first}.`;
}

/** A code the page has no words for ("harm_to_others") as words: "harm to others". */
export function codeWords(code, { capital = false } = {}) {
  const words = String(code ?? "").replace(/[_-]+/g, " ").trim();
  if (!words) return capital ? "Unknown" : "";
  return capital ? words[0].toUpperCase() + words.slice(1) : words;
}

/** The words for `key` in a table of a closed list; a key from a newer server as words. */
export const label = (labels, key, { capital = false } = {}) =>
  Object.hasOwn(labels, key) ? labels[key] : codeWords(key, { capital });

const timeFormats = new Map(); // locale -> Intl.DateTimeFormat (hours and minutes)

/** "14:05" (or "2:05 PM", as the locale has it); "" for a time that does not parse. The
 * member page uses the reader's locale, the staff dashboard "en-GB" throughout. */
export function timeOfDay(value, locale = undefined) {
  const date = value instanceof Date ? value : new Date(value);
  if (Number.isNaN(date.getTime())) return "";
  const key = locale ?? "";
  if (!timeFormats.has(key)) timeFormats.set(key, new Intl.DateTimeFormat(locale, { hour: "2-digit", minute: "2-digit" }));
  return timeFormats.get(key).format(date);
}

/** mm:ss; minutes keep counting past 59 (an hour is 60:00). */
export function formatClock(ms) {
  const total = Math.max(0, Math.floor(ms / 1000));
  const minutes = Math.floor(total / 60);
  const seconds = total % 60;
  return `${String(minutes).padStart(2, "0")}:${String(seconds).padStart(2, "0")}`;
}

/** How long ago: "just now", "4 min ago", "2 h 5 min ago". */
export function formatAge(ms) {
  const minutes = Math.floor(Math.max(0, ms) / 60_000);
  if (minutes < 1) return "just now";
  if (minutes < 60) return `${minutes} min ago`;
  const hours = Math.floor(minutes / 60);
  const rest = minutes % 60;
  return rest ? `${hours} h ${rest} min ago` : `${hours} h ago`;
}

/** "1 open report", "3 open reports". */
export const count = (n, one, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;
