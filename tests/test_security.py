"""Issue 4: rate limits, lockout, encrypted templates, sessions, headers, audit log."""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import re
import time
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest
from click.testing import CliRunner
from flask import Flask
from PIL import Image
from sqlalchemy import event as sa_event
from sqlalchemy import select

from facevoice import accounts, create_app
from facevoice.biometrics import audio
from facevoice.cli import main as cli
from facevoice.config import Settings
from facevoice.storage.database import AuditEvent, Database, User
from facevoice.storage.lockout import LockoutPolicy, lockout_state, record_failure
from facevoice.storage.templates import FACE, TemplateCipher, TemplateKeyError, parse_key
from facevoice.web.requests import json_depth
from facevoice.web.security import SEEN_AT, request_username
from tests import media
from tests.conftest import WITHOUT_CHALLENGES, Visitor

STRICT_LIMITS = {"ratelimit_per_ip": "4 per minute", "ratelimit_per_username": "1000 per minute"}


def wrong_face_log_in(visitor: Visitor, username: str):  # type: ignore[no-untyped-def]
    """A log-in of ``username`` with Biden's face and the right voice."""
    return visitor.log_in(username, media.photo("biden.jpg"), media.phrase(media.SPEAKER_A, 3))


def right_log_in(visitor: Visitor, username: str):  # type: ignore[no-untyped-def]
    """A log-in of ``username`` with the right face and voice."""
    return visitor.log_in(username, media.photo("obama2.jpg"), media.phrase(media.SPEAKER_A, 3))


def restarted(data_dir: Path | str, models: Any, **settings: Any) -> Visitor:
    """A visitor of a new app on the same data folder, as after a restart."""
    config = {"data_dir": str(data_dir), "models": models, "warm_up": False}
    return Visitor(create_app({**config, **WITHOUT_CHALLENGES, **settings}).test_client())


def run_cli(data_dir: Path, *args: str, env: dict[str, str] | None = None) -> Any:
    """Run the facevoice CLI against a data folder (with more environment if given)."""
    return CliRunner().invoke(
        cli, list(args), env={"FACEVOICE_DATA_DIR": str(data_dir), **(env or {})}
    )


# --- 1. Rate limits ---------------------------------------------------------------------


@pytest.mark.parametrize("settings_overrides", [STRICT_LIMITS])
def test_client_over_the_address_limit_gets_429_with_retry_after(visitor: Visitor) -> None:
    answers = [visitor.post("/sign_up", username="alice") for _ in range(5)]
    assert [a.status_code for a in answers[:4]] == [400] * 4
    assert answers[4].status_code == 429
    assert int(answers[4].headers["Retry-After"]) > 0
    assert answers[4].json["ok"] is False
    assert "Too many" in answers[4].json["message"]


@pytest.mark.parametrize(
    "settings_overrides",
    [{"ratelimit_per_ip": "1000 per minute", "ratelimit_per_username": "3 per minute"}],
)
def test_one_username_over_its_limit_gets_429_from_any_client(make_visitor) -> None:  # type: ignore[no-untyped-def]
    answers = [make_visitor().post("/log_in", username="alice") for _ in range(4)]
    assert [a.status_code for a in answers] == [400, 400, 400, 429]
    other_name = make_visitor().post("/log_in", username="bobby")
    assert other_name.status_code == 400


@pytest.mark.parametrize("settings_overrides", [STRICT_LIMITS])
def test_name_check_is_rate_limited(client) -> None:  # type: ignore[no-untyped-def]
    codes = [
        client.get("/sign_up?username=alice", headers={"Accept": "application/json"}).status_code
        for _ in range(5)
    ]
    assert codes == [200, 200, 200, 200, 429]


@pytest.mark.parametrize("settings_overrides", [STRICT_LIMITS])
def test_pages_are_not_rate_limited(client) -> None:  # type: ignore[no-untyped-def]
    assert {client.get("/sign_up").status_code for _ in range(6)} == {200}


