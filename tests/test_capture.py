"""The one-capture log-in (POST /log_in/capture): head turn, digits and lips in one capture."""

from __future__ import annotations

from typing import Any

import pytest

from facevoice.biometrics.capture import head_turn_frames, turn_window
from tests import media
from tests.conftest import (
    CHALLENGE,
    WITHOUT_CHALLENGES,
    WITHOUT_SYNC,
    Challenger,
    failures,
    send_capture,
)
from tests.media import capture_frames, frame_times_over, jackson_reading, jpeg, webcam_photo


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    """Challenges on with a known answer; the lip check skipped (only TESTING allows that)."""
    return WITHOUT_SYNC


def test_a_capture_answering_both_challenges_then_log_in_logs_in(
    challenger: Challenger, hamilton: str
) -> None:
    challenger.challenge()
    answer = send_capture(challenger, hamilton)
    assert answer.status_code == 200, answer.json
    assert answer.json["ok"] is True
    logged_in = challenger.post("/log_in", username=hamilton)
    assert logged_in.status_code == 200, logged_in.json
    assert challenger.client.get("/protected").status_code == 200


def test_a_capture_needs_a_challenge_first(challenger: Challenger, hamilton: str) -> None:
    answer = send_capture(challenger, hamilton)
    assert answer.status_code == 400
    assert "challenge" in answer.json["message"]


@pytest.mark.parametrize("settings_overrides", [WITHOUT_CHALLENGES])
def test_without_any_challenge_a_capture_is_400_pointing_to_photo_then_voice(
    challenger: Challenger,
) -> None:
    frames = [jpeg(media.clip_frames([media.FRONTAL_FRAME])[0])] * 8
    answer = challenger.capture("someone", frames, list(range(8)), jackson_reading(CHALLENGE))
    assert answer.status_code == 400
    assert "/take_photo" in answer.json["message"] and "/record_voice" in answer.json["message"]


def test_a_challenge_answers_one_capture(challenger: Challenger, hamilton: str) -> None:
    challenger.challenge()
    assert send_capture(challenger, hamilton).status_code == 200
    assert send_capture(challenger, hamilton).status_code == 400


def test_a_capture_with_a_second_person_in_a_frame_is_refused(
    challenger: Challenger, hamilton: str
) -> None:
    frames = list(capture_frames())
    frames[len(frames) // 2] = jpeg(media.np.asarray(webcam_photo("two_people.jpg")))
    challenger.challenge()
    answer = send_capture(challenger, hamilton, frames)
    assert answer.status_code == 422
    assert "only you" in answer.json["message"]


def test_a_refused_capture_counts_as_a_failed_log_in_and_keeps_nothing(
    app, challenger: Challenger, hamilton: str
) -> None:  # type: ignore[no-untyped-def]
    challenger.challenge()
    assert send_capture(challenger, hamilton, audio=jackson_reading("85317")).status_code == 422
    assert failures(app, hamilton) == 1
    assert challenger.post("/log_in", username=hamilton).status_code == 400
    assert failures(app, hamilton) == 1


def test_a_locked_out_name_is_told_before_its_capture_is_read(
    app, challenger: Challenger, hamilton: str
) -> None:  # type: ignore[no-untyped-def]
    for _ in range(5):
        challenger.challenge()
        assert send_capture(challenger, hamilton, [capture_frames()[-1]] * 8).status_code == 422
    challenger.challenge()
    answer = send_capture(challenger, hamilton)
    assert answer.status_code == 429
    assert answer.headers.get("Retry-After")
    assert failures(app, hamilton) == 5


@pytest.mark.parametrize(
    "change",
    [
        {"frame_times_ms": [0, 100]},
        {"frame_times_ms": [100, 0, *range(200, 4700, 100)]},
        {"frame_times_ms": ["soon"] * 47},
        {"frame_times_ms": None},
        {"frames": ["aGVsbG8="] * 7, "frame_times_ms": list(range(0, 700, 100))},
        {"frames": ["aGVsbG8="] * 151, "frame_times_ms": list(range(151))},
        {"frames": ["not base64!"] * 8, "frame_times_ms": list(range(8))},
        {"audio": "not base64!"},
        {"audio": None},
    ],
)
def test_a_malformed_capture_is_400_with_a_message(
    challenger: Challenger, hamilton: str, change: dict[str, Any]
) -> None:
    audio = jackson_reading(CHALLENGE)
    frames = list(capture_frames())
    fields = {
        "username": hamilton,
        "frames": [media.b64(f) for f in frames],
        "frame_times_ms": frame_times_over(len(frames), audio),
        "audio": media.b64(audio),
        **change,
    }
    challenger.challenge()
    answer = challenger.post("/log_in/capture", **fields)
    assert answer.status_code == 400
    assert answer.json["ok"] is False and answer.json["message"]


def test_frames_timed_after_the_end_of_the_recording_are_400(
    challenger: Challenger, hamilton: str
) -> None:
    audio = jackson_reading(CHALLENGE)
    frames = list(capture_frames())
    late = [t + 60_000 for t in frame_times_over(len(frames), audio)]
    challenger.challenge()
    answer = challenger.capture(hamilton, frames, late, audio)
    assert answer.status_code == 400
    assert "start of the audio" in answer.json["message"]


def test_a_capture_whose_frames_are_not_images_is_4xx(
    challenger: Challenger, hamilton: str
) -> None:
    challenger.challenge()
    answer = send_capture(challenger, hamilton, [b"GIF89a not really"] * 8)
    assert 400 <= answer.status_code < 500
    assert answer.json["message"]


def test_the_turn_frames_span_the_turn_and_its_return_not_the_digits() -> None:
    # Facing the camera, turning (the nose goes 0.3 eye distances aside), back, then 30
    # frames facing the camera while the digits are said.
    noses = [0.0] * 5 + [0.1, 0.2, 0.3, 0.3, 0.2, 0.1] + [0.0] * 30
    picked = turn_window(noses, 16, 8)
    assert picked[0] == 0 and 7 in picked
    assert 10 < picked[-1] < 20
    assert picked == sorted(set(picked))


def test_the_turn_frames_are_at_least_the_least_asked_for() -> None:
    assert len(turn_window([0.0, 0.3, 0.0, *[None] * 20, 0.0], 16, 8)) >= 8


def test_the_head_turn_check_also_reads_a_few_frames_after_the_turn() -> None:
    noses = [0.0] * 5 + [0.1, 0.2, 0.3, 0.3, 0.2, 0.1] + [0.0] * 30
    turn = turn_window(noses, 16, 8)
    picked = head_turn_frames(noses, 16, 6, 8)
    later = picked[len(turn) :]
    assert picked[: len(turn)] == turn
    assert len(later) == 6 and later[-1] == len(noses) - 1
    assert min(later) > turn[-1]
