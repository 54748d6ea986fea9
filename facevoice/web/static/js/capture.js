// Camera and microphone capture, shared by the sign-up and the log-in page.
//
// - openDevices() asks for the camera and the microphone at once (one browser prompt), or for
//   either alone, and turns every failure into a DeviceError whose message tells a person
//   what to do.
// - Camera shows the live preview in a <video> and takes still JPEG photos (one, or a burst
//   of several spread over a few seconds).
// - Microphone records 16 kHz mono through Web Audio (an AudioWorklet, which prepare() can
//   load before the microphone opens, so a recording can start with its first sound) and
//   encodes it as 16-bit PCM WAV; where Web Audio cannot run at 16 kHz (older Firefox) it
//   falls back to MediaRecorder (Ogg/Opus or WebM/Opus, which the server decodes too). It
//   reports the live input level for a level meter.

export const SAMPLE_RATE = 16000;
export const PHOTO_TYPE = "image/jpeg";
export const PHOTO_QUALITY = 0.92;
const VIDEO_SIZE = { width: 640, height: 480 };
const WORKLET_URL = new URL("./recorder-worklet.js", import.meta.url);
const LEVEL_FLOOR_DB = -60; // the level meter's empty end
const QUIET_DB = -50; // a recording whose loudest moment is below this heard nothing
const FRAME_TIMEOUT_MS = 8000;
const CHUNK_MS = 50; // recorder-worklet.js hands over the samples in chunks this long

/** A camera or microphone problem, with a message a person can act on. */
export class DeviceError extends Error {
  constructor(message, kind = "device") {
    super(message);
    this.name = "DeviceError";
    this.kind = kind;
  }
}

/** Why this browser cannot capture at all, as a message; null when it can. */
export function mediaProblem() {
  if (!window.isSecureContext) {
    return (
      "The camera and the microphone only work on a secure page. This page was opened " +
      "over plain http from another computer, so the browser keeps them switched off. " +
      "Open the site with an https:// address (ask the site's administrator), " +
      "or on the server itself at http://127.0.0.1."
    );
  }
  if (!navigator.mediaDevices || typeof navigator.mediaDevices.getUserMedia !== "function") {
    return (
      "This browser cannot use a camera or a microphone. " +
      "Open this page in a recent Firefox, Chrome, Edge or Safari."
    );
  }
  if (typeof window.AudioContext !== "function" && typeof window.MediaRecorder !== "function") {
    return (
      "This browser cannot record sound. " +
      "Open this page in a recent Firefox, Chrome, Edge or Safari."
    );
  }
  return null;
}

/** Open the camera and the microphone; resolves to a MediaStream, throws DeviceError. */
export async function openDevices({ video = true, audio = true } = {}) {
  const problem = mediaProblem();
  if (problem) {
    throw new DeviceError(problem, "unsupported");
  }
  const constraints = {
    video: video && {
      width: { ideal: VIDEO_SIZE.width },
      height: { ideal: VIDEO_SIZE.height },
      facingMode: "user",
    },
    // A biometric sample must be the voice as it is: no processing that changes it.
    audio: audio && {
      echoCancellation: false,
      noiseSuppression: false,
      autoGainControl: false,
    },
  };
  try {
    return await navigator.mediaDevices.getUserMedia(constraints);
  } catch (error) {
    throw await describeMediaError(error, { video, audio });
  }
}

/** Turn a getUserMedia error into a DeviceError telling a person what to do. */
export async function describeMediaError(error, { video = true, audio = true } = {}) {
  const name = error && error.name;
  if (name === "NotAllowedError" || name === "PermissionDeniedError" || name === "SecurityError") {
    const blocked = await blockedDevices({ video, audio });
    const settings = blocked.map((device) => device[0].toUpperCase() + device.slice(1));
    return new DeviceError(
      `The browser is not allowed to use the ${blocked.join(" and the ")}. To allow it, ` +
        "click the icon at the left end of the address bar (a lock or sliders), set " +
        `${settings.join(" and ")} to Allow, then reload this page. On a phone, ` +
        "look for them in the browser's site settings.",
      "denied",
    );
  }
  const missingNames = ["NotFoundError", "DevicesNotFoundError", "OverconstrainedError"];
  if (missingNames.includes(name)) {
    const missing = await missingDevices({ video, audio });
    const message =
      missing.length === 1
        ? `No ${missing[0]} was found. Connect one (or switch it on), then try again.`
        : "No camera and no microphone were found. Connect them (or switch them on), " +
          "then try again.";
    return new DeviceError(message, "missing");
  }
  if (name === "NotReadableError" || name === "TrackStartError" || name === "AbortError") {
    return new DeviceError(
      "The camera or the microphone is busy or blocked by the system. Close other apps " +
        "that use them (for example a video call), then try again.",
      "busy",
    );
  }
  return new DeviceError(
    "The camera and the microphone could not be started" +
      (error && error.message ? ` (${error.message})` : "") +
      ". Check they are connected and allowed for this site, then try again.",
  );
}

