"""Shared fixtures: a fresh app per test on a temporary data folder, real models loaded once."""

from __future__ import annotations

import os
import re
import secrets
import socket
from pathlib import Path
from typing import Any

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine, text

from facevoice import create_app
from facevoice.biometrics.models import Biometrics, load_biometrics
from facevoice.storage.lockout import lockout_state
from facevoice.web.services import EXTENSION
from tests import media

CSRF_META = re.compile(rb'<meta name="csrf-token" content="([^"]+)">')


@pytest.fixture(scope="session")
def models() -> Biometrics:
    """The real face model and speaker encoder, loaded and warmed once per test run."""
    loaded = load_biometrics()
    loaded.warm_up()
    return loaded


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """The data folder of the test's app."""
    return tmp_path / "data"


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    """Extra settings for the test's app; tests override this fixture to change them."""
    return {}


# The README's HTTP API, as a deployment with FACEVOICE_VOICE_CHALLENGE=off and
# FACEVOICE_FACE_CHALLENGE=off serves it; tests/test_challenges.py covers the default (on).
WITHOUT_CHALLENGES = {"voice_challenge": False, "face_challenge": False}


@pytest.fixture
def app(data_dir: Path, models: Biometrics, settings_overrides: dict[str, Any]) -> Flask:
    """A fresh app with its own data folder and SQLite database (challenges off)."""
    config = {"data_dir": str(data_dir), "models": models, "warm_up": False, "TESTING": True}
    return create_app({**config, **WITHOUT_CHALLENGES, **settings_overrides})


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """A test client that keeps cookies."""
    return app.test_client()


class Visitor:
    """One browser-like client of the HTTP API: keeps its cookies and sends the CSRF token."""

    def __init__(self, client: FlaskClient) -> None:
        self.client = client
        self._token: str | None = None

    @property
    def token(self) -> str:
        """The CSRF token from the meta tag of a page."""
        if self._token is None:
            match = CSRF_META.search(self.client.get("/").data)
            assert match, "the page has no csrf-token meta tag"
            self._token = match.group(1).decode()
        return self._token

    def post(self, path: str, **fields: Any):  # type: ignore[no-untyped-def]
        """POST JSON fields with the CSRF header."""
        return self.client.post(path, json=fields, headers={"X-CSRFToken": self.token})

    def take_photo(self, username: str, flow: str, image: bytes):  # type: ignore[no-untyped-def]
        """Send a photo for a flow."""
        return self.post("/take_photo", username=username, flow=flow, image=media.b64(image))

    def record_voice(self, username: str, flow: str, audio: bytes, **extra: Any):  # type: ignore[no-untyped-def]
        """Send a recording for a flow."""
        return self.post(
            "/record_voice", username=username, flow=flow, audio=media.b64(audio), **extra
        )

    def sign_up(self, username: str, image: bytes, phrases: list[bytes]):  # type: ignore[no-untyped-def]
        """The whole sign-up: photo, phrases, then POST /sign_up; returns the last answer."""
        assert self.take_photo(username, "sign_up", image).status_code == 200
        for audio in phrases:
            assert self.record_voice(username, "sign_up", audio).status_code == 200
        return self.post("/sign_up", username=username)

    def log_in(self, username: str, image: bytes, audio: bytes):  # type: ignore[no-untyped-def]
        """The whole log-in: photo, voice, then POST /log_in; returns the last answer."""
        assert self.take_photo(username, "log_in", image).status_code == 200
        assert self.record_voice(username, "log_in", audio).status_code == 200
        return self.post("/log_in", username=username)


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

    def capture(  # type: ignore[no-untyped-def]
        self, username: str, frames: list[bytes], frame_times_ms: list[int], audio: bytes
    ):
        """POST a one-capture log-in: the frames with their times, and the recording."""
        return self.post(
            "/log_in/capture",
            username=username,
            frames=[media.b64(f) for f in frames],
            frame_times_ms=frame_times_ms,
            audio=media.b64(audio),
        )


# The log-in challenges with a known answer (only the testing configuration accepts that).
CHALLENGE = "47192"
FIXED = {
    "voice_challenge": True,
    "face_challenge": True,
    "fixed_voice_challenge": CHALLENGE,
    "fixed_face_turn": "right",
}

