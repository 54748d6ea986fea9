// The sign-up page's passkey step: after the photo and the voice, before the account exists.

import { USERNAME_PATTERN } from "./api.js";
import { createPasskey } from "./passkey.js";
import { showProblem, showStatus } from "./ui.js";

const $ = (selector) => document.querySelector(selector);

const button = $("#add-passkey");
const status = $("#passkey-status");

async function addPasskey() {
  const name = $("#username").value.trim();
  if (!USERNAME_PATTERN.test(name)) {
    showStatus(status, "Choose your username above first.", "error");
    $("#username").focus();
    return;
  }
  showStatus(status, "Create the passkey on your device…", "busy");
  button.setAttribute("aria-disabled", "true");
  const answer = await createPasskey(
    "/sign_up/passkey/options",
    "/sign_up/passkey",
    { username: name },
    { name: $("#passkey-name").value },
  );
  button.removeAttribute("aria-disabled");
  if (answer.ok) {
    showStatus(status, answer.message, "ok");
    $("#create-account").focus();
  } else {
    showProblem(status, answer.message);
  }
}

if (button) {
  button.addEventListener("click", () => {
    if (button.getAttribute("aria-disabled") !== "true") addPasskey();
  });
}
