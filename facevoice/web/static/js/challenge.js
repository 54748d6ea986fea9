// The log-in challenges (docs/liveness.md): a side to turn the head to, and digits to say.
//
// GET /log_in/challenge issues both at once for this session; each new one replaces the last.
// The photo (a burst of frames) answers the turn, the recording the digits; each part is
// single-use and the challenge expires after ``expires_in`` seconds. Either part is null when
// the server has that challenge switched off: the page then takes one photo, or reads the
// sentence, as without challenges. Asked with the username, the server first says whether
// that name must wait (lockout): the page learns it before any capture.

import { getJson } from "./api.js";

const ENDPOINT = "/log_in/challenge";
// A challenge closer than this to its end is replaced before a capture starts: the
// countdown, the capture, the upload and the check must all happen before it expires.
const SAFETY_SECONDS = 20;
const CANNOT_FETCH =
  "We could not get your log-in challenge from the server. Wait a moment, then try again.";
const NO_CHALLENGE = { digits: null, turn: null, instruction: null, expiresIn: Infinity };

/** What the server asks of this log-in: digits to say and a side to turn the head to. */
export class Challenges {
  /** ``onChange(challenge)`` is called with every new challenge, to show it. */
  constructor({ onChange = () => {} } = {}) {
    this.onChange = onChange;
    this.current = null;
    this.pending = null;
  }

  /**
   * Ask the server for a new challenge for ``username`` (may be empty); resolves to
   * ``{digits, turn, instruction, expiresAt, used, username}``, throws an Error to show
   * (its ``status`` is 429 or 403 when the name must wait).
   */
  renew(username = "") {
    const request = this.request(username);
    this.pending = request;
    const settled = () => {
      if (this.pending === request) this.pending = null;
    };
    request.then(settled, settled);
    return request;
  }

  async request(username) {
    const query = username ? `?username=${encodeURIComponent(username)}` : "";
    const answer = await getJson(`${ENDPOINT}${query}`);
    let fields;
    if (answer.ok) {
      fields = {
        digits: typeof answer.challenge === "string" ? answer.challenge : null,
        turn: answer.turn === "left" || answer.turn === "right" ? answer.turn : null,
        instruction: typeof answer.instruction === "string" ? answer.instruction : null,
        expiresIn: Number(answer.expires_in) > 0 ? Number(answer.expires_in) : 120,
      };
      if (fields.turn && !fields.instruction) {
        fields.instruction = `Turn your head to your ${fields.turn}, then back to the camera.`;
      }
    } else if (answer.status === 404) {
      fields = NO_CHALLENGE; // a server without challenges
    } else {
      const error = new Error(answer.status === 0 || !answer.message ? CANNOT_FETCH : answer.message);
      error.status = answer.status;
      // A name that must wait has no challenge to answer: the next capture asks again, and
      // so hears of the wait before it opens the camera.
      if (answer.status === 429 || answer.status === 403) this.current = null;
      throw error;
    }
    const challenge = {
      digits: fields.digits,
      turn: fields.turn,
      instruction: fields.instruction,
      expiresAt: performance.now() + fields.expiresIn * 1000,
      used: new Set(),
      username: username.toLowerCase(),
    };
    this.current = challenge;
    this.onChange(challenge);
    return challenge;
  }

  /**
   * The challenge to answer ``part`` ("turn" or "digits") with: the current one when that
   * part is unused and it does not expire soon (or the server has that challenge off); else
   * a new one, asked for ``username``. (The server binds a challenge to the session, not to
   * a username; one fetched before the name was typed is still replaced, so that the server
   * says first whether this name must wait.)
   */
  async forCapture(username, part) {
    const current = await this.forName(username);
    if (current[part] === null) return current; // that challenge is off
    const fresh =
      !current.used.has(part) &&
      current.expiresAt - performance.now() > SAFETY_SECONDS * 1000;
    return fresh ? current : this.renew(username);
  }

  /**
   * The current challenge if it was asked for ``username``, else a new one asked for it:
   * so that the server has said whether the name must wait before anything is captured.
   * Throws like ``renew``.
   */
  async forName(username) {
    if (this.pending) {
      try {
        await this.pending;
      } catch {
        // asked again below
      }
    }
    const current = this.current;
    if (current !== null && current.username === username.toLowerCase()) return current;
    return this.renew(username);
  }

  /** The server has received an answer to ``part`` of the current challenge. */
  use(part) {
    if (this.current) this.current.used.add(part);
  }
}
