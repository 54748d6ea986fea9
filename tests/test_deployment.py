"""Hardening: how `facevoice serve` picks its workers, what it trusts from proxies, headers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from flask import Flask, request
from flask.testing import FlaskClient

from facevoice import create_app
from facevoice.biometrics.models import load_biometrics
from facevoice.cli import main as cli
from facevoice.config import Settings
from facevoice.server import FacevoiceServer, gunicorn_options, startup_notes, worker_count
from tests.conftest import Visitor

REDIS = "redis://127.0.0.1:6379/0"
DIRECT_CLIENT = {"REMOTE_ADDR": "198.51.100.5"}  # not a trusted proxy


# --- Workers and rate limits --------------------------------------------------------------


@pytest.fixture
def started(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """The gunicorn options of each `facevoice serve` run, instead of running gunicorn."""
    runs: list[dict[str, Any]] = []
    monkeypatch.setattr(FacevoiceServer, "run", lambda server: runs.append(server.options))
    return runs


def serve(data_dir: Path, **env: str):  # type: ignore[no-untyped-def]
    """`facevoice serve` on a fresh data folder with these FACEVOICE_* variables."""
    variables = {f"FACEVOICE_{name.upper()}": value for name, value in env.items()}
    return CliRunner().invoke(
        cli, ["serve"], env={"FACEVOICE_DATA_DIR": str(data_dir), **variables}
    )


def test_serve_refuses_several_workers_with_the_implicit_memory_limits(
    data_dir: Path, started: list[dict[str, Any]]
) -> None:
    result = serve(data_dir, workers="2")
    assert result.exit_code != 0
    assert "FACEVOICE_RATELIMIT_STORAGE_URL=redis://" in result.output
    assert started == []


def test_serve_runs_several_workers_with_explicit_memory_limits(
    data_dir: Path, started: list[dict[str, Any]]
) -> None:
    result = serve(data_dir, workers="2", ratelimit_storage_url="memory://")
    assert result.exit_code == 0, result.output
    assert started[0]["workers"] == 2


def test_serve_runs_several_workers_with_rate_limiting_off(
    data_dir: Path, started: list[dict[str, Any]]
) -> None:
    result = serve(data_dir, workers="4", ratelimit="off")
    assert result.exit_code == 0, result.output
    assert started[0]["workers"] == 4


def test_serve_starts_on_a_fresh_data_folder_with_the_defaults(
    data_dir: Path, started: list[dict[str, Any]]
) -> None:
    result = serve(data_dir)
    assert result.exit_code == 0, result.output
    assert started[0]["workers"] == 1
    assert (data_dir / "db" / "facevoice.sqlite3").exists()  # migrated before forking


def test_auto_workers_are_one_while_limits_are_counted_in_memory() -> None:
    assert worker_count(Settings(), cores=2) == 1


@pytest.mark.parametrize(
    "settings",
    [Settings(ratelimit_storage_url=REDIS), Settings(ratelimit=False)],
    ids=["redis limits", "rate limiting off"],
)
def test_auto_workers_are_one_per_core_otherwise(settings: Settings) -> None:
    assert worker_count(settings, cores=2) == 2


def test_start_up_says_why_auto_runs_one_worker() -> None:
    notes = " ".join(startup_notes(Settings(), workers=1))
    assert "one worker, because rate limits are counted in memory" in notes


def test_start_up_warns_of_per_worker_limits_with_explicit_memory() -> None:
    notes = " ".join(startup_notes(Settings(workers=2, ratelimit_storage_url="memory://"), 2))
    assert "a client gets 2 times each limit" in notes


def test_start_up_says_serve_belongs_behind_a_reverse_proxy() -> None:
    notes = startup_notes(Settings(ratelimit_storage_url=REDIS), workers=2)
    assert notes == [notes[0]] and "behind a reverse proxy" in notes[0]


def test_start_up_warns_when_listening_beyond_this_machine() -> None:
    notes = " ".join(startup_notes(Settings(host="0.0.0.0", ratelimit_storage_url=REDIS), 2))
    assert "only the reverse proxy can reach that port" in notes


def test_serve_listens_on_this_machine_only_by_default() -> None:
    assert gunicorn_options(Settings())["bind"] == "127.0.0.1:5000"


def test_readyz_says_memory_limits_are_counted_per_worker(client: FlaskClient) -> None:
    check = client.get("/readyz").json["checks"]["ratelimit"]
    assert check["ok"] is True
    assert check["storage"] == "memory"
    assert "counted in each worker process" in check["warning"]


# --- Proxies and hosts ---------------------------------------------------------------------


def echo_request(app: Flask) -> FlaskClient:
    """A client of the app with a route answering what the app believes about the request."""

    def echo() -> dict[str, str]:
        return {"host": request.host, "address": request.remote_addr, "scheme": request.scheme}

    app.add_url_rule("/echo", "echo", echo)
    return app.test_client()


@pytest.mark.parametrize("settings_overrides", [{"proxy_hops": 1}])
def test_forwarded_address_and_scheme_from_the_proxy_are_believed(app: Flask) -> None:
    headers = {"X-Forwarded-For": "203.0.113.7", "X-Forwarded-Proto": "https"}
    seen = echo_request(app).get("/echo", headers=headers).json
    assert (seen["address"], seen["scheme"]) == ("203.0.113.7", "https")


@pytest.mark.parametrize("settings_overrides", [{"proxy_hops": 1}])
def test_forged_forwarded_host_is_ignored(app: Flask) -> None:
    seen = echo_request(app).get("/echo", headers={"X-Forwarded-Host": "evil.example"}).json
    assert seen["host"] == "localhost"


@pytest.mark.parametrize("settings_overrides", [{"proxy_hops": 1}])
def test_forwarded_address_from_a_direct_client_is_ignored(app: Flask) -> None:
    client = echo_request(app)
    seen = client.get(
        "/echo", headers={"X-Forwarded-For": "203.0.113.7"}, environ_base=DIRECT_CLIENT
    ).json
    assert seen["address"] == DIRECT_CLIENT["REMOTE_ADDR"]


@pytest.mark.parametrize(
    "settings_overrides",
    [
        {
            "proxy_hops": 1,
            "ratelimit_per_ip": "4 per minute",
            "ratelimit_per_username": "1000/minute",
        }
    ],
)
def test_a_direct_client_cannot_escape_rate_limits_by_rotating_forwarded_for(
    visitor: Visitor,
) -> None:
    codes = [
        visitor.client.post(
            "/sign_up",
            json={"username": "alice"},
            headers={"X-CSRFToken": visitor.token, "X-Forwarded-For": f"203.0.113.{i}"},
            environ_base=DIRECT_CLIENT,
        ).status_code
        for i in range(5)
    ]
    assert codes == [400] * 4 + [429]


@pytest.mark.parametrize("settings_overrides", [{"proxy_hops": 1}])
def test_forwarded_headers_from_an_untrusted_peer_are_logged_once(
    app: Flask, caplog: pytest.LogCaptureFixture
) -> None:
    client = echo_request(app)
    for i in range(3):
        client.get(
            "/echo", headers={"X-Forwarded-For": f"203.0.113.{i}"}, environ_base=DIRECT_CLIENT
        )
    warnings = [r for r in caplog.records if "FACEVOICE_TRUSTED_PROXIES" in r.getMessage()]
    assert len(warnings) == 1


def test_slash_merging_redirect_stays_on_this_site(client: FlaskClient) -> None:
    answer = client.get("/static//favicon.svg", headers={"Host": "evil.example"})
    assert answer.status_code in (301, 308)
    assert answer.headers["Location"] == "/static/favicon.svg"


@pytest.mark.parametrize("settings_overrides", [{"server_name": "login.example.org"}])
def test_every_request_is_served_as_the_configured_server_name(app: Flask) -> None:
    seen = echo_request(app).get("/echo", headers={"Host": "evil.example"}).json
    assert seen["host"] == "login.example.org"


@pytest.mark.parametrize("settings_overrides", [{"issuer": "https://id.example.org/"}])
def test_without_a_server_name_the_issuer_gives_the_host(app: Flask) -> None:
    seen = echo_request(app).get("/echo", headers={"Host": "evil.example"}).json
    assert seen["host"] == "id.example.org"


def test_a_url_as_server_name_is_refused(data_dir: Path, models) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match="not a URL"):
        create_app(
            {
                "data_dir": str(data_dir),
                "models": models,
                "warm_up": False,
                "server_name": "https://login.example.org",
            }
        )


# --- Headers ---------------------------------------------------------------------------------


@pytest.mark.parametrize("settings_overrides", [{"https": True}])
def test_hsts_covers_only_this_host_by_default(client: FlaskClient) -> None:
    assert client.get("/").headers["Strict-Transport-Security"] == "max-age=31536000"


@pytest.mark.parametrize("settings_overrides", [{"https": True, "hsts_include_subdomains": True}])
def test_hsts_can_cover_every_subdomain(client: FlaskClient) -> None:
    hsts = client.get("/").headers["Strict-Transport-Security"]
    assert hsts == "max-age=31536000; includeSubDomains"


@pytest.mark.parametrize("settings_overrides", [{"hsts_include_subdomains": True}])
def test_no_hsts_without_https(client: FlaskClient) -> None:
    assert "Strict-Transport-Security" not in client.get("/").headers


# --- Models each configuration loads ------------------------------------------------------


@pytest.mark.parametrize(
    ("challenges", "landmarks", "digits"),
    [
        ({"face_challenge": True, "voice_challenge": True}, True, True),
        ({"face_challenge": True, "voice_challenge": False}, True, False),
        ({"face_challenge": False, "voice_challenge": True}, True, True),
        ({"face_challenge": False, "voice_challenge": False}, False, False),
    ],
)
def test_a_worker_loads_the_landmarker_and_digit_decoder_only_for_its_challenges(
    data_dir: Path,
    models: Any,
    monkeypatch: pytest.MonkeyPatch,
    challenges: dict[str, bool],
    landmarks: bool,
    digits: bool,
) -> None:
    asked: list[dict[str, Any]] = []

    def load(*_args: Any, **kwargs: Any) -> Any:
        asked.append(kwargs)
        return models

    monkeypatch.setattr("facevoice.load_biometrics", load)
    create_app({"data_dir": str(data_dir), "warm_up": False, "TESTING": True, **challenges})
    assert asked == [{"landmarks": landmarks, "digits": digits}]


def test_models_loaded_without_challenges_have_no_landmarker_or_digit_decoder() -> None:
    plain = load_biometrics(landmarks=False, digits=False)
    assert plain.mesh is None and plain.speech is None
    with pytest.raises(RuntimeError, match="landmarker"):
        plain.landmarker()
    with pytest.raises(RuntimeError, match="decoder"):
        plain.digit_decoder()
