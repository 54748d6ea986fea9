"""Issue 4.9: over a thousand generated bad inputs to every POST; each gets a 4xx JSON answer.

After the run no file exists outside the data folder, and the registered user still logs in.
"""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from facevoice import create_app
from facevoice.biometrics.audio import SAMPLE_RATE, wav_bytes
from tests import media
from tests.conftest import WITHOUT_CHALLENGES, Visitor

FUZZ = settings(
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    database=None,
)
REQUESTS_MADE: list[int] = []


def b64(data: bytes) -> str:
    """Base64 text of some bytes."""
    return base64.b64encode(data).decode()


def image_bomb() -> bytes:
    """A tiny PNG that claims 100 million pixels."""
    buffer = io.BytesIO()
    Image.new("1", (10_000, 10_000)).save(buffer, "PNG")
    return buffer.getvalue()


TEN_MINUTES = wav_bytes(np.zeros(10 * 60 * 8_000, dtype=np.float32), sample_rate=8_000)
OBAMA = media.photo("obama.jpg")
PHRASE = media.phrase(media.SPEAKER_A, 0)

bad_usernames = st.one_of(
    st.sampled_from(
        [
            "../x",
            "../../etc",
            "a/b",
            "..",
            ".hidden",
            "x" * 33,
            "ab",
            "",
            " ",
            "a\x00b",
            "'; DROP TABLE users; --",
            "alice' OR '1'='1",
            "名前です",
            "ünïcødé",
            "a b",
            "a\\b",
            "%2e%2e%2f",
        ]
    ),
    st.text(max_size=80).filter(lambda s: not media_username_ok(s)),
    st.integers(),
    st.none(),
    st.lists(st.text(max_size=3), max_size=3),
)
any_username = st.one_of(bad_usernames, st.sampled_from(["alice", "obama", "bob_1"]))
any_flow = st.one_of(st.sampled_from(["sign_up", "log_in"]), st.text(max_size=10), st.integers())

bad_images = st.one_of(
    st.text(max_size=200),  # broken Base64
    st.binary(max_size=2_000).map(b64),  # not an image
    st.integers(min_value=10, max_value=len(OBAMA) - 10).map(lambda n: b64(OBAMA[:n])),
    st.just(b64(image_bomb())),
    st.just(b64(media.picture())),  # no face
    st.just(b64(media.photo("two_people.jpg"))),
    st.just(b64(PHRASE)),  # a recording sent as a photo
    st.just("data:image/png;base64," + "A" * 10),
    st.integers(),
    st.none(),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=3), st.text(max_size=3), max_size=2),
)
bad_audio = st.one_of(
    st.text(max_size=200),
    st.binary(max_size=4_000).map(b64),
    st.integers(min_value=10, max_value=2_000).map(lambda n: b64(PHRASE[:n])),
    st.just(b64(media.silence())),
    st.just(b64(media.noise())),
    st.just(b64(TEN_MINUTES)),
    st.just(b64(OBAMA)),  # a photo sent as a recording
    st.floats(min_value=0.01, max_value=0.9).map(
        lambda s: b64(wav_bytes(np.zeros(int(s * SAMPLE_RATE), dtype=np.float32)))
    ),
    st.integers(),
    st.none(),
    st.lists(st.integers(), max_size=3),
)


def media_username_ok(value: str) -> bool:
    """Whether a string happens to be a valid username (then it is not a bad one)."""
    from facevoice.web.requests import is_valid_username

    return is_valid_username(value)


@pytest.fixture(scope="module")
def fuzz_env(tmp_path_factory, models):  # type: ignore[no-untyped-def]
    """One app with a registered user 'obama', rate limits off, and the folder around it."""
    root = tmp_path_factory.mktemp("fuzz")
    data_dir = root / "data"
    app = create_app(
        {
            "data_dir": str(data_dir),
            "models": models,
            "warm_up": False,
            **WITHOUT_CHALLENGES,
            "ratelimit": False,
        }
    )
    visitor = Visitor(app.test_client())
    phrases = [media.phrase(media.SPEAKER_A, i) for i in range(3)]
    assert visitor.sign_up("obama", OBAMA, phrases).status_code == 201
    return {"root": root, "data_dir": data_dir, "visitor": visitor}


