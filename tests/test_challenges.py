"""Issue 5 through HTTP: the spoken and head-turn challenges of a log-in, and the attacks."""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import pytest
from PIL import Image

from facevoice import accounts, create_app
from facevoice.biometrics.audio import wav_bytes
from facevoice.biometrics.liveness import check_burst_size
from facevoice.config import Settings
from facevoice.errors import TooLarge
from facevoice.storage.lockout import LockoutPolicy, lockout_state
from facevoice.web.services import EXTENSION
from tests import media
from tests.conftest import Visitor
from tests.media import (
    FRONTAL_FRAME,
    jackson_phrase,
    jackson_reading,
    jpeg,
    still_burst,
    turn_burst,
)

CHALLENGE = "47192"
FIXED = {
    "voice_challenge": True,
    "face_challenge": True,
    "fixed_voice_challenge": CHALLENGE,
    "fixed_face_turn": "right",
}


def blank_png(width: int, height: int) -> bytes:
    """A plain PNG frame: a few kilobytes however many pixels it has."""
    buffer = io.BytesIO()
    Image.new("L", (width, height), 128).save(buffer, "PNG")
    return buffer.getvalue()


class Challenger(Visitor):
    """A visitor that answers the log-in challenges."""

    def challenge(self) -> dict[str, Any]:
        """GET /log_in/challenge."""
        answer = self.client.get("/log_in/challenge", headers={"Accept": "application/json"})
        assert answer.status_code == 200, answer.json
        return answer.json

    def turn(self, username: str, frames: list[bytes] | tuple[bytes, ...]):  # type: ignore[no-untyped-def]
        """POST a head-turn burst."""
        return self.post(
            "/take_photo", username=username, flow="log_in", frames=[media.b64(f) for f in frames]
        )

    def say(self, username: str, audio: bytes):  # type: ignore[no-untyped-def]
        """POST the log-in recording."""
        return self.record_voice(username, "log_in", audio)


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    """Challenges on, with a known challenge (only the testing configuration accepts that)."""
    return FIXED


@pytest.fixture
def challenger(app) -> Challenger:  # type: ignore[no-untyped-def]
    """A visitor of the app with challenges on."""
    return Challenger(app.test_client())


@pytest.fixture
def hamilton(challenger: Challenger) -> str:
    """The clip's person, signed up with a frontal frame and three phrases of jackson."""
    assert (
        challenger.take_photo(
            "hamilton", "sign_up", jpeg(media.clip_frames([FRONTAL_FRAME])[0])
        ).status_code
        == 200
    )
    for index in range(3):
        assert (
            challenger.record_voice("hamilton", "sign_up", jackson_phrase(index)).status_code == 200
        )
    assert challenger.post("/sign_up", username="hamilton").status_code == 201
    return "hamilton"


def test_challenges_are_on_by_default() -> None:
    defaults = Settings()
    assert defaults.voice_challenge and defaults.face_challenge
    assert defaults.challenge_seconds == 120


@pytest.mark.parametrize("settings_overrides", [{"voice_challenge": True, "face_challenge": True}])
def test_challenge_gives_digits_a_side_and_a_lifetime(challenger: Challenger) -> None:
    answers = [challenger.challenge() for _ in range(6)]
    for answer in answers:
        digits = answer["challenge"].split()
        assert len(digits) == 5 and set(digits) <= set("12345789")
        assert answer["turn"] in {"left", "right"}
        assert answer["turn"] in answer["instruction"]
        assert answer["expires_in"] == 120
    assert len({a["challenge"] for a in answers}) > 1


def test_genuine_log_in_answers_both_challenges(challenger: Challenger, hamilton: str) -> None:
    assert challenger.challenge()["challenge"] == "4 7 1 9 2"
    assert challenger.turn(hamilton, turn_burst()).status_code == 200
    assert challenger.say(hamilton, jackson_reading(CHALLENGE)).status_code == 200
    answer = challenger.post("/log_in", username=hamilton)
    assert answer.status_code == 200, answer.json
    assert challenger.client.get("/protected").status_code == 200


def test_log_in_samples_need_a_challenge_first(challenger: Challenger, hamilton: str) -> None:
    answer = challenger.turn(hamilton, turn_burst())
    assert answer.status_code == 400
    assert "challenge" in answer.json["message"]
    assert challenger.say(hamilton, jackson_reading(CHALLENGE)).status_code == 400


def test_single_photo_is_refused_while_the_face_challenge_is_on(
    challenger: Challenger, hamilton: str
) -> None:
    challenger.challenge()
    answer = challenger.take_photo(hamilton, "log_in", jpeg(media.clip_frames([FRONTAL_FRAME])[0]))
    assert answer.status_code == 400
    assert "head turn" in answer.json["message"]


