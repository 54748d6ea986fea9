"""Fused evaluation: log-ins decided as ``/log_in`` decides (``decide_log_in``), under each
fusion rule: face and voice each past their threshold, or their calibrated LLRs summed.

A persons file lists people, each with photos (``faces``) and recordings (``voices``), paths
relative to the file. A voice may also be a part of a recording:
``{"path": "long.flac", "start": 3.0, "end": 6.0}`` (seconds). Each person is enrolled with
their first usable face and up to three usable voices (one fewer when that leaves a voice
to log in with); every combination of their other faces and voices is a genuine attempt, and
every combination of another person's faces and voices a zero-effort impostor attempt.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from itertools import product
from pathlib import Path
from typing import Any

import numpy as np

from facevoice.auth.biometric import Verification, decide_log_in
from facevoice.biometrics.face import FaceModel
from facevoice.biometrics.fusion import FUSIONS
from facevoice.biometrics.voice import SpeakerEncoder, enrollment_template
from facevoice.config import Settings
from facevoice.errors import FacevoiceError
from facevoice.evaluation import EvaluationError, Progress, quietly, require_files
from facevoice.evaluation.faces import face_embedding
from facevoice.evaluation.voices import recording_speech

MAX_ENROLL_VOICES = 3


@dataclass(frozen=True)
class VoiceRef:
    """A recording, or a part of it from ``part[0]`` to ``part[1]`` seconds."""

    path: Path
    part: tuple[float, float] | None = None

    @property
    def label(self) -> str:
        """How the recording is named in reports."""
        if self.part is None:
            return str(self.path)
        return f"{self.path} [{self.part[0]:g}-{self.part[1]:g} s]"


@dataclass(frozen=True)
class Person:
    """One person of a persons file: their photos and recordings."""

    name: str
    faces: list[Path]
    voices: list[VoiceRef]


@dataclass(frozen=True)
class Embedded:
    """A person's usable samples, embedded, in file order."""

    name: str
    faces: list[np.ndarray]
    voices: list[np.ndarray]

    @property
    def enroll_voices(self) -> int:
        """How many voices enroll: up to three, leaving one to log in with if possible."""
        return max(1, min(MAX_ENROLL_VOICES, len(self.voices) - 1))

    @property
    def enrollable(self) -> bool:
        """Whether the person has a usable face and voice to enroll with."""
        return bool(self.faces) and bool(self.voices)


def _per_kind() -> dict[str, int]:
    return {"genuine": 0, "impostor": 0}


@dataclass
class FusedResult:
    """Attempts and acceptances by kind ("genuine", "impostor"), and what was left out."""

    attempts: dict[str, int] = field(default_factory=_per_kind)
    accepted: dict[str, int] = field(default_factory=_per_kind)
    face_matched: dict[str, int] = field(default_factory=_per_kind)
    voice_matched: dict[str, int] = field(default_factory=_per_kind)
    unusable: dict[str, str] = field(default_factory=dict)
    not_enrolled: list[str] = field(default_factory=list)

    def count(self, kind: str, verification: Verification) -> None:
        """Add one attempt of ``kind`` and its outcome."""
        self.attempts[kind] += 1
        self.accepted[kind] += verification.accepted
        self.face_matched[kind] += verification.face.matched
        self.voice_matched[kind] += verification.voice.matched

    def as_dict(self) -> dict[str, int]:
        """The issue's JSON keys."""
        return {
            "genuine_attempts": self.attempts["genuine"],
            "genuine_accepted": self.accepted["genuine"],
            "impostor_attempts": self.attempts["impostor"],
            "impostor_accepted": self.accepted["impostor"],
        }


