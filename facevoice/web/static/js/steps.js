// The capture steps both pages are made of: turning the devices on, the photo, and the
// spoken phrases. Each step shows its own plain-language result and offers a retake.
//
// How a step captures and what it sends are parameters, so a page can swap in another
// capture (a burst of photos for a head-turn challenge) or show another sentence
// (a spoken challenge) without changing this module.

import { post } from "./api.js";
import {
  Camera,
  DeviceError,
  Microphone,
  mediaProblem,
  openDevices,
  PHOTO_QUALITY,
  stopStream,
} from "./capture.js";
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
const SEE_DEVICE_STATUS = "see the message under the camera picture.";

/**
 * The tips for an answer, if any. A capture refused for its quality (``quality: true``)
 * carries the one fix that fits in its message: no general tips then.
 */
function tipsFor(table, answer) {
  if (answer.quality) return [];
  return table[answer.status] || [];
}

/**
 * The camera, the microphone and the level meter of a page.
 *
 * ``together`` (the sign-up page) opens both devices at once, with one browser prompt, from
 * the button or from the first step that needs either. Otherwise (the log-in page) each opens
 * only when a step needs it: the camera for the photo (or from the button, for the preview),
 * the microphone when a recording starts, so that sound is recorded from the moment it opens.
 * ``check()`` runs before the button opens anything: when it throws, the status shows the
 * Error's message instead (the log-in page: a name that must wait).
 */
export class Devices {
  constructor({
    box,
    video,
    button,
    status,
    meter,
    activity,
    together = true,
    check = async () => {},
  }) {
    this.box = box;
    this.button = button;
    this.status = status;
    this.activity = activity;
    this.together = together;
    this.problem = ""; // why the last attempt to turn a device on failed
    this.meter = new LevelMeter(meter);
    this.camera = new Camera(video);
    this.microphone = new Microphone({ onLevel: (fraction) => this.meter.set(fraction) });
    this.onReady = () => {};
    activity.guard(button);
    button.addEventListener("click", () =>
      this.activity.run(async () => {
        try {
          await check();
        } catch (error) {
          showProblem(status, error.message);
          return;
        }
        if (await (together ? this.turnOn() : this.turnOnCamera())) this.onReady();
      }),
    );
    window.addEventListener("pagehide", () => this.turnOff());
    const problem = mediaProblem();
    if (problem) showProblem(status, problem);
  }

  /** The devices of a page built with the camera step of _capture.html. */
  static onPage(activity, { together = true, check = async () => {} } = {}) {
    const find = (selector) => document.querySelector(selector);
    return new Devices({
      box: find("#camera"),
      video: find("#preview"),
      button: find("#devices-on"),
      status: find("#device-status"),
      meter: find("#level"),
      activity,
      together,
      check,
    });
  }

  get on() {
    return this.camera.active && this.microphone.active;
  }

  /** Turn both devices on (if needed); true when they work, else the status says why. */
  async turnOn() {
    if (this.on) return true;
    return this.open({ video: !this.camera.active, audio: !this.microphone.active });
  }

  /** Turn the camera on (both devices when ``together``); true when it works. */
  async turnOnCamera() {
    if (this.together) return this.turnOn();
    return this.camera.active || this.open({ video: true, audio: false });
  }

  /** Turn the microphone on (both devices when ``together``); true when it works. */
  async turnOnMicrophone() {
    if (this.together) return this.turnOn();
    return this.microphone.active || this.open({ video: false, audio: true });
  }