def test_still_photo_as_the_burst_is_refused(challenger: Challenger, hamilton: str) -> None:
    challenger.challenge()
    answer = challenger.turn(hamilton, still_burst())
    assert answer.status_code == 422
    assert "Turn your head" in answer.json["message"]


def test_turn_to_the_wrong_side_is_refused(challenger: Challenger, hamilton: str) -> None:
    challenger.challenge()
    answer = challenger.turn(hamilton, turn_burst(mirror=True))
    assert answer.status_code == 422


def test_replayed_enrollment_recording_is_refused(challenger: Challenger, hamilton: str) -> None:
    challenger.challenge()
    answer = challenger.say(hamilton, jackson_phrase(0))
    assert answer.status_code == 422
    assert "did not hear the digits" in answer.json["message"]


def test_the_users_voice_saying_other_digits_is_refused(
    challenger: Challenger, hamilton: str
) -> None:
    challenger.challenge()
    assert challenger.say(hamilton, jackson_reading("85317")).status_code == 422


def test_synthetic_voice_saying_the_challenge_does_not_log_in(
    challenger: Challenger, hamilton: str
) -> None:
    challenger.challenge()
    assert challenger.turn(hamilton, turn_burst()).status_code == 200
    synthetic = wav_bytes(media.espeak("4 7 1 9 2", "en-us+m3", 140))
    spoken = challenger.say(hamilton, synthetic)
    if spoken.status_code == 200:  # the words were heard: the speaker check must refuse it
        assert challenger.post("/log_in", username=hamilton).status_code == 401
    else:
        assert spoken.status_code == 422
    assert challenger.client.get("/protected").status_code == 302


def test_a_challenge_answers_once(challenger: Challenger, hamilton: str) -> None:
    challenger.challenge()
    assert challenger.turn(hamilton, still_burst()).status_code == 422
    assert challenger.turn(hamilton, turn_burst()).status_code == 400
    challenger.challenge()
    assert challenger.turn(hamilton, turn_burst()).status_code == 200


def test_new_challenge_replaces_the_previous_one(challenger: Challenger, hamilton: str) -> None:
    challenger.challenge()
    challenger.challenge()
    assert challenger.turn(hamilton, turn_burst()).status_code == 200
    assert challenger.say(hamilton, jackson_reading(CHALLENGE)).status_code == 200


@pytest.mark.parametrize("settings_overrides", [{**FIXED, "challenge_seconds": 0}])
def test_expired_challenge_is_refused(challenger: Challenger, hamilton: str) -> None:
    challenger.challenge()
    answer = challenger.say(hamilton, jackson_reading(CHALLENGE))
    assert answer.status_code == 400
    assert "expired" in answer.json["message"]


def test_unanswered_challenges_count_as_failed_log_ins(
    challenger: Challenger, hamilton: str
) -> None:
    for _ in range(5):
        challenger.challenge()
        challenger.turn(hamilton, still_burst())
    challenger.challenge()
    challenger.turn(hamilton, turn_burst())
    challenger.say(hamilton, jackson_reading(CHALLENGE))
    assert challenger.post("/log_in", username=hamilton).status_code == 429


def test_a_failed_challenge_counts_once_for_its_log_in(
    app, challenger: Challenger, hamilton: str
) -> None:  # type: ignore[no-untyped-def]
    challenger.challenge()
    assert challenger.turn(hamilton, still_burst()).status_code == 422
    assert challenger.say(hamilton, jackson_reading(CHALLENGE)).status_code == 200
    # The burst was not kept: the log-in stops at the missing photo without a second count.
    assert challenger.post("/log_in", username=hamilton).status_code == 400
    database = app.extensions["facevoice"].database
    assert lockout_state(database, hamilton, LockoutPolicy()).consecutive_failures == 1


@pytest.mark.parametrize("frames", [["not base64!"] * 8, ["aGVsbG8="] * 3, "aGVsbG8=", [], [1] * 8])
def test_malformed_bursts_are_4xx(challenger: Challenger, hamilton: str, frames: Any) -> None:
    challenger.challenge()
    answer = challenger.post("/take_photo", username=hamilton, flow="log_in", frames=frames)
    assert 400 <= answer.status_code < 500
    assert answer.json["ok"] is False