@pytest.mark.parametrize("settings_overrides", [{**STRICT_LIMITS, "ratelimit": False}])
def test_rate_limiting_can_be_turned_off(visitor: Visitor) -> None:
    codes = {visitor.post("/sign_up", username="alice").status_code for _ in range(8)}
    assert codes == {400}


def test_rate_limits_are_shared_through_redis(
    data_dir: Path,
    models,
    redis_url: str,  # type: ignore[no-untyped-def]
) -> None:
    config = {
        "models": models,
        "warm_up": False,
        "ratelimit_storage_url": redis_url,
        **STRICT_LIMITS,
    }
    first = create_app({**config, "data_dir": str(data_dir / "one")})
    second = create_app({**config, "data_dir": str(data_dir / "two")})
    codes = [
        Visitor(first.test_client()).post("/sign_up", username="alice").status_code
        for _ in range(2)
    ]
    codes += [
        Visitor(second.test_client()).post("/sign_up", username="alice").status_code
        for _ in range(3)
    ]
    assert codes == [400, 400, 400, 400, 429]


# --- 2. Lockout ---------------------------------------------------------------------------


def test_five_failures_make_the_next_try_wait(visitor: Visitor, enrolled: str) -> None:
    assert [wrong_face_log_in(visitor, enrolled).status_code for _ in range(5)] == [401] * 5
    answer = right_log_in(visitor, enrolled)
    assert answer.status_code == 429
    assert 0 < int(answer.headers["Retry-After"]) <= 30
    assert "Wait" in answer.json["message"]


def test_unknown_username_is_locked_out_like_a_registered_one(visitor: Visitor) -> None:
    codes = [wrong_face_log_in(visitor, "nobody").status_code for _ in range(6)]
    assert codes == [401] * 5 + [429]


def test_a_success_resets_the_failure_count(visitor: Visitor, enrolled: str) -> None:
    for _ in range(4):
        wrong_face_log_in(visitor, enrolled)
    assert right_log_in(visitor, enrolled).status_code == 200
    assert [wrong_face_log_in(visitor, enrolled).status_code for _ in range(5)] == [401] * 5


def test_lockout_survives_a_restart(app: Flask, visitor: Visitor, enrolled: str, models) -> None:  # type: ignore[no-untyped-def]
    for _ in range(5):
        wrong_face_log_in(visitor, enrolled)
    settings = app.extensions["facevoice"].settings
    assert right_log_in(restarted(settings.data_dir, models), enrolled).status_code == 429


def test_waiting_out_the_lockout_allows_one_more_try() -> None:
    database = Database("sqlite://")
    database.upgrade()
    policy = LockoutPolicy(wait_after=5, wait_seconds=30, disable_after=50)
    start = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    for _ in range(5):
        record_failure(database, "alice", policy, now=start)
    assert not lockout_state(
        database, "alice", policy, now=start + dt.timedelta(seconds=29)
    ).allowed
    assert lockout_state(database, "alice", policy, now=start + dt.timedelta(seconds=31)).allowed


@pytest.mark.parametrize("settings_overrides", [{"disable_after_failures": 6}])
def test_many_failures_disable_log_in_until_an_administrator_enables_it(
    visitor: Visitor, enrolled: str, data_dir: Path
) -> None:
    database = visitor.client.application.extensions["facevoice"].database
    policy = LockoutPolicy(wait_after=5, wait_seconds=0, disable_after=6)
    for _ in range(6):
        record_failure(database, enrolled, policy)
    refused = right_log_in(visitor, enrolled)
    assert refused.status_code == 403
    assert "administrator" in refused.json["message"]
    result = run_cli(data_dir, "users", "enable", enrolled)
    assert result.exit_code == 0, result.output
    assert right_log_in(visitor, enrolled).status_code == 200


