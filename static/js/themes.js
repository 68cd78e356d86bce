// Content themes: their plain names, which messages start collapsed for this reader (the
// author's content warning, or a theme the reader chose to blur), and the reader's own choice
// of themes to blur ("My settings").

import { el } from "./core/dom.js";
import { label } from "./core/format.js";
import { CARE_TOPICS } from "./core/words.js";
import { THEMES } from "./protocol.js";

export const THEME_LABELS = Object.freeze({
  suicide: "suicide",
  self_harm: "self-harm",
  sexual_violence: "sexual violence",
  violence: "violence",
  child_abuse: "child abuse",
  substances: "alcohol or drugs",
  eating: "eating and food",
});

/** "suicide, self-harm and violence" */
export function themeNames(themes) {
  const names = themes.map((t) => THEME_LABELS[t] ?? t);
  if (names.length <= 1) return names.join("");
  return `${names.slice(0, -1).join(", ")} and ${names[names.length - 1]}`;
}

/**
 * Why a message starts collapsed for this reader, or null. `blur` is the reader's own list;
 * `role` is the reader's. A message showing risk (`care`) is folded for members behind a
 * care note, never for facilitators (the caller never folds the reader's own messages). A
 * message's themes come from its author's warning and from the server's own reading.
 */
export function collapseReason(message, blur, role = "member") {
  const themes = message.themes ?? [];
  if (message.care && role === "member") {
    const topic = label(CARE_TOPICS, message.care);
    return {
      kind: "care",
      themes,
      text: `This message talks about ${topic}. A trained member of our team has been told about it.`,
    };
  }
  if (message.cw) {
    return { kind: "cw", themes, text: themes.length ? `Content warning: ${themeNames(themes)}` : "Content warning" };
  }
  const blurred = themes.filter((t) => blur.includes(t));
  if (blurred.length) {
    return { kind: "blur", themes: blurred, text: `Blurred by your settings: ${themeNames(blurred)}` };
  }
  return null;
}

/** Checkboxes, one per theme, in a fieldset; `idPrefix` keeps their ids apart. */
export function themeCheckboxes(idPrefix, legend, hint = "") {
  const hintId = `${idPrefix}-hint`;
  return el(
    "fieldset",
    { className: "themes", attrs: hint ? { "aria-describedby": hintId } : {} },
    el("legend", { text: legend }),
    hint ? el("p", { className: "help", text: hint, attrs: { id: hintId } }) : null,
    ...THEMES.map((theme) =>
      el(
        "div",
        { className: "check check-small" },
        el("input", { attrs: { type: "checkbox", id: `${idPrefix}-${theme}`, value: theme } }),
        el("label", { text: THEME_LABELS[theme], attrs: { for: `${idPrefix}-${theme}` } }),
      ),
    ),
  );
}

export function checkedThemes(container) {
  return [...container.querySelectorAll('input[type="checkbox"]:checked')].map((box) => box.value);
}

export function setCheckedThemes(container, themes) {
  for (const box of container.querySelectorAll('input[type="checkbox"]')) box.checked = themes.includes(box.value);
}
