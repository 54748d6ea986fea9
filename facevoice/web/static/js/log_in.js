// The log-in page: username, photo, the spoken digits (or a sentence), then log in.
//
// With the server's challenges on (README, "Liveness"), the photo is a burst of frames while
// the person turns the head to the side shown, then back, and the recording says the digits
// shown. Each challenge answers one capture: after a refusal the page fetches a new one and
// shows it before the retake. The camera opens for the photo, the microphone only when the
// recording starts. The challenge is asked for the username typed, so a name locked out after
// failed log-ins is told to wait before anything is captured.

import { post } from "./api.js";
import { Challenges } from "./challenge.js";
import { Devices, PhotoStep, PhraseStep, RECORD_SECONDS } from "./steps.js";
import {
  Activity,
  addNote,
  RecordingProgress,
  showProblem,
  showStatus,
  UsernameField,
} from "./ui.js";

const FLOW = "log_in";
// The head-turn burst: frames spread over the capture, and when the page says to come back.
const BURST = { count: 12, durationMs: 3500, quality: 0.85 };
const BACK_AFTER_MS = 1600;
const DIGITS_RECORD_SECONDS = 5;
const TURN_TIPS = {
  422: [
    "Face the camera during the countdown; turn only when the arrow appears.",
    "Turn your head clearly to the side shown, as far as is comfortable, then look back.",
    "Keep your whole face in the picture, in good light, with nobody else in it.",
  ],
};

const $ = (selector) => document.querySelector(selector);

const activity = new Activity();
const names = new UsernameField($("#username"), $("#username-status"));
// The server says whether the typed name must wait before the camera opens.
const devices = Devices.onPage(activity, {
  together: false,
  check: () => (names.valid ? challenges.forName(names.text) : null),
});
const logInButton = $("#log-in-button");
const tryAgainButton = $("#try-again");
const logInStatus = $("#log-in-status");
activity.guard(logInButton, tryAgainButton);

let samplesFor = null; // the name the photo and the recording were taken for (lower case)

/** The name to capture for, or null after saying what to fix. */
function usernameForCapture() {
  const name = names.require();
  if (name) samplesFor = name.toLowerCase();
  return name;
}

// --- What the page shows of the challenge.

const view = {
  turnBox: $("#turn-challenge"),
  turnText: $("#turn-instruction"),
  cue: $("#turn-cue"),
  cueText: $("#turn-cue .turn-cue-text"),
  photoHelp: $("#photo-help"),
  voiceTitle: $("#voice-title-text"),
  voiceHelp: $("#voice-help"),
  sentence: $("#phrases .sentence"),
};
const page = {
  photoHelp: view.photoHelp.textContent,
  voiceTitle: view.voiceTitle.textContent,
  voiceHelp: view.voiceHelp.textContent,
  sentence: view.sentence.textContent,
  recordButton: $("#phrases button.record").textContent,
};

/**
 * Show a challenge: the side to turn to in the photo step, the digits in the voice step.
 * (Called once the first challenge arrives, after the steps below exist.)
 */
function showChallenge(challenge) {
  // A new challenge after the photo was accepted (a refused recording) asks only for new
  // digits: the turn box keeps saying the turn was seen, so the photo is not taken again.
  if (!photo.done) showTurn(challenge);
  view.photoHelp.textContent = challenge.turn
    ? "Face the camera with your face inside the oval, in good light. After a 3, 2, 1 " +
      "countdown, turn your head as the arrow shows, then look back at the camera: " +
      "the capture lasts about 4 seconds."
    : page.photoHelp;

  const digits = challenge.digits;
  view.sentence.classList.toggle("challenge", Boolean(digits));
  if (digits) {
    const label = document.createElement("span");
    label.className = "challenge-label";
    label.textContent = "Read these digits aloud: ";
    const shown = document.createElement("span");
    shown.className = "digits";
    shown.textContent = digits;
    view.sentence.replaceChildren(label, shown);
  } else {
    view.sentence.textContent = page.sentence;
  }
  view.voiceTitle.textContent = digits ? "Read the digits aloud" : page.voiceTitle;
  view.voiceHelp.textContent = digits
    ? "Say the digits shown, one after the other, in your normal voice. The recording " +
      `starts when you press the button and lasts ${DIGITS_RECORD_SECONDS} seconds.`
    : page.voiceHelp;
  // The button's label before its first recording (then it says "Record again").
  const recordLabel = digits ? "Record the digits" : page.recordButton;
  if (voice.button.textContent === voice.buttonText) voice.button.textContent = recordLabel;
  voice.buttonText = recordLabel;
}

/** The turn box above the camera: the side this challenge asks the head to turn to. */
function showTurn(challenge) {
  view.turnBox.hidden = !challenge.turn;
  view.turnBox.dataset.side = challenge.turn || "";
  view.turnText.textContent = challenge.instruction || "";
  delete view.turnBox.dataset.done;
}