def fail_log_ins(app: Flask, username: str, times: int) -> None:
    """Count ``times`` failed log-ins of ``username`` under the app's lockout policy."""
    accounts = app.extensions["facevoice"].accounts
    for _ in range(times):
        record_failure(accounts.database, username, accounts.lockout)


def ask_challenge(visitor: Visitor, username: str):  # type: ignore[no-untyped-def]
    """GET /log_in/challenge for ``username``, as the log-in page asks it."""
    return visitor.client.get(
        f"/log_in/challenge?username={username}", headers={"Accept": "application/json"}
    )


def test_challenge_for_a_locked_out_name_is_429_with_retry_after(
    app: Flask, visitor: Visitor, enrolled: str
) -> None:
    fail_log_ins(app, enrolled, 5)
    answer = ask_challenge(visitor, enrolled)
    assert answer.status_code == 429
    assert 0 < int(answer.headers["Retry-After"]) <= 30
    assert answer.json["ok"] is False
    assert "Too many failed log-ins" in answer.json["message"]
    assert "challenge" not in answer.json and "turn" not in answer.json


def test_challenge_for_a_locked_out_unknown_name_gets_the_same_answer(
    app: Flask, visitor: Visitor, enrolled: str
) -> None:
    fail_log_ins(app, enrolled, 5)
    fail_log_ins(app, "nobody", 5)
    registered, unknown = ask_challenge(visitor, enrolled), ask_challenge(visitor, "nobody")
    assert registered.status_code == unknown.status_code == 429
    seconds = re.compile(r"\d+")  # the wait may differ by a second between the two
    assert seconds.sub("N", registered.json["message"]) == seconds.sub("N", unknown.json["message"])


@pytest.mark.parametrize("settings_overrides", [{"disable_after_failures": 6}])
def test_challenge_for_a_disabled_name_is_403(app: Flask, visitor: Visitor) -> None:
    fail_log_ins(app, "alice", 6)
    answer = ask_challenge(visitor, "alice")
    assert answer.status_code == 403
    assert "administrator" in answer.json["message"]


def test_asking_for_challenges_counts_no_failed_log_in(app: Flask, visitor: Visitor) -> None:
    fail_log_ins(app, "alice", 4)
    assert {ask_challenge(visitor, "alice").status_code for _ in range(10)} == {200}
    accounts = app.extensions["facevoice"].accounts
    assert lockout_state(accounts.database, "alice", accounts.lockout).consecutive_failures == 4


def test_challenge_for_a_malformed_name_is_400(visitor: Visitor) -> None:
    assert ask_challenge(visitor, "a%20b").status_code == 400


# --- 3. Templates encrypted at rest -------------------------------------------------------


def stored_users(app: Flask) -> list[User]:
    """Every user row of the app's database."""
    with app.extensions["facevoice"].database.session() as session:
        return list(session.scalars(select(User)))


def test_no_template_is_stored_in_plaintext(app: Flask, enrolled: str, models) -> None:  # type: ignore[no-untyped-def]
    face = models.face.embed(np.asarray(Image.open(media.FACES / "obama.jpg").convert("RGB")))
    (user,) = stored_users(app)
    for blob in (user.face_template, user.voice_template):
        assert blob.startswith(b"FV1")
        assert face.astype("<f4").tobytes()[:16] not in blob
    raw = Path(app.extensions["facevoice"].settings.data_dir) / "db" / "facevoice.sqlite3"
    assert face.astype("<f4").tobytes()[:16] not in raw.read_bytes()


def test_generated_key_file_is_private(app: Flask, data_dir: Path) -> None:
    assert (data_dir / "template.key").stat().st_mode & 0o777 == 0o600


def test_template_copied_to_another_account_does_not_open(app: Flask, enrolled: str) -> None:
    (user,) = stored_users(app)
    cipher = app.extensions["facevoice"].accounts.cipher
    assert cipher.open(user.face_template, user.username_key, FACE).shape == (256,)
    with pytest.raises(TemplateKeyError):
        cipher.open(user.face_template, "mallory", FACE)


