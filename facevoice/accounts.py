"""Sign-up and log-in, independent of the web: samples in, decisions out.

Data flows one way: an uploaded sample is decoded in memory (never written to disk) and
embedded; the embeddings wait in the attempt until sign-up stores them as the user's
templates, or log-in compares them with the templates.
"""

from __future__ import annotations

import logging

import numpy as np

from facevoice.auth import passkey
from facevoice.auth.biometric import BiometricFactor, samples
from facevoice.auth.factors import BIOMETRIC, PASSKEY
from facevoice.auth.policy import decide, raise_if_locked, refuse_if_locked
from facevoice.auth.recovery_codes import RecoveryCodes
from facevoice.auth.recovery_codes import new_set as new_recovery_codes
from facevoice.biometrics.audio import SAMPLE_RATE, decode_audio, speech_samples
from facevoice.biometrics.capture import (
    MAX_LATER_FRAMES,
    MAX_TURN_FRAMES,
    CaptureUpload,
    check_capture_frame_count,
    check_frames_within_audio,
    head_turn_frames,
)
from facevoice.biometrics.face import mean_embedding
from facevoice.biometrics.images import image_size, load_image
from facevoice.biometrics.lipsync import SyncRules, check_sync, mouth_of
from facevoice.biometrics.liveness import (
    SEVERAL_FACES,
    BurstReading,
    FaceChallenge,
    HeadTurnRules,
    advice_for,
    check_burst_size,
    read_burst,
)
from facevoice.biometrics.models import Biometrics
from facevoice.biometrics.quality import (
    PhotoLimits,
    RecordingLimits,
    check_photo_quality,
    check_recording_quality,
)
from facevoice.biometrics.speech import ADVICE as SPOKEN_CHALLENGE_ADVICE
from facevoice.biometrics.speech import Challenge, check_challenge
from facevoice.biometrics.structure import StructureRules, check_structure, nose_offset
from facevoice.biometrics.voice import enrollment_template
from facevoice.config import Settings
from facevoice.errors import (
    LivenessFailed,
    MissingSample,
    PasskeyNeeded,
    Unusable,
    UsernameTaken,
)
from facevoice.storage.attempts import SIGN_UP, Attempt, username_key
from facevoice.storage.database import (
    Database,
    User,
    audit_event,
    create_user,
    get_user,
    is_registered,
    record_event,
)
from facevoice.storage.lockout import (
    LockoutPolicy,
    LockoutState,
    lockout_state,
    record_failure,
    reserve_attempt,
    reset_failures,
)
from facevoice.storage.templates import FACE, VOICE, TemplateCipher

log = logging.getLogger(__name__)


