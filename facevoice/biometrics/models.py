"""The models facevoice runs, loaded once per process."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from facevoice.biometrics.face import FaceModel, get_face_model
from facevoice.biometrics.landmarks import FaceMesh, get_face_mesh
from facevoice.biometrics.speech import ChallengeDecoder, get_challenge_decoder
from facevoice.biometrics.voice import SpeakerEncoder, get_speaker_encoder

log = logging.getLogger(__name__)


@dataclass
class Biometrics:
    """The face models, the speaker encoder and, where a challenge needs them, the speech
    recogniser (spoken digits) and the face landmarker (the one-capture log-in) of this
    process."""

    face: FaceModel
    voice: SpeakerEncoder
    speech: ChallengeDecoder | None
    mesh: FaceMesh | None
    warmed: bool = False

    def warm_up(self) -> None:
        """Run each model once, so no request pays for first-call costs."""
        started = time.perf_counter()
        self.face.warm_up()
        self.voice.warm_up()
        for optional in (self.speech, self.mesh):
            if optional is not None:
                optional.warm_up()
        self.warmed = True
        log.info("models warmed up in %.2f s", time.perf_counter() - started)

    def landmarker(self) -> FaceMesh:
        """The face landmarker; only a process serving a challenge loads it."""
        if self.mesh is None:
            raise RuntimeError("the face landmarker is loaded only while a challenge is on")
        return self.mesh

    def digit_decoder(self) -> ChallengeDecoder:
        """The spoken-digit decoder; only a process serving the voice challenge loads it."""
        if self.speech is None:
            raise RuntimeError("the digit decoder is loaded only while the voice challenge is on")
        return self.speech


def load_biometrics(
    face_detect_width_px: int = 480,
    torch_threads: int = 1,
    face_landmarker_file: str = "",
    landmarks: bool = True,
    digits: bool = True,
) -> Biometrics:
    """The process-wide models (loaded on first call, shared afterwards).

    ``landmarks`` and ``digits`` load the face landmarker and the digit decoder: a deployment
    without challenges (the photo-then-voice flow) needs neither and saves their memory.
    """
    return Biometrics(
        get_face_model(face_detect_width_px),
        get_speaker_encoder(torch_threads),
        get_challenge_decoder() if digits else None,
        get_face_mesh(face_landmarker_file) if landmarks else None,
    )
