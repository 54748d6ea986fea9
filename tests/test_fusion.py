"""Issue 13 §4: the fused face and voice decision, thresholds or calibrated LLRs summed."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pytest

from facevoice.auth.biometric import BiometricFactor, decide_log_in, fusion_rule
from facevoice.biometrics.face import DLIB_SCALE, EMBEDDING_SIZE, SFACE_SCALE, face_distance
from facevoice.biometrics.fusion import (
    LLR,
    THRESHOLDS,
    Calibration,
    FusionRule,
    check_fusion,
    llr_rule,
)
from facevoice.biometrics.liveness import HeadTurnRules
from facevoice.config import Settings
from facevoice.evaluation.calibration import fit_llr
from facevoice.evaluation.metrics import Scores
from facevoice.storage.attempts import username_key
from facevoice.storage.database import Database, create_user
from facevoice.storage.templates import FACE, VOICE, TemplateCipher, parse_key

# LLR = 20 - 10 x distance (0 at 2.0) and -10 + 20 x similarity (0 at 0.5); sum >= 9.
FACE_LLR = Calibration(offset=20.0, slope=-10.0)
VOICE_LLR = Calibration(offset=-10.0, slope=20.0)
RULE = llr_rule(FACE_LLR, VOICE_LLR, min_llr_sum=9.0, min_llr_each=0.0)
LLR_SETTINGS = Settings(
    face_llr_offset=20.0,
    face_llr_per_distance=-10.0,
    voice_llr_offset=-10.0,
    voice_llr_per_similarity=20.0,
    llr_min_sum=9.0,
    llr_min_each=0.0,
)
CIPHER = TemplateCipher(parse_key("22" * 32))


def decided(rule: FusionRule, face_distance: float, voice_similarity: float) -> bool:
    """The rule's decision on two scores, as ``decide_log_in`` reaches it."""
    face_within = face_distance <= rule.face_max_distance
    voice_within = voice_similarity >= rule.voice_min_similarity
    return rule.accepts(face_within, voice_within, rule.llr(face_distance, voice_similarity))


def at_cosine(similarity: float, size: int) -> np.ndarray:
    """A unit vector whose cosine with the first axis is ``similarity``."""
    vector = np.zeros(size)
    vector[0], vector[1] = similarity, math.sqrt(1 - similarity**2)
    return vector


def face_pair(distance: float) -> tuple[np.ndarray, np.ndarray]:
    """A face template and a probe at this fused distance (each model at its share)."""
    half = EMBEDDING_SIZE // 2
    template = np.concatenate([at_cosine(1.0, half), at_cosine(1.0, half)])
    probe = np.concatenate(
        [at_cosine(1 - distance * DLIB_SCALE, half), at_cosine(1 - distance * SFACE_SCALE, half)]
    )
    return template, probe


def test_a_strong_face_cannot_carry_a_voice_below_the_floor() -> None:
    # Face LLR 20, voice LLR -1: the sum (19) clears 9, but the voice favours an impostor.
    assert not decided(RULE, face_distance=0.0, voice_similarity=0.45)


def test_a_strong_voice_cannot_carry_a_face_below_the_floor() -> None:
    assert not decided(RULE, face_distance=2.1, voice_similarity=1.0)


def test_moderately_good_face_and_voice_pass_when_their_llrs_sum_high_enough() -> None:
    # 20 - 12 = 8 and -10 + 15 = 5: neither reaches 9 alone, together 13.
    assert decided(RULE, face_distance=1.2, voice_similarity=0.75)


def test_face_and_voice_above_their_floors_are_refused_when_the_sum_is_too_small() -> None:
    # 20 - 16 = 4 and -10 + 12 = 2: both above 0, the sum 6 below 9.
    assert not decided(RULE, face_distance=1.6, voice_similarity=0.6)


def test_the_floor_is_a_score_limit_for_each_modality() -> None:
    assert (RULE.face_max_distance, RULE.voice_min_similarity) == (2.0, 0.5)


def test_the_thresholds_rule_needs_each_score_past_its_own_threshold() -> None:
    rule = fusion_rule(Settings(), np.zeros(EMBEDDING_SIZE), THRESHOLDS)
    assert rule.llr(0.0, 1.0) is None
    assert decided(rule, face_distance=1.2, voice_similarity=0.67)
    assert not decided(rule, face_distance=0.0, voice_similarity=0.669)


def test_a_legacy_dlib_only_template_keeps_the_thresholds_rule() -> None:
    rule = fusion_rule(LLR_SETTINGS, np.zeros(128), LLR)
    assert rule.name == THRESHOLDS and rule.face_max_distance == Settings().face_max_cosine_distance


def test_an_unknown_fusion_setting_is_refused_at_start() -> None:
    with pytest.raises(ValueError, match="FACEVOICE_FUSION='sum'"):
        check_fusion("sum")


def test_calibrations_of_the_wrong_direction_are_refused() -> None:
    with pytest.raises(ValueError, match="must fall with distance"):
        llr_rule(VOICE_LLR, VOICE_LLR, 9.0, 0.0)


def test_decide_log_in_reports_the_summed_llr_under_the_llr_rule() -> None:
    face_template, face = face_pair(1.2)
    voice_template, voice = at_cosine(1.0, 192), at_cosine(0.75, 192)
    result = decide_log_in(LLR_SETTINGS, face_template, voice_template, face, voice, fusion=LLR)
    assert face_distance(face_template, face) == pytest.approx(1.2)
    assert result.accepted and result.llr == pytest.approx(13.0)
    assert result.proven == ("face", "voice")


def test_fit_llr_of_separated_distances_is_finite_and_falls_with_distance() -> None:
    fit = fit_llr(Scores.distances([0.1, 0.2, 0.3], [1.5, 1.6, 1.7, 1.8]))
    assert math.isfinite(fit.slope) and fit.slope < 0
    # Equal priors: the LLR crosses zero between the two classes.
    assert 0.3 < -fit.offset / fit.slope < 1.5


@dataclass
class Samples:
    """A log-in attempt's samples, as ``BiometricFactor.verify`` reads them."""

    username: str
    probe_face: np.ndarray
    probe_voice: np.ndarray
    turned: list[np.ndarray] = field(default_factory=list)

    def face(self) -> np.ndarray:
        """The photo's embedding."""
        return self.probe_face

    def voices(self) -> list[np.ndarray]:
        """The recordings' embeddings."""
        return [self.probe_voice]

    def burst(self) -> list[np.ndarray]:
        """No head-turn burst."""
        return self.turned


@pytest.mark.parametrize(("fusion", "accepted"), [(THRESHOLDS, False), (LLR, True)])
def test_the_log_in_decision_follows_the_fusion_setting(fusion: str, accepted: bool) -> None:
    # Face at 1.3: past the 1.2 threshold, within the LLR floor (2.0); a very good voice.
    face_template, face = face_pair(1.3)
    voice_template, voice = at_cosine(1.0, 192), at_cosine(0.95, 192)
    database = Database("sqlite://")
    database.upgrade()
    key = username_key("alice")
    sealed = CIPHER.seal(face_template, key, FACE), CIPHER.seal(voice_template, key, VOICE)
    create_user(database, "alice", *sealed)
    settings = Settings(**{**LLR_SETTINGS.__dict__, "fusion": fusion})
    factor = BiometricFactor(settings, database, CIPHER, HeadTurnRules())
    user, result = factor.verify(Samples("alice", face, voice))  # type: ignore[arg-type]
    assert user is not None and result.accepted is accepted
