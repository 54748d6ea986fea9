"""Genuine pass rates and attack acceptance rates of the liveness checks (ISO/IEC 30107-3).

BPCER: share of genuine presentations refused. APCER: share of attack presentations accepted,
per attack type. Everything runs on the real models and on ../shared/data:

- spoken challenge: FSDD speakers (8 kHz recordings of single digits, joined with short pauses
  into a read challenge), LibriSpeech phrases (enrollment recordings replayed), espeak-ng
  voices (synthetic speech);
- head turn: the one-person part of short_hamilton_clip.mp4 (and its mirror image for turns
  to the left), and photos of the people under faces/people/ (held up, or spliced into the
  clip's turn).

    python bench/liveness_rates.py                      # both parts, held-out FSDD takes
    python bench/liveness_rates.py --part speech --split tune --dump /tmp/speech-tune.json

FSDD takes 0-24 ("tune") chose the challenge design and threshold; takes 25-49 ("test") give
the reported figures. Single-threaded: about 3 minutes for the speech part and 2 for the face
part on this 2-core machine.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from facevoice.biometrics.audio import SAMPLE_RATE, pcm16  # noqa: E402
from facevoice.biometrics.face import FaceModel, get_face_model  # noqa: E402
from facevoice.biometrics.liveness import (  # noqa: E402
    SIDES,
    FaceChallenge,
    FrameReading,
    HeadTurnRules,
    Side,
    judge_burst,
    judge_head_turn,
    read_frame,
)
from facevoice.biometrics.speech import (  # noqa: E402
    CHALLENGE_DIGITS,
    Challenge,
    ChallengeDecoder,
    get_challenge_decoder,
    judge_challenge,
    new_challenge,
)
from facevoice.biometrics.voice import (  # noqa: E402
    SpeakerEncoder,
    enrollment_template,
    get_speaker_encoder,
    voice_check,
)
from facevoice.config import Settings  # noqa: E402
from tests import media  # noqa: E402

FSDD_SPEAKERS = ("george", "jackson", "lucas", "nicolas", "theo", "yweweler")
SPLIT_TAKES = {"tune": range(0, 25), "test": range(25, 50)}
ESPEAK_VOICES = ("en-us", "en-gb", "en-gb-scotland", "en-029", "en-gb-x-rp", "en-gb-x-gbclan")
ESPEAK_VARIANTS = ("m1", "m2", "m3", "m4", "m7", "f1", "f2", "f3", "f4", "klatt")
VOICE_MIN_SIMILARITY = Settings().voice_min_similarity
FACE_MAX_DISTANCE = Settings().face_max_fused_distance
CLIP_TEMPLATE_FRAME = 176
CLIP_TURN = (84, 172)  # frames where the clip's one person turns to their right and back
# (template photo, photos shown to the camera) of people with two or more photos.
PHOTO_USERS = (
    (
        "people/obama/obama.jpg",
        ("people/obama/obama.jpg", "obama2.jpg", "obama3.jpg", "obama-720p.jpg"),
    ),
    ("people/biden/biden.jpg", ("people/biden/biden.jpg", "people/biden/biden2.jpg")),
    ("people/kit_harington/john1.jpeg", ("people/kit_harington/john2.jpeg",)),
    ("people/rose_leslie/img1.jpg", ("people/rose_leslie/img1.jpg", "people/rose_leslie/img2.jpg")),
)
MOVED_BURSTS = 4  # moved-photo bursts per photo, each judged for both sides


# A burst read frame by frame: readings, SFace descriptors and fused embeddings (every frame's,
# so one reading serves both sides; check_head_turn computes the fused ones it needs only).
Burst = tuple[list[FrameReading], list[np.ndarray | None], list[np.ndarray | None]]


def read_frames(frames: list[np.ndarray], model: FaceModel) -> Burst:
    """Every frame's reading, SFace descriptor and fused embedding."""
    readings, sface, fused = [], [], []
    for frame in frames:
        reading, face = read_frame(frame, model)
        descriptor = model.sface_descriptor(frame, face) if face is not None else None
        readings.append(reading)
        sface.append(descriptor)
        fused.append(model.descriptor(frame, face, descriptor) if face is not None else None)
    return readings, sface, fused


@dataclass
class Tally:
    """Accepted presentations out of all of one kind."""

    accepted: int = 0
    total: int = 0

    def add(self, accepted: bool) -> None:
        """Count one presentation."""
        self.accepted += int(accepted)
        self.total += 1

    def rate(self) -> str:
        """Accepted share with its 95 % Wilson upper bound."""
        if not self.total:
            return "-"
        share, upper = self.accepted / self.total, wilson_upper(self)
        return f"{self.accepted}/{self.total} = {100 * share:.1f} % (≤ {100 * upper:.1f} %)"


