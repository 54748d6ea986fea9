// Re-enrollment from the account page: the sign-up's photo and phrase steps, then save the
// face, the voice or both. The captures go to the server as an enrollment ("sign_up" flow)
// under the account's own name; nothing replaces the old templates until "Save".

import { post } from "./api.js";
import { Devices, PhotoStep, PhraseStep, takeEnrollmentBurst } from "./steps.js";
import { Activity, RecordingProgress, showProblem, showStatus } from "./ui.js";

const FLOW = "sign_up";

const $ = (selector) => document.querySelector(selector);

const username = $("#username").textContent;
const activity = new Activity();
const devices = Devices.onPage(activity);
const status = $("#save-status");
const saveButtons = { face: $("#save-face"), voice: $("#save-voice"), both: $("#save-both") };
activity.guard(...Object.values(saveButtons));

const photo = new PhotoStep({
  button: $("#take-photo"),
  status: $("#photo-status"),
  thumbnail: $("#photo-thumbnail"),
  overlay: $("#countdown"),
  devices,
  activity,
  flow: FLOW,
  capture: takeEnrollmentBurst,
  username: () => username,
  onResult: () => {},
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
      username: () => username,
      phrase: index + 1,
      onResult: () => {},
    }),
);

/** What is still missing for ``parts``, in words, or "" when all is there. */
function missing(parts) {
  const voiceDone = phrases.some((step) => step.done);
  if (parts !== "voice" && !photo.done) return "Take your new photo first.";
  if (parts !== "face" && !voiceDone) return "Record at least one phrase first.";
  return "";
}

async function save(parts) {
  const problem = missing(parts);
  if (problem) {
    showStatus(status, problem, "error");
    return;
  }
  showStatus(status, "Saving…", "busy");
  const answer = await post("/account/re_enroll", { parts });
  if (answer.ok) {
    devices.turnOff();
    showStatus(status, answer.message, "ok");
    return;
  }
  showProblem(status, answer.message);
  if (answer.status === 401) {
    const link = document.createElement("a");
    link.href = `/log_in?username=${encodeURIComponent(username)}`;
    link.textContent = "Log in again";
    status.append(" ", link);
  }
}

for (const [parts, button] of Object.entries(saveButtons)) {
  button.addEventListener("click", () => activity.run(() => save(parts)));
}
