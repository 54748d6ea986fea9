"""Passkeys (WebAuthn) over HTTP, with a software authenticator: sign-up, log-in, the account.

The browser's part is played by ``tests.authenticator``; py_webauthn checks it on the
server as it would a real device's answer. tests/browser/test_passkeys.py drives the pages
with Chromium's virtual authenticator.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from flask import Flask

from facevoice.auth.passkey import PasskeyFactor
from facevoice.config import Settings
from facevoice.errors import ConfigurationError
from facevoice.storage.database import Database, PasskeyCredential, alembic_config, create_user
from facevoice.storage.lockout import record_failure
from facevoice.web.services import services
from tests import media
from tests.authenticator import SoftAuthenticator, b64url
from tests.conftest import Visitor
from tests.test_recovery_and_account import (
    OBAMA_PHRASES,
    audit_outcomes,
    database_of,
    make_log_in_stale,
    use_code,
)


def options_of(answer: Any) -> dict[str, Any]:
    """The ``publicKey`` options of an ``.../options`` answer."""
    assert answer.status_code == 200, answer.json
    return answer.json["options"]


def sign_up_with_passkey(
    visitor: Visitor, device: SoftAuthenticator, username: str = "obama", name: str = "Phone"
):  # type: ignore[no-untyped-def]
    """Photo, phrases, a passkey, then POST /sign_up; returns the last answer."""
    assert visitor.take_photo(username, "sign_up", media.photo("obama.jpg")).status_code == 200
    for audio in OBAMA_PHRASES:
        assert visitor.record_voice(username, "sign_up", audio).status_code == 200
    options = options_of(visitor.post("/sign_up/passkey/options", username=username))
    added = visitor.post(
        "/sign_up/passkey", username=username, credential=device.create(options), name=name
    )
    assert added.status_code == 200, added.json
    return visitor.post("/sign_up", username=username)


@pytest.fixture
def device(visitor: Visitor) -> SoftAuthenticator:
    """The passkey of 'obama', added during the sign-up."""
    authenticator = SoftAuthenticator()
    answer = sign_up_with_passkey(visitor, authenticator)
    assert answer.status_code == 201, answer.json
    return authenticator


def prove_passkey(visitor: Visitor, device: SoftAuthenticator, username: str = "obama", **kw: Any):  # type: ignore[no-untyped-def]
    """POST /log_in/passkey with the device's answer to fresh options."""
    options = options_of(visitor.post("/log_in/passkey/options", username=username))
    return visitor.post("/log_in/passkey", username=username, credential=device.get(options, **kw))


def passkey_only(visitor: Visitor, device: SoftAuthenticator, username: str = "obama"):  # type: ignore[no-untyped-def]
    """POST /log_in/passkey_only with the device's answer to fresh options."""
    options = options_of(visitor.post("/log_in/passkey/options", username=username))
    return visitor.post("/log_in/passkey_only", username=username, credential=device.get(options))


def face_and_voice(visitor: Visitor, username: str = "obama"):  # type: ignore[no-untyped-def]
    """Photo, voice and POST /log_in, as obama."""
    return visitor.log_in(username, media.photo("obama2.jpg"), media.phrase(media.SPEAKER_A, 3))


def amr_of_session(visitor: Visitor) -> list[str]:
    with visitor.client.session_transaction() as session:
        return list(session["amr"])


def passkey_rows(app: Flask) -> list[PasskeyCredential]:
    with database_of(app).session() as session:
        return list(session.scalars(sa.select(PasskeyCredential).order_by(PasskeyCredential.id)))


# --- Sign-up.


def test_a_passkey_added_at_sign_up_is_stored_with_the_account(
    app: Flask, device: SoftAuthenticator
) -> None:
    (row,) = passkey_rows(app)
    assert row.name == "Phone"
    assert row.transports == "internal"
    assert row.backed_up is False
    assert row.last_used_at is None


