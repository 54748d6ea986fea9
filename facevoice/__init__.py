"""facevoice: a website login with face and voice."""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask
from flask_wtf.csrf import CSRFProtect

from facevoice.accounts import Accounts
from facevoice.biometrics.models import Biometrics, load_biometrics
from facevoice.config import Settings
from facevoice.storage.attempts import AttemptStore, attempt_blobs
from facevoice.storage.challenges import ChallengeStore
from facevoice.storage.database import Database
from facevoice.storage.folders import (
    create_file_once,
    make_dirs,
    sweep_expired,
    sweep_stray_files,
)
from facevoice.storage.templates import load_cipher
from facevoice.web import init_web
from facevoice.web.security import init_security
from facevoice.web.services import EXTENSION, Services

log = logging.getLogger(__name__)

csrf = CSRFProtect()
SWEEP_INTERVAL_SECONDS = 60


def new_flask_app() -> Flask:
    """The bare Flask object, with facevoice's templates, static files and instance folder."""
    return Flask(
        __name__,
        instance_relative_config=True,
        template_folder="web/templates",
        static_folder="web/static",
    )


def resolve_settings(overrides: Mapping[str, Any] | None = None) -> Settings:
    """Settings from the environment and ``overrides``, data folder defaulting to the instance."""
    return Settings.from_env(overrides=overrides).with_data_dir(new_flask_app().instance_path)


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the app. ``config`` overrides settings by field name (see ``Settings``);
    upper-case keys go to Flask's own config, and ``models`` supplies loaded models."""
    app = new_flask_app()
    overrides = dict(config or {})
    flask_config = {key: overrides.pop(key) for key in list(overrides) if key.isupper()}
    models: Biometrics | None = overrides.pop("models", None)
    settings = resolve_settings(overrides)
    _, tmp_dir = make_dirs(settings.data_dir)

    app.config.update(
        SECRET_KEY=settings.secret_key or _secret_from_file(Path(settings.data_dir) / "secret.key"),
        MAX_CONTENT_LENGTH=settings.max_request_bytes,
        MAX_FORM_MEMORY_SIZE=settings.max_request_bytes,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        WTF_CSRF_TIME_LIMIT=None,
    )
    init_security(app, settings)
    app.config.update(flask_config)
    testing_only = (
        settings.fixed_voice_challenge or settings.fixed_face_turn or settings.testing_skip_checks
    )
    if testing_only and not app.testing:
        raise ValueError("fixed challenges and skipped checks are for tests only: need TESTING")

    database = Database(settings.database_url, settings.database_timeout_seconds)
    # A database that is down must not stop the worker: requests get 503 and the
    # migration is tried again until it succeeds.
    database.upgrade_when_reachable()
    if models is None:
        models = load_biometrics(
            settings.face_detect_width_px,
            settings.torch_threads,
            settings.face_landmarker_file,
            landmarks=settings.face_challenge or settings.voice_challenge,
            digits=settings.voice_challenge,
        )
        if settings.warm_up:
            models.warm_up()
    cipher = load_cipher(settings.template_key, settings.template_key_path)
    blobs = attempt_blobs(
        settings.attempt_store_url,
        tmp_dir,
        settings.attempt_timeout_seconds,
        settings.redis_timeout_seconds,
    )
    attempts = AttemptStore(
        tmp_dir, settings.max_enroll_phrases, settings.attempt_timeout_seconds, cipher, blobs
    )
    challenges = ChallengeStore(blobs, settings.challenge_seconds)
    accounts = Accounts(settings, database, cipher, models)
    app.extensions[EXTENSION] = Services(settings, database, attempts, challenges, accounts)

    csrf.init_app(app)
    init_web(app)
    _sweep_attempts_periodically(app, attempts, settings)
    return app


def _secret_from_file(path: Path) -> str:
    """The session signing key kept in the data folder, created once."""
    if not path.exists():
        create_file_once(path, secrets.token_hex(32))
    return path.read_text().strip()


def _sweep_attempts_periodically(app: Flask, attempts: AttemptStore, settings: Settings) -> None:
    """Delete expired attempts, and files that requests killed mid-way left behind, now and
    again at most once a minute as requests come."""

    def sweep_tmp() -> None:
        sweep_expired(attempts.tmp_dir, attempts.timeout_seconds)
        sweep_stray_files(attempts.tmp_dir, settings.request_timeout_seconds)

    sweep_tmp()
    last_sweep = time.monotonic()

    @app.before_request
    def sweep() -> None:
        nonlocal last_sweep
        if time.monotonic() - last_sweep > SWEEP_INTERVAL_SECONDS:
            last_sweep = time.monotonic()
            sweep_tmp()
