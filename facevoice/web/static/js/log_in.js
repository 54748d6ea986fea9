// The log-in page: username, then the capture (or a photo and a sentence), then log in.
//
// With the server's challenges on (docs/liveness.md), the log-in is one capture: after a
// 3-2-1 countdown the camera films while the microphone records; the person turns the head
// to the side shown and back, then says the digits shown. Each frame carries its time on the
// recording's clock, so the server can check that the mouth moves with the speech. After a
// refusal the page fetches a new challenge and shows it before the next try. With the
// challenges off, the person takes one photo and reads one sentence. The challenge is asked
// for the username typed, so a name locked out after failed log-ins is told to wait before
// anything is captured.

import { post } from "./api.js";
import { Challenges } from "./challenge.js";
import { Devices, PhotoStep, PhraseStep, RECORD_SECONDS } from "./steps.js";
import {
  Activity,
  addNote,
  RecordingProgress,
  showProblem,
  showStatus,
  sleep,
  UsernameField,
} from "./ui.js";

const FLOW = "log_in";
const $ = (selector) => document.querySelector(selector);
const CAPTURE_MODE = $("#log-in").dataset.mode === "capture";

// The capture: how long each part lasts, and how often a frame is taken (the server takes
// 8 to 150 frames). The lips need more frames a second while the digits are said: syllables
// come 4 or 5 times a second, and the lip check's margin is thin at 10 frames a second
// (docs/liveness.md). Taking a frame takes time too: in headless Chromium the gaps came to
// about 110 ms during the turn and 60 ms during the digits.
const CAPTURE = {
  turnMs: 3500, // the head turn, from the end of the countdown
  backAfterMs: 1600, // when the page says to come back to the camera
  speakMs: 5000, // the digits (or the sentence) after the turn
  frameGapMs: 100, // during the turn
  speakFrameGapMs: 50, // while the digits are said (at most about 100 frames in 5 s)
  maxFrames: 150,
  quality: 0.8,
};
const SENTENCE = "These days a chicken leg is a rare dish.";
// The server's advice names the one check that failed and what to do: no general tips.
const CAPTURE_TIPS = {};

const activity = new Activity();
const names = new UsernameField($("#username"), $("#username-status"));
// The server says whether the typed name must wait before the camera opens. The capture
// needs the camera and the microphone at once; the photo alone opens only the camera.
const devices = Devices.onPage(activity, {
  together: CAPTURE_MODE,
  check: () => (names.valid ? challenges.forName(names.text) : null),
});
const logInButton = $("#log-in-button");
const tryAgainButton = $("#try-again");
const logInStatus = $("#log-in-status");
activity.guard(logInButton, tryAgainButton);

let samplesFor = null; // the name the samples were taken for (lower case)

/** The name to capture for, or null after saying what to fix. */
function usernameForCapture() {
  const name = names.require();
  if (name) samplesFor = name.toLowerCase();
  return name;
}

// --- What the page shows of the challenge (capture mode).

const view = {
  turnBox: $("#turn-challenge"),
  turnText: $("#turn-instruction"),
  cue: $("#turn-cue"),
  cueText: $("#turn-cue .turn-cue-text"),
  photoHelp: $("#photo-help"),
  say: $("#say-challenge"),
};

/** Show a challenge: the side to turn to, then what to say. */
function showChallenge(challenge) {
  if (!CAPTURE_MODE) return;
  view.turnBox.hidden = !challenge.turn;
  view.turnBox.dataset.side = challenge.turn || "";
  view.turnText.textContent = challenge.instruction || "";
  const seconds = Math.round(((challenge.turn ? CAPTURE.turnMs : 0) + CAPTURE.speakMs) / 1000);
  view.photoHelp.textContent =
    "Face the camera with your face inside the oval, in good light. After a 3, 2, 1 " +
    (challenge.turn
      ? "countdown, turn your head as the arrow shows and look back at the camera, then "
      : "countdown, look at the camera and ") +
    `say ${challenge.digits ? "the digits shown" : "the sentence shown"}: the capture ` +
    `lasts about ${seconds} seconds and records your voice too.`;
  showSay(challenge);
}

