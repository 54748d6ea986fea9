"""Hardening item 5: parallel log-ins never get more tries evaluated than the lockout allows.

Each try is reserved in one atomic statement before the samples are compared, so of N
parallel wrong log-ins at most ``lockout_after_failures`` are evaluated, and after the wait
exactly one more.
"""

from __future__ import annotations

import datetime as dt
import secrets
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import create_engine, select, text

from facevoice.storage.database import AuditEvent, Database
from facevoice.storage.lockout import LockoutPolicy, lockout_state, reserve_attempt
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


POLICY = LockoutPolicy(wait_after=ALLOWED, wait_seconds=30, disable_after=50)
START = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request, tmp_path: Path):  # type: ignore[no-untyped-def]
    """A database file shared by threads: SQLite, and PostgreSQL."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'users.sqlite3'}"
    else:
        url = request.getfixturevalue("postgres_url")
    database = Database(url)
    database.upgrade()
    yield database
    database.dispose()


def reserved_in_parallel(database: Database, now: dt.datetime) -> int:
    """How many of PARALLEL simultaneous reservations of one name were allowed."""
    states = all_at_once(
        [lambda: int(reserve_attempt(database, "alice", POLICY, now).allowed)] * PARALLEL
    )
    return sum(states)


def test_parallel_reservations_allow_exactly_the_allowed_number(database: Database) -> None:
    assert reserved_in_parallel(database, START) == ALLOWED
    assert lockout_state(database, "alice", POLICY, START).consecutive_failures == ALLOWED


def test_after_the_wait_exactly_one_parallel_reservation_is_allowed(database: Database) -> None:
    reserved_in_parallel(database, START)
    assert reserved_in_parallel(database, START + dt.timedelta(seconds=31)) == 1


def test_refused_reservation_says_how_long_to_wait(database: Database) -> None:
    for _ in range(ALLOWED):
        reserve_attempt(database, "alice", POLICY, START)
    state = reserve_attempt(database, "Alice", POLICY, START + dt.timedelta(seconds=10))
    assert not state.allowed and state.retry_after_seconds == 20


def test_reservations_reaching_the_limit_disable_the_name(database: Database) -> None:
    policy = LockoutPolicy(wait_after=5, wait_seconds=0, disable_after=3)
    assert [reserve_attempt(database, "alice", policy).allowed for _ in range(4)] == [
        True,
        True,
        True,
        False,
    ]
    assert lockout_state(database, "alice", policy).disabled


def test_a_log_in_without_samples_is_not_counted(app: Flask, visitor: Visitor) -> None:
    assert visitor.post("/log_in", username="alice").status_code == 400
    database = app.extensions["facevoice"].database
    assert lockout_state(database, "alice", POLICY).consecutive_failures == 0


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