def test_template_does_not_open_with_another_key(app: Flask, enrolled: str) -> None:
    (user,) = stored_users(app)
    stranger = TemplateCipher(parse_key("ab" * 32))
    with pytest.raises(TemplateKeyError):
        stranger.open(user.face_template, user.username_key, FACE)


def test_key_rotation_re_encrypts_every_template(
    app: Flask,
    visitor: Visitor,
    enrolled: str,
    data_dir: Path,
    models,  # type: ignore[no-untyped-def]
) -> None:
    old_key = (data_dir / "template.key").read_text()
    (before,) = stored_users(app)
    result = run_cli(data_dir, "keys", "rotate")
    assert result.exit_code == 0, result.output
    assert "1 user" in result.output
    assert (data_dir / "template.key").read_text() != old_key
    assert len((data_dir / "template.key").read_text().split()) == 1
    (after,) = stored_users(app)
    assert after.face_template != before.face_template
    assert right_log_in(restarted(data_dir, models), enrolled).status_code == 200


def test_pending_samples_are_sealed_too(visitor: Visitor, data_dir: Path) -> None:
    visitor.take_photo("alice", "sign_up", media.photo("obama.jpg"))
    (folder,) = (data_dir / "tmp").iterdir()
    assert (folder / "face.bin").read_bytes().startswith(b"FV1")


# --- 4. Sessions --------------------------------------------------------------------------


def session_cookie_header(response) -> str:  # type: ignore[no-untyped-def]
    """The Set-Cookie header of the session cookie."""
    (header,) = [h for h in response.headers.getlist("Set-Cookie") if "session=" in h]
    return header


def test_session_cookie_is_httponly_and_samesite_lax(client) -> None:  # type: ignore[no-untyped-def]
    header = session_cookie_header(client.get("/"))
    assert "HttpOnly" in header
    assert "SameSite=Lax" in header
    assert "Secure" not in header


@pytest.mark.parametrize("settings_overrides", [{"https": True}])
def test_session_cookie_is_secure_when_served_over_https(client) -> None:  # type: ignore[no-untyped-def]
    header = session_cookie_header(client.get("/", base_url="https://localhost"))
    assert "Secure" in header
    assert header.startswith("__Host-session=")


def test_log_in_starts_a_new_session(visitor: Visitor, enrolled: str) -> None:
    visitor.take_photo(enrolled, "log_in", media.photo("obama2.jpg"))
    with visitor.client.session_transaction() as before:
        before["planted"] = "by an attacker"
    visitor.record_voice(enrolled, "log_in", media.phrase(media.SPEAKER_A, 3))
    assert visitor.post("/log_in", username=enrolled).status_code == 200
    with visitor.client.session_transaction() as after:
        assert "planted" not in after
        assert "attempt" not in after
        assert after["_user_id"]
    # The page's CSRF token stays valid, so an open page keeps working.
    assert visitor.take_photo(enrolled, "log_in", media.photo("obama2.jpg")).status_code == 200


def test_log_out_clears_the_session(visitor: Visitor, enrolled: str) -> None:
    right_log_in(visitor, enrolled)
    visitor.client.get("/logout")
    with visitor.client.session_transaction() as after:
        assert set(after) == {"csrf_token"}
    assert visitor.client.get("/protected").status_code == 302


def test_idle_session_ends(visitor: Visitor, enrolled: str) -> None:
    right_log_in(visitor, enrolled)
    with visitor.client.session_transaction() as session:
        session[SEEN_AT] -= 3601
    answer = visitor.client.get("/protected")
    assert answer.status_code == 302
    assert answer.headers["Location"] == "/log_in"


def test_session_ends_a_day_after_log_in_even_when_active(visitor: Visitor, enrolled: str) -> None:
    right_log_in(visitor, enrolled)
    with visitor.client.session_transaction() as session:
        session["login_at"] -= 86401
    assert visitor.client.get("/protected").status_code == 302


