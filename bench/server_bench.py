"""Benchmarks of the production server: cold start, latency, throughput, memory.

Runs ``facevoice serve`` with 2 gunicorn workers on a fresh data folder (rate limits off,
lockout on), once per log-in flow, and prints each figure beside its target:

- ``default``: both challenges on, as shipped. The clip's person signs up with a frontal
  frame and three five-digit readings of FSDD speaker jackson. Each log-in fetches
  ``GET /log_in/challenge`` and answers it with one capture, ``POST /log_in/capture``: 47
  frames of the clip's person turning to their right and back (mirrored for a "left"
  challenge), spread evenly over jackson reading the five digits asked for, with each
  frame's time on the recording's clock; then ``POST /log_in``. The server checks the
  recording's quality, the digits, one face per frame, the depth (``structure``), the lips
  against the speech (``lipsync``), the head turn on at most 16 frames spread over the turn
  and 6 after it, and then decides. Its
  bare compute (the overhead ratio's denominator) is the same work through the library,
  without Flask, on challenges from a seeded generator.
- ``plain``: challenges off, the described system's single photo (``POST /take_photo``) and
  any phrase (``POST /record_voice``), then ``POST /log_in``.

The clip's mouth and jackson's digits are not one recording: the lip check refuses most
readings over it (it is meant to: about 19 in 20), so the bench answers only challenges whose
reading the lips accept, judged beforehand on the clip's landmarks, and asks for a new
challenge otherwise (the count passed over is printed). That costs the bench's clients about
20 ms of CPU per challenge passed over, on the server's cores: the throughput run's figures
are a little low for it. The digits check and the voice
match also refuse a few of jackson's readings: a log-in the server refuses is counted apart
and tried again with a new challenge; in the bare part, a refused input stops the run with
the reason.

    .venv/bin/python bench/server_bench.py [--flow both|default|plain] [--seconds 60]
        [--requests 50] [--clients 4]
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import random
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import ClassVar

import numpy as np
import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from facevoice.biometrics.audio import SAMPLE_RATE, decode_audio, load_speech, speech_samples
from facevoice.biometrics.capture import (
    MAX_LATER_FRAMES,
    MAX_TURN_FRAMES,
    check_capture_frame_count,
    check_frames_within_audio,
    head_turn_frames,
)
from facevoice.biometrics.face import max_distance_for, verify_face
from facevoice.biometrics.images import image_size, load_image
from facevoice.biometrics.landmarks import get_face_mesh
from facevoice.biometrics.lipsync import Mouth, SyncRules, check_sync, mouth_of
from facevoice.biometrics.liveness import (
    FaceChallenge,
    HeadTurnRules,
    burst_matches,
    check_burst_size,
    new_face_challenge,
    read_burst,
)
from facevoice.biometrics.models import Biometrics, load_biometrics
from facevoice.biometrics.quality import (
    PhotoLimits,
    RecordingLimits,
    check_photo_quality,
    check_recording_quality,
)
from facevoice.biometrics.speech import Challenge, check_challenge, new_challenge
from facevoice.biometrics.structure import StructureRules, check_structure, nose_offset
from facevoice.biometrics.voice import enrollment_template, voice_check
from facevoice.config import Settings
from facevoice.errors import FacevoiceError
from tests import media
from tests.browser.fake_media import webcam_frame
from tests.servers import HttpVisitor, ServerProcess

DEFAULTS = Settings()
USERNAME = "benchuser"
TARGET_OVERHEAD = 1.25
TARGET_THROUGHPUT_SHARE = 0.8
TARGET_WORKER_MB = 700
# The default log-in's server time against the plain flow's bare compute (issue 12 §4).
TARGET_DEFAULT_OVER_PLAIN_BARE = 2.0
ENROLLMENT_DIGITS = ("13580", "24796", "38162")
MAX_CHALLENGES_PER_LOG_IN = 200  # new challenges asked for before giving up
PLAIN_ENV = {"FACEVOICE_VOICE_CHALLENGE": "off", "FACEVOICE_FACE_CHALLENGE": "off"}
# The server's limits (``Accounts``) for the capture's checks, as it builds them.
RECORDING_LIMITS = RecordingLimits(min_speech_seconds=DEFAULTS.min_speech_seconds)
PHOTO_LIMITS = PhotoLimits()
# A capture's samples: the frontal and turned face embeddings, and the voice embedding.
Sample = tuple[np.ndarray, list[np.ndarray], np.ndarray]


def photo_640x480() -> bytes:
    """obama2.jpg framed as a 640×480 webcam picture, as a JPEG."""
    buffer = io.BytesIO()
    webcam_frame(media.FACES / "obama2.jpg").save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def percentile(values: list[float], share: float) -> float:
    """The value under which ``share`` of the values lie."""
    return float(np.percentile(values, share * 100))


def timed(call: Callable[[], object], repeat: int) -> list[float]:
    """Seconds each of ``repeat`` calls took."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return times


