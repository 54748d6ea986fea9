"""Voice evaluation over a folder with one sub-folder of recordings per speaker.

Recordings are decoded, trimmed and embedded exactly as the server does with an upload. With
``enroll`` K, a speaker's recordings (sorted by name) form consecutive enrollment sets of K;
each set's template is ``enrollment_template`` of their embeddings, and every recording not in
the set is one trial against it. With K = 1 and no crop a trial's score is symmetric, so each
pair of recordings is counted once.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from facevoice.biometrics.audio import SAMPLE_RATE, decode_audio, load_speech, speech_samples
from facevoice.biometrics.vectors import cosine_similarity
from facevoice.biometrics.voice import SpeakerEncoder, enrollment_template
from facevoice.config import Settings
from facevoice.errors import BadAudio, FacevoiceError
from facevoice.evaluation import EvaluationError, Progress, quietly
from facevoice.evaluation.metrics import Scores
from facevoice.evaluation.report import EXCLUDED_SAMPLES, Evaluation

AUDIO_SUFFIXES = frozenset(
    {".wav", ".flac", ".mp3", ".ogg", ".oga", ".opus", ".webm", ".m4a", ".aac", ".mp4"}
)
PART_SOURCE_MAX_SECONDS = 3600.0  # a part may be cut from a long file; the part obeys the limit


@dataclass(frozen=True)
class VoiceSample:
    """One usable recording: its speaker, name, and embeddings (whole, and as a probe)."""

    speaker: str
    name: str
    embedding: np.ndarray
    probe: np.ndarray


def speaker_recordings(root: Path) -> dict[str, list[Path]]:
    """Recordings by speaker: each sub-folder of ``root`` is a speaker."""
    if not root.is_dir():
        raise EvaluationError(f"{root}: no such folder of speakers")
    speakers = {}
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        files = sorted(
            p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in AUDIO_SUFFIXES
        )
        if files:
            speakers[folder.name] = files
    if len(speakers) < 2:
        raise EvaluationError(
            f"{root}: needs sub-folders of recordings for at least two speakers, "
            f"found {len(speakers)} (audio files: {', '.join(sorted(AUDIO_SUFFIXES))})"
        )
    return speakers


def decoded(path: Path, max_seconds: float) -> np.ndarray:
    """A recording decoded to 16 kHz mono as the server decodes an upload (from an open file)."""
    with path.open("rb") as recording:
        return decode_audio(recording, max_seconds)


def recording_speech(
    path: Path, settings: Settings, part: tuple[float, float] | None = None
) -> np.ndarray:
    """The speech of a recording, or of its part (start, end) in seconds, as the server finds it.

    Raises what the server raises for an unusable upload (``BadAudio``, ``UnsupportedMedia``…).
    """
    if part is None:
        with path.open("rb") as recording:
            return load_speech(recording, settings.max_audio_seconds, settings.min_speech_seconds)
    start, end = part
    if end - start > settings.max_audio_seconds:
        raise BadAudio(f"The part lasts longer than {settings.max_audio_seconds:g} seconds.")
    samples = decoded(path, PART_SOURCE_MAX_SECONDS)
    return speech_samples(
        samples[int(start * SAMPLE_RATE) : int(end * SAMPLE_RATE)], settings.min_speech_seconds
    )


def sample_embeddings(
    speech: np.ndarray, encoder: SpeakerEncoder, crop_seconds: float | None
) -> tuple[np.ndarray, np.ndarray]:
    """Embedding of the whole speech, and of its first ``crop_seconds`` (the probe)."""
    embedding = encoder.embed(speech)
    if crop_seconds is None:
        return embedding, embedding
    return embedding, encoder.embed(speech[: int(crop_seconds * SAMPLE_RATE)])


def embed_speakers(
    speakers: dict[str, list[Path]],
    root: Path,
    encoder: SpeakerEncoder,
    settings: Settings,
    crop_seconds: float | None,
    progress: Progress = quietly,
) -> tuple[list[VoiceSample], dict[str, str]]:
    """Every usable recording embedded once, and the reason for each unusable one."""
    files = [(speaker, path) for speaker, paths in speakers.items() for path in paths]
    samples: list[VoiceSample] = []
    unusable: dict[str, str] = {}
    for speaker, path in progress(files, "Embedding voices"):
        name = str(path.relative_to(root))
        try:
            speech = recording_speech(path, settings)
        except FacevoiceError as error:
            unusable[name] = error.message
            continue
        embedding, probe = sample_embeddings(speech, encoder, crop_seconds)
        samples.append(VoiceSample(speaker, name, embedding, probe))
    return samples, unusable


def enrollment_sets(samples: list[VoiceSample], enroll: int) -> list[list[int]]:
    """Consecutive groups of ``enroll`` sample indices per speaker; leftovers are only probes."""
    by_speaker: dict[str, list[int]] = {}
    for index, sample in enumerate(samples):
        by_speaker.setdefault(sample.speaker, []).append(index)
    return [
        indices[start : start + enroll]
        for indices in by_speaker.values()
        for start in range(0, len(indices) - enroll + 1, enroll)
    ]


def voice_scores(samples: list[VoiceSample], enroll: int, symmetric: bool) -> Scores:
    """Similarity of every enrollment template to every recording outside its set."""
    genuine: list[float] = []
    impostor: list[float] = []
    for members in enrollment_sets(samples, enroll):
        template = enrollment_template([samples[i].embedding for i in members])
        speaker = samples[members[0]].speaker
        first = members[0] if symmetric else -1
        for index, probe in enumerate(samples):
            if index in members or index < first:
                continue
            score = cosine_similarity(template, probe.probe)
            (genuine if probe.speaker == speaker else impostor).append(score)
    return Scores.similarities(genuine, impostor)


def evaluate_voices(
    root: Path,
    encoder: SpeakerEncoder,
    settings: Settings,
    enroll: int = 1,
    crop_seconds: float | None = None,
    progress: Progress = quietly,
) -> Evaluation:
    """All genuine and impostor trials of a folder of speakers.

    Recordings without usable speech are listed and left out before trials are formed.
    """
    speakers = speaker_recordings(root)
    samples, unusable = embed_speakers(speakers, root, encoder, settings, crop_seconds, progress)
    symmetric = enroll == 1 and crop_seconds is None
    scores = voice_scores(samples, enroll, symmetric)
    trials = int(scores.genuine.size + scores.impostor.size)
    return Evaluation(trials, scores, unusable, counting=EXCLUDED_SAMPLES)