/** The words to say, under the camera: the challenge's digits, or the sentence. */
function showSay(challenge) {
  const label = document.createElement("span");
  label.className = "challenge-label";
  const shown = document.createElement("span");
  if (challenge.digits) {
    label.textContent = "Then say these digits: ";
    shown.className = "digits";
    shown.textContent = challenge.digits;
  } else {
    label.textContent = "Then read aloud: ";
    shown.textContent = SENTENCE;
  }
  view.say.replaceChildren(label, shown);
  view.say.hidden = false;
}

const challenges = new Challenges({ onChange: showChallenge });

/** Whether a failed challenge request says the name must wait (lockout, or disabled). */
function mustWait(error) {
  return error.status === 429 || error.status === 403;
}

/** Say next to the username that it must wait, when ``error`` says so. */
function tellLockout(error) {
  if (mustWait(error)) showProblem(names.status, error.message);
}

/** Fetch a new challenge now (after a refusal), and add to ``status`` what comes next. */
async function renewChallenge(status) {
  try {
    const challenge = await challenges.renew(names.valid ? names.text : "");
    const parts = [];
    if (challenge.turn) parts.push(`turn your head to your ${challenge.turn}`);
    if (challenge.digits) parts.push(`say the new digits ${challenge.digits}`);
    if (parts.length > 0) addNote(status, `For your next try: ${parts.join(", then ")}.`);
  } catch (error) {
    addNote(status, error.message);
  }
}

/** Show the cue over the camera picture: "turn", "back" or "say". */
function cue(phase, side, text) {
  view.cue.dataset.side = side || "";
  view.cue.dataset.phase = phase;
  view.cueText.textContent = text;
  view.cue.hidden = false;
}

/**
 * The capture: frames every ``CAPTURE.frameGapMs`` while the head turns and every
 * ``CAPTURE.speakFrameGapMs`` while the digits are said, as the microphone records, each with
 * its time on the recording's clock; the cue over the picture says what to do when.
 */
async function captureTalking(challenge, { camera, canvas, status }) {
  const microphone = devices.microphone;
  const turnMs = challenge.turn ? CAPTURE.turnMs : 0;
  const say = challenge.digits ? `Say ${challenge.digits}` : "Read the sentence aloud";
  const frames = [];
  const times = [];
  let recording = true;
  const sound = microphone.record((turnMs + CAPTURE.speakMs) / 1000);
  sound.then(
    () => (recording = false),
    () => (recording = false),
  );
  try {
    while (recording && frames.length < CAPTURE.maxFrames) {
      const at = microphone.position();
      if (at !== null) {
        frames.push(camera.takePhoto({ quality: CAPTURE.quality }));
        times.push(Math.max(Math.round(at), times.length > 0 ? times[times.length - 1] : 0));
        if (frames.length === 1) camera.drawFrame(canvas); // the thumbnail: facing the camera
        if (at < Math.min(turnMs, CAPTURE.backAfterMs)) {
          cue("turn", challenge.turn, `Turn to your ${challenge.turn}`);
          showStatus(status, `Turn your head to your ${challenge.turn} now.`, "busy");
        } else if (at < turnMs) {
          cue("back", challenge.turn, "Now back to the camera");
          showStatus(status, "…now back to the camera.", "busy");
        } else {
          cue("say", "", say);
          showStatus(status, `${say} now, facing the camera.`, "busy");
        }
      }
      const speaking = at !== null && at >= turnMs;
      await sleep(speaking ? CAPTURE.speakFrameGapMs : CAPTURE.frameGapMs);
    }
    const { audio } = await sound;
    return { frames, frame_times_ms: times, audio };
  } finally {
    view.cue.hidden = true;
    view.cue.dataset.phase = "";
  }
}

// --- The capture (challenges on), or the photo (challenges off).