def body(**fields: object) -> bytes:
    """A JSON request body."""
    return json.dumps(fields).encode()


def b64(data: bytes) -> str:
    """Base64 text of some bytes."""
    return base64.b64encode(data).decode()


class PlainFlow:
    """Challenges off: obama signs up and logs in with a webcam-framed photo and a phrase."""

    name = "plain"
    env: ClassVar[dict[str, str]] = PLAIN_ENV
    steps: ClassVar[tuple[str, ...]] = ("/take_photo", "/record_voice", "/log_in")

    def __init__(self) -> None:
        self.photo = photo_640x480()
        self.voice = media.phrase(media.SPEAKER_A, 3)
        self.take_photo = body(username=USERNAME, flow="log_in", image=b64(self.photo))
        self.record_voice = body(username=USERNAME, flow="log_in", audio=b64(self.voice))

    def sign_up(self, url: str) -> None:
        """Register the benchmark user."""
        assert HttpVisitor(url).sign_up_obama(USERNAME) == 201

    def bodies(self, visitor: HttpVisitor) -> list[bytes]:
        """The two sample bodies of one log-in (prepared once: clients spend no CPU here)."""
        return [self.take_photo, self.record_voice]

    def bare(self, models: Biometrics) -> Callable[[], list[Callable[[], object]]]:
        """The same log-in's model work without the server: the three steps' calls."""
        face = models.face.embed(load_image(self.photo, DEFAULTS.max_image_pixels))
        voice = models.voice.embed(speech_of(self.voice))

        def steps() -> list[Callable[[], object]]:
            return [
                lambda: models.face.embed(load_image(self.photo, DEFAULTS.max_image_pixels)),
                lambda: models.voice.embed(speech_of(self.voice)),
                lambda: (
                    verify_face(face, face, DEFAULTS.face_max_fused_distance),
                    voice_check(voice, voice, DEFAULTS.voice_min_similarity),
                ),
            ]

        return steps


class BenchInputRefused(RuntimeError):
    """A check refused the benchmark's own input: the run would measure refusals."""


