"""Hardening items 2 and 6: a session names its account by a never-reused id and is revocable.

A logged-in session is a row on the server: log-out, deleting the account and
``facevoice users logout NAME`` end it, also in copies of the cookie.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from flask import Flask, session

from facevoice import create_app
from facevoice.admin import delete_user
from facevoice.web.security import login_record
from tests import media
from tests.conftest import WITHOUT_CHALLENGES, Visitor
from tests.test_security import right_log_in, run_cli

PHRASES = [media.phrase(media.SPEAKER_A, i) for i in range(3)]


@pytest.fixture(params=["sqlite", "postgresql"])
def any_app(request, data_dir: Path, models) -> Flask:  # type: ignore[no-untyped-def]
    """The app on the default SQLite database, and on PostgreSQL."""
    config: dict[str, Any] = {
        "data_dir": str(data_dir),
        "models": models,
        "warm_up": False,
        "TESTING": True,
        **WITHOUT_CHALLENGES,
    }
    if request.param == "postgresql":
        config["database_url"] = request.getfixturevalue("postgres_url")
    app = create_app(config)
    yield app
    app.extensions["facevoice"].database.dispose()


def logged_in(app: Flask, username: str) -> Visitor:
    """A new visitor of ``app``, signed up (if need be) and logged in as ``username``."""
    visitor = Visitor(app.test_client())
    visitor.sign_up(username, media.photo("obama.jpg"), PHRASES)
    assert right_log_in(visitor, username).status_code == 200
    return visitor


def copy_of(app: Flask, visitor: Visitor) -> Visitor:
    """Another browser holding a copy of the visitor's session cookie (same browser string)."""
    cookie = visitor.client.get_cookie("session")
    assert cookie is not None
    thief = Visitor(app.test_client())
    thief.client.set_cookie("session", cookie.value)
    return thief


def opens_protected(visitor: Visitor) -> bool:
    """Whether the visitor's cookie opens the page for logged-in users."""
    return visitor.client.get("/protected").status_code == 200


def test_deleted_users_cookie_does_not_log_in_the_next_new_user(any_app: Flask) -> None:
    carol = logged_in(any_app, "carol")
    assert delete_user(any_app.extensions["facevoice"].database, "carol")
    Visitor(any_app.test_client()).sign_up("carolnew", media.photo("obama.jpg"), PHRASES)
    page = carol.client.get("/protected")
    assert page.status_code == 302
    assert b"carolnew" not in page.data


def test_every_session_of_a_deleted_user_ends_at_once(app: Flask) -> None:
    sessions = [logged_in(app, "carol") for _ in range(2)]
    assert all(opens_protected(s) for s in sessions)
    delete_user(app.extensions["facevoice"].database, "carol")
    Visitor(app.test_client()).sign_up("carolnew", media.photo("obama.jpg"), PHRASES)
    assert not any(opens_protected(s) for s in sessions)


def test_cookie_copied_before_logout_no_longer_opens_protected(any_app: Flask) -> None:
    visitor = logged_in(any_app, "obama")
    thief = copy_of(any_app, visitor)
    assert opens_protected(thief)
    visitor.client.get("/logout")
    assert not opens_protected(thief)
    assert not opens_protected(visitor)


def test_logging_out_leaves_the_users_other_sessions_open(app: Flask) -> None:
    phone, laptop = logged_in(app, "obama"), logged_in(app, "obama")
    phone.client.get("/logout")
    assert opens_protected(laptop)


def test_cookie_copied_before_log_out_by_post_is_ended_too(app: Flask) -> None:
    visitor = logged_in(app, "obama")
    thief = copy_of(app, visitor)
    assert visitor.post("/logout").status_code == 302
    assert not opens_protected(thief)


def test_cli_logout_ends_every_session_of_the_user(app: Flask, data_dir: Path) -> None:
    sessions = [logged_in(app, "obama") for _ in range(2)]
    others = logged_in(app, "alice")
    result = run_cli(data_dir, "users", "logout", "obama")
    assert result.exit_code == 0, result.output
    assert "2 session" in result.output
    assert not any(opens_protected(s) for s in sessions)
    assert opens_protected(others)


def test_cli_logout_of_an_unknown_user_fails(app: Flask, data_dir: Path) -> None:
    result = run_cli(data_dir, "users", "logout", "nobody")
    assert result.exit_code == 1
    assert "no such user" in result.output


def test_session_expired_by_its_idle_time_cannot_be_revived(app: Flask) -> None:
    visitor = logged_in(app, "obama")
    fresh_copy = copy_of(app, visitor)
    with visitor.client.session_transaction() as session:
        session["seen_at"] -= 3601
    assert not opens_protected(visitor)
    # The copy taken while the session was active ends with it.
    assert not opens_protected(fresh_copy)


def test_a_face_and_voice_log_in_records_its_time_and_factors(
    app: Flask, visitor: Visitor, enrolled: str
) -> None:
    assert right_log_in(visitor, enrolled).status_code == 200
    with app.test_request_context():
        with visitor.client.session_transaction() as stored:
            saved = dict(stored)
        session.update(saved)
        record = login_record()
    assert record is not None
    logged_in_at, amr = record
    assert amr == ["face", "vbm", "mfa"]
    assert logged_in_at > 0


def test_a_session_that_did_not_log_in_has_no_login_record(app: Flask) -> None:
    with app.test_request_context():
        assert login_record() is None