@dataclass
class Report:
    """Tallies by name, with raw scores for later threshold studies."""

    tallies: dict[str, Tally] = field(default_factory=dict)
    scores: dict[str, list[float]] = field(default_factory=dict)
    seconds: dict[str, list[float]] = field(default_factory=dict)

    def count(self, name: str, accepted: bool) -> None:
        """Count one presentation of kind ``name``."""
        self.tallies.setdefault(name, Tally()).add(accepted)

    def note(self, table: dict[str, list[float]], name: str, value: float) -> None:
        """Keep one raw value."""
        table.setdefault(name, []).append(value)


def wilson_upper(tally: Tally, z: float = 1.96) -> float:
    """Upper end of the 95 % Wilson score interval of an accepted share."""
    n, share = tally.total, tally.accepted / tally.total
    centre = share + z * z / (2 * n)
    spread = z * math.sqrt(share * (1 - share) / n + z * z / (4 * n * n))
    return (centre + spread) / (1 + z * z / n)


def timed(report: Report, name: str, call: Callable[[], object]) -> object:
    """Run ``call``, noting its duration under ``name``."""
    started = time.perf_counter()
    result = call()
    report.note(report.seconds, name, time.perf_counter() - started)
    return result


# Spoken challenge


def read_aloud(speaker: str, digits: str, takes: range, rng: random.Random) -> np.ndarray:
    """An FSDD speaker reading ``digits``: random takes of the split, pauses of 0.05-0.3 s."""
    chosen = [rng.choice(takes) for _ in digits]
    pauses = [rng.uniform(0.05, 0.3) for _ in digits]
    return media.spoken_digits(speaker, digits, chosen, pauses)


def one_digit_changed(digits: str, rng: random.Random) -> str:
    """``digits`` with one position replaced by another challenge digit."""
    position = rng.randrange(len(digits))
    other = rng.choice([d for d in CHALLENGE_DIGITS if d != digits[position]])
    return digits[:position] + other + digits[position + 1 :]


def check_audio(
    report: Report,
    decoder: ChallengeDecoder,
    samples: np.ndarray,
    attempts: list[tuple[str, str]],
) -> dict[str, bool]:
    """Check one recording against challenges (kind, digits), counting each under its kind.

    The free decode runs once per recording; the cost of one check (free decode and one
    alignment, as ``check_challenge`` does) is noted for the first challenge.
    """
    audio = pcm16(samples)
    started = time.perf_counter()
    heard, best = decoder.best_digits(audio)
    outcome = {}
    for kind, digits in attempts:
        result = judge_challenge(heard, best, decoder.align(audio, Challenge(digits).words))
        if not outcome:
            report.note(report.seconds, "speech check", time.perf_counter() - started)
            report.note(report.seconds, "speech audio", samples.size / SAMPLE_RATE)
        report.count(kind, result.passed)
        report.note(report.scores, kind, result.details.deficit)
        outcome[kind] = result.passed
    return outcome


def speech_fsdd(report: Report, decoder: ChallengeDecoder, split: str, per_speaker: int) -> None:
    """Genuine read challenges, other digits and near misses by the same FSDD speaker."""
    rng = random.Random(f"fsdd-{split}")
    for speaker in FSDD_SPEAKERS:
        for _ in range(per_speaker):
            challenge = new_challenge(rng).digits
            said = read_aloud(speaker, challenge, SPLIT_TAKES[split], rng)
            attempts = [
                ("FSDD genuine", challenge),
                # Two other challenges per recording: twice the attacks for one free decode.
                ("attack 2: same speaker, other digits", new_challenge(rng).digits),
                ("attack 2: same speaker, other digits", new_challenge(rng).digits),
                ("attack 2b: same speaker, one digit off", one_digit_changed(challenge, rng)),
            ]
            outcome = check_audio(report, decoder, said, attempts)
            report.count(f"  FSDD genuine, {speaker}", outcome["FSDD genuine"])


def librispeech_phrases() -> dict[str, list[np.ndarray]]:
    """Every LibriSpeech speaker's 3 s phrases."""
    size = int(media.PHRASE_SECONDS * SAMPLE_RATE)
    phrases = {}
    for path in sorted(media.LIBRISPEECH.glob("*.flac")):
        samples = media.utterance(path.stem)
        phrases[path.stem] = [
            samples[i : i + size] for i in range(0, samples.size - size + 1, size)
        ]
    return phrases