const photo = new PhotoStep({
  button: $("#take-photo"),
  status: $("#photo-status"),
  thumbnail: $("#photo-thumbnail"),
  overlay: $("#countdown"),
  devices,
  activity,
  flow: FLOW,
  username: usernameForCapture,
  check: () => challenges.forName(names.text),
  prepare: async () => {
    if (!CAPTURE_MODE) return {};
    const challenge = await challenges.forCapture(names.text, challengePart());
    // Whatever happens now, the next try needs a new challenge.
    challenges.use("turn");
    challenges.use("digits");
    return {
      getReady: challenge.turn
        ? `Look at the camera. When the countdown ends, turn your head to your ` +
          `${challenge.turn}, back to the camera, then say the digits.`
        : "Look at the camera. When the countdown ends, say the digits.",
      capture: (tools) => captureTalking(challenge, tools),
      checking: "Checking the head turn, the digits and your lips…",
      done: "Capture OK: we saw your head turn and heard the digits. Now log in.",
      tips: CAPTURE_TIPS,
      endpoint: "/log_in/capture",
    };
  },
  retakeLabel: CAPTURE_MODE ? "Capture again" : "Retake photo",
  onResult: async (ok, answer) => {
    if (CAPTURE_MODE && !ok && refusedChallenge(answer)) await renewChallenge(photo.status);
    (ok ? nextAction() : photo.button).focus();
  },
});

/** The part of the challenge a capture must find fresh: either one, when both are on. */
function challengePart() {
  const current = challenges.current;
  return current && current.turn === null ? "digits" : "turn";
}

/** A refusal after which the challenge cannot be used again (or was not live). */
function refusedChallenge(answer) {
  return answer !== null && (answer.status === 422 || answer.status === 400);
}

// --- The sentence (challenges off).

const voice = CAPTURE_MODE
  ? null
  : new PhraseStep({
      root: $("#phrases .phrase"),
      devices,
      activity,
      progress: new RecordingProgress($("#recording")),
      flow: FLOW,
      username: usernameForCapture,
      seconds: RECORD_SECONDS,
      onResult: (ok) => {
        markVoiceStep();
        (ok ? nextAction() : voice.button).focus();
      },
    });

// --- The username.

names.input.addEventListener("input", () => {
  showStatus(names.status, "");
  names.input.removeAttribute("aria-invalid");
  if (samplesFor !== null && names.text.toLowerCase() !== samplesFor) {
    samplesFor = null;
    resetSamples(
      CAPTURE_MODE
        ? "You changed the username: make the capture again."
        : "You changed the username: take the photo and record your voice again.",
    );
  }
});

// Once the name is typed, ask for the challenge with it: a locked-out name is told at once.
names.input.addEventListener("change", () => {
  if (names.valid) challenges.forName(names.text).catch(tellLockout);
});

// The first challenge, shown before the capture; a capture asks again if this fails.
challenges.renew(names.valid ? names.text : "").catch(tellLockout);

/** The voice step's number turns green once the recording is accepted. */
function markVoiceStep() {
  const section = $('[data-step="voice"]');
  if (voice.done) section.dataset.result = "ok";
  else delete section.dataset.result;
}

devices.onReady = () => nextAction().focus();

/** The button for what is left to do: the capture or photo, the recording, or "Log in". */
function nextAction() {
  if (!photo.done) return photo.button;
  if (voice && !voice.done) return voice.button;
  return logInButton;
}

function resetSamples(message) {
  photo.reset(message);
  if (voice) {
    voice.reset();
    markVoiceStep();
  }
}

// --- Log in.

/** What to do first, for a log-in pressed before its samples are taken. */
function missingStep(next) {
  if (CAPTURE_MODE) return "Make the capture first.";
  return next === photo.button ? "Take your photo first." : "Record your voice first.";
}

async function logIn() {
  const name = names.require();
  if (!name) return;
  const next = nextAction();
  if (next !== logInButton) {
    showStatus(logInStatus, missingStep(next), "error");
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
  const retake = CAPTURE_MODE
    ? "Make the capture again."
    : "Take the photo and record your voice again.";
  const tips = answer.status === 401 ? ["Check the username.", retake] : [];
  showProblem(logInStatus, answer.message, tips);
  logInStatus.dataset.outcome = answer.status === 401 ? "refused" : "error";
  logInButton.hidden = true;
  tryAgainButton.hidden = false;
  tryAgainButton.focus();
  if (answer.status !== 0) {
    // A new try needs a new challenge: show it now rather than at the next capture (and
    // say at once when this refusal locked the name out).
    challenges.renew(names.text).catch((error) => {
      if (mustWait(error)) addNote(logInStatus, error.message);
    });
  }
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
