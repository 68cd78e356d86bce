// The member page's calls to the JSON API (docs/api.md): sessions, rooms, joining, invites.
// How a request is made (CSRF token, errors thrown as ApiError) is core/http.js.

import { ApiError, apiClient, requestInit } from "./core/http.js";

export { ApiError };

const request = apiClient({
  networkMessage: "We couldn't reach the service. Check your connection and try again.",
});

const roomPath = (slug) => `/api/rooms/${encodeURIComponent(slug)}`;

export const getSession = () => request("GET", "/api/session");
/** Creates an anonymous member. The answer's recovery_phrase is shown once, never stored. */
export const createSession = () => request("POST", "/api/session", {});
export const endSession = () => request("DELETE", "/api/session");
export const recoverSession = (phrase) => request("POST", "/api/session/recover", { phrase });
/** A new recovery phrase (shown once; the old one stops working). */
export const newPhrase = () => request("POST", "/api/session/phrase", {});
/** The member has been told what Quick exit does: not again, on any device. */
export const exitExplained = () => request("POST", "/api/session/exit-explained", {});
/** "Give me another name" before going in. Resolves to { slug, pseudonym }. */
export const renameInRoom = (slug) => request("POST", `${roomPath(slug)}/pseudonym`, {});
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
    fetch("/api/session", requestInit("DELETE", undefined, { keepalive: true })).catch(() => {});
  } catch {
    // Leaving matters more than logging out.
  }
}
