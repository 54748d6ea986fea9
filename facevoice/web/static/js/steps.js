// The capture steps both pages are made of: turning the devices on, the photo, and the
// spoken phrases. Each step shows its own plain-language result and offers a retake.
//
// How a step captures and what it sends are parameters, so a page can swap in another
// capture (a burst of photos for a head-turn challenge) or show another sentence
// (a spoken challenge) without changing this module.

import { post } from "./api.js";
import { Camera, DeviceError, Microphone, mediaProblem, openDevices } from "./capture.js";
import { countdown, flash, LevelMeter, showProblem, showStatus } from "./ui.js";

export const COUNTDOWN_SECONDS = 3;
export const RECORD_SECONDS = 4;

const PHOTO_TIPS = {
  422: [
    "Light your face from the front: face a window or a lamp, not with it behind you.",
    "Hold the camera at eye level and fit your face inside the oval.",
    "Make sure nobody else is in the picture.",
  ],
};
const VOICE_TIPS = {
  422: [
    "Start reading as soon as the recording starts, and read the whole sentence.",
    "Speak a little louder, or come closer to the microphone.",
    "Watch the level meter: it should move when you speak.",
  ],
};
const SEE_DEVICE_STATUS = "see the message under the camera picture.";
const QUIET_TIP =
  "We heard almost nothing: check that the microphone is not muted and is the one you speak into.";

/** The tips for an answer's status, if any. */
function tipsFor(table, status) {
  return table[status] || [];
}

/** The camera, the microphone and the level meter of a page, turned on by a button. */
export class Devices {
  constructor({ box, video, button, status, meter, activity }) {
    this.box = box;
    this.button = button;
    this.status = status;
    this.activity = activity;
    this.meter = new LevelMeter(meter);
    this.camera = new Camera(video);
    this.microphone = new Microphone({ onLevel: (fraction) => this.meter.set(fraction) });
    this.onReady = () => {};
    activity.guard(button);
    button.addEventListener("click", () =>
      this.activity.run(async () => {
        if (await this.turnOn()) this.onReady();
      }),
    );
    window.addEventListener("pagehide", () => this.turnOff());
    const problem = mediaProblem();
    if (problem) showProblem(status, problem);
  }

  get on() {
    return this.camera.active && this.microphone.active;
  }

  /** Turn both devices on (if needed); true when they work, else the status says why. */
  async turnOn() {
    if (this.on) return true;
    showStatus(this.status, "Starting the camera and the microphone…", "busy");
    let stream = null;
    try {
      stream = await openDevices();
      await this.camera.start(stream);
      await this.microphone.start(stream);
    } catch (error) {
      this.camera.stop();
      this.microphone.stop();
      if (stream) stream.getTracks().forEach((track) => track.stop());
      const message =
        error instanceof DeviceError
          ? error.message
          : `The camera could not start (${error.message}). Try again.`;
      showProblem(this.status, message);
      this.box.dataset.camera = "off";
      this.button.hidden = false;
      return false;
    }
    for (const track of stream.getTracks()) {
      track.addEventListener("ended", () => this.lost());
    }
    this.box.dataset.camera = "on";
    this.button.hidden = true;
    showStatus(this.status, "Camera and microphone are on. Put your face inside the oval.", "ok");
    return true;
  }

  /** A device stopped by itself (unplugged, or switched off by the system). */
  lost() {
    this.turnOff();
    this.button.hidden = false;
    showProblem(
      this.status,
      "The camera or the microphone stopped. Check it is connected, then turn them on again.",
    );
  }

  turnOff() {
    this.camera.stop();
    this.microphone.stop();
    this.box.dataset.camera = "off";
  }
}

/** The default photo capture: one still JPEG. */
export async function takeOnePhoto({ camera, canvas }) {
  return { image: camera.takePhoto({ canvas }) };
}

/**
 * The photo step: countdown, capture, POST /take_photo, then the result and a retake.
 *
 * ``username()`` returns the name or null (after saying what is wrong); ``capture`` makes the
 * fields to send from the camera; ``onResult(ok)`` follows each attempt.
 */
export class PhotoStep {
  constructor({
    button,
    status,
    thumbnail,
    overlay,
    devices,
    activity,
    flow,
    username,
    capture = takeOnePhoto,
    onResult = () => {},
  }) {
    Object.assign(this, { button, status, thumbnail, overlay, devices, activity, flow });
    Object.assign(this, { username, capture, onResult });
    this.done = false;
    this.buttonText = button.textContent;
    activity.guard(button);
    button.addEventListener("click", () => this.activity.run(() => this.take()));
  }

