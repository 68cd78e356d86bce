// Staff sign-in and sign-out (docs/api.md, moderation/api.py), and debriefs. How a request is
// made (CSRF token, errors thrown as ApiError with the server's code: `login_failed`,
// `otp_required`, ...) is ../core/http.js.

import { ApiError, apiClient } from "../core/http.js";

export { ApiError };

// Difference between the server's clock and this device's, from the Date header, so SLA
// countdowns are right on a laptop whose clock is off. Small differences are ignored: the
// header has one-second resolution.
let clockOffsetMs = 0;

export const serverNow = () => Date.now() + clockOffsetMs;

function noteServerClock(response) {
  const date = Date.parse(response.headers.get("Date") || "");
  if (Number.isNaN(date)) return;
  const offset = date - Date.now();
  clockOffsetMs = Math.abs(offset) > 2000 ? offset : 0;
}

const request = apiClient({
  networkMessage: "The server could not be reached. Check the connection and try again.",
  onResponse: noteServerClock,
});

/**
 * Signs in; `otp` only when the server asked for a one-time code, `enrolCode` only when it
 * asked for the set-up code an administrator issued (`enrol_code_required`).
 */
export function login(username, password, otp = "", enrolCode = "") {
  const body = { username, password };
  if (otp) body.otp = otp;
  if (enrolCode) body.enrol_code = enrolCode;
  return request("POST", "/api/staff/login", body);
}

/** Confirms a new authenticator with its first code (after `otp_setup_required`); signs in. */
export const confirmOtp = (code) => request("POST", "/api/staff/otp/confirm", { code });

export const logout = () => request("POST", "/api/staff/logout", {});

/** Chooses, once, the name this account goes by in every room. Resolves to { name }. */
export const chooseRoomName = (name) => request("POST", "/api/staff/name", { name });

/** Files a debrief: { text, needs_support, session_on?, room? }. */
export const fileDebrief = (body) => request("POST", "/api/staff/debriefs", body);

/**
 * Fetches the CSRF cookie (and the server's clock) before the first sign-in. Resolves to the
 * session: `staff` is { username, role, name } when already signed in (a reload), else null.
 */
export const prepare = () => request("GET", "/api/session").catch(() => null);

/**
 * The key and settings from an authenticator provisioning URI
 * (otpauth://totp/<label>?secret=...&digits=6&period=30), for typing into an app by hand.
 */
export function parseProvisioningUri(uri) {
  if (typeof uri !== "string" || !uri.startsWith("otpauth://")) return null;
  let url;
  try {
    url = new URL(uri);
  } catch {
    return null;
  }
  const secret = (url.searchParams.get("secret") || "").replace(/[^A-Za-z2-7]/g, "").toUpperCase();
  if (!secret) return null;
  const digits = Number(url.searchParams.get("digits") || 6);
  const period = Number(url.searchParams.get("period") || 30);
  let account = "";
  try {
    account = decodeURIComponent(url.pathname.replace(/^\/+/, ""));
  } catch {
    account = "";
  }
  return { secret, digits, period, account };
}