def test_active_session_within_its_limits_stays_logged_in(visitor: Visitor, enrolled: str) -> None:
    right_log_in(visitor, enrolled)
    with visitor.client.session_transaction() as session:
        session[SEEN_AT] -= 3000
    assert visitor.client.get("/protected").status_code == 200


# --- 5. Headers ---------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/", "/sign_up", "/log_in"])
def test_pages_carry_security_headers(client, path: str) -> None:  # type: ignore[no-untyped-def]
    headers = client.get(path).headers
    csp = headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp
    assert "frame-ancestors 'none'" in csp
    assert "'unsafe-inline'" not in csp
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "same-origin"
    assert "camera=(self)" in headers["Permissions-Policy"]
    assert "microphone=(self)" in headers["Permissions-Policy"]


def test_pages_have_no_inline_scripts(client) -> None:  # type: ignore[no-untyped-def]
    for path in ("/", "/sign_up", "/log_in"):
        html = client.get(path).data.decode()
        for tag in html.split("<script")[1:]:
            assert "src=" in tag.split(">")[0], f"inline script on {path}"


# --- 6. Input limits ----------------------------------------------------------------------


@pytest.mark.parametrize("settings_overrides", [{"max_request_bytes": 200_000}])
def test_request_over_the_size_cap_is_413(visitor: Visitor) -> None:
    answer = visitor.post("/take_photo", username="alice", flow="sign_up", image="A" * 300_000)
    assert answer.status_code == 413
    assert answer.json["ok"] is False


def test_image_bomb_is_refused_before_decoding(visitor: Visitor) -> None:
    buffer = io.BytesIO()
    Image.new("1", (10_000, 10_000)).save(buffer, "PNG")
    assert len(buffer.getvalue()) < 100_000
    answer = visitor.take_photo("alice", "sign_up", buffer.getvalue())
    assert answer.status_code == 413
    assert "pixels" in answer.json["message"]


def test_recording_over_the_length_cap_is_refused(visitor: Visitor) -> None:
    long_audio = np.tile(media.utterance(media.SPEAKER_A), 3)[: 31 * 16_000]
    from facevoice.biometrics.audio import wav_bytes

    answer = visitor.record_voice("alice", "sign_up", wav_bytes(long_audio))
    assert answer.status_code == 422
    assert "longer than 30" in answer.json["message"]


@pytest.mark.parametrize(
    "username", ["../../etc", "a/b", "ab", "x" * 33, ".hidden", "é" * 4, "a b c", "1;DROP"]
)
def test_usernames_outside_the_rule_are_400(visitor: Visitor, username: str) -> None:
    answer = visitor.take_photo(username, "sign_up", media.photo("obama.jpg"))
    assert answer.status_code == 400
    assert "username" in answer.json["message"]


# --- 8. Audit log -------------------------------------------------------------------------


def audit(app: Flask) -> list[AuditEvent]:
    """Every audit entry of the app, oldest first."""
    with app.extensions["facevoice"].database.session() as session:
        return list(session.scalars(select(AuditEvent).order_by(AuditEvent.id)))


def test_every_attempt_is_audited_with_scores(app: Flask, visitor: Visitor, enrolled: str) -> None:
    wrong_face_log_in(visitor, enrolled)
    right_log_in(visitor, enrolled)
    events = audit(app)
    assert [(e.event, e.outcome) for e in events] == [
        ("sign_up", "registered"),
        ("log_in", "refused"),
        ("log_in", "accepted"),
    ]
    refused, accepted = events[1], events[2]
    limit = Settings().face_max_fused_distance
    assert refused.face_distance > limit and refused.voice_similarity > 0.6
    assert accepted.face_distance < limit and accepted.client_ip == "127.0.0.1"