/** The turn box once the photo is accepted: the turn to ``side`` is done. */
function showTurnDone(side) {
  view.turnBox.dataset.side = side;
  view.turnBox.dataset.done = "true";
  view.turnText.textContent = `Head turn done: we saw you turn to your ${side}.`;
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

/**
 * Fetch a new challenge now (after a refusal), and add to ``status`` what the next try of
 * ``part`` ("turn" or "digits") must do.
 */
async function renewChallenge(status, part) {
  try {
    const challenge = await challenges.renew(names.valid ? names.text : "");
    if (part === "turn" && challenge.turn) {
      addNote(status, `For your next try: turn your head to your ${challenge.turn}.`);
    } else if (part === "digits" && challenge.digits) {
      addNote(status, `For your next try, say the new digits: ${challenge.digits}.`);
    }
  } catch (error) {
    addNote(status, error.message);
  }
}

// --- The photo: one still, or a burst while the head turns.

/** The head-turn capture: frames over BURST.durationMs, saying when to turn and come back. */
async function captureTurn(side, { camera, canvas, status }) {
  const arrow = side === "left" ? "←" : "→";
  view.cue.dataset.side = side;
  view.cue.dataset.phase = "turn";
  view.cueText.textContent = `Turn to your ${side}`;
  view.cue.hidden = false;
  showStatus(status, `Turn your head to your ${side} now ${arrow}`, "busy");
  const back = setTimeout(() => {
    view.cue.dataset.phase = "back";
    view.cueText.textContent = "Now back to the camera";
    showStatus(status, "…now back to the camera.", "busy");
  }, BACK_AFTER_MS);
  try {
    const frames = await camera.takeBurst({
      ...BURST,
      onPhoto: (index) => {
        if (index === 1) camera.drawFrame(canvas); // the thumbnail: the face before it turns
      },
    });
    return { frames };
  } finally {
    clearTimeout(back);
    view.cue.hidden = true;
    view.cue.dataset.phase = "";
  }
}

let turnAsked = null; // the side the last photo was asked to show (null: one still photo)

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
    const challenge = await challenges.forCapture(names.text, "turn");
    turnAsked = challenge.turn;
    if (!challenge.turn) return {};
    const side = challenge.turn;
    challenges.use("turn"); // whatever happens now, the next try needs a new one
    return {
      getReady:
        `Look at the camera. When the countdown ends, turn your head to your ${side}, ` +
        "then back to the camera.",
      capture: (tools) => captureTurn(side, tools),
      checking: "Checking the head turn…",
      done: "Photo OK: we saw your head turn.",
      tips: TURN_TIPS,
    };
  },
  onResult: async (ok, answer) => {
    if (ok && turnAsked) showTurnDone(turnAsked);
    if (!ok && challenges.current && challenges.current.turn && refusedChallenge(answer)) {
      await renewChallenge(photo.status, "turn");
    }
    (ok ? nextAction() : photo.button).focus();
  },
});

/** A refusal after which the challenge cannot be used again (or was not live). */
function refusedChallenge(answer) {
  return answer !== null && (answer.status === 422 || answer.status === 400);
}

// --- The voice: the digits of the challenge, or the sentence.

const voice = new PhraseStep({
  root: $("#phrases .phrase"),
  devices,
  activity,
  progress: new RecordingProgress($("#recording")),
  flow: FLOW,
  username: usernameForCapture,
  prepare: async (step) => {
    const shown = challenges.current ? challenges.current.digits : null;
    const challenge = await challenges.forCapture(names.text, "digits");
    const digits = challenge.digits;
    step.seconds = digits ? DIGITS_RECORD_SECONDS : RECORD_SECONDS;
    step.speakNow = digits
      ? `Recording: say ${digits} now.`
      : "Recording: read the sentence aloud now.";
    if (digits && digits !== shown) {
      // The digits just changed: let the person read them before the recording starts.
      showStatus(step.status, "These are new digits: press the button when you are ready.");
      step.button.focus();
      return false;
    }
    if (digits) challenges.use("digits");
    return true;
  },
  onResult: async (ok, answer) => {
    if (!ok && challenges.current && challenges.current.digits && refusedChallenge(answer)) {
      await renewChallenge(voice.status, "digits");
    }
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
    resetSamples("You changed the username: take the photo and record your voice again.");
  }
});

// Once the name is typed, ask for the challenge with it: a locked-out name is told at once.
names.input.addEventListener("change", () => {
  if (names.valid) challenges.forName(names.text).catch(tellLockout);
});

// The first challenge, shown before the photo; a capture asks again if this fails.
challenges.renew(names.valid ? names.text : "").catch(tellLockout);

/** The voice step's number turns green once the recording is accepted. */
function markVoiceStep() {
  const section = $('[data-step="voice"]');
  if (voice.done) section.dataset.result = "ok";
  else delete section.dataset.result;
}

devices.onReady = () => nextAction().focus();

/** The button for what is left to do: the photo, the recording, or "Log in". */
function nextAction() {
  if (!photo.done) return photo.button;
  if (!voice.done) return voice.button;
  return logInButton;
}

function resetSamples(message) {
  photo.reset(message);
  if (challenges.current) showTurn(challenges.current); // the photo must answer it again
  voice.reset();
  markVoiceStep();
}

// --- Log in.

async function logIn() {
  const name = names.require();
  if (!name) return;
  const next = nextAction();
  if (next !== logInButton) {
    const what = next === photo.button ? "Take your photo" : "Record your voice";
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
      ? ["Check the username.", "Take the photo and record your voice again."]
      : [];
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