def test_a_passkey_before_the_photo_and_voice_is_refused(visitor: Visitor) -> None:
    options = options_of(visitor.post("/sign_up/passkey/options", username="obama"))
    answer = visitor.post(
        "/sign_up/passkey", username="obama", credential=SoftAuthenticator().create(options)
    )
    assert answer.status_code == 400


def test_a_sign_up_passkey_made_for_another_origin_is_refused(visitor: Visitor) -> None:
    visitor.take_photo("obama", "sign_up", media.photo("obama.jpg"))
    options = options_of(visitor.post("/sign_up/passkey/options", username="obama"))
    credential = SoftAuthenticator().create(options, origin="https://evil.example")
    answer = visitor.post("/sign_up/passkey", username="obama", credential=credential)
    assert answer.status_code == 401


@pytest.mark.parametrize("settings_overrides", [{"passkeys": "required"}])
def test_in_required_mode_a_sign_up_without_a_passkey_cannot_finish(
    app: Flask, visitor: Visitor
) -> None:
    answer = visitor.sign_up("obama", media.photo("obama.jpg"), OBAMA_PHRASES)
    assert answer.status_code == 400
    assert "passkey" in answer.json["message"]
    assert sign_up_with_passkey(visitor, SoftAuthenticator()).status_code == 201


@pytest.mark.parametrize("settings_overrides", [{"passkeys": "off"}])
def test_with_passkeys_off_no_passkey_can_be_added(visitor: Visitor) -> None:
    assert visitor.post("/sign_up/passkey/options", username="obama").status_code == 404


def test_an_unknown_passkey_mode_is_a_configuration_error(app: Flask) -> None:
    with pytest.raises(ConfigurationError, match="FACEVOICE_PASSKEYS"):
        PasskeyFactor(Settings(passkeys="sometimes"), database_of(app))


def test_the_origin_defaults_to_the_issuer_then_localhost() -> None:
    assert Settings().webauthn_origin == "http://localhost:5000"
    assert Settings(port=8000).webauthn_rp_id == "localhost"
    issued = Settings(issuer="https://id.example.org/facevoice")
    assert issued.webauthn_origin == "https://id.example.org"
    assert issued.webauthn_rp_id == "id.example.org"
    assert Settings(origin="https://a.example/").webauthn_origin == "https://a.example"
    named = Settings(server_name="login.example.org", https=True)
    assert named.webauthn_origin == "https://login.example.org"


# --- Log-in: passkey first, then face and voice.


def test_the_passkey_then_face_and_voice_log_in_with_mfa(
    device: SoftAuthenticator, make_visitor
) -> None:  # type: ignore[no-untyped-def]
    visitor = make_visitor()
    assert prove_passkey(visitor, device).status_code == 200
    answer = face_and_voice(visitor)
    assert answer.status_code == 200, answer.json
    assert amr_of_session(visitor) == ["hwk", "face", "vbm", "mfa"]


def test_no_log_in_sample_is_taken_before_the_passkey(
    app: Flask, device: SoftAuthenticator, make_visitor
) -> None:  # type: ignore[no-untyped-def]
    visitor = make_visitor()
    photo = visitor.take_photo("obama", "log_in", media.photo("obama2.jpg"))
    voice = visitor.record_voice("obama", "log_in", media.phrase(media.SPEAKER_A, 3))
    assert (photo.status_code, voice.status_code) == (401, 401)
    assert "passkey" in photo.json["message"]
    assert audit_outcomes(app, "log_in")[-1] == "passkey_required"


def test_without_the_passkey_post_log_in_is_401_whatever_the_samples(
    app: Flask, device: SoftAuthenticator, make_visitor
) -> None:  # type: ignore[no-untyped-def]
    visitor = make_visitor()
    assert prove_passkey(visitor, device).status_code == 200
    assert visitor.take_photo("obama", "log_in", media.photo("obama2.jpg")).status_code == 200
    assert (
        visitor.record_voice("obama", "log_in", media.phrase(media.SPEAKER_A, 3)).status_code == 200
    )
    with visitor.client.session_transaction() as session:
        session["proven_at"] -= 601  # the passkey's proof ran out before the log-in
    answer = visitor.post("/log_in", username="obama")
    assert answer.status_code == 401
    assert "passkey" in answer.json["message"]
    assert audit_outcomes(app, "log_in")[-1] == "passkey_required"