/** Which of the wanted devices ("camera", "microphone") the browser says are blocked. */
async function blockedDevices({ video, audio }) {
  const wanted = [video && "camera", audio && "microphone"].filter(Boolean);
  const denied = [];
  for (const name of wanted) {
    try {
      const status = await navigator.permissions.query({ name });
      if (status.state === "denied") denied.push(name);
    } catch {
      // This browser cannot tell which one is blocked.
    }
  }
  return denied.length > 0 ? denied : wanted;
}

/** Which of the wanted devices ("camera", "microphone") the browser has none of. */
async function missingDevices({ video, audio }) {
  const wanted = [video && "camera", audio && "microphone"].filter(Boolean);
  try {
    const devices = await navigator.mediaDevices.enumerateDevices();
    const kinds = { camera: "videoinput", microphone: "audioinput" };
    const missing = wanted.filter((name) => !devices.some((d) => d.kind === kinds[name]));
    return missing.length > 0 ? missing : wanted;
  } catch {
    return wanted;
  }
}

/** Stop every track of a stream: the camera light goes off. */
export function stopStream(stream) {
  if (stream) {
    for (const track of stream.getTracks()) track.stop();
  }
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const isLive = (track) => track.readyState === "live";

/** The live camera preview in a <video>, and still photos taken from it. */
export class Camera {
  constructor(video) {
    this.video = video;
    this.stream = null;
  }

  get active() {
    return this.stream !== null && this.stream.getVideoTracks().some(isLive);
  }

  /** Show the stream's video track in the preview; resolves once frames arrive. */
  async start(stream) {
    const tracks = stream.getVideoTracks();
    if (tracks.length === 0) {
      throw new DeviceError(
        "No camera picture arrived. Check the camera, then try again.",
        "missing",
      );
    }
    this.stream = new MediaStream(tracks);
    this.video.muted = true;
    this.video.playsInline = true;
    this.video.srcObject = this.stream;
    await this.video.play();
    const started = Date.now();
    while (this.video.videoWidth === 0 || this.video.readyState < 2) {
      if (Date.now() - started > FRAME_TIMEOUT_MS) {
        throw new DeviceError(
          "The camera is on but shows no picture. Check nothing covers it, then try again.",
          "busy",
        );
      }
      await sleep(50);
    }
  }

  /**
   * Draw the current frame into a canvas (a new one unless given): full size, or scaled
   * down to at most ``maxWidth`` pixels wide.
   */
  drawFrame(canvas = document.createElement("canvas"), maxWidth = Infinity) {
    const { videoWidth, videoHeight } = this.video;
    if (!this.active || videoWidth === 0) {
      throw new DeviceError("The camera is off. Turn it on, then try again.", "off");
    }
    const scale = Math.min(1, maxWidth / videoWidth);
    canvas.width = Math.round(videoWidth * scale);
    canvas.height = Math.round(videoHeight * scale);
    canvas.getContext("2d").drawImage(this.video, 0, 0, canvas.width, canvas.height);
    return canvas;
  }

  /** One still photo as a data: URL (JPEG); ``canvas`` keeps a copy to show. */
  takePhoto({ canvas, quality = PHOTO_QUALITY, maxWidth = Infinity } = {}) {
    return this.drawFrame(canvas, maxWidth).toDataURL(PHOTO_TYPE, quality);
  }

  /**
   * ``count`` photos spread evenly over ``durationMs`` (for an active face challenge), each
   * at most ``maxWidth`` pixels wide; ``onPhoto(number, count)`` follows them.
   */
  async takeBurst({
    count = 8,
    durationMs = 3000,
    quality = PHOTO_QUALITY,
    maxWidth = VIDEO_SIZE.width,
    onPhoto,
  } = {}) {
    const photos = [];
    const gap = count > 1 ? durationMs / (count - 1) : 0;
    const started = performance.now();
    for (let index = 0; index < count; index += 1) {
      const due = started + index * gap;
      const wait = due - performance.now();
      if (wait > 0) await sleep(wait);
      photos.push(this.takePhoto({ quality, maxWidth }));
      if (onPhoto) onPhoto(index + 1, count);
    }
    return photos;
  }

  stop() {
    stopStream(this.stream);
    this.stream = null;
    this.video.srcObject = null;
  }
}

/** A level in dBFS from the root mean square of some samples. */
export function levelDb(samples) {
  let sum = 0;
  for (let i = 0; i < samples.length; i += 1) sum += samples[i] * samples[i];
  const rms = Math.sqrt(sum / Math.max(1, samples.length));
  return 20 * Math.log10(Math.max(rms, 1e-6));
}

/** A level in dBFS as a fraction 0..1 for a meter. */
export function meterFraction(db) {
  return Math.min(1, Math.max(0, (db - LEVEL_FLOOR_DB) / -LEVEL_FLOOR_DB));
}

/** 16-bit PCM mono WAV bytes of float samples in [-1, 1]. */
export function encodeWav(samples, sampleRate) {
  const bytesPerSample = 2;
  const buffer = new ArrayBuffer(44 + samples.length * bytesPerSample);
  const view = new DataView(buffer);
  const text = (offset, value) => {
    for (let i = 0; i < value.length; i += 1) view.setUint8(offset + i, value.charCodeAt(i));
  };
  text(0, "RIFF");
  view.setUint32(4, 36 + samples.length * bytesPerSample, true);
  text(8, "WAVE");
  text(12, "fmt ");
  view.setUint32(16, 16, true); // size of the fmt chunk
  view.setUint16(20, 1, true); // PCM
  view.setUint16(22, 1, true); // mono
  view.setUint32(24, sampleRate, true);
  view.setUint32(28, sampleRate * bytesPerSample, true); // bytes per second
  view.setUint16(32, bytesPerSample, true); // block align
  view.setUint16(34, 8 * bytesPerSample, true); // bits per sample
  text(36, "data");
  view.setUint32(40, samples.length * bytesPerSample, true);
  for (let i = 0; i < samples.length; i += 1) {
    const sample = Math.max(-1, Math.min(1, samples[i]));
    view.setInt16(44 + i * bytesPerSample, sample < 0 ? sample * 0x8000 : sample * 0x7fff, true);
  }
  return buffer;
}

/** A Blob as a data: URL (Base64). */
export function blobToDataUrl(blob) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(reader.result);
    reader.onerror = () => reject(reader.error);
    reader.readAsDataURL(blob);
  });
}

