"""The face-and-voice factor: one log-in attempt's samples against the user's templates,
and re-enrollment of either template.

Face and voice are proven together, by the photo (or head-turn burst) and the recording of
one attempt, so they share this module; each still counts as its own factor
(``facevoice.auth.factors``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from facevoice.auth.factors import BIOMETRIC, FACE, VOICE
from facevoice.biometrics.face import FaceMatch, is_legacy, max_distance_for, verify_face
from facevoice.biometrics.fusion import (
    THRESHOLDS,
    Calibration,
    FusionRule,
    check_fusion,
    llr_rule,
    thresholds_rule,
)
from facevoice.biometrics.liveness import HeadTurnRules, burst_matches
from facevoice.biometrics.vectors import normalise
from facevoice.biometrics.voice import VoiceMatch, enrollment_template, voice_check
from facevoice.config import Settings
from facevoice.errors import MissingSample
from facevoice.storage.attempts import Attempt
from facevoice.storage.database import Database, User, get_user, record_event
from facevoice.storage.templates import FACE as FACE_TEMPLATE
from facevoice.storage.templates import VOICE as VOICE_TEMPLATE
from facevoice.storage.templates import TemplateCipher


@dataclass(frozen=True)
class Verification:
    """Both comparisons of a log-in and the fusion rule's decision (``decide_log_in``)."""

    face: FaceMatch
    voice: VoiceMatch
    accepted: bool
    llr: float | None = None  # the summed LLR in nats, under the llr rule only

    @property
    def proven(self) -> tuple[str, ...]:
        """The factors this verification proved: face and voice together, or none."""
        return BIOMETRIC if self.accepted else ()


def fusion_rule(settings: Settings, face_template: np.ndarray, fusion: str = "") -> FusionRule:
    """The rule deciding log-ins against ``face_template``: ``fusion``, else the configured one.

    A legacy dlib-only template keeps the thresholds rule (its distance is not the fused
    one the face LLR is calibrated on) until the account enrolls again.
    """
    name = check_fusion(fusion or settings.fusion)
    if name == THRESHOLDS or is_legacy(face_template):
        face_limit = max_distance_for(
            face_template, settings.face_max_fused_distance, settings.face_max_cosine_distance
        )
        return thresholds_rule(face_limit, settings.voice_min_similarity)
    return configured_llr_rule(settings)


def configured_llr_rule(settings: Settings) -> FusionRule:
    """The ``llr`` rule with the configured calibrations, sum and floor."""
    return llr_rule(
        Calibration(settings.face_llr_offset, settings.face_llr_per_distance),
        Calibration(settings.voice_llr_offset, settings.voice_llr_per_similarity),
        settings.llr_min_sum,
        settings.llr_min_each,
    )


def decide_log_in(
    settings: Settings,
    face_template: np.ndarray,
    voice_template: np.ndarray,
    face: np.ndarray,
    voice: np.ndarray,
    burst: Sequence[np.ndarray] = (),
    turned_distance_factor: float = HeadTurnRules.turned_distance_factor,
    fusion: str = "",
) -> Verification:
    """Decide one log-in's face and voice against the templates: the server's decision and
    ``facevoice evaluate fused``'s.

    The face must be within the rule's face limit, and after a head-turn ``burst`` the peak
    of the turn within ``turned_distance_factor`` times that; the voice within its limit;
    then the rule decides (``fusion`` names one, else the configured ``FACEVOICE_FUSION``).
    """
    rule = fusion_rule(settings, face_template, fusion)
    face_match = verify_face(face_template, face, rule.face_max_distance)
    if burst and face_match.matched:
        matched = burst_matches(
            face_template, face, burst, rule.face_max_distance, turned_distance_factor
        )
        face_match = FaceMatch(matched=matched, distance=face_match.distance)
    voice_match = voice_check(voice_template, voice, rule.voice_min_similarity)
    llr = rule.llr(face_match.distance, voice_match.similarity)
    accepted = rule.accepts(face_match.matched, voice_match.matched, llr)
    return Verification(face=face_match, voice=voice_match, accepted=accepted, llr=llr)


