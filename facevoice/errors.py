"""Errors that carry an HTTP status and a message a person can act on.

The biometric and storage layers raise these; the web layer turns them into JSON answers.
"""

from __future__ import annotations


class FacevoiceError(Exception):
    """Base class: ``status`` is the HTTP status, ``message`` is shown to the user."""

    status = 400
    default_message = "The request could not be processed."

    def __init__(self, message: str | None = None) -> None:
        self.message = message or self.default_message
        super().__init__(self.message)


class BadInput(FacevoiceError):
    """Malformed input: missing field, broken Base64, invalid username."""

    status = 400
    default_message = "The request is malformed."


class MissingSample(FacevoiceError):
    """A sign-up or log-in was finished before its photo or voice was taken."""

    status = 400
    default_message = "Take the photo and record your voice first."


class UsernameTaken(FacevoiceError):
    """Sign-up under a name that is already registered."""

    status = 409
    default_message = "This username is already taken. Choose another one."


class TooLarge(FacevoiceError):
    """An upload over a size limit."""

    status = 413
    default_message = "The upload is too large."


class UnsupportedMedia(FacevoiceError):
    """Bytes that are not an image or a recording in a supported format."""

    status = 415
    default_message = "This file type is not supported."


class Unusable(FacevoiceError):
    """Understood but unusable for biometrics."""

    status = 422
    default_message = "The sample cannot be used."


class NoFaceFound(Unusable):
    """No face in the photo."""

    default_message = (
        "No face found. Face the camera in good light, with your whole face in the frame."
    )


class TooManyFaces(Unusable):
    """More than one face in the photo: we cannot tell which one is the user."""

    default_message = "More than one face found. Make sure only you are in the picture."


class BadAudio(Unusable):
    """A recording with too little speech, or too long."""

    default_message = "No usable speech in the recording. Speak clearly, close to the microphone."


class PoorCapture(Unusable):
    """A photo or recording too poor to enroll or compare; the message is the one fix that fits."""

    default_message = "The sample is too poor to use. Take it again in good conditions."


class AccountLocked(FacevoiceError):
    """Too many consecutive failed log-ins: the next try must wait."""

    status = 429

    def __init__(self, retry_after_seconds: int) -> None:
        self.retry_after_seconds = retry_after_seconds
        super().__init__(
            f"Too many failed log-ins for this account. Wait {retry_after_seconds} seconds, "
            "then try again."
        )


class AccountDisabled(FacevoiceError):
    """So many consecutive failed log-ins that an administrator must re-enable the account."""

    status = 403
    default_message = (
        "Log-in for this account is disabled after too many failed attempts. Ask the site's "
        "administrator to re-enable it."
    )


class ChallengeMissing(BadInput):
    """A log-in sample without a live challenge: never asked for, used already, or expired."""

    default_message = (
        "This log-in step needs a fresh challenge: ask for one (GET /log_in/challenge) and try "
        "again. Each challenge is used once and lasts 2 minutes."
    )


class LivenessFailed(Unusable):
    """A log-in sample that does not answer its challenge (digits not heard, no head turn)."""

    default_message = "The challenge was not answered. Try again with a new one."


class ReauthenticationRequired(FacevoiceError):
    """A sensitive account change asked of a log-in that is not recent enough."""

    status = 401
    default_message = (
        "For this change, log in again first: it needs a log-in from the last few minutes."
    )


class ServiceUnavailable(FacevoiceError):
    """A service the request needs (database, Redis) does not answer: try again shortly."""

    status = 503
    default_message = "The service is briefly unavailable. Try again in a few seconds."
    retry_after_seconds = 5


class ConfigurationError(ValueError):
    """Settings that are invalid or would run the site unsafely; the message says what to do."""


def short_reason(error: BaseException) -> str:
    """The first line of an error's message (a driver's own error if it wraps one), for logs."""
    cause = getattr(error, "orig", None) or error
    lines = str(cause).strip().splitlines()
    return (lines[0] if lines else type(cause).__name__)[:200]


class PasskeysOff(FacevoiceError):
    """A passkey route on a site whose operator switched passkeys (or this use) off."""

    status = 404
    default_message = "Passkeys are not used on this site."


class PasskeyRefused(FacevoiceError):
    """A passkey that did not prove anything: wrong device, replayed, expired or malformed."""

    status = 401
    default_message = (
        "The passkey was not accepted. Use the device where you made it for this account, "
        "and try again."
    )


class PasskeyNeeded(FacevoiceError):
    """A log-in step of an account with a passkey, before the passkey was confirmed."""

    status = 401
    default_message = (
        "This account has a passkey: confirm it first, then take your photo and record your voice."
    )
