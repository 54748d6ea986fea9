// Small pieces of page behaviour shared by the sign-up and the log-in page:
// status lines, the 3-2-1 countdown, the level meter, the recording progress bar,
// the username field, and one-thing-at-a-time for capture buttons.

import { USERNAME_PATTERN } from "./api.js";

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Show a message in a status line (an aria-live region that stays in the page).
 * ``state`` is "info", "busy", "ok" or "error"; it sets the look.
 */
export function showStatus(element, message, state = "info") {
  element.dataset.state = message ? state : "";
  element.textContent = message || "";
}

/** Show a message followed by a list of things to try. */
export function showProblem(element, message, tips = []) {
  element.replaceChildren();
  element.dataset.state = "error";
  // The first sentence says what went wrong (in bold), the rest what to do.
  const [first, ...rest] = message.split(/(?<=[.!?:])\s+/);
  const lead = document.createElement("strong");
  lead.textContent = first;
  element.append(lead);
  if (rest.length > 0) element.append(` ${rest.join(" ")}`);
  if (tips.length > 0) {
    const list = document.createElement("ul");
    for (const tip of tips) {
      const item = document.createElement("li");
      item.textContent = tip;
      list.append(item);
    }
    element.append(list);
  }
}

/** Count down ``seconds`` in a big overlay number: 3, 2, 1. */
export async function countdown(overlay, seconds) {
  overlay.hidden = false;
  try {
    for (let left = seconds; left > 0; left -= 1) {
      overlay.textContent = String(left);
      // Restart the CSS animation of the number.
      overlay.classList.remove("tick");
      void overlay.offsetWidth;
      overlay.classList.add("tick");
      await sleep(1000);
    }
  } finally {
    overlay.hidden = true;
    overlay.textContent = "";
  }
}

/** A short white flash over the preview when the photo is taken. */
export function flash(element) {
  element.classList.remove("flash");
  void element.offsetWidth;
  element.classList.add("flash");
}

/** The live microphone level: a bar (role="meter") filled from 0 to 100. */
export class LevelMeter {
  constructor(element) {
    this.element = element;
    this.fill = element.querySelector(".level-fill");
    this.lastAnnounced = 0;
  }

  set(fraction) {
    const percent = Math.round(fraction * 100);
    this.fill.style.transform = `scaleX(${fraction})`;
    this.element.dataset.loud = String(percent >= 85);
    const now = performance.now();
    if (now - this.lastAnnounced > 500) {
      this.element.setAttribute("aria-valuenow", String(percent));
      this.element.setAttribute("aria-valuetext", percent < 5 ? "silent" : `${percent} percent`);
      this.lastAnnounced = now;
    }
  }
}

/** The recording progress bar with the seconds left. */
export class RecordingProgress {
  constructor(element) {
    this.element = element;
    this.bar = element.querySelector("progress");
    this.label = element.querySelector(".seconds-left");
  }

  start(seconds) {
    this.bar.max = 1;
    this.bar.value = 0;
    this.label.textContent = `Recording: ${Math.ceil(seconds)} s left`;
    this.element.hidden = false;
  }

  update(fraction, secondsLeft) {
    this.bar.value = fraction;
    this.label.textContent =
      secondsLeft > 0.05 ? `Recording: ${Math.ceil(secondsLeft - 0.05)} s left` : "Done recording";
  }

  stop() {
    this.element.hidden = true;
  }
}

/**
 * One capture at a time: while a task runs, the other capture buttons say so
 * (aria-disabled, so they keep their place in the focus order and their focus).
 */
export class Activity {
  constructor() {
    this.busy = false;
    this.buttons = new Set();
  }

  /** Buttons that must wait while something runs. */
  guard(...buttons) {
    for (const button of buttons) this.buttons.add(button);
  }

  /** Run ``task`` unless another task runs; returns its result, or undefined when busy. */
  async run(task) {
    if (this.busy) return undefined;
    this.setBusy(true);
    try {
      return await task();
    } finally {
      this.setBusy(false);
    }
  }

  setBusy(busy) {
    this.busy = busy;
    for (const button of this.buttons) {
      if (busy) button.setAttribute("aria-disabled", "true");
      else button.removeAttribute("aria-disabled");
    }
  }
}

/** The username input: checks the rule and says what is wrong next to the field. */
export class UsernameField {
  constructor(input, status) {
    this.input = input;
    this.status = status;
  }

  get text() {
    return this.input.value.trim();
  }

  get valid() {
    return USERNAME_PATTERN.test(this.text);
  }

  /** What is wrong with the typed name, or "" when it follows the rule. */
  problem() {
    const name = this.text;
    if (name === "") return "Enter a username first.";
    if (name.startsWith(".")) return "A username cannot start with a dot.";
    if (name.length < 3) return "A username has at least 3 characters.";
    if (name.length > 32) return "A username has at most 32 characters.";
    if (!USERNAME_PATTERN.test(name)) {
      return "Use only letters, digits, and the characters _ . - (no spaces).";
    }
    return "";
  }

  /** The name, or null after telling the person what to fix and moving the focus there. */
  require() {
    const problem = this.problem();
    if (problem) {
      this.input.setAttribute("aria-invalid", "true");
      showStatus(this.status, problem, "error");
      this.input.focus();
      return null;
    }
    this.input.removeAttribute("aria-invalid");
    return this.text;
  }
}

/** Add a paragraph to a status line (after what it says already). */
export function addNote(element, message) {
  const note = document.createElement("p");
  note.className = "note";
  note.textContent = message;
  element.append(note);
}