class DefaultFlow:
    """Both challenges on: one capture of the clip's person turning to the side asked for,
    timed on the clock of jackson's reading of the digits asked for."""

    name = "default"
    env: ClassVar[dict[str, str]] = {}
    steps: ClassVar[tuple[str, ...]] = ("/log_in/capture", "/log_in")

    def __init__(self) -> None:
        self.frames = {"right": media.capture_frames(), "left": media.capture_frames(mirror=True)}
        # The frames' part of a capture body, serialised once per side.
        self.frames_json = {
            side: json.dumps([b64(frame) for frame in frames])
            for side, frames in self.frames.items()
        }
        self.readings: dict[str, tuple[bytes, list[int]]] = {}
        # Three readings of five digits, like the log-in's (takes 12-26; log-ins use 30-34).
        self.enrollment = [
            media.b64(media.jackson_reading(digits, first_take=12 + 5 * index))
            for index, digits in enumerate(ENROLLMENT_DIGITS)
        ]
        self.frontal = media.jpeg(media.clip_frames([media.FRONTAL_FRAME])[0])
        self.mouths: dict[str, list[Mouth | None]] = {}
        self.fits: dict[tuple[str, str], bool] = {}
        self.passed_over = 0  # challenges whose reading the lips refuse over the clip

    def answerable(self, digits: str, side: str) -> bool:
        """Whether the lip check accepts the clip's mouth (turning to ``side``) over jackson
        reading ``digits``: the two are not one recording, so only some readings fit."""
        if side not in self.mouths:
            mesh = get_face_mesh()
            found = [
                mesh.faces(load_image(f, DEFAULTS.max_image_pixels)) for f in self.frames[side]
            ]
            self.mouths[side] = [mouth_of(faces[0]) if len(faces) == 1 else None for faces in found]
        if (digits, side) not in self.fits:
            audio, times = self.reading(digits)
            samples = decode_audio(audio, DEFAULTS.max_audio_seconds)
            sync = check_sync(self.mouths[side], times, samples, SyncRules())
            self.fits[digits, side] = sync.passed
        self.passed_over += not self.fits[digits, side]
        return self.fits[digits, side]

    def sign_up(self, url: str) -> None:
        """Register the clip's person with a frontal frame and three readings of jackson."""
        visitor = HttpVisitor(url)
        visitor.post("/take_photo", username=USERNAME, flow="sign_up", image=b64(self.frontal))
        for audio in self.enrollment:
            visitor.post("/record_voice", username=USERNAME, flow="sign_up", audio=audio)
        assert visitor.post("/sign_up", username=USERNAME).status_code == 201

    def reading(self, digits: str) -> tuple[bytes, list[int]]:
        """jackson reading these digits, and the frame times spread over it (built once per
        challenge text)."""
        if digits not in self.readings:
            audio = media.jackson_reading(digits)
            self.readings[digits] = audio, media.frame_times_over(len(self.frames["right"]), audio)
        return self.readings[digits]

    def bodies(self, visitor: HttpVisitor) -> list[bytes]:
        """Fetch a challenge the bench's input can answer and answer it: the capture of its
        side over the reading of its digits."""
        for _ in range(MAX_CHALLENGES_PER_LOG_IN):
            challenge = visitor.get(
                "/log_in/challenge", headers={"Accept": "application/json"}
            ).json()
            digits = Challenge.from_text(challenge["challenge"]).digits
            if self.answerable(digits, challenge["turn"]):
                break
        else:
            raise BenchInputRefused("no challenge the bench's input can answer")
        audio, times = self.reading(digits)
        fields = json.dumps({"username": USERNAME, "frame_times_ms": times, "audio": b64(audio)})
        # The frames spliced in as serialised once: the clients spend little CPU here.
        frames = self.frames_json[challenge["turn"]]
        return [f'{fields[:-1]}, "frames": {frames}}}'.encode()]

    def bare(self, models: Biometrics) -> Callable[[], list[Callable[[], object]]]:
        """The same log-in's model work without the server, on fresh challenges: the capture's
        checks and embeddings as ``Accounts.take_capture`` runs them, then the decision."""
        face_template = models.face.embed(load_image(self.frontal, DEFAULTS.max_image_pixels))
        voice_template = enrollment_template(
            [models.voice.embed(speech_of(base64.b64decode(a))) for a in self.enrollment]
        )
        limit = max_distance_for(
            face_template, DEFAULTS.face_max_fused_distance, DEFAULTS.face_max_cosine_distance
        )
        turn_rules = HeadTurnRules()
        # Seeded. Challenges the bench's input cannot answer are passed over, untimed: those
        # the lips refuse for it (as the server part does), and those whose reading by
        # jackson the digits check or the voice match refuses (a few), which would stop the
        # run.
        rng = random.Random("server bench")

        def heard(challenge: Challenge) -> bool:
            speech = speech_of(self.reading(challenge.digits)[0])
            if not check_challenge(speech, challenge, models.digit_decoder()).passed:
                return False
            voice = models.voice.embed(speech)
            return voice_check(voice_template, voice, DEFAULTS.voice_min_similarity).matched

        def answerable_challenge() -> tuple[Challenge, FaceChallenge]:
            for _ in range(MAX_CHALLENGES_PER_LOG_IN):
                challenge, turn = new_challenge(rng), new_face_challenge(rng)
                if self.answerable(challenge.digits, turn.side) and heard(challenge):
                    return challenge, turn
            raise BenchInputRefused("no challenge the bench's input can answer")

        def steps() -> list[Callable[[], object]]:
            challenge, turn = answerable_challenge()
            kept: list[Sample] = []

            def capture() -> object:
                kept.append(self.capture(models, challenge, turn))
                return kept[-1]

            def decide() -> object:
                frontal, turned, voice = kept[-1]
                face = verify_face(face_template, frontal, limit)
                face_matched = face.matched and burst_matches(
                    face_template, frontal, turned, limit, turn_rules.turned_distance_factor
                )
                spoken = voice_check(voice_template, voice, DEFAULTS.voice_min_similarity)
                if not (face_matched and spoken.matched):
                    raise BenchInputRefused(
                        f"the decision refused the {turn.side} capture over jackson reading "
                        f"{challenge.digits}: face distance {face.distance:.3f} (limit "
                        f"{limit:.3f}, turned faces matched: {face_matched}), voice "
                        f"similarity {spoken.similarity:.3f}"
                    )
                return face, spoken

            return [capture, decide]

        return steps

    def capture(self, models: Biometrics, challenge: Challenge, turn: FaceChallenge) -> Sample:
        """``Accounts.take_capture``'s work on the capture answering this challenge: the
        frontal and turned face embeddings and the voice embedding; ``BenchInputRefused``
        naming the check that refused it."""
        what = f"the {turn.side} capture over jackson reading {challenge.digits}"
        frames = self.frames[turn.side]
        audio, times = self.reading(challenge.digits)
        try:
            check_capture_frame_count(len(frames))
            check_burst_size(
                [image_size(frame, DEFAULTS.max_image_pixels) for frame in frames],
                DEFAULTS.max_frame_width_px,
                DEFAULTS.max_frame_height_px,
                DEFAULTS.max_capture_pixels,
            )
            samples = decode_audio(audio, DEFAULTS.max_audio_seconds)
            speech = speech_samples(samples, DEFAULTS.min_speech_seconds)
            if DEFAULTS.quality_checks:
                check_recording_quality(samples, RECORDING_LIMITS)
            check_frames_within_audio(times, 1000 * len(samples) / SAMPLE_RATE)
            if not check_challenge(speech, challenge, models.digit_decoder()).passed:
                raise BenchInputRefused(f"the digits check refused {what}")
            rgb = [load_image(frame, DEFAULTS.max_image_pixels) for frame in frames]
            meshes = [models.landmarker().faces(frame) for frame in rgb]
            if any(len(faces) > 1 for faces in meshes):
                raise BenchInputRefused(f"the landmarker found several faces in {what}")
            one_face = [faces[0] if faces else None for faces in meshes]
            depth = check_structure(one_face, StructureRules())
            if not depth.passed:
                raise BenchInputRefused(f"the depth check refused {what}: {depth.reason}")
            mouths = [mouth_of(mesh) if mesh is not None else None for mesh in one_face]
            sync = check_sync(mouths, times, samples, SyncRules())
            if not sync.passed:
                raise BenchInputRefused(
                    f"the lip sync refused {what}: {sync.reason} (score {sync.score:.3f} at "
                    f"{sync.delay_ms} ms over {sync.frames} frames, mouth movement "
                    f"{sync.movement:.4f})"
                )
            turn_rules = HeadTurnRules()
            noses = [nose_offset(mesh) if mesh is not None else None for mesh in one_face]
            window = head_turn_frames(
                noses, MAX_TURN_FRAMES, MAX_LATER_FRAMES, turn_rules.min_frames
            )
            picked = [rgb[i] for i in window]
            burst = read_burst(picked, models.face, turn, turn_rules)
            if burst.frontal is None:
                raise BenchInputRefused(
                    f"the head-turn check refused {what}: {burst.motion.message}"
                )
            best, face = burst.motion.best_frame, burst.frontal_face
            if DEFAULTS.quality_checks and best is not None and face is not None:
                check_photo_quality(picked[best], face, PHOTO_LIMITS, enrollment=False)
        except FacevoiceError as error:
            raise BenchInputRefused(f"{what} was refused: {error.message}") from error
        return burst.frontal, list(burst.turned), models.voice.embed(speech)