def read_persons(path: Path) -> list[Person]:
    """The persons of a JSON file (a list, or an object with a "persons" list)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise EvaluationError(f"{path}: no such persons file") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise EvaluationError(f"{path}: not a readable JSON file ({error})") from None
    entries = data.get("persons") if isinstance(data, dict) else data
    if not isinstance(entries, list) or len(entries) < 2:
        raise EvaluationError(f"{path}: expected a list of at least two persons")
    persons = [_person(entry, i, path.parent, path) for i, entry in enumerate(entries, 1)]
    paths = [p for person in persons for p in person.faces + [v.path for v in person.voices]]
    require_files(paths, "faces or voices")
    return persons


def _person(entry: Any, number: int, folder: Path, source: Path) -> Person:
    where = f"{source}, person {number}"
    if not isinstance(entry, dict):
        raise EvaluationError(f"{where}: expected an object with faces and voices")
    faces, voices = entry.get("faces"), entry.get("voices")
    if not _strings(faces) or not isinstance(voices, list) or not voices:
        raise EvaluationError(f"{where}: faces and voices must be non-empty lists of paths")
    name = str(entry.get("name") or f"person {number}")
    return Person(name, [folder / f for f in faces], [_voice(v, folder, where) for v in voices])


def _strings(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, str) for v in value)


def _voice(value: Any, folder: Path, where: str) -> VoiceRef:
    if isinstance(value, str):
        return VoiceRef(folder / value)
    if not isinstance(value, dict) or not isinstance(value.get("path"), str):
        raise EvaluationError(f"{where}: a voice is a path or {{path, start, end}}: {value!r}")
    start, end = value.get("start", 0.0), value.get("end")
    if not all(isinstance(v, int | float) for v in (start, end)) or not 0 <= start < end:
        raise EvaluationError(f"{where}: a voice part needs 0 <= start < end seconds: {value!r}")
    return VoiceRef(folder / value["path"], (float(start), float(end)))


def _voice_embedding(
    voice: VoiceRef, encoder: SpeakerEncoder, settings: Settings
) -> np.ndarray | str:
    try:
        return encoder.embed(recording_speech(voice.path, settings, voice.part))
    except FacevoiceError as error:
        return error.message


def embed_persons(
    persons: list[Person],
    face_model: FaceModel,
    encoder: SpeakerEncoder,
    settings: Settings,
    progress: Progress = quietly,
) -> tuple[list[Embedded], dict[str, str]]:
    """Every person's usable samples embedded as the server embeds them; reasons for the rest."""
    unusable: dict[str, str] = {}
    embedded = []
    for person in progress(persons, "Embedding persons"):
        pixels = settings.max_image_pixels
        faces = [(str(p), face_embedding(p, face_model, pixels)) for p in person.faces]
        voices = [(v.label, _voice_embedding(v, encoder, settings)) for v in person.voices]
        for label, result in faces + voices:
            if isinstance(result, str):
                unusable[label] = result
        embedded.append(
            Embedded(
                person.name,
                [e for _, e in faces if not isinstance(e, str)],
                [e for _, e in voices if not isinstance(e, str)],
            )
        )
    return embedded, unusable


def log_in_decision(
    face_template: np.ndarray,
    voice_template: np.ndarray,
    face: np.ndarray,
    voice: np.ndarray,
    settings: Settings,
    fusion: str = "",
) -> Verification:
    """Decide a face and a voice against the templates as ``/log_in`` does (no burst)."""
    return decide_log_in(settings, face_template, voice_template, face, voice, fusion=fusion)


def rules_in_order(settings: Settings) -> list[str]:
    """Every fusion rule, the configured one (the server's) first."""
    return [settings.fusion, *(name for name in FUSIONS if name != settings.fusion)]


def evaluate_persons(
    persons: list[Person],
    face_model: FaceModel,
    encoder: SpeakerEncoder,
    settings: Settings,
    progress: Progress = quietly,
) -> dict[str, FusedResult]:
    """Embed every person's samples, then decide every log-in under each fusion rule."""
    embedded, unusable = embed_persons(persons, face_model, encoder, settings, progress)
    results = evaluate_fused(embedded, settings)
    for result in results.values():
        result.unusable.update(unusable)
    return results


def evaluate_fused(embedded: list[Embedded], settings: Settings) -> dict[str, FusedResult]:
    """Enroll every person, then try every genuine and zero-effort impostor log-in under each
    fusion rule (the configured one first), on the same trials."""
    rules = rules_in_order(settings)
    results = {name: FusedResult() for name in rules}
    for person in embedded:
        if not person.enrollable:
            for result in results.values():
                result.not_enrolled.append(person.name)
            continue
        face_template = person.faces[0]
        voice_template = enrollment_template(person.voices[: person.enroll_voices])
        attempts = [("genuine", person.faces[1:], person.voices[person.enroll_voices :])]
        attempts += [("impostor", o.faces, o.voices) for o in embedded if o is not person]
        for kind, faces, voices in attempts:
            for face, voice in product(faces, voices):
                for name in rules:
                    verification = log_in_decision(
                        face_template, voice_template, face, voice, settings, name
                    )
                    results[name].count(kind, verification)
    return results