/**
 * The microphone: a live level for a meter, and recordings of a fixed length.
 *
 * ``onLevel(fraction, db)`` is called about 20 times a second while the microphone is on.
 */
export class Microphone {
  constructor({ onLevel = () => {} } = {}) {
    this.onLevel = onLevel;
    this.stream = null;
    this.context = null;
    this.mode = null; // "pcm" (Web Audio at 16 kHz, WAV) or "recorder" (MediaRecorder)
    this.pcmNode = null; // the recorder worklet of the 16 kHz AudioContext
    this.listener = null; // receives the samples while recording
    this.levelTimer = null;
    this.clock = null; // where the running recording is: {ms, at} (see position())
  }

  /**
   * Milliseconds from the running recording's first sample to now, on the recording's own
   * clock (the samples counted so far, plus the time since the last chunk arrived); null
   * before its first sound arrives or when nothing records. Frames filmed during a recording
   * carry this time, so the server can match the mouth with the sound.
   */
  position() {
    if (!this.clock) return null;
    const since = performance.now() - this.clock.at;
    // MediaRecorder's clock is the page's; the worklet's advances chunk by chunk.
    return this.clock.ms + (this.clock.free ? since : Math.min(since, CHUNK_MS));
  }

  get active() {
    return this.stream !== null && this.stream.getAudioTracks().some(isLive);
  }

  /**
   * Build the 16 kHz recording graph before the microphone opens (optional), so that
   * recording can start as soon as the sound does. Without it, ``start`` builds it.
   */
  async prepare() {
    if (this.pcmNode) return;
    try {
      await this.buildPcm();
    } catch {
      this.closeContext(); // ``start`` falls back to MediaRecorder
    }
  }

  /** Listen to the stream's audio track; call from a click so the browser lets sound start. */
  async start(stream) {
    const tracks = stream.getAudioTracks();
    if (tracks.length === 0) {
      throw new DeviceError(
        "No microphone sound arrived. Check the microphone, then try again.",
        "missing",
      );
    }
    this.stream = new MediaStream(tracks);
    try {
      if (!this.pcmNode) await this.buildPcm();
      // Firefox refuses a source at another rate than the device's here: then we fall back.
      this.context.createMediaStreamSource(this.stream).connect(this.pcmNode);
      await this.context.resume();
      this.mode = "pcm";
    } catch (error) {
      this.closeContext();
      if (typeof window.MediaRecorder !== "function") {
        throw new DeviceError(
          `This browser cannot record the microphone (${error.message}). ` +
            "Use a recent Firefox, Chrome, Edge or Safari.",
        );
      }
      this.startLevelOnly();
      this.mode = "recorder";
    }
  }

