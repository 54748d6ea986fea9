// The sign-up page: username (checked as you type), photo, three phrases, create account.

import { isRegistered, post } from "./api.js";
import { showCodes } from "./recovery_codes.js";
import { Devices, PhotoStep, PhraseStep, takeEnrollmentBurst } from "./steps.js";
import { Activity, RecordingProgress, showProblem, showStatus, UsernameField } from "./ui.js";

const FLOW = "sign_up";
const CHECK_DELAY_MS = 400;

const $ = (selector) => document.querySelector(selector);

const activity = new Activity();
const names = new UsernameField($("#username"), $("#username-status"));
const devices = Devices.onPage(activity);
const createButton = $("#create-account");
const createStatus = $("#create-status");
activity.guard(createButton);

// --- Username: the rule, and whether the name is free, checked as the person types.

let takenName = null; // the last name the server said is taken (lower case)
let samplesFor = null; // the name the photo and phrases were taken for (lower case)
let checkTimer = null;
let checkAbort = null;

function checkName() {
  const name = names.text;
  if (checkAbort) checkAbort.abort();
  if (name === "") {
    showStatus(names.status, "");
    names.input.removeAttribute("aria-invalid");
    return;
  }
  const problem = names.problem();
  if (problem) {
    names.input.setAttribute("aria-invalid", "true");
    showStatus(names.status, problem, "error");
    return;
  }
  names.input.removeAttribute("aria-invalid");
  checkAbort = new AbortController();
  isRegistered(name, { signal: checkAbort.signal })
    .then((registered) => {
      if (names.text !== name) return;
      if (registered === true) {
        takenName = name.toLowerCase();
        names.input.setAttribute("aria-invalid", "true");
        showTaken(name);
      } else if (registered === false) {
        showStatus(names.status, `“${name}” is free.`, "ok");
      } else {
        showStatus(names.status, "We could not check this name just now; you can go on.", "info");
      }
    })
    .catch(() => {}); // aborted: the person typed on
}

/** Say the name is taken, with a link to log in under it. */
function showTaken(name) {
  showStatus(names.status, `“${name}” is taken. Choose another name, or `, "error");
  const link = document.createElement("a");
  link.href = `/log_in?username=${encodeURIComponent(name)}`;
  link.textContent = "log in";
  names.status.append(link, " if it is yours.");
}

names.input.addEventListener("input", () => {
  showStatus(names.status, ""); // what it said was about the name before this keystroke
  clearTimeout(checkTimer);
  checkTimer = setTimeout(checkName, CHECK_DELAY_MS);
  if (samplesFor !== null && names.text.toLowerCase() !== samplesFor) {
    samplesFor = null;
    resetSamples("You changed the username: take the photo and record the phrases again.");
  }
});

/** The name to capture for, or null after saying what to fix. */
function usernameForCapture() {
  const name = names.require();
  if (!name) return null;
  if (takenName === name.toLowerCase()) {
    names.input.setAttribute("aria-invalid", "true");
    showStatus(names.status, `“${name}” is taken. Choose another name.`, "error");
    names.input.focus();
    return null;
  }
  samplesFor = name.toLowerCase();
  return name;
}

// --- Photo and phrases.

const photo = new PhotoStep({
  button: $("#take-photo"),
  status: $("#photo-status"),
  thumbnail: $("#photo-thumbnail"),
  overlay: $("#countdown"),
  devices,
  activity,
  flow: FLOW,
  capture: takeEnrollmentBurst,
  username: usernameForCapture,
  onResult: (ok) => (ok ? nextAction().focus() : photo.button.focus()),
});

const progress = new RecordingProgress($("#recording"));
const phrases = [...document.querySelectorAll("#phrases .phrase")].map(
  (item, index) =>
    new PhraseStep({
      root: item,
      devices,
      activity,
      progress,
      flow: FLOW,
      username: usernameForCapture,
      phrase: index + 1,
      onResult: (ok) => {
        markVoiceStep();
        (ok ? nextAction() : phrases[index].button).focus();
      },
    }),
);

devices.onReady = () => nextAction().focus();

/** The button for what is left to do: the photo, the next phrase, or "Create account". */
function nextAction() {
  if (!photo.done) return photo.button;
  const missing = phrases.find((step) => !step.done);
  return missing ? missing.button : createButton;
}

/** The voice step's number turns green once every phrase is recorded. */
function markVoiceStep() {
  const section = $('[data-step="voice"]');
  if (phrases.every((step) => step.done)) section.dataset.result = "ok";
  else delete section.dataset.result;
}

function resetSamples(message) {
  photo.reset(message);
  for (const step of phrases) step.reset();
  markVoiceStep();
}

// --- Create the account.

async function createAccount() {
  const name = names.require();
  if (!name) return;
  const next = nextAction();
  if (next !== createButton) {
    const missing = phrases.findIndex((step) => step.button === next);
    const what = missing < 0 ? "Take your photo" : `Record phrase ${missing + 1}`;
    showStatus(createStatus, `${what} first.`, "error");
    next.focus();
    return;
  }
  showStatus(createStatus, "Creating your account…", "busy");
  const answer = await post("/sign_up", { username: name });
  if (answer.ok) {
    devices.turnOff();
    showSignedUp(name, answer.recovery_codes || []);
    return;
  }
  showProblem(createStatus, answer.message);
  if (answer.status === 409) {
    takenName = name.toLowerCase();
    resetSamples("");
    names.input.setAttribute("aria-invalid", "true");
    names.input.focus();
  } else if (answer.status === 400 && !/passkey/i.test(answer.message)) {
    resetSamples("Your photo and phrases expired: take them again.");
    photo.button.focus();
  }
}

/** The account is ready: show the recovery codes once; going on needs the box ticked. */
function showSignedUp(name, codes) {
  $("#sign-up").hidden = true;
  const done = $("#signed-up");
  $("#signed-up-name").textContent = name;
  $("#go-log-in").href = `/log_in?username=${encodeURIComponent(name)}`;
  showCodes(done, name, codes);
  done.focus();
}

createButton.addEventListener("click", () => activity.run(createAccount));