# The clip's frames and jackson's digits are not one recording, so the lips cannot follow the
# digits: a log-in meant to pass skips that check (only TESTING allows it; the lip check is
# tested on the clip with its own sound in tests/test_lipsync.py).
WITHOUT_SYNC = {**FIXED, "testing_skip_checks": "sync"}


def send_capture(  # type: ignore[no-untyped-def]
    challenger: Challenger,
    username: str,
    frames: list[bytes] | tuple[bytes, ...] | None = None,
    audio: bytes | None = None,
):
    """POST a capture: by default the clip's turn to the right with jackson saying the
    challenge, the frames spread over the recording."""
    audio = audio if audio is not None else media.jackson_reading(CHALLENGE)
    frames = list(frames if frames is not None else media.capture_frames())
    return challenger.capture(username, frames, media.frame_times_over(len(frames), audio), audio)


def failures(app, username: str) -> int:  # type: ignore[no-untyped-def]
    """Consecutive failed log-ins the lockout counts for ``username``."""
    services = app.extensions[EXTENSION]
    state = lockout_state(services.database, username, services.accounts.lockout)
    return state.consecutive_failures


@pytest.fixture
def challenger(app) -> Challenger:  # type: ignore[no-untyped-def]
    """A visitor of the app with challenges on."""
    return Challenger(app.test_client())


@pytest.fixture
def hamilton(challenger: Challenger) -> str:
    """The clip's person, signed up with a frontal frame and three phrases of jackson."""
    assert (
        challenger.take_photo(
            "hamilton", "sign_up", media.jpeg(media.clip_frames([media.FRONTAL_FRAME])[0])
        ).status_code
        == 200
    )
    for index in range(3):
        assert (
            challenger.record_voice("hamilton", "sign_up", media.jackson_phrase(index)).status_code
            == 200
        )
    assert challenger.post("/sign_up", username="hamilton").status_code == 201
    return "hamilton"


@pytest.fixture
def visitor(client: FlaskClient) -> Visitor:
    """A visitor of the test's app."""
    return Visitor(client)


@pytest.fixture
def make_visitor(app: Flask):  # type: ignore[no-untyped-def]
    """A factory of further visitors with their own cookies."""
    return lambda: Visitor(app.test_client())


@pytest.fixture
def enrolled(visitor: Visitor) -> str:
    """A registered user 'obama': obama.jpg and three phrases of speaker A."""
    phrases = [media.phrase(media.SPEAKER_A, i) for i in range(3)]
    answer = visitor.sign_up("obama", media.photo("obama.jpg"), phrases)
    assert answer.status_code == 201, answer.json
    return "obama"


def service_reachable(host: str, port: int) -> bool:
    """Whether a TCP service answers."""
    try:
        with socket.create_connection((host, port), timeout=2):
            return True
    except OSError:
        return False


def require_service(name: str, host: str, port: int) -> None:
    """Skip without the service, unless CI demands it (FACEVOICE_REQUIRE_SERVICES=1)."""
    if service_reachable(host, port):
        return
    message = f"{name} is not reachable at {host}:{port}"
    if os.environ.get("FACEVOICE_REQUIRE_SERVICES") == "1":
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="session")
def postgres_server_url() -> str:
    """URL of the local PostgreSQL server's maintenance database."""
    url = os.environ.get("FACEVOICE_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
    require_service("PostgreSQL", "127.0.0.1", 5432)
    return url


@pytest.fixture
def postgres_url(postgres_server_url: str):  # type: ignore[no-untyped-def]
    """A fresh, empty PostgreSQL database for one test, dropped afterwards."""
    name = f"facevoice_test_{secrets.token_hex(4)}"
    admin = create_engine(postgres_server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    yield postgres_server_url.rsplit("/", 1)[0] + f"/{name}"
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def redis_url() -> str:
    """A Redis database of the local server, emptied for the test."""
    require_service("Redis", "127.0.0.1", 6379)
    url = "redis://127.0.0.1:6379/7"
    redis.Redis.from_url(url).flushdb()
    return url
