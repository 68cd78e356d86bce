// The JSON API (docs/api.md), as both pages call it. Same origin only; every request but a
// GET carries Django's CSRF token from the `csrftoken` cookie. Errors arrive as
// {"error": {"code", "message"}} and are thrown as ApiError, with the server's code
// (`not_authenticated`, `otp_required`, ...) and the whole answer as `data`.

export class ApiError extends Error {
  constructor(status, code, message, data = {}) {
    super(message);
    this.status = status;
    this.code = code;
    this.data = data;
  }
}

const GENERIC_MESSAGE = "Something went wrong. Please try again.";

export function csrfToken() {
  for (const part of document.cookie.split(";")) {
    const [name, ...rest] = part.trim().split("=");
    if (name === "csrftoken") return decodeURIComponent(rest.join("="));
  }
  return "";
}

/** fetch()'s options for one request: JSON, the CSRF token, no caching. */
export function requestInit(method, body, { keepalive = false } = {}) {
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

/**
 * A client for the API. `networkMessage` is what a person is told when the server cannot be
 * reached; `onResponse(response)` sees every answer (the staff page reads the server's clock
 * from it). Returns `request(method, path, body)`, which resolves with the answer's JSON.
 */
export function apiClient({ networkMessage, onResponse = () => {} }) {
  async function request(method, path, body) {
    // The page sets the cookie when it loads; fetch it again if something cleared it.
    if (method !== "GET" && !csrfToken()) await request("GET", "/api/session");
    let response;
    try {
      response = await fetch(path, requestInit(method, body));
    } catch {
      throw new ApiError(0, "network", networkMessage);
    }
    onResponse(response);
    let data = null;
    try {
      data = await response.json();
    } catch {
      data = null;
    }
    if (!response.ok) {
      const answer = data && typeof data === "object" ? data : {};
      const error = answer.error && typeof answer.error === "object" ? answer.error : {};
      throw new ApiError(
        response.status,
        typeof error.code === "string" ? error.code : `http_${response.status}`,
        typeof error.message === "string" ? error.message : GENERIC_MESSAGE,
        answer,
      );
    }
    return data;
  }
  return request;
}
