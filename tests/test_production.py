"""Issue 7: two gunicorn processes on different ports sharing PostgreSQL and Redis."""

from __future__ import annotations

import dataclasses
import secrets
from pathlib import Path

import pytest
import redis
from click.testing import CliRunner
from sqlalchemy import create_engine, text

from facevoice.cli import main as cli
from facevoice.config import Settings
from facevoice.server import gunicorn_options
from facevoice.storage.database import Database
from tests import media
from tests.conftest import require_service
from tests.servers import HttpVisitor, ServerProcess


@pytest.fixture(scope="module")
def cluster(tmp_path_factory, postgres_server_url):  # type: ignore[no-untyped-def]
    """Two servers sharing one PostgreSQL database, one Redis and the same keys."""
    require_service("Redis", "127.0.0.1", 6379)
    name = f"facevoice_cluster_{secrets.token_hex(4)}"
    admin = create_engine(postgres_server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    redis_url = "redis://127.0.0.1:6379/8"
    redis.Redis.from_url(redis_url).flushdb()
    shared = {
        "FACEVOICE_DATABASE_URL": postgres_server_url.rsplit("/", 1)[0] + f"/{name}",
        "FACEVOICE_RATELIMIT_STORAGE_URL": redis_url,
        "FACEVOICE_ATTEMPT_STORE_URL": redis_url,
        "FACEVOICE_SECRET_KEY": secrets.token_hex(32),
        "FACEVOICE_TEMPLATE_KEY": secrets.token_hex(32),
        # The plain flow (HTTP API) with single photos; the challenges: test_challenges.py.
        "FACEVOICE_VOICE_CHALLENGE": "off",
        "FACEVOICE_FACE_CHALLENGE": "off",
    }
    root = tmp_path_factory.mktemp("cluster")
    servers = [ServerProcess(root / f"node{i}", shared) for i in range(2)]
    try:
        for server in servers:
            server.wait_ready()
        yield servers
    finally:
        for server in servers:
            server.stop()
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def log_in(visitor: HttpVisitor, username: str, photo: str, servers: list[str]) -> int:
    """A log-in whose three calls go to the given servers in turn; the final status."""
    first, second, third = servers
    visitor.post(
        "/take_photo", first, username=username, flow="log_in", image=media.b64(media.photo(photo))
    )
    visitor.post(
        "/record_voice",
        second,
        username=username,
        flow="log_in",
        audio=media.b64(media.phrase(media.SPEAKER_A, 3)),
    )
    return visitor.post("/log_in", third, username=username).status_code


def test_both_servers_are_ready_with_postgresql_and_redis(cluster) -> None:  # type: ignore[no-untyped-def]
    for server in cluster:
        checks = HttpVisitor(server.url).get("/readyz").json()["checks"]
        assert checks == {
            "models": {"ok": True},
            "database": {"ok": True},
            "redis:ratelimit": {"ok": True},
            "redis:attempts": {"ok": True},
            "ratelimit": {"ok": True, "storage": "redis"},
        }


def test_answers_do_not_name_the_server_software(cluster) -> None:  # type: ignore[no-untyped-def]
    for server in cluster:
        for path in ("/", "/healthz", "/no-such-page"):
            assert "Server" not in HttpVisitor(server.url).get(path).headers


def test_user_signed_up_on_one_server_logs_in_on_the_other(cluster) -> None:  # type: ignore[no-untyped-def]
    one, other = cluster
    assert HttpVisitor(one.url).sign_up_obama("alice") == 201
    visitor = HttpVisitor(other.url)
    assert log_in(visitor, "alice", "obama2.jpg", [other.url] * 3) == 200
    assert visitor.get("/protected", allow_redirects=False).status_code == 200


def test_one_log_in_can_be_spread_over_both_servers(cluster) -> None:  # type: ignore[no-untyped-def]
    one, other = cluster
    assert HttpVisitor(other.url).sign_up_obama("bobby") == 201
    visitor = HttpVisitor(one.url)
    assert log_in(visitor, "bobby", "obama2.jpg", [one.url, other.url, one.url]) == 200
    assert visitor.get("/protected", other.url, allow_redirects=False).status_code == 200


def test_lockout_earned_on_one_server_holds_on_the_other(cluster) -> None:  # type: ignore[no-untyped-def]
    one, other = cluster
    assert HttpVisitor(one.url).sign_up_obama("carol") == 201
    attacker = HttpVisitor(one.url)
    codes = [log_in(attacker, "carol", "biden.jpg", [one.url] * 3) for _ in range(5)]
    assert codes == [401] * 5
    visitor = HttpVisitor(other.url)
    assert log_in(visitor, "carol", "obama2.jpg", [other.url] * 3) == 429


def test_serve_runs_one_sync_worker_per_configured_process() -> None:
    settings = Settings(
        workers=3, host="0.0.0.0", port=8000, ratelimit_storage_url="redis://127.0.0.1:6379"
    )
    options = gunicorn_options(settings)
    assert options["workers"] == 3
    assert options["bind"] == "0.0.0.0:8000"
    assert options["worker_class"] == "sync"


def test_readyz_fails_when_the_database_is_unreachable(app) -> None:  # type: ignore[no-untyped-def]
    services = app.extensions["facevoice"]
    unreachable = Database("postgresql+psycopg://nobody@127.0.0.1:1/nothing")
    app.extensions["facevoice"] = dataclasses.replace(services, database=unreachable)
    answer = app.test_client().get("/readyz")
    assert answer.status_code == 503
    database = answer.json["checks"]["database"]
    assert database["ok"] is False
    assert "Connection refused" in database["reason"]
    assert answer.json["checks"]["models"] == {"ok": True}


@pytest.mark.parametrize("settings_overrides", [{"ratelimit_storage_url": "redis://127.0.0.1:1"}])
def test_readyz_fails_when_redis_is_unreachable(client) -> None:  # type: ignore[no-untyped-def]
    answer = client.get("/readyz")
    assert answer.status_code == 503
    redis_check = answer.json["checks"]["redis:ratelimit"]
    assert redis_check["ok"] is False
    assert "refused" in redis_check["reason"]
    # Requests still work, limited per process, rather than failing.
    assert client.get("/sign_up?username=alice", headers={"Accept": "application/json"}).json == {
        "username": "alice",
        "registered": False,
    }


def test_healthz_answers_without_checking_anything(client) -> None:  # type: ignore[no-untyped-def]
    assert client.get("/healthz").json == {"ok": True, "status": "alive"}


def test_cli_lists_users(enrolled: str, data_dir: Path) -> None:
    result = CliRunner().invoke(cli, ["users", "list"], env={"FACEVOICE_DATA_DIR": str(data_dir)})
    assert result.stdout.startswith("obama\t")