def test_a_passkey_proved_for_another_name_does_not_count(
    device: SoftAuthenticator, make_visitor
) -> None:  # type: ignore[no-untyped-def]
    other = make_visitor()
    assert other.sign_up("barack", media.photo("obama.jpg"), OBAMA_PHRASES).status_code == 201
    visitor = make_visitor()
    assert prove_passkey(visitor, device, username="barack").status_code == 401  # not his
    photo = visitor.take_photo("obama", "log_in", media.photo("obama2.jpg"))
    assert photo.status_code == 401  # nothing was proved for obama


def test_options_say_whether_the_account_has_a_passkey(
    device: SoftAuthenticator, make_visitor
) -> None:  # type: ignore[no-untyped-def]
    visitor = make_visitor()
    own = visitor.post("/log_in/passkey/options", username="obama").json
    unknown = visitor.post("/log_in/passkey/options", username="nobody").json
    assert own["has_passkey"] is True
    assert own["options"]["allowCredentials"][0]["id"] == passkey_id_of(device)
    assert own["options"]["userVerification"] == "required"
    assert unknown["has_passkey"] is False
    assert unknown["options"].get("allowCredentials", []) == []


def passkey_id_of(device: SoftAuthenticator) -> str:
    return b64url(device.credential_id)


def test_a_replayed_sign_count_is_refused(device: SoftAuthenticator, make_visitor) -> None:  # type: ignore[no-untyped-def]
    assert prove_passkey(make_visitor(), device).status_code == 200
    device.sign_count -= 1  # a clone of the key, or a replay: the counter did not grow
    assert prove_passkey(make_visitor(), device).status_code == 401


def test_an_answer_is_used_once(device: SoftAuthenticator, make_visitor) -> None:  # type: ignore[no-untyped-def]
    visitor = make_visitor()
    options = options_of(visitor.post("/log_in/passkey/options", username="obama"))
    credential = device.get(options)
    assert (
        visitor.post("/log_in/passkey", username="obama", credential=credential).status_code == 200
    )
    again = visitor.post("/log_in/passkey", username="obama", credential=credential)
    assert again.status_code == 401


@pytest.mark.parametrize("where", [{"origin": "http://localhost:5001"}, {"rp_id": "example.org"}])
def test_a_wrong_origin_or_relying_party_is_refused(
    device: SoftAuthenticator, make_visitor, where: dict[str, str]
) -> None:  # type: ignore[no-untyped-def]
    assert prove_passkey(make_visitor(), device, **where).status_code == 401


def test_another_device_is_refused(device: SoftAuthenticator, make_visitor) -> None:  # type: ignore[no-untyped-def]
    assert prove_passkey(make_visitor(), SoftAuthenticator()).status_code == 401


def test_another_users_passkey_is_refused(device: SoftAuthenticator, make_visitor) -> None:  # type: ignore[no-untyped-def]
    barack = SoftAuthenticator()
    assert sign_up_with_passkey(make_visitor(), barack, username="barack").status_code == 201
    assert prove_passkey(make_visitor(), barack, username="obama").status_code == 401
    assert prove_passkey(make_visitor(), barack, username="barack").status_code == 200