def test_sign_up_writes_the_user_and_its_audit_entry_together(app: Flask, visitor: Visitor) -> None:
    def audit_log_fails(*_args: Any) -> None:
        raise RuntimeError("the audit log is unavailable")

    phrases = [media.phrase(media.SPEAKER_A, i) for i in range(3)]
    sa_event.listen(AuditEvent, "before_insert", audit_log_fails)
    try:
        answer = visitor.sign_up("obama", media.photo("obama.jpg"), phrases)
    finally:
        sa_event.remove(AuditEvent, "before_insert", audit_log_fails)
    assert answer.json["ok"] is False
    assert stored_users(app) == []


def test_unknown_user_is_compared_like_a_known_one(app: Flask, visitor: Visitor) -> None:
    wrong_face_log_in(visitor, "nobody")
    (event,) = audit(app)
    assert event.outcome == "unknown_user"
    assert event.face_distance is not None and event.voice_similarity is not None


def test_scores_never_reach_the_client(visitor: Visitor, enrolled: str) -> None:
    answer = wrong_face_log_in(visitor, enrolled)
    assert set(answer.json) == {"ok", "message"}


def test_audit_log_exports_as_json_and_csv(
    app: Flask, visitor: Visitor, enrolled: str, data_dir: Path
) -> None:  # type: ignore[no-untyped-def]
    wrong_face_log_in(visitor, enrolled)
    exported = run_cli(data_dir, "audit", "export", "--format", "json")
    rows = json.loads(exported.stdout)
    assert [r["outcome"] for r in rows] == ["refused", "registered"]
    assert rows[0]["username"] == enrolled
    as_csv = run_cli(data_dir, "audit", "export", "--format", "csv").stdout.splitlines()
    assert as_csv[0].startswith("at,event,username,client_ip,outcome")
    assert len(as_csv) == 3
    listed = run_cli(data_dir, "audit", "list", "--user", enrolled)
    assert "refused" in listed.output


def test_deleting_a_user_removes_all_their_data(
    app: Flask, visitor: Visitor, enrolled: str, data_dir: Path
) -> None:  # type: ignore[no-untyped-def]
    wrong_face_log_in(visitor, enrolled)
    result = run_cli(data_dir, "users", "delete", enrolled, "--yes")
    assert result.exit_code == 0, result.output
    assert stored_users(app) == []
    # Only the deletion itself stays audited, without the name.
    assert [(e.username, e.outcome) for e in audit(app)] == [("(deleted account)", "deleted")]
    assert run_cli(data_dir, "users", "list").stdout == ""
    answer = visitor.client.get(
        f"/sign_up?username={enrolled}", headers={"Accept": "application/json"}
    )
    assert answer.json["registered"] is False


# --- PostgreSQL -------------------------------------------------------------------------------


def test_sign_up_and_log_in_work_on_postgresql(
    data_dir: Path,
    models,
    postgres_url: str,  # type: ignore[no-untyped-def]
) -> None:
    app = create_app(
        {
            "data_dir": str(data_dir),
            "models": models,
            "warm_up": False,
            "database_url": postgres_url,
            **WITHOUT_CHALLENGES,
        }
    )
    visitor = Visitor(app.test_client())
    phrases = [media.phrase(media.SPEAKER_A, i) for i in range(3)]
    assert visitor.sign_up("obama", media.photo("obama.jpg"), phrases).status_code == 201
    assert wrong_face_log_in(visitor, "obama").status_code == 401
    assert right_log_in(visitor, "obama").status_code == 200
    assert app.extensions["facevoice"].database.engine.dialect.name == "postgresql"
    app.extensions["facevoice"].database.dispose()


def test_lockout_counts_on_postgresql(postgres_url: str) -> None:
    database = Database(postgres_url)
    database.upgrade()
    policy = LockoutPolicy(wait_after=2, wait_seconds=30, disable_after=3)
    counts = [record_failure(database, "Alice", policy) for _ in range(3)]
    assert counts == [1, 2, 3]
    assert lockout_state(database, "alice", policy).disabled
    database.dispose()


