// The log-in page's passkey: confirm it before the photo and voice, or log in with it alone.

import { USERNAME_PATTERN } from "./api.js";
import { usePasskey } from "./passkey.js";
import { showProblem, showStatus } from "./ui.js";

const $ = (selector) => document.querySelector(selector);

const username = $("#username");

/** The typed username, or null after asking for it. */
function typedName(status) {
  const name = username.value.trim();
  if (USERNAME_PATTERN.test(name)) return name;
  showStatus(status, "Type your username above first.", "error");
  username.focus();
  return null;
}

/** Follow a redirect to a path on this site. */
function follow(redirect, fallback) {
  const local = typeof redirect === "string" && /^\/(?!\/)/.test(redirect);
  window.location.assign(local ? redirect : fallback);
}

/** Wire a button to a passkey step; ``done`` gets the server's answer on success. */
function wire(button, status, path, busy, done) {
  if (!button) return;
  button.addEventListener("click", async () => {
    if (button.getAttribute("aria-disabled") === "true") return;
    const name = typedName(status);
    if (!name) return;
    showStatus(status, busy, "busy");
    button.setAttribute("aria-disabled", "true");
    const answer = await usePasskey(path, { username: name });
    button.removeAttribute("aria-disabled");
    if (answer.ok) done(answer, status);
    else showProblem(status, answer.message);
  });
}

wire(
  $("#confirm-passkey"),
  $("#passkey-status"),
  "/log_in/passkey",
  "Confirm on your device…",
  (answer, status) => {
    showStatus(status, answer.message, "ok");
    $("#take-photo").focus();
  },
);
wire(
  $("#passkey-log-in"),
  $("#passkey-only-status"),
  "/log_in/passkey_only",
  "Confirm on your device…",
  (answer) => follow(answer.redirect, "/protected"),
);
