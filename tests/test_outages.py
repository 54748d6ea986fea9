"""Hardening: Redis and PostgreSQL outages answer 503 quickly, are logged once, and pass.

Each test runs against a Redis and a PostgreSQL of its module's own, which it stops,
freezes (SIGSTOP) and restarts; the shared services are never touched.
"""

from __future__ import annotations

import logging
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from flask import Flask

from facevoice import create_app
from facevoice.biometrics.models import Biometrics
from facevoice.web.errors import OutageLog
from tests import media
from tests.conftest import Visitor
from tests.servers import PostgresCluster, RedisServer, ServerProcess, wait_until

DID_NOT_HANG_SECONDS = 10  # the timeouts are 1-2 s; without them a call hung 15 to 121 s
NAME_CHECK = {"Accept": "application/json"}


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """A redis-server of this module's own."""
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def redis_up(redis_server: RedisServer) -> Iterator[RedisServer]:
    """The module's Redis, running at the start of the test and again after it."""
    if not redis_server.running:
        redis_server.start()
    yield redis_server
    redis_server.thaw()
    if not redis_server.running:
        redis_server.start()


@pytest.fixture(scope="module")
def postgres() -> Iterator[PostgresCluster]:
    """A PostgreSQL cluster of this module's own."""
    cluster = PostgresCluster()
    cluster.start()
    yield cluster
    cluster.remove()


@pytest.fixture
def postgres_up(postgres: PostgresCluster) -> Iterator[PostgresCluster]:
    """The module's PostgreSQL, running at the start of the test and again after it."""
    if not postgres.running:
        postgres.start()
    yield postgres
    postgres.thaw()
    if not postgres.running:
        postgres.start()


def outage_app(data_dir: Path, models: Biometrics, **settings: Any) -> Flask:
    """An app with the challenges on and short timeouts, for the given services."""
    config = {
        "data_dir": str(data_dir),
        "models": models,
        "warm_up": False,
        "TESTING": True,
        "redis_timeout_seconds": 1.0,
        "database_timeout_seconds": 2.0,
    }
    return create_app({**config, **settings})


@pytest.fixture
def redis_app(data_dir: Path, models: Biometrics, redis_up: RedisServer) -> Flask:
    """Attempts, challenges and rate limits in the module's Redis."""
    return outage_app(
        data_dir, models, attempt_store_url=redis_up.url, ratelimit_storage_url=redis_up.url
    )


@pytest.fixture
def postgres_app(data_dir: Path, models: Biometrics, postgres_up: PostgresCluster) -> Flask:
    """Users, counters and the audit log in a fresh database of the module's PostgreSQL."""
    return outage_app(data_dir, models, database_url=postgres_up.create_database())


REDIS_CALLS = {
    "record_voice": ("/record_voice", {"flow": "sign_up", "audio": media.b64(b"RIFF....")}),
    "sign_up": ("/sign_up", {}),
    "log_in": ("/log_in", {}),
    "log_in/challenge": ("/log_in/challenge", None),
}


def call(visitor: Visitor, name: str):  # type: ignore[no-untyped-def]
    """One of the calls that need Redis, as the page makes it."""
    path, fields = REDIS_CALLS[name]
    if fields is None:
        return visitor.client.get(path)
    return visitor.post(path, username="alice", **fields)


def assert_unavailable(answer) -> None:  # type: ignore[no-untyped-def]
    """A 503 with a JSON message and Retry-After."""
    assert answer.status_code == 503, answer.data[:300]
    assert answer.json["ok"] is False
    assert "Try again" in answer.json["message"]
    assert int(answer.headers["Retry-After"]) > 0


def timed(request: Any) -> tuple[Any, float]:
    """The answer of a call and the seconds it took."""
    start = time.monotonic()
    answer = request()
    return answer, time.monotonic() - start


# --- Redis -------------------------------------------------------------------------------


def visitor_with_an_attempt(app: Flask) -> Visitor:
    """A visitor whose sign-up has its photo, so the next calls read the attempt from Redis."""
    visitor = Visitor(app.test_client())
    assert visitor.take_photo("alice", "sign_up", media.photo("obama.jpg")).status_code == 200
    return visitor


@pytest.mark.parametrize("name", list(REDIS_CALLS))
def test_stopped_redis_answers_503_at_once(
    redis_app: Flask, redis_up: RedisServer, name: str
) -> None:
    visitor = visitor_with_an_attempt(redis_app)
    redis_up.stop()
    answer, seconds = timed(lambda: call(visitor, name))
    assert_unavailable(answer)
    assert seconds < DID_NOT_HANG_SECONDS


def test_frozen_redis_answers_503_within_the_timeout(
    redis_app: Flask, redis_up: RedisServer
) -> None:
    visitor = visitor_with_an_attempt(redis_app)  # connections to Redis now open
    redis_up.freeze()
    try:
        answer, seconds = timed(lambda: call(visitor, "sign_up"))
    finally:
        redis_up.thaw()
    assert_unavailable(answer)
    assert seconds < DID_NOT_HANG_SECONDS
    assert call(visitor, "sign_up").status_code == 400  # Redis answers again: the voice is missing


def test_redis_coming_back_is_used_without_a_restart(
    redis_app: Flask, redis_up: RedisServer
) -> None:
    visitor = Visitor(redis_app.test_client())
    visitor.token  # noqa: B018
    redis_up.stop()
    assert_unavailable(call(visitor, "log_in/challenge"))
    redis_up.start()
    answer = call(visitor, "log_in/challenge")
    assert answer.status_code == 200
    assert len(answer.json["challenge"].split()) == 5


