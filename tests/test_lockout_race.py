"""Hardening item 5: parallel log-ins never get more tries evaluated than the lockout allows.

Each try is reserved in one atomic statement before the samples are compared, so of N
parallel wrong log-ins at most ``lockout_after_failures`` are evaluated, and after the wait
exactly one more.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest
from flask import Flask
from sqlalchemy import create_engine, select, text

from facevoice.storage.database import AuditEvent, Database
from tests import media
from tests.conftest import Visitor
from tests.servers import HttpVisitor, ServerProcess

PARALLEL = 10
ALLOWED = 5  # lockout_after_failures, the default
WRONG_FACE = media.b64(media.photo("biden.jpg"))
RIGHT_VOICE = media.b64(media.phrase(media.SPEAKER_A, 3))


def outcomes(database: Database) -> Counter[str]:
    """How many log-in audit entries each outcome has."""
    with database.session() as session:
        rows = session.scalars(select(AuditEvent.outcome).where(AuditEvent.event == "log_in"))
        return Counter(rows)


def all_at_once(calls: list[Callable[[], int]]) -> list[int]:
    """Run the calls in parallel threads, released together; their answers' status codes."""
    start = threading.Barrier(len(calls))

    def run(call: Callable[[], int]) -> int:
        start.wait()
        return call()

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(run, calls))


def test_parallel_wrong_log_ins_on_sqlite_evaluate_at_most_the_allowed_number(
    app: Flask, make_visitor, enrolled: str
) -> None:  # type: ignore[no-untyped-def]
    visitors: list[Visitor] = [make_visitor() for _ in range(PARALLEL)]
    for v in visitors:
        photo = v.post("/take_photo", username=enrolled, flow="log_in", image=WRONG_FACE)
        voice = v.post("/record_voice", username=enrolled, flow="log_in", audio=RIGHT_VOICE)
        assert photo.status_code == voice.status_code == 200
    codes = all_at_once(
        [lambda v=v: v.post("/log_in", username=enrolled).status_code for v in visitors]
    )
    counted = outcomes(app.extensions["facevoice"].database)
    assert counted["refused"] == ALLOWED
    assert counted["locked"] == PARALLEL - ALLOWED
    assert sorted(codes) == [401] * ALLOWED + [429] * (PARALLEL - ALLOWED)


# --- Real parallel requests against `facevoice serve` with 2 workers on PostgreSQL ----------

WAIT_SECONDS = 8


@pytest.fixture(scope="module")
def two_workers(tmp_path_factory, postgres_server_url):  # type: ignore[no-untyped-def]
    """``facevoice serve`` with 2 gunicorn workers on a fresh PostgreSQL database."""
    name = f"facevoice_race_{secrets.token_hex(4)}"
    admin = create_engine(postgres_server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = postgres_server_url.rsplit("/", 1)[0] + f"/{name}"
    env = {
        "FACEVOICE_DATABASE_URL": url,
        "FACEVOICE_RATELIMIT": "off",
        "FACEVOICE_VOICE_CHALLENGE": "off",
        "FACEVOICE_FACE_CHALLENGE": "off",
        "FACEVOICE_LOCKOUT_WAIT_SECONDS": str(WAIT_SECONDS),
    }
    server = ServerProcess(tmp_path_factory.mktemp("race") / "data", env, workers=2)
    database = Database(url)
    try:
        server.wait_ready()
        assert len(server.worker_pids()) == 2
        yield server, database
    finally:
        server.stop()
        database.dispose()
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def ready_wrong_log_in(server: ServerProcess, username: str) -> HttpVisitor:
    """A client that has sent Biden's photo and the user's voice, about to POST /log_in."""
    visitor = HttpVisitor(server.url)
    photo = visitor.post("/take_photo", username=username, flow="log_in", image=WRONG_FACE)
    voice = visitor.post("/record_voice", username=username, flow="log_in", audio=RIGHT_VOICE)
    assert photo.status_code == voice.status_code == 200
    return visitor


def log_in_together(visitors: list[HttpVisitor], username: str) -> list[int]:
    """POST /log_in from every client at once; the status codes."""
    return all_at_once(
        [lambda v=v: v.post("/log_in", username=username).status_code for v in visitors]
    )


def test_parallel_wrong_log_ins_against_two_workers_on_postgresql(two_workers) -> None:  # type: ignore[no-untyped-def]
    server, database = two_workers
    assert HttpVisitor(server.url).sign_up_obama("obama") == 201
    first = [ready_wrong_log_in(server, "obama") for _ in range(PARALLEL)]
    second = [ready_wrong_log_in(server, "obama") for _ in range(PARALLEL)]

    codes = log_in_together(first, "obama")
    counted = outcomes(database)
    assert counted["refused"] <= ALLOWED
    assert counted["refused"] + counted["locked"] == PARALLEL
    assert codes.count(401) == counted["refused"] and codes.count(429) == counted["locked"]

    time.sleep(WAIT_SECONDS + 1)
    after_wait = log_in_together(second, "obama")
    assert sorted(after_wait) == [401] + [429] * (PARALLEL - 1)
    assert outcomes(database)["refused"] == counted["refused"] + 1