class Accounts:
    """The operations behind the pages: take a photo, record a voice, sign up, log in.

    Each factor lives in ``facevoice.auth`` (``biometric``: the comparisons;
    ``recovery_codes``: the codes, ``recovery`` here) and the policy there decides; this
    class captures samples and runs the sign-up and the biometric log-in around them.
    """

    def __init__(
        self, settings: Settings, database: Database, cipher: TemplateCipher, models: Biometrics
    ) -> None:
        self.settings = settings
        self.database = database
        self.cipher = cipher
        self.models = models
        self.turn_rules = HeadTurnRules()
        self.sync_rules = SyncRules()
        self.structure_rules = StructureRules()
        self.skipped_checks = frozenset(
            name.strip() for name in settings.testing_skip_checks.split(",") if name.strip()
        )
        self.photo_limits = PhotoLimits()
        self.recording_limits = RecordingLimits(min_speech_seconds=settings.min_speech_seconds)
        self.lockout = LockoutPolicy(
            settings.lockout_after_failures,
            settings.lockout_wait_seconds,
            settings.disable_after_failures,
        )
        self.biometric = BiometricFactor(settings, database, cipher, self.turn_rules)
        self.recovery = RecoveryCodes(database, self.lockout)
        self.passkey = passkey.PasskeyFactor(settings, database)

    def take_photo(self, attempt: Attempt, image: bytes) -> None:
        """Embed the single face of a photo into the attempt; the photo is decoded in memory
        and never outlives this call.

        With ``quality_checks`` on, a poor photo raises ``PoorCapture`` (422) with advice
        before anything is kept; the pose is checked for an enrollment only.
        """
        rgb = load_image(image, self.settings.max_image_pixels)
        attempt.save_face(self._checked_embedding(rgb, enrollment=attempt.flow == SIGN_UP))

    def take_enrollment_burst(self, attempt: Attempt, frames: list[bytes]) -> int:
        """Enroll the mean face of the frames of a short sign-up burst that pass the checks.

        The frames' sizes are checked from their headers first, as a log-in burst's. Each
        frame with exactly one face that passes the quality checks (pose included) is
        embedded; the attempt keeps the mean of those embeddings (``mean_embedding``). Returns
        how many frames were used. When none is usable, the refusal of the first frame is
        raised (``NoFaceFound``, ``TooManyFaces`` or ``PoorCapture``, all 422).
        """
        settings = self.settings
        self._check_burst_size(frames)
        embeddings: list[np.ndarray] = []
        first_refusal: Unusable | None = None
        for frame in frames:
            try:
                embeddings.append(
                    self._checked_embedding(
                        load_image(frame, settings.max_image_pixels), enrollment=True
                    )
                )
            except Unusable as refusal:
                first_refusal = first_refusal or refusal
        if not embeddings:
            assert first_refusal is not None  # a burst holds at least one frame
            raise first_refusal
        attempt.save_face(mean_embedding(embeddings))
        return len(embeddings)

    def _checked_embedding(self, rgb: np.ndarray, enrollment: bool) -> np.ndarray:
        """The embedding of a photo's single face, after its quality checks (the pose too for
        an ``enrollment``)."""
        face = self.models.face.single_face(rgb)
        if self.settings.quality_checks:
            check_photo_quality(rgb, face, self.photo_limits, enrollment=enrollment)
        return self.models.face.descriptor(rgb, face)

    def record_voice(self, attempt: Attempt, audio: bytes, phrase: int | None = None) -> int:
        """Embed a recording's speaker into the attempt; return how many phrases it holds.

        With ``quality_checks`` on, a clipped, quiet or noisy recording raises ``PoorCapture``
        (422) with advice. The recording is decoded to 16 kHz mono in memory: no raw audio is
        written to disk.
        """
        _, speech = self._read_recording(audio)
        embedding = self.models.voice.embed(speech)
        return attempt.save_voice(embedding, phrase)

    def take_capture(
        self,
        attempt: Attempt,
        capture: CaptureUpload,
        turn: FaceChallenge | None,
        digits: Challenge | None,
        client_ip: str,
    ) -> None:
        """Check a one-capture log-in without the template and keep its samples in the attempt.

        The frames' sizes are checked from their headers, then the recording is read (quality,
        and the ``digits`` when given), then the frames' landmarks: one face on every frame,
        a head rather than a picture (``structure``, when a ``turn`` is asked), the mouth
        moving with the speech (``lipsync``); then the ``turn`` when given (as a burst's, on
        frames spread over the turn and a few over the rest: ``head_turn_frames``). A failed
        check raises ``LivenessFailed`` (422) with advice and counts as a failed log-in;
        nothing is kept.
        Checks named in ``testing_skip_checks`` are skipped (tests only).
        """
        settings, skip = self.settings, self.skipped_checks
        check_capture_frame_count(len(capture.frames))
        self._check_burst_size(capture.frames, settings.max_capture_pixels)
        samples, speech = self._read_recording(capture.audio)
        check_frames_within_audio(capture.frame_times_ms, 1000 * len(samples) / SAMPLE_RATE)
        if digits is not None and "digits" not in skip:
            self._check_digits(speech, digits, attempt.username, client_ip)
        rgb = [load_image(frame, settings.max_image_pixels) for frame in capture.frames]
        meshes = [self.models.landmarker().faces(frame) for frame in rgb]
        one_face = self._check_capture_landmarks(
            meshes, turn, capture, samples, attempt.username, client_ip
        )
        frontal, turned = self._read_capture_turn(rgb, one_face, turn, attempt.username, client_ip)
        attempt.save_face(frontal)
        attempt.save_burst(turned)
        attempt.save_voice(self.models.voice.embed(speech), None)

    def _check_capture_landmarks(
        self,
        meshes: list[list[np.ndarray]],
        turn: FaceChallenge | None,
        capture: CaptureUpload,
        samples: np.ndarray,
        username: str,
        client_ip: str,
    ) -> list[np.ndarray | None]:
        """The capture's checks on its landmarks alone (cheap, so before the turn's): one face
        per frame, a head rather than a picture when a ``turn`` is asked, and the lips.
        Returns each frame's face mesh (None where no face was found)."""
        skip = self.skipped_checks
        if any(len(faces) > 1 for faces in meshes):
            self._failed_challenge(username, client_ip, "face_challenge_failed")
            raise LivenessFailed(advice_for([SEVERAL_FACES]))
        one_face = [faces[0] if faces else None for faces in meshes]
        if turn is not None and "depth" not in skip:
            structure = check_structure(one_face, self.structure_rules)
            if not structure.passed:
                self._failed_challenge(username, client_ip, "face_challenge_failed")
                raise LivenessFailed(structure.advice)
        if "sync" not in skip:
            mouths = [mouth_of(mesh) if mesh is not None else None for mesh in one_face]
            sync = check_sync(mouths, capture.frame_times_ms, samples, self.sync_rules)
            if not sync.passed:
                self._failed_challenge(username, client_ip, "lip_sync_failed")
                raise LivenessFailed(sync.advice)
        return one_face

    def _read_capture_turn(
        self,
        rgb: list[np.ndarray],
        meshes: list[np.ndarray | None],
        turn: FaceChallenge | None,
        username: str,
        client_ip: str,
    ) -> tuple[np.ndarray, list[np.ndarray]]:
        """The frontal and turned embeddings of a capture, after its head-turn check on the
        frames of the turn (found from the landmarks) and a few after it."""
        if turn is None or "turn" in self.skipped_checks:
            return self._checked_embedding(rgb[0], enrollment=False), []
        noses = [nose_offset(mesh) if mesh is not None else None for mesh in meshes]
        picked = head_turn_frames(
            noses, MAX_TURN_FRAMES, MAX_LATER_FRAMES, self.turn_rules.min_frames
        )
        frames = [rgb[i] for i in picked]
        burst = read_burst(frames, self.models.face, turn, self.turn_rules)
        if burst.frontal is None:
            self._failed_challenge(username, client_ip, "face_challenge_failed")
            raise LivenessFailed(burst.motion.message)
        self._check_burst_frame_quality(frames, burst)
        return burst.frontal, list(burst.turned)

    def _check_burst_frame_quality(self, frames: list[np.ndarray], burst: BurstReading) -> None:
        """The quality checks on the burst's frame compared with the template (no pose limit)."""
        best, face = burst.motion.best_frame, burst.frontal_face
        if self.settings.quality_checks and best is not None and face is not None:
            # As already decoded and found.
            check_photo_quality(frames[best], face, self.photo_limits, enrollment=False)

    def _read_recording(self, audio: bytes) -> tuple[np.ndarray, np.ndarray]:
        """A recording decoded to 16 kHz mono in memory, and its speech; ``PoorCapture`` (422)
        with advice for a clipped, quiet or noisy one when ``quality_checks`` is on."""
        samples = decode_audio(audio, self.settings.max_audio_seconds)
        speech = speech_samples(samples, self.settings.min_speech_seconds)
        if self.settings.quality_checks:  # on the whole recording: its pauses give the noise
            check_recording_quality(samples, self.recording_limits)
        return samples, speech

    def _check_digits(
        self, speech: np.ndarray, challenge: Challenge, username: str, client_ip: str
    ) -> None:
        """``LivenessFailed`` (422), counted as a failed log-in, unless the speech says the
        challenge's digits."""
        if not check_challenge(speech, challenge, self.models.digit_decoder()).passed:
            self._failed_challenge(username, client_ip, "voice_challenge_failed")
            raise LivenessFailed(SPOKEN_CHALLENGE_ADVICE)

    def _check_burst_size(self, frames: list[bytes], max_total_pixels: int | None = None) -> None:
        """``TooLarge`` for a burst over the frame or total pixel limits, from headers only."""
        settings = self.settings
        check_burst_size(
            [image_size(frame, settings.max_image_pixels) for frame in frames],
            settings.max_frame_width_px,
            settings.max_frame_height_px,
            max_total_pixels or settings.max_burst_pixels,
        )

    def _failed_challenge(self, username: str, client_ip: str, outcome: str) -> None:
        """An unanswered challenge is a failed presentation: audited and counted for lockout.

        It is counted here, once: the sample is not kept, so the log-in that follows stops at
        the missing sample before reserving a try of its own.
        """
        record_failure(self.database, username, self.lockout)
        record_event(self.database, "log_in", username, client_ip, outcome, factors=BIOMETRIC)

    def sign_up(
        self, username: str, attempt: Attempt | None, client_ip: str
    ) -> tuple[User, list[str]]:
        """Register ``username`` from the attempt's samples, with its ten recovery codes.

        Returns the user and the codes to show once; the sign-up goes to the audit log.

        ``UsernameTaken`` if the name exists, ``MissingSample`` if a sample is missing.
        """
        try:
            if is_registered(self.database, username):
                raise UsernameTaken()
            if attempt is None:
                raise MissingSample()
            return self.register(attempt, client_ip)
        except (UsernameTaken, MissingSample) as error:
            outcome = "name_taken" if isinstance(error, UsernameTaken) else "missing_sample"
            record_event(self.database, "sign_up", username, client_ip, outcome)
            raise

    def log_in(
        self,
        username: str,
        attempt: Attempt | None,
        client_ip: str,
        proven: tuple[str, ...] | list[str] = (),
    ) -> User | None:
        """Decide a log-in: the user if face and voice both match, else None.

        An account with a passkey must have proved it in this session (``proven``) first:
        ``PasskeyNeeded`` (401) otherwise, whatever the samples, and the samples are not
        compared (NIST SP 800-63B-4 §3.2.3: the device is authenticated first).

        Locked-out names raise ``AccountLocked`` or ``AccountDisabled`` before any work; a
        missing sample raises ``MissingSample`` and is not counted. The try is then reserved
        (checked and counted as a failure in one atomic step, cleared on success) before
        the samples are compared, so parallel log-ins never get more tries than the lockout
        allows. Every decision goes to the audit log.
        """
        self._refuse_if_locked(
            lockout_state(self.database, username, self.lockout), username, client_ip
        )
        self.require_passkey_first(username, proven, client_ip)
        try:
            if attempt is None:
                raise MissingSample()
            samples(attempt)
        except MissingSample:
            record_event(
                self.database, "log_in", username, client_ip, "missing_sample", factors=BIOMETRIC
            )
            raise
        self._refuse_if_locked(
            reserve_attempt(self.database, username, self.lockout), username, client_ip
        )
        user, result = self.biometric.verify(attempt)
        if decide([*proven, *result.proven]).accepted:
            reset_failures(self.database, username)
            outcome = "accepted"
        else:
            outcome = "refused" if user is not None else "unknown_user"
        record_event(
            self.database,
            "log_in",
            username,
            client_ip,
            outcome,
            result.face.distance,
            result.voice.similarity,
            factors=[*(name for name in proven if name == PASSKEY), *BIOMETRIC],
        )
        return user if outcome == "accepted" else None

    def may_try(self, username: str) -> None:
        """``AccountLocked`` (429) or ``AccountDisabled`` (403) when ``username`` must wait.

        Asked before any sample is taken, so that a person learns it before turning the
        camera on. Only a read: nothing is counted or audited, since nothing was tried. The
        counters exist for unregistered names too, so the answer never says who exists.
        """
        raise_if_locked(lockout_state(self.database, username, self.lockout))

    def require_passkey_first(
        self, username: str, proven: tuple[str, ...] | list[str], client_ip: str
    ) -> None:
        """``PasskeyNeeded`` (audited) when the account has a passkey not proved yet.

        Asked before a log-in sample is taken, and again before the log-in is decided.
        """
        if PASSKEY in proven:
            return
        with self.database.session() as session:
            user = get_user(session, username)
        if user is None or not passkey.has_passkey(self.database, user):
            return
        record_event(
            self.database, "log_in", username, client_ip, "passkey_required", factors=BIOMETRIC
        )
        raise PasskeyNeeded()

    def _refuse_if_locked(self, state: LockoutState, username: str, client_ip: str) -> None:
        refuse_if_locked(self.database, state, username, client_ip, BIOMETRIC)

    def register(self, attempt: Attempt, client_ip: str) -> tuple[User, list[str]]:
        """Create the attempt's user with both templates, recovery codes, the passkey added
        during the sign-up (if any) and its audit entry.

        All are written in one transaction; returns the user and the codes (in clear, to
        show once: only their hashes are kept). Raises if a sample is missing.
        """
        face, voices = samples(attempt)
        key = username_key(attempt.username)
        added = attempt.passkey()
        if added is None and self.passkey.mode == passkey.REQUIRED:
            raise MissingSample("Add a passkey first: this site needs one for every account.")
        codes, code_rows = new_recovery_codes()
        user = create_user(
            self.database,
            attempt.username,
            face=self.cipher.seal(face, key, FACE),
            voice=self.cipher.seal(enrollment_template(voices), key, VOICE),
            event=audit_event("sign_up", attempt.username, client_ip, "registered"),
            recovery_codes=code_rows,
            passkeys=[passkey.NewPasskey.from_json(added).row()] if added is not None else [],
        )
        return user, codes