def test_malformed_credentials_are_401_never_500(device: SoftAuthenticator, make_visitor) -> None:  # type: ignore[no-untyped-def]
    visitor = make_visitor()
    own = passkey_id_of(device)
    broken = {"id": own, "rawId": own, "type": "public-key"}
    malformed = [
        {},
        {"id": "x"},
        {"id": own, "response": 3},
        {**broken, "response": {"clientDataJSON": 5, "authenticatorData": [], "signature": {}}},
        {**broken, "response": {"clientDataJSON": "!!", "authenticatorData": "", "signature": ""}},
        {**broken, "rawId": "AAAA", "response": {}},
    ]
    for credential in malformed:
        options_of(visitor.post("/log_in/passkey/options", username="obama"))
        answer = visitor.post("/log_in/passkey", username="obama", credential=credential)
        assert answer.status_code == 401, credential
        options_of(visitor.post("/log_in/passkey/options", username="obama"))
        answer = visitor.post("/log_in/passkey_only", username="obama", credential=credential)
        assert answer.status_code == 401, credential
    assert visitor.post("/log_in/passkey", username="obama", credential="x").status_code == 400


def test_malformed_registrations_are_401_never_500(make_visitor) -> None:  # type: ignore[no-untyped-def]
    visitor = make_visitor()
    visitor.take_photo("obama", "sign_up", media.photo("obama.jpg"))
    good = SoftAuthenticator().create({"challenge": "AAAA"})
    malformed = [
        {},
        {**good, "response": {"clientDataJSON": 3, "attestationObject": "!!"}},
        {**good, "response": {**good["response"], "attestationObject": "AAAA"}},
        {**good, "response": {**good["response"], "transports": [7, "x" * 500]}},
    ]
    for credential in malformed:
        options_of(visitor.post("/sign_up/passkey/options", username="obama"))
        answer = visitor.post("/sign_up/passkey", username="obama", credential=credential)
        assert answer.status_code == 401, credential


def test_without_options_a_passkey_answer_is_refused(
    device: SoftAuthenticator, make_visitor
) -> None:  # type: ignore[no-untyped-def]
    credential = device.get({"challenge": "AAAA"})
    answer = make_visitor().post("/log_in/passkey", username="obama", credential=credential)
    assert answer.status_code == 401


def test_accounts_without_a_passkey_log_in_by_face_and_voice_as_before(
    enrolled: str, make_visitor
) -> None:  # type: ignore[no-untyped-def]
    visitor = make_visitor()
    assert face_and_voice(visitor).status_code == 200
    assert amr_of_session(visitor) == ["face", "vbm", "mfa"]


# --- The passkey alone.


def test_the_passkey_alone_logs_in_as_hwk(
    app: Flask, device: SoftAuthenticator, make_visitor
) -> None:  # type: ignore[no-untyped-def]
    visitor = make_visitor()
    answer = passkey_only(visitor, device)
    assert answer.status_code == 200, answer.json
    assert answer.json["redirect"] == "/protected"
    assert amr_of_session(visitor) == ["hwk"]
    assert visitor.client.get("/account").status_code == 200
    assert passkey_rows(app)[0].last_used_at is not None


def test_a_synced_passkey_logs_in_as_swk(visitor: Visitor, make_visitor) -> None:  # type: ignore[no-untyped-def]
    synced = SoftAuthenticator(backed_up=True)
    assert sign_up_with_passkey(visitor, synced).status_code == 201
    alone = make_visitor()
    assert passkey_only(alone, synced).status_code == 200
    assert amr_of_session(alone) == ["swk"]
    full = make_visitor()
    assert prove_passkey(full, synced).status_code == 200
    assert face_and_voice(full).status_code == 200
    assert amr_of_session(full) == ["swk", "face", "vbm", "mfa"]


@pytest.mark.parametrize("settings_overrides", [{"passkey_only_login": False}])
def test_the_passkey_alone_can_be_switched_off(device: SoftAuthenticator, make_visitor) -> None:  # type: ignore[no-untyped-def]
    visitor = make_visitor()
    assert passkey_only(visitor, device).status_code == 404
    assert visitor.client.get("/account").status_code == 302