def post(visitor: Visitor, path: str, body: Any, as_form: bool = False):  # type: ignore[no-untyped-def]
    """POST a JSON (or form) body with the CSRF header, and check the answer is 4xx JSON."""
    headers = {"X-CSRFToken": visitor.token}
    if as_form and isinstance(body, dict):
        form = {k: v for k, v in body.items() if isinstance(v, str)}
        answer = visitor.client.post(path, data=form, headers=headers)
    else:
        answer = visitor.client.post(
            path, data=json.dumps(body), headers=headers, content_type="application/json"
        )
    REQUESTS_MADE.append(1)
    assert 400 <= answer.status_code < 500, (path, body if len(str(body)) < 300 else "...")
    payload = answer.get_json(silent=True)
    assert isinstance(payload, dict), answer.data[:200]
    assert payload["ok"] is False
    assert isinstance(payload["message"], str) and payload["message"]
    return answer


@settings(FUZZ, max_examples=300)
@given(username=any_username, flow=any_flow, image=bad_images, as_form=st.booleans())
def test_bad_photos_get_a_4xx_json_answer(fuzz_env, username, flow, image, as_form) -> None:  # type: ignore[no-untyped-def]
    post(
        fuzz_env["visitor"],
        "/take_photo",
        {"username": username, "flow": flow, "image": image},
        as_form,
    )


@settings(FUZZ, max_examples=300)
@given(username=any_username, flow=any_flow, audio=bad_audio, as_form=st.booleans())
def test_bad_recordings_get_a_4xx_json_answer(fuzz_env, username, flow, audio, as_form) -> None:  # type: ignore[no-untyped-def]
    post(
        fuzz_env["visitor"],
        "/record_voice",
        {"username": username, "flow": flow, "audio": audio},
        as_form,
    )


@settings(FUZZ, max_examples=150)
@given(username=bad_usernames, extra=st.dictionaries(st.text(max_size=8), st.text(max_size=8)))
def test_bad_sign_ups_get_a_4xx_json_answer(fuzz_env, username, extra) -> None:  # type: ignore[no-untyped-def]
    post(fuzz_env["visitor"], "/sign_up", {**extra, "username": username})


@settings(FUZZ, max_examples=150)
@given(username=any_username)
def test_bad_log_ins_get_a_4xx_json_answer(fuzz_env, username) -> None:  # type: ignore[no-untyped-def]
    # No samples were given in this session's log-in flow: never a verification.
    post(fuzz_env["visitor"], "/log_in", {"username": username})


@settings(FUZZ, max_examples=100)
@given(
    body=st.one_of(
        st.lists(st.integers(), max_size=3),
        st.text(max_size=20),
        st.integers(),
        st.none(),
        st.floats(allow_nan=False),
    ),
    path=st.sampled_from(["/take_photo", "/record_voice", "/sign_up", "/log_in"]),
)
def test_bodies_that_are_not_objects_get_a_4xx_json_answer(fuzz_env, body, path) -> None:  # type: ignore[no-untyped-def]
    post(fuzz_env["visitor"], path, body)


@settings(FUZZ, max_examples=100)
@given(username=bad_usernames.filter(lambda u: isinstance(u, str)))
def test_bad_name_checks_get_a_4xx_json_answer(fuzz_env, username) -> None:  # type: ignore[no-untyped-def]
    answer = fuzz_env["visitor"].client.get(
        "/sign_up", query_string={"username": username}, headers={"Accept": "application/json"}
    )
    REQUESTS_MADE.append(1)
    assert answer.status_code == 400
    assert answer.get_json()["ok"] is False


def test_after_the_run_nothing_was_written_outside_the_data_folder(fuzz_env) -> None:  # type: ignore[no-untyped-def]
    assert len(REQUESTS_MADE) >= 1000, "the bad-input tests above must run first"
    root: Path = fuzz_env["root"]
    outside = [p for p in root.rglob("*") if fuzz_env["data_dir"] not in (p, *p.parents)]
    assert outside == []
    assert not Path("/etc/img.png").exists()
    assert not any(p.suffix in {".png", ".jpg", ".wav"} for p in fuzz_env["data_dir"].rglob("*"))


def test_after_the_run_the_registered_user_still_logs_in(fuzz_env) -> None:  # type: ignore[no-untyped-def]
    visitor: Visitor = fuzz_env["visitor"]
    answer = visitor.log_in("obama", media.photo("obama2.jpg"), media.phrase(media.SPEAKER_A, 3))
    assert answer.status_code == 200, answer.json
