"""What a log-in proved as amr and acr, and the provider's tables in the migrations."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command

from facevoice.auth.policy import amr_of
from facevoice.oidc import policy
from facevoice.storage.database import Database, alembic_config

OIDC_TABLES = {"oidc_clients", "oidc_codes", "oidc_tokens", "oidc_consents"}


def test_two_factors_add_mfa() -> None:
    assert amr_of(["face", "voice"]) == ("face", "vbm", "mfa")


def test_one_factor_is_not_mfa() -> None:
    assert amr_of(["recovery_code"]) == ("otp",)


def test_face_and_voice_reach_the_face_voice_level_only() -> None:
    assert policy.acr_of(["face", "vbm"]) == policy.FACE_VOICE
    assert not policy.meets(policy.FACE_VOICE_PASSKEY, ["face", "vbm"])


def test_a_passkey_on_top_reaches_the_passkey_level() -> None:
    assert policy.acr_of(["face", "vbm", "hwk"]) == policy.FACE_VOICE_PASSKEY


def test_the_passkey_level_is_attainable_while_passkeys_are_on() -> None:
    assert policy.is_attainable(policy.FACE_VOICE_PASSKEY, passkeys=True)
    assert policy.is_attainable(policy.FACE_VOICE, passkeys=True)


def test_with_passkeys_off_only_the_face_voice_level_is_attainable() -> None:
    assert policy.is_attainable(policy.FACE_VOICE, passkeys=False)
    assert not policy.is_attainable(policy.FACE_VOICE_PASSKEY, passkeys=False)


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database of each kind."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'db.sqlite3'}"
    return str(request.getfixturevalue("postgres_url"))


def test_the_migration_adds_the_provider_tables_to_an_existing_database(url: str) -> None:
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        config = alembic_config(url)
        config.attributes["connection"] = connection
        command.upgrade(config, "0003")
        connection.execute(
            sa.text(
                "INSERT INTO users (public_id, username, username_key, face_template, "
                "voice_template, created_at) VALUES ('p1', 'alice', 'alice', :face, :voice, "
                "'2026-01-01 00:00:00')"
            ),
            {"face": b"face", "voice": b"voice"},
        )
    database = Database(url)
    database.upgrade()
    assert set(sa.inspect(database.engine).get_table_names()) >= OIDC_TABLES
    with database.engine.connect() as connection:
        assert connection.execute(sa.text("SELECT username FROM users")).scalar() == "alice"
    database.dispose()
    engine.dispose()


def test_the_migration_downgrades_cleanly(url: str) -> None:
    database = Database(url)
    database.upgrade()
    with database.engine.begin() as connection:
        config = alembic_config(url)
        config.attributes["connection"] = connection
        command.downgrade(config, "0004")
    assert not OIDC_TABLES & set(sa.inspect(database.engine).get_table_names())
    database.dispose()