Flow = PlainFlow | DefaultFlow


def speech_of(audio: bytes) -> np.ndarray:
    """A recording decoded and cut to its speech, as every upload is."""
    return load_speech(audio, DEFAULTS.max_audio_seconds, DEFAULTS.min_speech_seconds)


def log_in(visitor: HttpVisitor, flow: Flow) -> tuple[list[float], bool]:
    """One complete log-in; its requests' times and whether every answer was right."""
    times, ok = [], True
    headers = {"X-CSRFToken": visitor.token, "Content-Type": "application/json"}
    bodies = [*flow.bodies(visitor), body(username=USERNAME)]
    for path, data in zip(flow.steps, bodies, strict=True):
        start = time.perf_counter()
        answer = visitor.http.post(visitor.base_url + path, data=data, headers=headers, timeout=120)
        times.append(time.perf_counter() - start)
        if answer.status_code != 200 and ok:
            print(f"  {path} answered {answer.status_code}: {answer.text[:200]}", file=sys.stderr)
        ok = ok and answer.status_code == 200
    return times, ok


def bare_model_times(flow: Flow, repeat: int) -> dict[str, list[float]]:
    """Seconds of each step's model work without the server, ``repeat`` times."""
    models = load_biometrics()
    models.warm_up()
    make_steps = flow.bare(models)
    times: dict[str, list[float]] = {path: [] for path in flow.steps}
    for _ in range(repeat):
        for path, step in zip(flow.steps, make_steps(), strict=True):
            times[path].extend(timed(step, 1))
    return times