def test_biometric_lockout_does_not_lock_the_passkey_alone(
    app: Flask, device: SoftAuthenticator, make_visitor
) -> None:  # type: ignore[no-untyped-def]
    accounts = services_of(app).accounts
    for _ in range(60):  # past the disabling threshold
        record_failure(database_of(app), "obama", accounts.lockout)
    assert passkey_only(make_visitor(), device).status_code == 200


@pytest.mark.parametrize("settings_overrides", [{"ratelimit_per_username": "3 per minute"}])
def test_passkey_failures_are_rate_limited(device: SoftAuthenticator, make_visitor) -> None:  # type: ignore[no-untyped-def]
    visitor = make_visitor()
    stranger = SoftAuthenticator()
    statuses = [prove_passkey_status(visitor, stranger) for _ in range(12)]
    assert 429 in statuses


def prove_passkey_status(visitor: Visitor, device: SoftAuthenticator) -> int:
    options = visitor.post("/log_in/passkey/options", username="obama")
    if options.status_code != 200:
        return options.status_code
    credential = device.get(options.json["options"])
    return visitor.post("/log_in/passkey", username="obama", credential=credential).status_code


def services_of(app: Flask):  # type: ignore[no-untyped-def]
    with app.app_context():
        return services()


# --- Recovery codes after a passkey.


def test_a_recovery_code_needs_the_passkey_first(visitor: Visitor, make_visitor) -> None:  # type: ignore[no-untyped-def]
    device = SoftAuthenticator()
    codes = sign_up_with_passkey(visitor, device).json["recovery_codes"]
    assert use_code(make_visitor(), codes[0]).status_code == 401
    after_passkey = make_visitor()
    assert prove_passkey(after_passkey, device).status_code == 200
    assert use_code(after_passkey, codes[0]).status_code == 200
    assert amr_of_session(after_passkey) == ["hwk", "otp", "mfa"]


# --- The account page.


@pytest.fixture
def logged_in(device: SoftAuthenticator, make_visitor) -> Visitor:  # type: ignore[no-untyped-def]
    """obama, just logged in with the passkey alone."""
    visitor = make_visitor()
    assert passkey_only(visitor, device).status_code == 200
    return visitor


def add_passkey(visitor: Visitor, device: SoftAuthenticator, name: str = "Laptop"):  # type: ignore[no-untyped-def]
    options = options_of(visitor.post("/account/passkeys/options"))
    return visitor.post("/account/passkeys", credential=device.create(options), name=name)


def test_the_account_page_lists_passkeys_with_name_created_and_last_used(
    logged_in: Visitor,
) -> None:
    page = logged_in.client.get("/account").data.decode()
    assert "Phone" in page
    assert "Last used" in page


def test_a_passkey_added_on_the_account_page_works(
    app: Flask, logged_in: Visitor, make_visitor
) -> None:  # type: ignore[no-untyped-def]
    laptop = SoftAuthenticator()
    answer = add_passkey(logged_in, laptop)
    assert answer.status_code == 201, answer.json
    assert [row.name for row in passkey_rows(app)] == ["Phone", "Laptop"]
    assert passkey_only(make_visitor(), laptop).status_code == 200
    assert "passkey_added" in audit_outcomes(app, "account")


def test_the_same_passkey_cannot_be_added_twice(
    logged_in: Visitor, device: SoftAuthenticator
) -> None:
    assert add_passkey(logged_in, device).status_code == 401


def test_renaming_a_passkey(app: Flask, logged_in: Visitor) -> None:
    (row,) = passkey_rows(app)
    answer = logged_in.post(f"/account/passkeys/{row.id}/rename", name="  Work   phone ")
    assert answer.status_code == 200
    assert passkey_rows(app)[0].name == "Work phone"
    assert "passkey_renamed" in audit_outcomes(app, "account")


def test_a_removed_passkey_no_longer_works(
    app: Flask, logged_in: Visitor, device: SoftAuthenticator, make_visitor
) -> None:  # type: ignore[no-untyped-def]
    (row,) = passkey_rows(app)
    assert logged_in.post(f"/account/passkeys/{row.id}/delete").status_code == 200
    assert passkey_rows(app) == []
    assert passkey_only(make_visitor(), device).status_code == 401
    assert "passkey_removed" in audit_outcomes(app, "account")
    # without a passkey, the account logs in by face and voice alone again
    assert face_and_voice(make_visitor()).status_code == 200