def enrollment_samples(
    attempt: Attempt | None, parts: tuple[str, ...]
) -> tuple[np.ndarray | None, list[np.ndarray]]:
    """The attempt's samples of the factors to enroll; ``MissingSample`` if one is missing."""
    if attempt is None:
        raise MissingSample()
    if set(parts) == set(BIOMETRIC):
        return samples(attempt)
    face, voices = attempt.face(), attempt.voices()
    if FACE in parts and face is None:
        raise MissingSample("Take your photo first.")
    if VOICE in parts and not voices:
        raise MissingSample("Record your voice first.")
    return (face if FACE in parts else None), (voices if VOICE in parts else [])


def samples(attempt: Attempt) -> tuple[np.ndarray, list[np.ndarray]]:
    """The attempt's face and voice phrases; ``MissingSample`` says which is missing."""
    face, voices = attempt.face(), attempt.voices()
    if face is None and not voices:
        raise MissingSample("Take your photo and record your voice first.")
    if face is None:
        raise MissingSample("Take your photo first.")
    if not voices:
        raise MissingSample("Record your voice first.")
    return face, voices


class BiometricFactor:
    """Compares an attempt's samples with the stored templates."""

    def __init__(
        self,
        settings: Settings,
        database: Database,
        cipher: TemplateCipher,
        turn_rules: HeadTurnRules,
    ) -> None:
        check_fusion(settings.fusion)
        self.settings = settings
        self.database = database
        self.cipher = cipher
        self.turn_rules = turn_rules

    def verify(self, attempt: Attempt) -> tuple[User | None, Verification]:
        """Compare the attempt's samples with the user's templates.

        An unknown user is compared with random templates, so it costs the same work and
        fails like a wrong face would.
        """
        face, voices = samples(attempt)
        with self.database.session() as session:
            user = get_user(session, attempt.username)
        face_template, voice_template = self._templates(user, face.size, voices[-1].size)
        result = decide_log_in(
            self.settings,
            face_template,
            voice_template,
            face,
            voices[-1],
            attempt.burst(),
            self.turn_rules.turned_distance_factor,
        )
        return (user, result) if user is not None else (None, _refused(result))

    def re_enroll(
        self, user: User, attempt: Attempt | None, parts: tuple[str, ...], client_ip: str
    ) -> None:
        """Replace the templates of ``parts`` (face, voice or both) from the attempt's samples.

        Nothing changes unless every sample of ``parts`` is there (``MissingSample``
        otherwise); the new templates and the audit entry are written in one transaction.
        """
        face, voices = enrollment_samples(attempt, parts)
        key = user.username_key
        with self.database.session() as session:
            stored = session.get(User, user.id)
            if stored is None:
                raise MissingSample("This account no longer exists.")
            if face is not None:
                stored.face_template = self.cipher.seal(face, key, FACE_TEMPLATE)
            if voices:
                template = enrollment_template(voices)
                stored.voice_template = self.cipher.seal(template, key, VOICE_TEMPLATE)
            record_event(
                self.database,
                "account",
                user.username,
                client_ip,
                "re_enrolled",
                session=session,
                factors=parts,
            )

    def _templates(
        self, user: User | None, face_size: int, voice_size: int
    ) -> tuple[np.ndarray, np.ndarray]:
        if user is None:
            rng = np.random.default_rng()
            return (
                normalise(rng.standard_normal(face_size)),
                normalise(rng.standard_normal(voice_size)),
            )
        return (
            self.cipher.open(user.face_template, user.username_key, FACE_TEMPLATE),
            self.cipher.open(user.voice_template, user.username_key, VOICE_TEMPLATE),
        )


def _refused(result: Verification) -> Verification:
    """A verification forced to fail, keeping the (meaningless) scores for the audit log."""
    return Verification(
        face=FaceMatch(matched=False, distance=result.face.distance),
        voice=VoiceMatch(matched=False, similarity=result.voice.similarity),
        accepted=False,
        llr=result.llr,
    )
