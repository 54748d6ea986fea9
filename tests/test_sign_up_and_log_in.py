"""The README's HTTP API end to end on the real models: sign up, log in, and the refusals."""

from __future__ import annotations

from pathlib import Path

from flask import Flask

from facevoice.biometrics.face import MODEL_SIZE
from facevoice.storage.database import get_user
from facevoice.storage.templates import FACE
from facevoice.web.services import EXTENSION
from tests import media
from tests.conftest import Visitor

SAMPLE_SUFFIXES = {".png", ".jpg", ".jpeg", ".wav", ".webm", ".ogg", ".flac", ".mp3"}


def sample_files(data_dir: Path) -> list[Path]:
    """Photo or recording files anywhere in the data folder."""
    return [p for p in data_dir.rglob("*") if p.suffix.lower() in SAMPLE_SUFFIXES]


def test_sign_up_answers_201_and_creates_the_user(visitor: Visitor, enrolled: str) -> None:
    answer = visitor.client.get(
        f"/sign_up?username={enrolled}", headers={"Accept": "application/json"}
    )
    assert answer.json == {"username": enrolled, "registered": True}


def test_registered_user_logs_in_with_another_photo_and_phrase(
    visitor: Visitor, enrolled: str
) -> None:
    answer = visitor.log_in(enrolled, media.photo("obama2.jpg"), media.phrase(media.SPEAKER_A, 3))
    assert answer.status_code == 200, answer.json
    assert answer.json["ok"] is True
    assert answer.json["redirect"] == "/protected"
    page = visitor.client.get("/protected")
    assert page.status_code == 200
    assert b"obama" in page.data


def test_another_face_with_the_right_voice_is_refused(visitor: Visitor, enrolled: str) -> None:
    answer = visitor.log_in(enrolled, media.photo("biden.jpg"), media.phrase(media.SPEAKER_A, 3))
    assert answer.status_code == 401
    assert answer.json["ok"] is False
    assert visitor.client.get("/protected").status_code == 302


def test_the_right_face_with_another_voice_is_refused(visitor: Visitor, enrolled: str) -> None:
    answer = visitor.log_in(enrolled, media.photo("obama2.jpg"), media.phrase(media.SPEAKER_B, 0))
    assert answer.status_code == 401
    assert visitor.client.get("/protected").status_code == 302


def test_refusal_does_not_say_which_modality_failed(visitor: Visitor, enrolled: str) -> None:
    wrong_face = visitor.log_in(
        enrolled, media.photo("biden.jpg"), media.phrase(media.SPEAKER_A, 3)
    )
    wrong_voice = visitor.log_in(
        enrolled, media.photo("obama2.jpg"), media.phrase(media.SPEAKER_B, 0)
    )
    assert wrong_face.json == wrong_voice.json


def test_unknown_user_gets_the_same_refusal_as_a_wrong_face(
    visitor: Visitor, enrolled: str
) -> None:
    unknown = visitor.log_in("nobody", media.photo("obama2.jpg"), media.phrase(media.SPEAKER_A, 3))
    wrong = visitor.log_in(enrolled, media.photo("biden.jpg"), media.phrase(media.SPEAKER_A, 3))
    assert unknown.status_code == wrong.status_code == 401
    assert unknown.json == wrong.json


def test_photo_with_two_faces_is_refused_at_capture(visitor: Visitor) -> None:
    answer = visitor.take_photo("alice", "sign_up", media.photo("two_people.jpg"))
    assert answer.status_code == 422
    assert "more than one face" in answer.json["message"].lower()


def test_photo_without_a_face_is_refused_at_capture(visitor: Visitor) -> None:
    answer = visitor.take_photo("alice", "sign_up", media.picture())
    assert answer.status_code == 422
    assert "no face found" in answer.json["message"].lower()


def test_silent_recording_is_refused(visitor: Visitor) -> None:
    answer = visitor.record_voice("alice", "sign_up", media.silence())
    assert answer.status_code == 422
    assert "silent" in answer.json["message"]


def test_noise_without_speech_is_refused(visitor: Visitor) -> None:
    answer = visitor.record_voice("alice", "sign_up", media.noise())
    assert answer.status_code == 422
    assert "no voice" in answer.json["message"]


def test_taken_name_is_409(make_visitor, enrolled: str) -> None:  # type: ignore[no-untyped-def]
    other = make_visitor()
    phrases = [media.phrase(media.SPEAKER_B, i) for i in range(3)]
    answer = other.sign_up(enrolled, media.photo("biden.jpg"), phrases)
    assert answer.status_code == 409


def test_taken_name_is_409_in_any_letter_case(make_visitor, enrolled: str) -> None:  # type: ignore[no-untyped-def]
    answer = make_visitor().sign_up(
        enrolled.upper(), media.photo("biden.jpg"), [media.phrase(media.SPEAKER_B, 0)]
    )
    assert answer.status_code == 409


def test_sign_up_without_voice_is_400_and_keeps_the_photo(visitor: Visitor) -> None:
    assert visitor.take_photo("alice", "sign_up", media.photo("obama.jpg")).status_code == 200
    answer = visitor.post("/sign_up", username="alice")
    assert answer.status_code == 400
    assert "voice" in answer.json["message"]
    assert (
        visitor.record_voice("alice", "sign_up", media.phrase(media.SPEAKER_A, 0)).status_code
        == 200
    )
    assert visitor.post("/sign_up", username="alice").status_code == 201


