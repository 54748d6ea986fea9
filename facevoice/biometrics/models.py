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
    """The face models, the speaker encoder and the speech recogniser of this process."""

    face: FaceModel
    voice: SpeakerEncoder
    speech: ChallengeDecoder
    mesh: FaceMesh
    warmed: bool = False

    def warm_up(self) -> None:
        """Run each model once, so no request pays for first-call costs."""
        started = time.perf_counter()
        self.face.warm_up()
        self.voice.warm_up()
        self.speech.warm_up()
        self.mesh.warm_up()
        self.warmed = True
        log.info("models warmed up in %.2f s", time.perf_counter() - started)


def load_biometrics(
    face_detect_width_px: int = 480, torch_threads: int = 1, face_landmarker_file: str = ""
) -> Biometrics:
    """The process-wide models (loaded on first call, shared afterwards)."""
    return Biometrics(
        get_face_model(face_detect_width_px),
        get_speaker_encoder(torch_threads),
        get_challenge_decoder(),
        get_face_mesh(face_landmarker_file),
    )