def worker_memory_mb(server: ServerProcess) -> list[float]:
    """Resident memory of each gunicorn worker, in MB."""
    sizes = []
    for pid in server.worker_pids():
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                sizes.append(int(line.split()[1]) / 1024)
    return sizes


def cold_start(data_dir: Path, env: dict[str, str], flow: Flow) -> tuple[ServerProcess, float]:
    """Launch the server on a folder with a registered user; seconds to the first log-in."""
    server = ServerProcess(data_dir, env, workers=2)
    answered = 0
    while answered < 3:
        try:
            visitor = HttpVisitor(server.url)
            _, ok = log_in(visitor, flow)
            if ok:
                return server, time.monotonic() - server.started
            answered += 1
        except requests.ConnectionError:
            time.sleep(0.05)
        if server.process.poll() is not None:
            raise RuntimeError(server.log_path.read_text()[-2000:])
    server.stop()
    raise RuntimeError("the benchmark log-in was refused; check the inputs")


def throughput(url: str, flow: Flow, seconds: float, clients: int) -> dict[str, float]:
    """Complete log-ins by concurrent clients for ``seconds``."""
    results: list[tuple[float, bool]] = []
    lock = threading.Lock()
    stop_at = time.monotonic() + seconds

    def client() -> None:
        visitor = HttpVisitor(url)
        while time.monotonic() < stop_at:
            start = time.perf_counter()
            try:
                _, ok = log_in(visitor, flow)
            except requests.RequestException:
                ok = False
            with lock:
                results.append((time.perf_counter() - start, ok))

    threads = [threading.Thread(target=client) for _ in range(clients)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    durations = [d for d, ok in results if ok]
    return {
        "log_ins": len(durations),
        "per_second": len(durations) / elapsed,
        "p95": percentile(durations, 0.95) if durations else float("nan"),
        "errors": sum(1 for _, ok in results if not ok),
    }


def main() -> None:
    """Run the benchmarks of each flow asked for and print their figures against the targets."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--flow", choices=("both", "default", "plain"), default="both")
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--clients", type=int, default=4)
    args = parser.parse_args()
    flows: list[Flow] = [PlainFlow(), DefaultFlow()]
    figures = {}
    try:
        for flow in flows:
            if args.flow in ("both", flow.name):
                figures[flow.name] = bench_flow(flow, args)
    except BenchInputRefused as refusal:
        sys.exit(f"No figures: {refusal}.")
    if "default" in figures:
        plain_bare = figures["plain"]["bare_s"] if "plain" in figures else bare_log_in(PlainFlow())
        ratio = figures["default"]["server_s"] / plain_bare
        print(
            f"Default log-in's server time against the plain flow's bare compute: "
            f"{figures['default']['server_s'] * 1000:.0f} ms / {plain_bare * 1000:.0f} ms = "
            f"{ratio:.2f}, target <= {TARGET_DEFAULT_OVER_PLAIN_BARE}"
        )
        figures["default"]["over_plain_bare"] = round(ratio, 3)
    print(json.dumps(figures))


def bare_log_in(flow: Flow, repeat: int = 10) -> float:
    """Median seconds of a log-in's bare model work, step by step."""
    bare = bare_model_times(flow, repeat)
    return sum(statistics.median(bare[p]) for p in flow.steps)


def bench_flow(flow: Flow, args: argparse.Namespace) -> dict[str, float]:
    """Sign up, cold-start 2 workers, then measure latency, throughput and memory of a flow."""
    env = {"FACEVOICE_RATELIMIT": "off", **flow.env}
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp) / "data"
        setup = ServerProcess(data_dir, env, workers=1)
        setup.wait_ready()
        flow.sign_up(setup.url)
        setup.stop()

        server, cold = cold_start(data_dir, env, flow)
        try:
            server.wait_ready()
            return report(server, flow, cold, args)
        finally:
            server.stop()


