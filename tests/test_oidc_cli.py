"""`facevoice clients` and `facevoice keys rotate-signing`."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from facevoice.cli import main as cli
from facevoice.oidc.keys import KeyStore, read_keys, rotate, write_keys
from facevoice.storage import oidc as store
from facevoice.storage.database import Database
from facevoice.storage.folders import make_dirs


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The installation the commands administer."""
    folder = tmp_path / "data"
    make_dirs(str(folder))
    monkeypatch.setenv("FACEVOICE_DATA_DIR", str(folder))
    return folder


def run(*args: str) -> str:
    """Run a facevoice command; its output (it must succeed)."""
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def database(data_dir: Path) -> Database:
    """The installation's database."""
    return Database(f"sqlite:///{data_dir / 'db' / 'facevoice.sqlite3'}")


def test_clients_add_json_prints_the_id_and_a_secret_stored_only_hashed(data_dir: Path) -> None:
    out = json.loads(
        run("clients", "add", "--name", "Wiki", "--redirect-uri", "https://w.example/cb", "--json")
    )
    assert set(out) == {"client_id", "client_secret"}
    client = store.get_client(database(data_dir), out["client_id"])
    assert client is not None and client.secret_hash == store.secret_hash(out["client_secret"])
    assert out["client_secret"] not in (client.secret_hash or "")


def test_public_clients_have_no_secret(data_dir: Path) -> None:
    out = json.loads(
        run(
            "clients", "add", "--name", "SPA", "--redirect-uri", "http://x/cb", "--public", "--json"
        )
    )
    assert out["client_secret"] is None


def test_clients_take_several_redirect_uris_and_are_listed(data_dir: Path) -> None:
    run(
        "clients", "add", "--name", "Two", "--first-party",
        "--redirect-uri", "https://a.example/cb", "--redirect-uri", "https://b.example/cb",
    )  # fmt: skip
    listing = run("clients", "list")
    assert "Two" in listing and "first-party" in listing
    assert "https://a.example/cb https://b.example/cb" in listing


def test_clients_remove_deletes_the_client(data_dir: Path) -> None:
    out = json.loads(run("clients", "add", "--name", "Old", "--redirect-uri", "http://x", "--json"))
    assert "removed" in run("clients", "remove", out["client_id"])
    assert store.get_client(database(data_dir), out["client_id"]) is None
    result = CliRunner().invoke(cli, ["clients", "remove", out["client_id"]])
    assert result.exit_code == 1


def test_client_ids_never_start_with_a_dash(monkeypatch: pytest.MonkeyPatch) -> None:
    drawn = iter(["-starts-like-an-option", "Xstarts-like-an-id"])
    monkeypatch.setattr(store.secrets, "token_urlsafe", lambda _bytes: next(drawn))
    assert store.new_client_id() == "Xstarts-like-an-id"


def test_clients_remove_takes_an_id_after_double_dash(data_dir: Path) -> None:
    out = json.loads(run("clients", "add", "--name", "Old", "--redirect-uri", "http://x", "--json"))
    assert "removed" in run("clients", "remove", "--", out["client_id"])


def test_rotate_signing_publishes_both_keys_and_signs_with_the_new_one(data_dir: Path) -> None:
    path = data_dir / "oidc-signing-keys.json"
    keys = KeyStore(path)
    old = keys.signing_key().kid
    run("keys", "rotate-signing")
    assert keys.signing_key().kid != old
    assert [key["kid"] for key in keys.public_jwks()["keys"]] == [keys.signing_key().kid, old]
    assert path.stat().st_mode & 0o777 == 0o600


def test_a_key_retired_longer_than_the_longest_token_life_is_dropped(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    rotate(path, keep_seconds=600)
    entries = read_keys(path)
    # Pretend the current key was made (and the first one retired) an hour ago.
    aged = [type(key)(key.key, key.created_at - 3600) for key in entries]
    write_keys(path, aged)
    rotate(path, keep_seconds=600)
    assert len(read_keys(path)) == 2
    assert read_keys(path)[1].kid == entries[0].kid


def test_the_signing_key_file_can_be_given(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shared = tmp_path / "shared" / "keys.json"
    make_dirs(str(tmp_path / "data"))
    monkeypatch.setenv("FACEVOICE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("FACEVOICE_OIDC_SIGNING_KEY_FILE", str(shared))
    run("keys", "rotate-signing")
    assert len(read_keys(shared)) == 2
    assert time.time() - read_keys(shared)[0].created_at < 60
