// The log-in page: username, photo, one spoken sentence, then log in.

import { post } from "./api.js";
import { Devices, PhotoStep, PhraseStep } from "./steps.js";
import { Activity, RecordingProgress, showProblem, showStatus, UsernameField } from "./ui.js";

const FLOW = "log_in";

const $ = (selector) => document.querySelector(selector);

const activity = new Activity();
const names = new UsernameField($("#username"), $("#username-status"));
const devices = new Devices({
  box: $("#camera"),
  video: $("#preview"),
  button: $("#devices-on"),
  status: $("#device-status"),
  meter: $("#level"),
  activity,
});
const logInButton = $("#log-in-button");
const tryAgainButton = $("#try-again");
const logInStatus = $("#log-in-status");
activity.guard(logInButton, tryAgainButton);

let samplesFor = null; // the name the photo and the sentence were taken for (lower case)

/** The name to capture for, or null after saying what to fix. */
function usernameForCapture() {
  const name = names.require();
  if (name) samplesFor = name.toLowerCase();
  return name;
}

names.input.addEventListener("input", () => {
  showStatus(names.status, "");
  names.input.removeAttribute("aria-invalid");
  if (samplesFor !== null && names.text.toLowerCase() !== samplesFor) {
    samplesFor = null;
    resetSamples("You changed the username: take the photo and record the sentence again.");
  }
});

const photo = new PhotoStep({
  button: $("#take-photo"),
  status: $("#photo-status"),
  thumbnail: $("#photo-thumbnail"),
  overlay: $("#countdown"),
  devices,
  activity,
  flow: FLOW,
  username: usernameForCapture,
  onResult: (ok) => (ok ? nextAction() : photo.button).focus(),
});

// The sentence to read is the one in the page. A spoken challenge can pass ``prepare`` to
// fetch and show a fresh sentence before each recording.
const voice = new PhraseStep({
  root: $("#phrases .phrase"),
  devices,
  activity,
  progress: new RecordingProgress($("#recording")),
  flow: FLOW,
  username: usernameForCapture,
  onResult: (ok) => {
    markVoiceStep();
    (ok ? nextAction() : voice.button).focus();
  },
});

/** The voice step's number turns green once the sentence is recorded. */
function markVoiceStep() {
  const section = $('[data-step="voice"]');
  if (voice.done) section.dataset.result = "ok";
  else delete section.dataset.result;
}

devices.onReady = () => nextAction().focus();

/** The button for what is left to do: the photo, the sentence, or "Log in". */
function nextAction() {
  if (!photo.done) return photo.button;
  if (!voice.done) return voice.button;
  return logInButton;
}

function resetSamples(message) {
  photo.reset(message);
  voice.reset();
  markVoiceStep();
}

async function logIn() {
  const name = names.require();
  if (!name) return;
  const next = nextAction();
  if (next !== logInButton) {
    const what = next === photo.button ? "Take your photo" : "Record the sentence";
    showStatus(logInStatus, `${what} first.`, "error");
    next.focus();
    return;
  }
  tryAgainButton.hidden = true;
  showStatus(logInStatus, "Checking your face and your voice…", "busy");
  const answer = await post("/log_in", { username: name });
  if (answer.ok) {
    showStatus(logInStatus, answer.message || "Welcome back.", "ok");
    devices.turnOff();
    // Only a path on this site: never follow an answer elsewhere.
    const local = typeof answer.redirect === "string" && /^\/(?!\/)/.test(answer.redirect);
    const target = local ? answer.redirect : "/protected";
    window.location.assign(target);
    return;
  }
  // The server ends the attempt after a decision: the samples must be taken again.
  // (Status 0 is a network failure: nothing reached the server, the samples still wait.)
  if (answer.status !== 0) resetSamples("");
  const tips =
    answer.status === 401
      ? ["Check the username.", "Take the photo and record the sentence again."]
      : [];
  showProblem(logInStatus, answer.message, tips);
  logInStatus.dataset.outcome = answer.status === 401 ? "refused" : "error";
  logInButton.hidden = true;
  tryAgainButton.hidden = false;
  tryAgainButton.focus();
}

logInButton.addEventListener("click", () => activity.run(logIn));
tryAgainButton.addEventListener("click", () => {
  if (activity.busy) return;
  tryAgainButton.hidden = true;
  logInButton.hidden = false;
  showStatus(logInStatus, "");
  delete logInStatus.dataset.outcome;
  resetSamples("");
  nextAction().focus();
});