def test_removing_or_adding_a_passkey_needs_a_fresh_log_in(app: Flask, logged_in: Visitor) -> None:
    make_log_in_stale(logged_in)
    (row,) = passkey_rows(app)
    assert logged_in.post(f"/account/passkeys/{row.id}/delete").status_code == 401
    assert logged_in.post("/account/passkeys/options").status_code == 401
    assert len(passkey_rows(app)) == 1
    assert audit_outcomes(app, "account")[-1] == "stale_log_in"


def test_another_users_passkey_cannot_be_renamed_or_removed(
    app: Flask, logged_in: Visitor, make_visitor
) -> None:  # type: ignore[no-untyped-def]
    assert sign_up_with_passkey(make_visitor(), SoftAuthenticator(), "barack").status_code == 201
    barack_row = passkey_rows(app)[1]
    assert logged_in.post(f"/account/passkeys/{barack_row.id}/delete").status_code == 404
    assert logged_in.post(f"/account/passkeys/{barack_row.id}/rename", name="x").status_code == 404
    assert len(passkey_rows(app)) == 2


def test_passkey_changes_need_a_log_in(app: Flask, device: SoftAuthenticator, make_visitor) -> None:  # type: ignore[no-untyped-def]
    (row,) = passkey_rows(app)
    assert make_visitor().post(f"/account/passkeys/{row.id}/delete").status_code == 401


def test_deleting_the_account_deletes_its_passkeys(app: Flask, logged_in: Visitor) -> None:
    assert logged_in.post("/account/delete", confirm="obama").status_code == 200
    assert passkey_rows(app) == []


# --- The migration, on SQLite and PostgreSQL.


def passkey_migration_round_trip(url: str) -> None:
    """0005 → 0006 adds the table (a user's passkeys go with the user); back to 0005 drops it."""
    command.upgrade(alembic_config(url), "0005")
    database = Database(url)
    database.upgrade()
    user = create_user(database, "alice", b"face", b"voice")
    with database.session() as session:
        session.add(
            PasskeyCredential(user_id=user.id, credential_id="AQID", public_key=b"k", name="Key")
        )
    with pytest.raises(sa.exc.IntegrityError), database.session() as session:
        session.add(
            PasskeyCredential(user_id=user.id, credential_id="AQID", public_key=b"k", name="Twin")
        )
    with database.session() as session:
        (row,) = session.scalars(sa.select(PasskeyCredential))
        assert (row.sign_count, row.transports, row.backed_up) == (0, "", False)
    database.dispose()
    command.downgrade(alembic_config(url), "0005")
    engine = sa.create_engine(url)
    assert "passkey_credentials" not in sa.inspect(engine).get_table_names()
    engine.dispose()


def test_the_passkey_migration_on_sqlite(tmp_path: Path) -> None:
    passkey_migration_round_trip(f"sqlite:///{tmp_path / 'passkeys.sqlite3'}")


def test_the_passkey_migration_on_postgresql(postgres_url: str) -> None:
    passkey_migration_round_trip(postgres_url)


def test_make_run_prints_the_url_passkeys_work_on(monkeypatch: pytest.MonkeyPatch) -> None:
    from click.testing import CliRunner

    import facevoice
    from facevoice import cli

    class Stub:
        def __init__(self) -> None:
            self.extensions = {"facevoice": SimpleNamespace(settings=Settings(data_dir="/d"))}

        def run(self, **_: Any) -> None:
            """Serve nothing."""

    monkeypatch.setattr(facevoice, "create_app", lambda: Stub())
    output = CliRunner().invoke(cli.main, ["run"]).output
    assert "open http://localhost:5000/" in output
