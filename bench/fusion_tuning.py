"""Both fusion rules on the tuning trials the LLR calibration was fitted on.

    .venv/bin/python bench/fusion_tuning.py /tmp/facevoice-clip /tmp/facevoice-voices

Face trials are the clip's frame pairs (eval/clip_frames.py writes the frames), voice trials
those of the calibration speakers with 3 recordings enrolled (eval/build_voice_folders.py).
No person has both, so every face trial is paired with every voice trial (chimeric log-ins,
assuming the two are independent): genuine with genuine, impostor with impostor, and the
half-impostors an LLR sum could let through (the right face with a wrong voice, and the
other way round). Each pair is decided by ``FusionRule.accepts``, the server's test.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from facevoice.auth.biometric import fusion_rule
from facevoice.biometrics.face import EMBEDDING_SIZE
from facevoice.biometrics.fusion import FUSIONS, FusionRule
from facevoice.config import Settings
from facevoice.evaluation.cli import _face_scores, _voice_scores

PAIRS = Path(__file__).resolve().parents[1] / "eval" / "faces-pairs-clip.csv"


def accepted(rule: FusionRule, faces: np.ndarray, voices: np.ndarray) -> int:
    """How many of the len(faces) x len(voices) chimeric log-ins the rule accepts."""
    count = 0
    for face in faces:
        face_within = face <= rule.face_max_distance
        voice_within = voices >= rule.voice_min_similarity
        if rule.face is None or rule.voice is None:
            count += int(np.sum(face_within & voice_within))
            continue
        llr = rule.face.llr(face) + rule.voice.llr(voices)
        count += int(np.sum(face_within & voice_within & (llr >= rule.min_llr_sum)))
    return count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("clip", type=Path, help="Folder of eval/clip_frames.py.")
    parser.add_argument("voices", type=Path, help="Folder of eval/build_voice_folders.py.")
    args = parser.parse_args()
    settings = Settings.from_env()
    face = _face_scores(PAIRS, args.clip, settings)
    calibration = args.voices / "calibration"
    voice = _voice_scores((calibration / "digits", calibration / "librispeech"), settings, 3, None)
    kinds = {
        "genuine": (face.genuine, voice.genuine),
        "impostor": (face.impostor, voice.impostor),
        "right face, wrong voice": (face.genuine, voice.impostor),
        "wrong face, right voice": (face.impostor, voice.genuine),
    }
    for name in FUSIONS:
        rule = fusion_rule(settings, np.zeros(EMBEDDING_SIZE), name)
        print(
            f"{name}: face distance <= {rule.face_max_distance:.3f}, voice similarity >= "
            f"{rule.voice_min_similarity:.3f}"
            + (f", LLR sum >= {rule.min_llr_sum:g}" if rule.face else "")
        )
        for kind, (faces, voices) in kinds.items():
            total = faces.size * voices.size
            count = accepted(rule, faces, voices)
            print(f"  {kind:24s} accepted {count:>9,} of {total:>9,} ({count / total:.3%})")


if __name__ == "__main__":
    main()