  async take() {
    const username = this.username();
    if (!username) return;
    if (!(await this.devices.turnOn())) {
      showStatus(this.status, `The photo needs the camera: ${SEE_DEVICE_STATUS}`, "error");
      return;
    }
    this.done = false;
    const soon = `Look at the camera: the photo is taken in ${COUNTDOWN_SECONDS} seconds.`;
    showStatus(this.status, soon, "busy");
    await countdown(this.overlay, COUNTDOWN_SECONDS);
    let fields;
    try {
      flash(this.devices.box);
      fields = await this.capture({ camera: this.devices.camera, canvas: this.thumbnail });
    } catch (error) {
      showProblem(this.status, error.message);
      this.finish(false);
      return;
    }
    this.thumbnail.hidden = false;
    showStatus(this.status, "Checking the photo…", "busy");
    const answer = await post("/take_photo", { username, flow: this.flow, ...fields });
    if (answer.ok) {
      showStatus(this.status, "Photo OK: we found your face.", "ok");
    } else {
      showProblem(this.status, answer.message, tipsFor(PHOTO_TIPS, answer.status));
    }
    this.finish(answer.ok, answer);
  }

  finish(ok, answer = null) {
    this.done = ok;
    this.button.textContent = "Retake photo";
    this.root().dataset.result = ok ? "ok" : "error";
    this.onResult(ok, answer);
  }

  root() {
    return this.button.closest("[data-step]") || this.button.parentElement;
  }

  /** Forget the result (the samples are gone on the server); ``message`` says why. */
  reset(message = "") {
    this.done = false;
    this.button.textContent = this.buttonText;
    this.thumbnail.hidden = true;
    delete this.root().dataset.result;
    showStatus(this.status, message, message ? "info" : "");
  }
}

/**
 * One spoken phrase: show the sentence, record RECORD_SECONDS with a progress bar, POST
 * /record_voice, then the result and a retake.
 *
 * ``phrase`` (1-5, or null) is sent so that a retake replaces that phrase at sign-up;
 * ``prepare(step)`` may change the sentence before each recording (a spoken challenge).
 */
export class PhraseStep {
  constructor({
    root,
    devices,
    activity,
    progress,
    flow,
    username,
    phrase = null,
    seconds = RECORD_SECONDS,
    prepare = async () => {},
    onResult = () => {},
  }) {
    Object.assign(this, { root, devices, activity, progress, flow, username, phrase, seconds });
    Object.assign(this, { prepare, onResult });
    this.button = root.querySelector("button.record");
    this.status = root.querySelector(".status");
    this.sentence = root.querySelector(".sentence");
    this.buttonText = this.button.textContent;
    this.done = false;
    activity.guard(this.button);
    this.button.addEventListener("click", () => this.activity.run(() => this.record()));
  }

  async record() {
    const username = this.username();
    if (!username) return;
    if (!(await this.devices.turnOn())) {
      showStatus(this.status, `Recording needs the microphone: ${SEE_DEVICE_STATUS}`, "error");
      return;
    }
    this.done = false;
    try {
      await this.prepare(this);
    } catch (error) {
      showProblem(this.status, error.message);
      this.finish(false);
      return;
    }
    this.root.dataset.recording = "true";
    this.root.insertBefore(this.progress.element, this.status); // the bar under this sentence
    this.button.textContent = "Recording…";
    showStatus(this.status, "Recording: read the sentence aloud now.", "busy");
    this.progress.start(this.seconds);
    let recording;
    try {
      recording = await this.devices.microphone.record(this.seconds, {
        onProgress: (fraction, left) => this.progress.update(fraction, left),
      });
    } catch (error) {
      showProblem(this.status, error.message);
      this.finish(false);
      return;
    } finally {
      this.progress.stop();
      delete this.root.dataset.recording;
    }
    showStatus(this.status, "Checking the recording…", "busy");
    const fields = { username, flow: this.flow, audio: recording.audio };
    if (this.phrase !== null) fields.phrase = this.phrase;
    const answer = await post("/record_voice", fields);
    if (answer.ok) {
      showStatus(this.status, "Recording OK: we heard your voice clearly.", "ok");
    } else {
      const tips = tipsFor(VOICE_TIPS, answer.status);
      showProblem(this.status, answer.message, recording.quiet ? [QUIET_TIP, ...tips] : tips);
    }
    this.finish(answer.ok, answer);
  }

  finish(ok, answer = null) {
    this.done = ok;
    this.button.textContent =
      this.phrase === null ? "Record again" : `Record phrase ${this.phrase} again`;
    this.root.dataset.result = ok ? "ok" : "error";
    this.onResult(ok, answer);
  }

  reset(message = "") {
    this.done = false;
    this.button.textContent = this.buttonText;
    delete this.root.dataset.result;
    showStatus(this.status, message, message ? "info" : "");
  }
}