def test_impostor_spliced_into_the_turn_is_refused_and_not_kept(
    challenger: Challenger, hamilton: str
) -> None:
    challenger.challenge()
    impostor = jpeg(np.asarray(media.webcam_photo("biden.jpg")))
    frames = list(turn_burst())
    frames[2:4] = [impostor, impostor]
    answer = challenger.turn(hamilton, frames)
    assert answer.status_code == 422
    assert "only you" in answer.json["message"]
    assert challenger.post("/log_in", username=hamilton).status_code == 400


def test_another_face_turning_is_refused_at_log_in(challenger: Challenger) -> None:
    phrases = [jackson_phrase(i) for i in range(3)]
    assert challenger.sign_up("obama", media.photo("obama.jpg"), phrases).status_code == 201
    challenger.challenge()
    assert challenger.turn("obama", turn_burst()).status_code == 200
    assert challenger.say("obama", jackson_reading(CHALLENGE)).status_code == 200
    assert challenger.post("/log_in", username="obama").status_code == 401


def test_fixed_challenges_are_refused_outside_tests(data_dir, models) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match="tests only"):
        create_app(
            {
                "data_dir": str(data_dir),
                "models": models,
                "warm_up": False,
                "fixed_voice_challenge": CHALLENGE,
            }
        )


@pytest.fixture
def decoded_frames(monkeypatch) -> list[int]:  # type: ignore[no-untyped-def]
    """One entry per photo or frame the log-in decodes."""
    calls: list[int] = []
    real_load_image = accounts.load_image

    def counting(*args: Any, **kwargs: Any) -> np.ndarray:
        calls.append(1)
        return real_load_image(*args, **kwargs)

    monkeypatch.setattr(accounts, "load_image", counting)
    return calls


def failures(app, username: str) -> int:  # type: ignore[no-untyped-def]
    """Consecutive failed log-ins the lockout counts for ``username``."""
    services = app.extensions[EXTENSION]
    state = lockout_state(services.database, username, services.accounts.lockout)
    return state.consecutive_failures


def test_frame_over_full_hd_is_413_before_any_frame_is_decoded(
    challenger: Challenger, hamilton: str, decoded_frames: list[int]
) -> None:
    challenger.challenge()
    answer = challenger.turn(hamilton, [*turn_burst()[:7], blank_png(1921, 1080)])
    assert answer.status_code == 413
    assert "1920×1080" in answer.json["message"]
    assert decoded_frames == []


def test_burst_over_the_total_pixel_cap_is_413_before_any_frame_is_decoded(
    challenger: Challenger, hamilton: str, decoded_frames: list[int]
) -> None:
    challenger.challenge()
    answer = challenger.turn(hamilton, [blank_png(1280, 720)] * 40)  # 36.9 million pixels
    assert answer.status_code == 413
    assert "pixels in all" in answer.json["message"]
    assert decoded_frames == []


def test_oversized_bursts_are_not_failed_log_ins_of_the_name(
    app, challenger: Challenger, hamilton: str
) -> None:  # type: ignore[no-untyped-def]
    for _ in range(6):
        challenger.challenge()
        assert challenger.turn(hamilton, [blank_png(2000, 1200)] * 8).status_code == 413
    assert failures(app, hamilton) == 0
    challenger.challenge()
    assert challenger.turn(hamilton, turn_burst()).status_code == 200


@pytest.mark.parametrize("settings_overrides", [{**FIXED, "ratelimit_per_ip": "4 per minute"}])
def test_oversized_bursts_count_for_the_clients_rate_limit(
    challenger: Challenger, hamilton: str
) -> None:
    # The sign-up's photo was the first of the four; three oversized bursts use the rest.
    for _ in range(3):
        challenger.challenge()
        assert challenger.turn(hamilton, [blank_png(1280, 720)] * 40).status_code == 413
    assert challenger.turn(hamilton, turn_burst()).status_code == 429


@pytest.mark.parametrize("size", [(1920, 1080), (1080, 1920), (640, 480)])
def test_webcam_and_upright_phone_frames_fit_the_frame_limit(size: tuple[int, int]) -> None:
    check_burst_size([size] * 8, 1920, 1080, 24_000_000)


@pytest.mark.parametrize("size", [(1921, 1080), (1200, 1200), (1080, 1921)])
def test_frames_over_the_frame_limit_either_way_up_are_too_large(size: tuple[int, int]) -> None:
    with pytest.raises(TooLarge):
        check_burst_size([size], 1920, 1080, 24_000_000)


def test_default_burst_limits_fit_the_pages_burst() -> None:
    defaults = Settings()
    assert (defaults.max_frame_width_px, defaults.max_frame_height_px) == (1920, 1080)
    check_burst_size(
        [(640, 480)] * 40,
        defaults.max_frame_width_px,
        defaults.max_frame_height_px,
        defaults.max_burst_pixels,
    )
