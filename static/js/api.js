// The JSON API (docs/api.md): sessions, rooms, joining, invites. Same origin only; POST and
// DELETE carry Django's CSRF token from the `csrftoken` cookie. Errors arrive as
// {"error": {"code", "message"}} and are thrown as ApiError.

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

const NETWORK_MESSAGE = "We couldn't reach the service. Check your connection and try again.";
const GENERIC_MESSAGE = "Something went wrong. Please try again.";

export function csrfToken() {
  for (const part of document.cookie.split(";")) {
    const [name, ...rest] = part.trim().split("=");
    if (name === "csrftoken") return decodeURIComponent(rest.join("="));
  }
  return "";
}

function init(method, body, { keepalive = false } = {}) {
  const headers = { Accept: "application/json" };
  if (method !== "GET") headers["X-CSRFToken"] = csrfToken();
  if (body !== undefined) headers["Content-Type"] = "application/json";
  return {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: "same-origin",
    cache: "no-store",
    keepalive,
  };
}

async function request(method, path, body) {
  // The page sets the cookie when it loads; fetch it again if something cleared it.
  if (method !== "GET" && !csrfToken()) await request("GET", "/api/session");
  let response;
  try {
    response = await fetch(path, init(method, body));
  } catch {
    throw new ApiError(0, "network", NETWORK_MESSAGE);
  }
  let data = null;
  try {
    data = await response.json();
  } catch {
    data = null;
  }
  if (!response.ok) {
    const error = data && typeof data === "object" ? data.error : null;
    throw new ApiError(
      response.status,
      error && typeof error.code === "string" ? error.code : `http_${response.status}`,
      error && typeof error.message === "string" ? error.message : GENERIC_MESSAGE,
    );
  }
  return data;
}

const roomPath = (slug) => `/api/rooms/${encodeURIComponent(slug)}`;

export const getSession = () => request("GET", "/api/session");
/** Creates an anonymous member. The answer's recovery_phrase is shown once, never stored. */
export const createSession = () => request("POST", "/api/session", {});
export const endSession = () => request("DELETE", "/api/session");
export const recoverSession = (phrase) => request("POST", "/api/session/recover", { phrase });
export const listRooms = () => request("GET", "/api/rooms").then((data) => data.rooms);
export const getRoom = (slug) => request("GET", roomPath(slug));
export const joinRoom = (slug, agreementVersion) =>
  request("POST", `${roomPath(slug)}/join`, { agreement_version: agreementVersion });
export const redeemInvite = (code) => request("POST", "/api/invites/redeem", { code });
/** "Delete all my data", once the person has confirmed on the page: the member's keys are
 * destroyed and the session ends (204). The server insists on the explicit confirmation. */
export const deleteMyData = () => request("DELETE", "/api/me", { confirm: true });

/**
 * Log out during a quick exit. `keepalive` lets the request finish after the page has gone;
 * nobody waits for the answer and a failure must never delay leaving.
 */
export function endSessionOnExit() {
  try {
    fetch("/api/session", init("DELETE", undefined, { keepalive: true })).catch(() => {});
  } catch {
    // Leaving matters more than logging out.
  }
}