  /**
   * Open the given devices with one getUserMedia call. Camera problems are shown in the
   * status line under the preview; a microphone problem alone is left in ``problem`` for
   * the step that needs it to show.
   */
  async open({ video, audio }) {
    const names = [video && "the camera", audio && "the microphone"].filter(Boolean);
    const status = video ? this.status : null;
    if (status) showStatus(status, `Starting ${names.join(" and ")}…`, "busy");
    let stream = null;
    try {
      if (audio) await this.microphone.prepare(); // ready to record before the sound starts
      stream = await openDevices({ video, audio });
      if (video) await this.camera.start(stream);
      if (audio) await this.microphone.start(stream);
    } catch (error) {
      if (video) this.camera.stop();
      if (audio) this.microphone.stop();
      stopStream(stream);
      this.problem =
        error instanceof DeviceError
          ? error.message
          : `Could not start ${names.join(" and ")} (${error.message}). Try again.`;
      if (status) {
        showProblem(status, this.problem);
        this.showCamera();
      }
      return false;
    }
    this.problem = "";
    for (const track of stream.getTracks()) {
      track.addEventListener("ended", () => this.lost());
    }
    if (status) {
      const on = names.length > 1 ? "Camera and microphone are on" : "The camera is on";
      showStatus(status, `${on}. Put your face inside the oval.`, "ok");
      this.showCamera();
    }
    return true;
  }

  /** The preview's look and the button follow the camera (and the microphone, together). */
  showCamera() {
    this.box.dataset.camera = this.camera.active ? "on" : "off";
    this.button.hidden = this.together ? this.on : this.camera.active;
  }

  /** A device stopped by itself (unplugged, or switched off by the system). */
  lost() {
    this.turnOff();
    this.button.hidden = false;
    showProblem(
      this.status,
      this.together
        ? "The camera or the microphone stopped. Check it is connected, then turn them on again."
        : "The camera or the microphone stopped. Check it is connected, then try again.",
    );
  }

  turnOff() {
    this.camera.stop();
    this.microphone.stop();
    this.box.dataset.camera = "off";
  }
}

/** The default photo capture: one still JPEG, with a flash over the preview. */
export async function takeOnePhoto({ camera, canvas, box }) {
  flash(box);
  return { image: camera.takePhoto({ canvas }) };
}

/** The enrollment burst: a few frames over about a second (the server enrolls their mean). */
export const ENROLLMENT_BURST = { count: 5, durationMs: 1000 };

/**
 * The sign-up capture: a short burst of JPEGs sent as ``frames``; the server keeps the frames
 * that pass its quality checks and enrolls the mean of their faces.
 */
export async function takeEnrollmentBurst({ camera, canvas, box }) {
  flash(box);
  const frames = await camera.takeBurst({
    ...ENROLLMENT_BURST,
    quality: PHOTO_QUALITY,
    onPhoto: (index) => {
      if (index === 1) camera.drawFrame(canvas); // the thumbnail: the first frame
    },
  });
  return { frames };
}