def report(
    server: ServerProcess, flow: Flow, cold: float, args: argparse.Namespace
) -> dict[str, float]:
    """Measure latency, throughput and memory on a running server; print and return them."""
    memory_warm = worker_memory_mb(server)
    visitor = HttpVisitor(server.url)
    served: dict[str, list[float]] = {path: [] for path in flow.steps}
    # The server draws the challenges; the bench's fixed input fails a few of them (the clip's
    # mouth and jackson's digits are not one recording, and some readings are not heard as
    # the digits). Such a log-in is counted apart and tried again with a new challenge.
    refused = 0
    while len(served[flow.steps[0]]) < args.requests:
        times, ok = log_in(visitor, flow)
        if not ok:  # the server's answer is printed above
            refused += 1
            if refused > max(3, args.requests // 5):
                raise BenchInputRefused(f"the server refused {refused} benchmark log-ins")
            continue
        for path, seconds in zip(flow.steps, times, strict=True):
            served[path].append(seconds)
    bare = bare_model_times(flow, args.requests)

    print(
        f"facevoice server benchmark, {flow.name} flow: 2 workers, {args.requests} log-ins, "
        f"{args.clients} clients for {args.seconds:.0f} s\n"
    )
    print(f"Cold start (launch to first answered log-in): {cold:.1f} s\n")
    if refused:
        print(f"Refused for the bench's own input, tried again with a new challenge: {refused}\n")
    if isinstance(flow, DefaultFlow):
        print(
            f"Challenges passed over because the lips refuse the bench's input for them: "
            f"{flow.passed_over}\n"
        )
    print("Latency (ms)        server p50  server p95   bare p50   bare p95   p50 ratio")
    for path in flow.steps:
        s50, s95 = percentile(served[path], 0.5), percentile(served[path], 0.95)
        b50, b95 = percentile(bare[path], 0.5), percentile(bare[path], 0.95)
        print(
            f"  {path:16s} {s50 * 1000:10.1f} {s95 * 1000:11.1f} {b50 * 1000:10.1f} "
            f"{b95 * 1000:10.1f} {s50 / b50:11.2f}"
        )
    server_login = sum(statistics.median(served[p]) for p in flow.steps)
    bare_login = sum(statistics.median(bare[p]) for p in flow.steps)
    ratio = server_login / bare_login
    print(
        f"  complete log-in  {server_login * 1000:10.1f} {'':11s} {bare_login * 1000:10.1f} "
        f"{'':10s} {ratio:11.2f}   target <= {TARGET_OVERHEAD}\n"
    )

    result = throughput(server.url, flow, args.seconds, args.clients)
    capacity = 2 / bare_login  # two cores, each doing nothing but the model calls
    share = result["per_second"] / capacity
    print(
        f"Throughput: {result['per_second']:.2f} log-ins/s ({result['log_ins']:.0f} in "
        f"{args.seconds:.0f} s), p95 {result['p95'] * 1000:.0f} ms, errors "
        f"{result['errors']:.0f}"
    )
    print(
        f"  bare model calls allow {capacity:.2f} log-ins/s on 2 cores: {share:.0%} of it, "
        f"target >= {TARGET_THROUGHPUT_SHARE:.0%}\n"
    )
    memory_after = worker_memory_mb(server)
    print(
        "Memory per worker (MB): after warm-up "
        + ", ".join(f"{m:.0f}" for m in memory_warm)
        + "; after the throughput run "
        + ", ".join(f"{m:.0f}" for m in memory_after)
        + f"; target <= {TARGET_WORKER_MB}\n"
    )
    return {
        "cold_start_s": round(cold, 2),
        "server_s": round(server_login, 4),
        "bare_s": round(bare_login, 4),
        "login_overhead_ratio": round(ratio, 3),
        "throughput_per_s": round(result["per_second"], 3),
        "throughput_share": round(share, 3),
        "errors": result["errors"],
        "worker_mb_max": round(max(memory_warm + memory_after), 1),
    }


if __name__ == "__main__":
    main()