def speech_replay(report: Report, decoder: ChallengeDecoder, phrases: dict) -> None:
    """Enrollment phrases (LibriSpeech) replayed at log-in against a fresh challenge."""
    rng = random.Random("replay")
    for parts in phrases.values():
        for part in parts[:2]:
            attempt = ("attack 1: enrollment replayed", new_challenge(rng).digits)
            check_audio(report, decoder, part, [attempt])


def speech_synthetic(
    report: Report, decoder: ChallengeDecoder, encoder: SpeakerEncoder, phrases: dict, count: int
) -> None:
    """espeak-ng saying the challenge: content check, then speaker check against real people."""
    rng = random.Random("espeak")
    templates = [
        enrollment_template([encoder.embed(p) for p in parts[:3]])
        for parts in phrases.values()
        if len(parts) >= 3
    ]
    for _ in range(count):
        challenge = new_challenge(rng)
        voice = f"{rng.choice(ESPEAK_VOICES)}+{rng.choice(ESPEAK_VARIANTS)}"
        samples = media.espeak(challenge.text, voice, rng.randrange(120, 190))
        content = check_audio(
            report, decoder, samples, [("espeak genuine content", challenge.digits)]
        )
        embedding = encoder.embed(samples)
        for template in templates:
            matched = voice_check(template, embedding, VOICE_MIN_SIMILARITY).matched
            report.count("attack 3: espeak voice, speaker check", matched)
            report.count(
                "attack 3: espeak voice, content and speaker",
                matched and content["espeak genuine content"],
            )


def silence_and_noise(report: Report, decoder: ChallengeDecoder) -> None:
    """Recordings with no speech at all (the web layer refuses them earlier too)."""
    rng = random.Random("noise")
    for seed in range(10):
        noise = np.random.default_rng(seed).standard_normal(3 * SAMPLE_RATE) * 0.05
        attempt = ("noise, no speech", new_challenge(rng).digits)
        check_audio(report, decoder, noise.astype(np.float32), [attempt])


# Head turn


def clip_readings(model: FaceModel) -> tuple[np.ndarray, dict[bool, dict[int, tuple]]]:
    """Template of the clip's person and every frame of the turn read, plain and mirrored."""
    template = model.embed(media.clip_frames([CLIP_TEMPLATE_FRAME])[0])
    indices = list(range(CLIP_TURN[0], CLIP_TURN[1] + 1))
    readings = {}
    for mirror in (False, True):
        frames = media.clip_frames(indices, mirror=mirror)
        read = read_frames(frames, model)
        readings[mirror] = {i: tuple(part[n] for part in read) for n, i in enumerate(indices)}
    return template, readings


def impostor_frames(model: FaceModel) -> list[tuple]:
    """One-face frames of every photo of PHOTO_USERS, flat and turned by ±30°, as read."""
    frames = []
    for _, shown in PHOTO_USERS:
        for photo in shown:
            picture = media.webcam_photo(photo)
            for degrees in (0, 30, -30):
                frames.append(media.turned_photo_frame(picture, degrees))
    read = read_frames(frames, model)
    return [frame for frame in zip(*read, strict=True) if frame[0].faces == 1]


def head_turn_windows(
    report: Report,
    template: np.ndarray,
    readings: dict,
    tries: int,
    rules: HeadTurnRules,
    impostors: list[tuple],
) -> None:
    """Bursts of 8-12 frames over 1.6-3 s of the real turn: genuine, and the other side asked."""
    rng = random.Random("windows")
    splices = random.Random("splices")  # its own draws: the genuine windows stay as they were
    for attempt in range(tries):
        mirror = attempt % 2 == 1
        side, other = ("left", "right") if mirror else ("right", "left")
        start, end = rng.randint(84, 100), rng.randint(148, 172)
        count = rng.randint(8, 12)
        picks = np.linspace(start, end, count) + [rng.uniform(-1.5, 1.5) for _ in range(count)]
        picked = [readings[mirror][int(np.clip(round(p), start, end))] for p in picks]
        burst: Burst = tuple([frame[part] for frame in picked] for part in range(3))  # type: ignore[assignment]
        report.count("head turn genuine", judge(burst, side, template, rules))
        report.count("attack 5: turn to the wrong side", judge(burst, other, template, rules))
        # Another person's face (a photo, flat or turned) in two consecutive frames mid-turn.
        face = splices.choice(impostors)
        position = splices.randint(1, count - 3)
        swapped = [*picked[:position], face, face, *picked[position + 2 :]]
        burst = tuple([frame[part] for frame in swapped] for part in range(3))  # type: ignore[assignment]
        report.count("attack 6: another face spliced mid-turn", judge(burst, side, template, rules))