def test_environment_selects_the_database(
    monkeypatch, data_dir: Path, models, postgres_url: str
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("FACEVOICE_DATABASE_URL", postgres_url)
    app = create_app(
        {"data_dir": str(data_dir), "models": models, "warm_up": False, **WITHOUT_CHALLENGES}
    )
    assert app.extensions["facevoice"].database.url == postgres_url
    assert not (data_dir / "db" / "facevoice.sqlite3").exists()
    app.extensions["facevoice"].database.dispose()
    assert os.environ["FACEVOICE_DATABASE_URL"] == postgres_url


def test_key_rotation_with_keys_in_the_environment(
    app: Flask,
    visitor: Visitor,
    enrolled: str,
    data_dir: Path,
    models,  # type: ignore[no-untyped-def]
) -> None:
    old = (data_dir / "template.key").read_text().strip()
    new = "cd" * 32
    result = run_cli(data_dir, "keys", "rotate", env={"FACEVOICE_TEMPLATE_KEY": f"{new},{old}"})
    assert result.exit_code == 0, result.output
    assert "FACEVOICE_TEMPLATE_KEY to the new key alone" in result.stdout
    visitor_after = restarted(data_dir, models, template_key=new)
    assert right_log_in(visitor_after, enrolled).status_code == 200


# --- 10. Hardening, second round: media formats, nested JSON, raw samples ------------------

SDP = (
    b"v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=probe\r\nc=IN IP4 0.0.0.0\r\nt=0 0\r\n"
    b"m=audio 47000 RTP/AVP 0\r\n"
)


def nested_body(depth: int) -> str:
    """A JSON object naming a valid user, with arrays nested ``depth`` deep under a key."""
    return '{"username": "alice", "flow": "sign_up", "x": ' + "[" * depth + "]" * depth + "}"


def post_raw(visitor: Visitor, path: str, body: str):  # type: ignore[no-untyped-def]
    """POST a JSON text as it is, with the CSRF header."""
    headers = {"X-CSRFToken": visitor.token}
    return visitor.client.post(path, data=body, headers=headers, content_type="application/json")


def post_routes(app: Flask) -> list[str]:
    """Every route of the app that accepts POST."""
    return sorted(r.rule for r in app.url_map.iter_rules() if "POST" in (r.methods or ()))


def test_session_description_as_a_recording_is_415_without_ffmpeg(
    visitor: Visitor, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    opened: list[Any] = []
    real_open = av.open

    def spy(*args: Any, **kwargs: Any) -> Any:
        opened.append(args)
        return real_open(*args, **kwargs)

    monkeypatch.setattr(audio.av, "open", spy)
    start = time.monotonic()
    answer = visitor.record_voice("alice", "sign_up", SDP)
    assert answer.status_code == 415
    assert time.monotonic() - start < 10  # FFmpeg's network demuxer waited about 20 s
    assert opened == []


def test_nested_json_is_400_on_every_post_route(app: Flask, visitor: Visitor) -> None:
    routes = post_routes(app)
    assert {"/take_photo", "/record_voice", "/sign_up", "/log_in"} <= set(routes)
    for route in routes:
        answer = post_raw(visitor, route, nested_body(1_000))
        assert answer.status_code == 400, route
        assert "nests deeper" in answer.json["message"]


@pytest.mark.parametrize(
    "settings_overrides",
    [{"ratelimit_per_ip": "1000 per minute", "ratelimit_per_username": "2 per minute"}],
)
def test_nested_json_does_not_use_up_the_named_users_limit(make_visitor) -> None:  # type: ignore[no-untyped-def]
    for _ in range(3):
        assert post_raw(make_visitor(), "/sign_up", nested_body(1_000)).status_code == 400
    assert make_visitor().post("/sign_up", username="alice").status_code == 400  # not 429


def test_the_username_limiter_reads_a_nested_body_without_recursing(app: Flask) -> None:
    with app.test_request_context(
        "/sign_up",
        method="POST",
        json=None,
        data=nested_body(5_000),
        content_type="application/json",
    ):
        assert request_username() is None
    with app.test_request_context(
        "/sign_up", method="POST", data=nested_body(3), content_type="application/json"
    ):
        assert request_username() == "alice"


@pytest.mark.parametrize("settings_overrides", [{"max_json_depth": 16}])
def test_json_nested_within_the_limit_reaches_the_view(visitor: Visitor) -> None:
    answer = post_raw(visitor, "/sign_up", nested_body(15))
    assert "nests deeper" not in answer.json["message"]
    assert "nests deeper" in post_raw(visitor, "/sign_up", nested_body(16)).json["message"]


@pytest.mark.parametrize(
    ("body", "depth"),
    [
        (b'{"a": "[[[[[[[[{{{{"}', 1),
        (b'{"a": "\\"[[[[[[[[", "b": [[1]]}', 3),
        (b'{"a": "\\\\", "b": [[[1]]]}', 4),
        (json.dumps([[[[{"x": []}]]]]).encode("utf-16"), 6),
        (b"", 0),
        (b"\xff\xfe\x00", 0),
    ],
)
def test_json_depth_counts_brackets_outside_strings(body: bytes, depth: int) -> None:
    assert json_depth(body) == depth


def sample_files_during(monkeypatch, data_dir: Path, step: str) -> list[list[Path]]:  # type: ignore[no-untyped-def]
    """Files other than sealed blobs in ``tmp/`` each time the log-in step ``step`` runs."""
    seen: list[list[Path]] = []
    real_step = getattr(accounts, step)

    def watching(*args: Any, **kwargs: Any) -> Any:
        files = [p for p in (data_dir / "tmp").rglob("*") if p.is_file()]
        seen.append([p for p in files if p.suffix not in {".bin", ".json"}])
        return real_step(*args, **kwargs)

    monkeypatch.setattr(accounts, step, watching)
    return seen


def test_photos_are_decoded_from_memory(visitor: Visitor, data_dir: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    seen = sample_files_during(monkeypatch, data_dir, "load_image")
    assert visitor.take_photo("alice", "sign_up", media.photo("obama.jpg")).status_code == 200
    assert seen == [[]]


def test_recordings_are_decoded_from_memory(visitor: Visitor, data_dir: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    seen = sample_files_during(monkeypatch, data_dir, "decode_audio")
    phrase = media.phrase(media.SPEAKER_A, 0)
    assert visitor.record_voice("alice", "sign_up", phrase).status_code == 200
    assert seen == [[]]


def test_start_up_sweeps_raw_samples_older_than_the_request_timeout(data_dir: Path, models) -> None:  # type: ignore[no-untyped-def]
    tmp = data_dir / "tmp"
    crashed, busy = tmp / ("a" * 32), tmp / ("b" * 32)
    for folder in (crashed, busy):
        folder.mkdir(parents=True)
        (folder / "attempt.json").write_text("{}")
    old = time.time() - 200  # past the 120 s request timeout, within the attempt's 600 s
    stray = [crashed / name for name in ("img.png", "sample.wav", "face.bin.part", "x.claimed")]
    for path in stray:
        path.write_bytes(b"raw")
        os.utime(path, (old, old))
    (busy / "img.png").write_bytes(b"raw")  # a request may still be decoding it
    os.utime(crashed, (old, old))
    restarted(data_dir, models)
    assert [p for p in stray if p.exists()] == []
    assert (crashed / "attempt.json").exists() and (busy / "img.png").exists()
    assert crashed.stat().st_mtime == pytest.approx(old, abs=1)  # the attempt is no younger


def test_admin_commands_work_on_a_fresh_data_folder(tmp_path: Path) -> None:
    fresh = tmp_path / "never-served"
    result = run_cli(fresh, "users", "list")
    assert result.exit_code == 0, result.output
    assert "0 user(s)" in result.output
    assert (fresh / "db").is_dir()
