// The page's side of the README's HTTP API: JSON POSTs with the CSRF token, and the username check.

const NETWORK_PROBLEM =
  "We could not reach the server. Check your internet connection, then try again.";

/** The CSRF token the page carries in <meta name="csrf-token">. */
export function csrfToken() {
  const meta = document.querySelector('meta[name="csrf-token"]');
  return meta ? meta.content : "";
}

/** A username that follows the rule: 3 to 32 of A-Z a-z 0-9 _ . -, not starting with ".". */
export const USERNAME_PATTERN = /^[A-Za-z0-9_-][A-Za-z0-9_.-]{2,31}$/;

async function readAnswer(response) {
  try {
    return await response.json();
  } catch {
    return {
      ok: false,
      message: `The server answered unexpectedly (HTTP ${response.status}). Try again in a moment.`,
    };
  }
}

/**
 * POST JSON fields; resolves to {status, ok, message, ...answer} and never throws:
 * a network failure comes back as status 0 with a message.
 */
export async function post(path, fields) {
  let response;
  try {
    response = await fetch(path, {
      method: "POST",
      credentials: "same-origin",
      headers: {
        "Content-Type": "application/json",
        Accept: "application/json",
        "X-CSRFToken": csrfToken(),
      },
      body: JSON.stringify(fields),
    });
  } catch {
    return { status: 0, ok: false, message: NETWORK_PROBLEM };
  }
  const answer = await readAnswer(response);
  return { ...answer, status: response.status, ok: response.ok && answer.ok !== false };
}

/**
 * Whether a username is registered: true, false, or null when the check failed.
 * ``signal`` (an AbortSignal) cancels a check the user typed past.
 */
export async function isRegistered(username, { signal } = {}) {
  const url = `/sign_up?username=${encodeURIComponent(username)}`;
  try {
    const response = await fetch(url, {
      headers: { Accept: "application/json" },
      credentials: "same-origin",
      signal,
    });
    if (!response.ok) return null;
    const answer = await response.json();
    return typeof answer.registered === "boolean" ? answer.registered : null;
  } catch (error) {
    if (error && error.name === "AbortError") throw error;
    return null;
  }
}

/**
 * GET JSON; resolves to {status, ok, message, ...answer} and never throws (a network
 * failure comes back as status 0 with a message).
 */
export async function getJson(path) {
  let response;
  try {
    response = await fetch(path, {
      headers: { Accept: "application/json" },
      credentials: "same-origin",
      cache: "no-store",
    });
  } catch {
    return { status: 0, ok: false, message: NETWORK_PROBLEM };
  }
  const answer = await readAnswer(response);
  return { ...answer, status: response.status, ok: response.ok && answer.ok !== false };
}