def test_a_redis_outage_is_logged_once(
    redis_app: Flask, redis_up: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    visitor = visitor_with_an_attempt(redis_app)
    redis_up.stop()
    with caplog.at_level(logging.WARNING):
        for _ in range(5):
            assert_unavailable(call(visitor, "sign_up"))
    outage_lines = [r for r in caplog.records if "redis unavailable" in r.getMessage()]
    assert len(outage_lines) == 1
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR and r not in outage_lines]


def test_readyz_says_why_redis_is_not_ready(redis_app: Flask, redis_up: RedisServer) -> None:
    redis_up.stop()
    answer = redis_app.test_client().get("/readyz")
    assert answer.status_code == 503
    check = answer.json["checks"]["redis:attempts"]
    assert check["ok"] is False
    assert "refused" in check["reason"].lower()


def test_a_new_outage_after_a_quiet_spell_is_logged_again(
    caplog: pytest.LogCaptureFixture,
) -> None:
    now = [0.0]
    outages = OutageLog(quiet_seconds=60, clock=lambda: now[0])
    with caplog.at_level(logging.ERROR):
        for moment in (0, 10, 50, 200, 210):
            now[0] = moment
            outages.failed("redis", ConnectionError("refused"))
    assert len(caplog.records) == 2


# --- PostgreSQL --------------------------------------------------------------------------


def name_check(app: Flask):  # type: ignore[no-untyped-def]
    """GET /sign_up?username=alice as the sign-up page asks it: a database lookup."""
    return app.test_client().get("/sign_up?username=alice", headers=NAME_CHECK)


def test_stopped_postgresql_answers_503(postgres_app: Flask, postgres_up: PostgresCluster) -> None:
    assert name_check(postgres_app).status_code == 200
    postgres_up.stop()
    answer, seconds = timed(lambda: name_check(postgres_app))
    assert_unavailable(answer)
    assert seconds < DID_NOT_HANG_SECONDS


def test_a_log_in_answers_503_while_postgresql_is_stopped(
    postgres_app: Flask, postgres_up: PostgresCluster
) -> None:
    visitor = Visitor(postgres_app.test_client())
    visitor.token  # noqa: B018
    postgres_up.stop()
    assert_unavailable(visitor.post("/log_in", username="alice"))


def test_frozen_postgresql_answers_503_within_the_timeout(
    postgres_app: Flask, postgres_up: PostgresCluster
) -> None:
    assert name_check(postgres_app).status_code == 200  # a pooled connection now
    postgres_up.freeze()
    try:
        answer, seconds = timed(lambda: name_check(postgres_app))
    finally:
        postgres_up.thaw()
    assert_unavailable(answer)
    assert seconds < DID_NOT_HANG_SECONDS
    wait_until(lambda: name_check(postgres_app).status_code == 200, 20, "PostgreSQL used again")


def test_postgresql_coming_back_is_used_without_a_restart(
    postgres_app: Flask, postgres_up: PostgresCluster
) -> None:
    postgres_up.stop()
    assert_unavailable(name_check(postgres_app))
    postgres_up.start()
    assert name_check(postgres_app).json == {"username": "alice", "registered": False}


def test_a_database_outage_is_logged_once(
    postgres_app: Flask, postgres_up: PostgresCluster, caplog: pytest.LogCaptureFixture
) -> None:
    postgres_up.stop()
    with caplog.at_level(logging.WARNING):
        for _ in range(5):
            assert_unavailable(name_check(postgres_app))
    outage_lines = [r for r in caplog.records if "database unavailable" in r.getMessage()]
    assert len(outage_lines) == 1
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR and r not in outage_lines]


def test_the_app_starts_while_postgresql_is_down_and_serves_once_it_is_up(
    data_dir: Path, models: Biometrics, postgres_up: PostgresCluster
) -> None:
    url = postgres_up.create_database()
    postgres_up.stop()
    app = outage_app(data_dir, models, database_url=url)
    ready = app.test_client().get("/readyz")
    assert ready.status_code == 503
    assert "not reachable" in ready.json["checks"]["database"]["reason"]
    assert_unavailable(name_check(app))
    postgres_up.start()
    # The migration is retried with a growing delay (1 s, 2 s, ... at most 15 s).
    wait_until(lambda: name_check(app).status_code == 200, 40, "the app using PostgreSQL")
    assert app.test_client().get("/readyz").status_code == 200


def test_serve_survives_a_worker_restart_while_postgresql_is_down(
    tmp_path: Path, postgres_up: PostgresCluster
) -> None:
    url = postgres_up.create_database()
    postgres_up.stop()
    server = ServerProcess(
        tmp_path / "data",
        {"FACEVOICE_DATABASE_URL": url, "FACEVOICE_DATABASE_TIMEOUT_SECONDS": "2"},
        workers=1,
    )
    try:
        server.wait_ready(status=503)
        reason = requests.get(server.url + "/readyz", timeout=10).json()["checks"]["database"]
        assert "not reachable" in reason["reason"]
        (worker,) = server.worker_pids()
        os.kill(worker, signal.SIGKILL)
        wait_until(lambda: server.worker_pids() not in ([], [worker]), 30, "a new worker")
        server.wait_ready(status=503)  # the new worker booted without the database
        postgres_up.start()
        server.wait_ready(timeout=60)
        answer = requests.get(server.url + "/sign_up?username=alice", headers=NAME_CHECK)
        assert answer.json() == {"username": "alice", "registered": False}
    finally:
        server.stop()
