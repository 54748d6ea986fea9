"""The face-and-voice factor: one log-in attempt's samples against the user's templates,
and re-enrollment of either template.

Face and voice are proven together, by the photo (or head-turn burst) and the recording of
one attempt, so they share this module; each still counts as its own factor
(``facevoice.auth.factors``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from facevoice.auth.factors import BIOMETRIC, FACE, VOICE
from facevoice.biometrics.face import FaceMatch, max_distance_for, verify_face
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
    """Both comparisons of a log-in; it succeeds only when both match."""

    face: FaceMatch
    voice: VoiceMatch

    @property
    def accepted(self) -> bool:
        """Whether the face and the voice both match."""
        return self.face.matched and self.voice.matched

    @property
    def proven(self) -> tuple[str, ...]:
        """The factors this verification proved."""
        return tuple(
            name
            for name, matched in ((FACE, self.face.matched), (VOICE, self.voice.matched))
            if matched
        )


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
        result = Verification(
            face=self._verify_face(face_template, face, attempt.burst()),
            voice=voice_check(voice_template, voices[-1], self.settings.voice_min_similarity),
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

    def _verify_face(
        self, template: np.ndarray, face: np.ndarray, burst: list[np.ndarray]
    ) -> FaceMatch:
        """The face's match; after a head-turn burst the peak of the turn must match too."""
        limit = max_distance_for(
            template, self.settings.face_max_fused_distance, self.settings.face_max_cosine_distance
        )
        match = verify_face(template, face, limit)
        if burst and match.matched:
            matched = burst_matches(
                template, face, burst, limit, self.turn_rules.turned_distance_factor
            )
            return FaceMatch(matched=matched, distance=match.distance)
        return match

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
    )
