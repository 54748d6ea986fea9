// The account page: new recovery codes, log out everywhere, delete the account.

import { post } from "./api.js";
import { showCodes } from "./recovery_codes.js";
import { Activity, showProblem, showStatus } from "./ui.js";

const $ = (selector) => document.querySelector(selector);

const username = $("#username").textContent;
const activity = new Activity();

/** Go where the server says, if it is a path on this site. */
function follow(redirect, fallback) {
  const local = typeof redirect === "string" && /^\/(?!\/)/.test(redirect);
  window.location.assign(local ? redirect : fallback);
}

/** Say what went wrong; a stale log-in gets a link to log in again. */
function showRefusal(status, answer) {
  showProblem(status, answer.message);
  if (answer.status === 401) {
    const link = document.createElement("a");
    link.href = `/log_in?username=${encodeURIComponent(username)}`;
    link.textContent = "Log in again";
    status.append(" ", link);
  }
}

async function makeNewCodes() {
  const status = $("#new-codes-status");
  showStatus(status, "Making new codes…", "busy");
  const answer = await post("/account/recovery_codes", {});
  if (!answer.ok) {
    showRefusal(status, answer);
    return;
  }
  showStatus(status, answer.message, "ok");
  $("#codes-left strong").textContent = String(answer.recovery_codes.length);
  const panel = $("#new-codes-panel");
  showCodes(panel, username, answer.recovery_codes);
  $("#codes-done").onclick = () => {
    if ($("#new-codes-panel .codes-saved").checked) panel.hidden = true;
  };
}

async function logOutEverywhere() {
  const status = $("#sessions-status");
  showStatus(status, "Logging out everywhere…", "busy");
  const answer = await post("/account/log_out_everywhere", {});
  if (answer.ok) follow(answer.redirect, "/log_in");
  else showRefusal(status, answer);
}

async function deleteAccount() {
  const status = $("#delete-status");
  const confirm = $("#delete-confirm");
  if (confirm.value.trim().toLowerCase() !== username.toLowerCase()) {
    showStatus(status, "Type your username to confirm.", "error");
    confirm.focus();
    return;
  }
  showStatus(status, "Deleting your account…", "busy");
  const answer = await post("/account/delete", { confirm: confirm.value.trim() });
  if (answer.ok) follow(answer.redirect, "/");
  else showRefusal(status, answer);
}

for (const [id, action] of [
  ["#new-codes", makeNewCodes],
  ["#log-out-everywhere", logOutEverywhere],
  ["#delete-account", deleteAccount],
]) {
  const button = $(id);
  activity.guard(button);
  button.addEventListener("click", () => activity.run(action));
}