def test_sign_up_without_any_sample_is_400(visitor: Visitor) -> None:
    assert visitor.post("/sign_up", username="alice").status_code == 400


def test_log_in_without_photo_is_400(visitor: Visitor, enrolled: str) -> None:
    assert (
        visitor.record_voice(enrolled, "log_in", media.phrase(media.SPEAKER_A, 3)).status_code
        == 200
    )
    answer = visitor.post("/log_in", username=enrolled)
    assert answer.status_code == 400
    assert "photo" in answer.json["message"]


def test_tmp_is_empty_after_a_successful_log_in(
    visitor: Visitor, enrolled: str, data_dir: Path
) -> None:
    visitor.log_in(enrolled, media.photo("obama2.jpg"), media.phrase(media.SPEAKER_A, 3))
    assert list((data_dir / "tmp").iterdir()) == []


def test_tmp_is_empty_after_a_refused_log_in(
    visitor: Visitor, enrolled: str, data_dir: Path
) -> None:
    visitor.log_in(enrolled, media.photo("biden.jpg"), media.phrase(media.SPEAKER_A, 3))
    assert list((data_dir / "tmp").iterdir()) == []


def test_tmp_is_empty_after_sign_up(visitor: Visitor, enrolled: str, data_dir: Path) -> None:
    assert list((data_dir / "tmp").iterdir()) == []


def test_no_photo_or_recording_is_left_on_disk(visitor: Visitor, data_dir: Path) -> None:
    visitor.take_photo("alice", "sign_up", media.photo("obama.jpg"))
    visitor.take_photo("alice", "sign_up", media.photo("two_people.jpg"))
    visitor.record_voice("alice", "sign_up", media.phrase(media.SPEAKER_A, 0))
    visitor.record_voice("alice", "sign_up", media.silence())
    assert sample_files(data_dir) == []
    visitor.post("/sign_up", username="alice")
    assert sample_files(data_dir) == []


def test_two_clients_with_one_username_do_not_share_samples(make_visitor) -> None:  # type: ignore[no-untyped-def]
    first, second = make_visitor(), make_visitor()
    assert first.take_photo("alice", "sign_up", media.photo("obama.jpg")).status_code == 200
    assert (
        second.record_voice("alice", "sign_up", media.phrase(media.SPEAKER_A, 0)).status_code == 200
    )
    assert first.post("/sign_up", username="alice").status_code == 400
    assert second.post("/sign_up", username="alice").status_code == 400


def test_samples_of_another_username_do_not_count(visitor: Visitor) -> None:
    visitor.take_photo("alice", "sign_up", media.photo("obama.jpg"))
    visitor.record_voice("alice", "sign_up", media.phrase(media.SPEAKER_A, 0))
    assert visitor.post("/sign_up", username="bobby").status_code == 400


def test_form_encoded_fields_work_like_json(visitor: Visitor) -> None:
    answer = visitor.client.post(
        "/take_photo",
        data={"username": "alice", "flow": "sign_up", "image": media.b64(media.photo("obama.jpg"))},
        headers={"X-CSRFToken": visitor.token},
    )
    assert answer.status_code == 200
    assert answer.json["ok"] is True


def test_data_url_prefix_is_accepted(visitor: Visitor) -> None:
    image = "data:image/jpeg;base64," + media.b64(media.photo("obama.jpg"))
    answer = visitor.post("/take_photo", username="alice", flow="sign_up", image=image)
    assert answer.status_code == 200


def test_enrollment_keeps_at_most_five_phrases(visitor: Visitor) -> None:
    counts = [
        visitor.record_voice("alice", "sign_up", media.phrase(media.SPEAKER_A, i % 4)).json[
            "phrases"
        ]
        for i in range(6)
    ]
    assert counts == [1, 2, 3, 4, 5, 5]


def test_a_phrase_can_be_retaken(visitor: Visitor) -> None:
    visitor.record_voice("alice", "sign_up", media.phrase(media.SPEAKER_A, 0))
    answer = visitor.record_voice("alice", "sign_up", media.phrase(media.SPEAKER_A, 1), phrase=1)
    assert answer.json["phrases"] == 1


def make_legacy(app: Flask, username: str) -> None:
    """Turn an account's face template into one enrolled before SFace: dlib's 128 values."""
    found = app.extensions[EXTENSION]
    cipher = found.accounts.cipher
    with found.database.session() as session:
        user = get_user(session, username)
        assert user is not None
        template = cipher.open(user.face_template, user.username_key, FACE)
        assert template.size == 2 * MODEL_SIZE
        user.face_template = cipher.seal(template[:MODEL_SIZE], user.username_key, FACE)


def test_an_account_enrolled_before_sface_logs_in_with_dlib_alone(
    app: Flask, visitor: Visitor, enrolled: str
) -> None:
    make_legacy(app, enrolled)
    answer = visitor.log_in(enrolled, media.photo("obama2.jpg"), media.phrase(media.SPEAKER_A, 3))
    assert answer.status_code == 200, answer.json


def test_an_account_enrolled_before_sface_still_refuses_another_face(
    app: Flask, visitor: Visitor, enrolled: str
) -> None:
    make_legacy(app, enrolled)
    answer = visitor.log_in(enrolled, media.photo("biden.jpg"), media.phrase(media.SPEAKER_A, 3))
    assert answer.status_code == 401