def photo_attacks(report: Report, model: FaceModel, rules: HeadTurnRules) -> None:
    """Photos of the user held before the camera: still, moved, and turned like a head."""
    for template_photo, shown in PHOTO_USERS:
        template = model.embed(np.asarray(media.webcam_photo(template_photo)))
        for photo in shown:
            still = read_burst(report, media.photo_burst(photo), template, model)
            moved = [
                read_burst(report, media.photo_burst(photo, moved=True, seed=s), template, model)
                for s in range(MOVED_BURSTS)
            ]
            for side in SIDES:
                report.count("attack 4a: still photo", judge(still, side, template, rules))
                for burst in moved:
                    report.count(
                        "attack 4b: photo moved, scaled, tilted",
                        judge(burst, side, template, rules),
                    )
            for degrees in (30, 45, 60):
                turned = [
                    read_burst(
                        report, media.turned_photo_burst(photo, max_degrees=d), template, model
                    )
                    for d in (degrees, -degrees)
                ]
                for side in SIDES:
                    # The attacker turns the print whichever way works for the side asked.
                    passed = any(judge(burst, side, template, rules) for burst in turned)
                    report.count("attack 4c: photo turned in perspective (known gap)", passed)


def read_burst(
    report: Report, frames: list[np.ndarray], template: np.ndarray, model: FaceModel
) -> Burst:
    """Every frame of a burst read as ``check_head_turn`` reads it, timed per frame."""
    started = time.perf_counter()
    burst = read_frames(frames, model)
    seconds = (time.perf_counter() - started) / len(frames)
    report.note(report.seconds, "head turn per frame (all fused)", seconds)
    return burst


def judge(burst: Burst, side: Side, template: np.ndarray, rules: HeadTurnRules) -> bool:
    """Whether a burst already read passes a challenge to turn to ``side``."""
    readings, sface, fused = burst

    def embed(index: int) -> np.ndarray:
        embedding = fused[index]
        assert embedding is not None  # asked only for frames with one face
        return embedding

    read = judge_burst(readings, sface, embed, FaceChallenge(side), rules)
    return judge_head_turn(read, template, FACE_MAX_DISTANCE, rules).passed


# Output


def print_report(report: Report) -> None:
    """Print accepted shares by kind and the costs."""
    width = max(len(k) for k in report.tallies)
    for kind, tally in report.tallies.items():
        print(f"{kind:<{width}}  accepted {tally.rate()}")
    for name, values in report.seconds.items():
        if name == "speech audio":
            continue
        ordered = sorted(values)
        p95 = ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]
        print(f"{name}: mean {statistics.fmean(values):.3f} s, 95th percentile {p95:.3f} s")
    if "speech audio" in report.seconds:
        print(f"speech audio: mean {statistics.fmean(report.seconds['speech audio']):.2f} s")


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark parts asked for and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--part", choices=("speech", "face", "all"), default="all")
    parser.add_argument("--split", choices=tuple(SPLIT_TAKES), default="test")
    parser.add_argument("--per-speaker", type=int, default=40, help="FSDD challenges per speaker")
    parser.add_argument("--espeak", type=int, default=60, help="synthetic challenge readings")
    parser.add_argument("--windows", type=int, default=400, help="genuine head-turn bursts")
    parser.add_argument("--dump", type=Path, help="write raw scores and timings as JSON here")
    args = parser.parse_args(argv)

    report = Report()
    if args.part in ("speech", "all"):
        decoder = get_challenge_decoder()
        decoder.warm_up()
        speech_fsdd(report, decoder, args.split, args.per_speaker)
        phrases = librispeech_phrases()
        speech_replay(report, decoder, phrases)
        speech_synthetic(report, decoder, get_speaker_encoder(), phrases, args.espeak)
        silence_and_noise(report, decoder)
    if args.part in ("face", "all"):
        model = get_face_model()
        model.warm_up()
        rules = HeadTurnRules()
        template, readings = clip_readings(model)
        impostors = impostor_frames(model)
        head_turn_windows(report, template, readings, args.windows, rules, impostors)
        photo_attacks(report, model, rules)
    print_report(report)
    if args.dump:
        args.dump.write_text(json.dumps(asdict(report)))


if __name__ == "__main__":
    main()