/**
 * The photo step: countdown, capture, POST /take_photo, then the result and a retake.
 *
 * ``username()`` returns the name or null (after saying what is wrong); ``capture`` makes the
 * fields to send from the camera. ``prepare(step)`` runs before each capture, once the camera
 * is on, and may return another plan: ``{getReady, capture, checking, done, tips, endpoint}``
 * (the log-in capture: what to say during the countdown, frames and a recording instead of
 * one photo, what to say after, and where to send them instead of /take_photo).
 * ``check(step)`` runs before that, before the camera opens: when it throws, the step shows
 * the Error's message and opens nothing (a name that must wait).
 * ``onResult(ok, answer)`` follows each attempt; the step waits for it (it may fetch a new
 * challenge). ``retakeLabel`` names the button after the first try.
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
    check = async () => {},
    prepare = async () => ({}),
    onResult = () => {},
    retakeLabel = "Retake photo",
  }) {
    Object.assign(this, { button, status, thumbnail, overlay, devices, activity, flow });
    Object.assign(this, { username, capture, check, prepare, onResult, retakeLabel });
    this.done = false;
    this.buttonText = button.textContent;
    activity.guard(button);
    button.addEventListener("click", () => this.activity.run(() => this.take()));
  }

  async take() {
    const username = this.username();
    if (!username) return;
    try {
      await this.check(this);
    } catch (error) {
      showProblem(this.status, error.message);
      return;
    }
    if (!(await this.devices.turnOnCamera())) {
      showStatus(this.status, `The photo needs the camera: ${SEE_DEVICE_STATUS}`, "error");
      return;
    }
    this.done = false;
    let plan;
    try {
      plan = (await this.prepare(this)) || {};
    } catch (error) {
      showProblem(this.status, error.message);
      await this.finish(false);
      return;
    }
    const soon = `Look at the camera: the photo is taken in ${COUNTDOWN_SECONDS} seconds.`;
    showStatus(this.status, plan.getReady || soon, "busy");
    await countdown(this.overlay, COUNTDOWN_SECONDS);
    let fields;
    try {
      const capture = plan.capture || this.capture;
      fields = await capture({
        camera: this.devices.camera,
        canvas: this.thumbnail,
        box: this.devices.box,
        status: this.status,
      });
    } catch (error) {
      showProblem(this.status, error.message);
      await this.finish(false);
      return;
    }
    this.thumbnail.hidden = false;
    showStatus(this.status, plan.checking || "Checking the photo…", "busy");
    const answer = await post(plan.endpoint || "/take_photo", {
      username,
      flow: this.flow,
      ...fields,
    });
    if (answer.ok) {
      showStatus(this.status, plan.done || "Photo OK: we found your face.", "ok");
    } else {
      showProblem(this.status, answer.message, tipsFor(plan.tips || PHOTO_TIPS, answer));
    }
    await this.finish(answer.ok, answer);
  }

  async finish(ok, answer = null) {
    this.done = ok;
    this.button.textContent = this.retakeLabel;
    this.root().dataset.result = ok ? "ok" : "error";
    await this.onResult(ok, answer);
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
 * One spoken phrase: show the sentence, record ``seconds`` with a progress bar, POST
 * /record_voice, then the result and a retake.
 *
 * ``phrase`` (1-5, or null) is sent so that a retake replaces that phrase at sign-up.
 * ``prepare(step)`` runs before each recording, before the microphone opens: it may change
 * what is shown and the step's ``seconds`` and ``speakNow`` (a spoken challenge),
 * or return false to record nothing this time (after saying why in ``step.status``).
 * ``onResult(ok, answer)`` follows each attempt; the step waits for it.
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
    this.speakNow = "Recording: read the sentence aloud now.";
    this.done = false;
    activity.guard(this.button);
    this.button.addEventListener("click", () => this.activity.run(() => this.record()));
  }

  async record() {
    const username = this.username();
    if (!username) return;
    try {
      if ((await this.prepare(this)) === false) return;
    } catch (error) {
      showProblem(this.status, error.message);
      await this.finish(false);
      return;
    }
    if (!(await this.devices.turnOnMicrophone())) {
      if (this.devices.together) {
        showStatus(this.status, `Recording needs the microphone: ${SEE_DEVICE_STATUS}`, "error");
      } else {
        showProblem(this.status, this.devices.problem);
      }
      return;
    }
    this.done = false;
    this.root.dataset.recording = "true";
    this.root.insertBefore(this.progress.element, this.status); // the bar under this sentence
    this.button.textContent = "Recording…";
    showStatus(this.status, this.speakNow, "busy");
    this.progress.start(this.seconds);
    let recording;
    try {
      recording = await this.devices.microphone.record(this.seconds, {
        onProgress: (fraction, left) => this.progress.update(fraction, left),
      });
    } catch (error) {
      showProblem(this.status, error.message);
      await this.finish(false);
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
      // The server's message alone: it names what it found wrong in this recording (silence,
      // noise, too little speech, other digits), and general tips would contradict it.
      showProblem(this.status, answer.message);
    }
    await this.finish(answer.ok, answer);
  }

  async finish(ok, answer = null) {
    this.done = ok;
    this.button.textContent =
      this.phrase === null ? "Record again" : `Record phrase ${this.phrase} again`;
    this.root.dataset.result = ok ? "ok" : "error";
    await this.onResult(ok, answer);
  }

  reset(message = "") {
    this.done = false;
    this.button.textContent = this.buttonText;
    delete this.root.dataset.result;
    showStatus(this.status, message, message ? "info" : "");
  }
}
