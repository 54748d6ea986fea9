"""The data folder, pending attempts, and the database schema."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import sqlalchemy as sa
from alembic import command
from alembic.script import ScriptDirectory

from facevoice.errors import UsernameTaken
from facevoice.storage import database as database_module
from facevoice.storage.attempts import LOG_IN, SIGN_UP, AttemptStore
from facevoice.storage.database import (
    MIGRATIONS,
    Database,
    alembic_config,
    create_user,
    get_user,
)
from facevoice.storage.folders import (
    create_file_once,
    get_upload_folder,
    make_dirs,
    sweep_expired,
)
from facevoice.storage.sessions import open_login_session, session_user
from facevoice.storage.templates import TemplateCipher, parse_key

CIPHER = TemplateCipher(parse_key("11" * 32))


@pytest.fixture
def store(tmp_path: Path) -> AttemptStore:
    """Attempts in a temporary tmp/ folder."""
    _, tmp_dir = make_dirs(tmp_path)
    return AttemptStore(tmp_dir, max_phrases=3, timeout_seconds=600, cipher=CIPHER)


def test_make_dirs_creates_private_db_and_tmp(tmp_path: Path) -> None:
    db_dir, tmp_dir = make_dirs(tmp_path / "data")
    assert db_dir.is_dir() and tmp_dir.is_dir()
    assert tmp_dir.stat().st_mode & 0o777 == 0o700


def test_file_created_once_is_private_and_never_replaced(tmp_path: Path) -> None:
    path = tmp_path / "secret.key"
    assert create_file_once(path, "first")
    assert not create_file_once(path, "second")
    assert path.read_text() == "first"
    assert path.stat().st_mode & 0o777 == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["secret.key"]  # no partial file left


def test_processes_racing_to_create_a_key_file_all_read_the_same_whole_text(
    tmp_path: Path,
) -> None:
    # Two gunicorn workers on a fresh data folder: the loser once read an empty secret key.
    for round_number in range(30):
        path = tmp_path / f"key{round_number}"
        start = threading.Barrier(4)
        read: list[str] = []

        def create_then_read(text: str, path: Path = path, start=start, read=read) -> None:  # type: ignore[no-untyped-def]
            start.wait()
            if not path.exists():
                create_file_once(path, text)
            read.append(path.read_text())

        threads = [
            threading.Thread(target=create_then_read, args=(f"text-{i}" * 1000,)) for i in range(4)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(set(read)) == 1 and read[0].startswith("text-")


@pytest.mark.parametrize("attempt_id", ["../etc", "a" * 31, "A" * 32, "", "0" * 31 + "/"])
def test_upload_folder_refuses_ids_that_are_not_ours(tmp_path: Path, attempt_id: str) -> None:
    with pytest.raises(ValueError):
        get_upload_folder(tmp_path, attempt_id)


def test_sweep_deletes_only_expired_attempts(store: AttemptStore) -> None:
    old = store.begin(None, "alice", SIGN_UP)
    fresh = store.begin(None, "bobby", SIGN_UP)
    hour_ago = time.time() - 3600
    os.utime(old.scratch, (hour_ago, hour_ago))
    assert sweep_expired(store.tmp_dir, 600) == 1
    assert not old.scratch.exists() and fresh.scratch.exists()


def test_attempt_continues_for_the_same_name_and_flow(store: AttemptStore) -> None:
    first = store.begin(None, "alice", SIGN_UP)
    assert store.begin(first.id, "Alice", SIGN_UP).id == first.id


def test_switching_name_or_flow_abandons_the_attempt(store: AttemptStore) -> None:
    first = store.begin(None, "alice", SIGN_UP)
    first.save_face(np.ones(128))
    second = store.begin(first.id, "alice", LOG_IN)
    assert second.id != first.id
    assert not first.scratch.exists()
    assert second.face() is None


def test_expired_attempt_is_not_found(store: AttemptStore) -> None:
    attempt = store.begin(None, "alice", SIGN_UP)
    past = time.time() - 601
    os.utime(attempt.scratch, (past, past))
    assert store.find(attempt.id) is None


def test_embeddings_round_trip_through_the_attempt(store: AttemptStore) -> None:
    attempt = store.begin(None, "alice", SIGN_UP)
    face = np.arange(128, dtype=np.float32)
    attempt.save_face(face)
    np.testing.assert_array_equal(attempt.face(), face)


def test_sign_up_keeps_the_latest_phrases_up_to_the_limit(store: AttemptStore) -> None:
    attempt = store.begin(None, "alice", SIGN_UP)
    counts = [attempt.save_voice(np.full(192, i, dtype=np.float32)) for i in range(5)]
    assert counts == [1, 2, 3, 3, 3]
    assert sorted(float(v[0]) for v in attempt.voices()) == [2.0, 3.0, 4.0]


def test_log_in_keeps_one_phrase(store: AttemptStore) -> None:
    attempt = store.begin(None, "alice", LOG_IN)
    attempt.save_voice(np.zeros(192))
    assert attempt.save_voice(np.ones(192)) == 1
    assert attempt.voices()[0][0] == 1.0


def test_create_user_refuses_a_taken_name_in_any_case(tmp_path: Path) -> None:
    database = Database(f"sqlite:///{tmp_path / 'users.sqlite3'}")
    database.upgrade()
    create_user(database, "Alice", b"face", b"voice")
    with pytest.raises(UsernameTaken):
        create_user(database, "alice", b"face", b"voice")
    with database.session() as session:
        assert get_user(session, "ALICE").username == "Alice"


def upgrade_from_first_schema_keeps_data(url: str) -> None:
    """Create revision 0001 with a user, upgrade to the newest, check nothing was lost."""
    command.upgrade(alembic_config(url), "0001")
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        connection.execute(
            sa.text(
                "INSERT INTO users (username, username_key, face_template, voice_template, "
                "created_at, failed_logins, last_failed_at, disabled) VALUES "
                "('Alice', 'alice', :face, :voice, '2026-01-01 00:00:00+00', 7, "
                "'2026-01-01 00:00:00+00', false)"
            ),
            {"face": b"\x01", "voice": b"\x02"},
        )
    engine.dispose()
    database = Database(url)
    database.upgrade()
    with database.session() as session:
        assert get_user(session, "alice").face_template == b"\x01"
        count = session.execute(
            sa.text("SELECT consecutive FROM login_failures WHERE username_key = 'alice'")
        ).scalar()
        assert count == 7
        columns = {c["name"] for c in sa.inspect(session.get_bind()).get_columns("users")}
        assert "failed_logins" not in columns
    database.dispose()


def test_upgrade_from_the_first_schema_keeps_users_and_failure_counts(tmp_path: Path) -> None:
    upgrade_from_first_schema_keeps_data(f"sqlite:///{tmp_path / 'old.sqlite3'}")


def test_upgrade_from_the_first_schema_on_postgresql(postgres_url: str) -> None:
    upgrade_from_first_schema_keeps_data(postgres_url)


def upgrade_from_second_schema_gives_users_public_ids(url: str) -> None:
    """Users made under revision 0002 get distinct never-reused public ids on upgrade."""
    command.upgrade(alembic_config(url), "0002")
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        for name in ("alice", "bobby"):
            connection.execute(
                sa.text(
                    "INSERT INTO users (username, username_key, face_template, voice_template, "
                    "created_at) VALUES (:name, :name, :face, :voice, '2026-01-01 00:00:00+00')"
                ),
                {"name": name, "face": b"\x01", "voice": b"\x02"},
            )
    engine.dispose()
    database = Database(url)
    database.upgrade()
    create_user(database, "carol", b"face", b"voice")
    with database.session() as session:
        ids = [get_user(session, name).public_id for name in ("alice", "bobby", "carol")]
        assert len(set(ids)) == 3
        assert all(len(public_id) >= 22 for public_id in ids)
        assert get_user(session, "alice").face_template == b"\x01"
        tables = sa.inspect(session.get_bind()).get_table_names()
        assert "login_sessions" in tables
    database.dispose()


def test_upgrade_from_the_second_schema_gives_existing_users_public_ids(tmp_path: Path) -> None:
    upgrade_from_second_schema_gives_users_public_ids(f"sqlite:///{tmp_path / 'old.sqlite3'}")


def test_upgrade_from_the_second_schema_on_postgresql(postgres_url: str) -> None:
    upgrade_from_second_schema_gives_users_public_ids(postgres_url)


def test_public_ids_are_unique(tmp_path: Path) -> None:
    database = Database(f"sqlite:///{tmp_path / 'users.sqlite3'}")
    database.upgrade()
    first = create_user(database, "alice", b"face", b"voice")
    with database.session() as session, pytest.raises(sa.exc.IntegrityError):
        session.execute(
            sa.text(
                "INSERT INTO users (public_id, username, username_key, face_template, "
                "voice_template, created_at) VALUES (:id, 'bobby', 'bobby', x'01', x'02', "
                "'2026-01-01 00:00:00')"
            ),
            {"id": first.public_id},
        )


LATER_MIGRATION = """
import sqlalchemy as sa
from alembic import op

revision = "9999"
down_revision = "{head}"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("users", recreate="always") as batch:
        batch.add_column(sa.Column("nickname", sa.String(32), nullable=True))


def downgrade():
    pass
"""


def test_a_later_migration_rebuilding_users_keeps_login_sessions(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'users.sqlite3'}"
    database = Database(url)
    database.upgrade()
    user = create_user(database, "alice", b"face", b"voice")
    token = open_login_session(database, user, 3600)
    later = tmp_path / "later"
    later.mkdir()
    # The newest shipped revision, whichever it is by now.
    head = ScriptDirectory.from_config(alembic_config(url)).get_current_head()
    (later / "9999_later.py").write_text(LATER_MIGRATION.replace("{head}", head or ""))

    def with_later_migration(url: str):  # type: ignore[no-untyped-def]
        config = alembic_config(url)
        config.set_main_option("path_separator", "os")
        config.set_main_option(
            "version_locations", os.pathsep.join([str(MIGRATIONS / "versions"), str(later)])
        )
        return config

    monkeypatch.setattr(database_module, "alembic_config", with_later_migration)
    Database(url).upgrade()
    assert session_user(database, user.public_id, token, 3600) is not None
    with database.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
