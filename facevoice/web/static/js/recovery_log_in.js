// The log-in page's other way in: a username and one recovery code, no camera needed.

import { post, USERNAME_PATTERN } from "./api.js";
import { showProblem, showStatus } from "./ui.js";

const $ = (selector) => document.querySelector(selector);

const username = $("#username");
const code = $("#recovery-code");
const button = $("#recovery-log-in");
const status = $("#recovery-status");

async function logInWithCode() {
  const name = username.value.trim();
  if (!USERNAME_PATTERN.test(name)) {
    showStatus(status, "Type your username above first.", "error");
    username.focus();
    return;
  }
  if (code.value.trim() === "") {
    showStatus(status, "Type one of your recovery codes.", "error");
    code.focus();
    return;
  }
  showStatus(status, "Checking the code…", "busy");
  button.setAttribute("aria-disabled", "true");
  const answer = await post("/log_in/recovery", { username: name, code: code.value });
  button.removeAttribute("aria-disabled");
  if (answer.ok) {
    const local = typeof answer.redirect === "string" && /^\/(?!\/)/.test(answer.redirect);
    window.location.assign(local ? answer.redirect : "/account");
    return;
  }
  showProblem(status, answer.message);
  code.focus();
}

button.addEventListener("click", () => {
  if (button.getAttribute("aria-disabled") !== "true") logInWithCode();
});
code.addEventListener("keydown", (event) => {
  if (event.key === "Enter") button.click();
});