  /** An AudioContext at 16 kHz with the recorder worklet, waiting for a source. */
  async buildPcm() {
    this.context = new AudioContext({ sampleRate: SAMPLE_RATE });
    await this.context.audioWorklet.addModule(WORKLET_URL);
    const node = new AudioWorkletNode(this.context, "pcm-recorder", {
      numberOfInputs: 1,
      numberOfOutputs: 1,
      outputChannelCount: [1],
      channelCount: 1,
      channelCountMode: "explicit",
      channelInterpretation: "speakers",
    });
    node.port.onmessage = (event) => {
      const chunk = event.data;
      const db = levelDb(chunk);
      this.onLevel(meterFraction(db), db);
      if (this.listener) this.listener(chunk, db);
    };
    node.connect(this.context.destination); // the node writes silence; this keeps it running
    this.pcmNode = node;
  }

  startLevelOnly() {
    this.context = new AudioContext();
    const source = this.context.createMediaStreamSource(this.stream);
    const analyser = this.context.createAnalyser();
    analyser.fftSize = 2048;
    source.connect(analyser);
    const samples = new Float32Array(analyser.fftSize);
    this.levelTimer = setInterval(() => {
      analyser.getFloatTimeDomainData(samples);
      const db = levelDb(samples);
      this.onLevel(meterFraction(db), db);
      if (this.listener) this.listener(null, db);
    }, 50);
    this.context.resume().catch(() => {});
  }

  /**
   * Record ``seconds`` of sound. ``onProgress(fraction, secondsLeft)`` follows the recording.
   * Resolves to {audio: data: URL, quiet: true when it heard (almost) nothing}.
   */
  async record(seconds, { onProgress = () => {} } = {}) {
    if (!this.active) {
      throw new DeviceError("The microphone is off. Turn it on, then try again.", "off");
    }
    if (this.listener) {
      throw new DeviceError("A recording is already running.", "busy");
    }
    if (this.context && this.context.state !== "running") await this.context.resume();
    const recording =
      this.mode === "pcm"
        ? this.recordPcm(seconds, onProgress)
        : this.recordCompressed(seconds, onProgress);
    try {
      return await recording;
    } finally {
      this.listener = null;
      this.clock = null;
    }
  }

  recordPcm(seconds, onProgress) {
    const rate = this.context.sampleRate; // 16000, unless the browser chose otherwise
    const wanted = Math.round(seconds * rate);
    const samples = new Float32Array(wanted);
    let filled = 0;
    let loudest = -Infinity;
    onProgress(0, seconds);
    return new Promise((resolve, reject) => {
      const timeout = setTimeout(() => {
        this.listener = null;
        reject(
          new DeviceError(
            "The microphone sends no sound. Check it is connected and not muted, then try again.",
            "silent",
          ),
        );
      }, (seconds + 3) * 1000);
      this.listener = (chunk, db) => {
        const count = Math.min(chunk.length, wanted - filled);
        samples.set(chunk.subarray(0, count), filled);
        filled += count;
        this.clock = { ms: (1000 * filled) / rate, at: performance.now() };
        loudest = Math.max(loudest, db);
        onProgress(filled / wanted, (wanted - filled) / rate);
        if (filled === wanted) {
          clearTimeout(timeout);
          this.listener = null;
          const wav = new Blob([encodeWav(samples, rate)], { type: "audio/wav" });
          blobToDataUrl(wav).then((audio) => resolve({ audio, quiet: loudest < QUIET_DB }), reject);
        }
      };
    });
  }

  recordCompressed(seconds, onProgress) {
    return new Promise((resolve, reject) => {
      const recorder = new MediaRecorder(this.stream);
      const parts = [];
      let loudest = -Infinity;
      const started = performance.now();
      this.clock = { ms: 0, at: started, free: true };
      this.listener = (chunk, db) => {
        loudest = Math.max(loudest, db);
        const elapsed = (performance.now() - started) / 1000;
        onProgress(Math.min(1, elapsed / seconds), Math.max(0, seconds - elapsed));
      };
      recorder.ondataavailable = (event) => {
        if (event.data && event.data.size > 0) parts.push(event.data);
      };
      recorder.onerror = (event) => {
        const reason = event.error ? event.error.name : "unknown error";
        reject(new DeviceError(`Recording failed (${reason}). Try again.`));
      };
      recorder.onstop = () => {
        const blob = new Blob(parts, { type: recorder.mimeType || "audio/ogg" });
        blobToDataUrl(blob).then((audio) => resolve({ audio, quiet: loudest < QUIET_DB }), reject);
      };
      recorder.start();
      setTimeout(() => recorder.state !== "inactive" && recorder.stop(), seconds * 1000);
    });
  }

  closeContext() {
    if (this.levelTimer) clearInterval(this.levelTimer);
    this.levelTimer = null;
    if (this.context) this.context.close().catch(() => {});
    this.context = null;
    this.pcmNode = null;
  }

  stop() {
    this.closeContext();
    stopStream(this.stream);
    this.stream = null;
    this.listener = null;
    this.onLevel(0, -Infinity);
  }
}
