"""facevoice as an OpenID Connect provider, driven by Authlib's OAuth client over HTTP."""

from __future__ import annotations

import base64
import json
import re
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from flask import Flask
from joserfc.errors import BadSignatureError
from sqlalchemy import update

from facevoice.oidc import policy
from facevoice.storage import oidc as store
from facevoice.storage.database import User
from facevoice.web.services import EXTENSION
from tests.authenticator import SoftAuthenticator
from tests.oidc_flow import REDIRECT_URI, Browser, RelyingParty, live_server
from tests.servers import free_port

LOGOUT_URI = "http://127.0.0.1:9/logged-out"
RP_ID = "127.0.0.1"  # passkeys are bound to the issuer's host


@pytest.fixture(scope="module")
def port() -> int:
    """The port of this module's live servers (the issuer names it)."""
    return free_port()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest) -> str:
    """Each provider test runs on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        return ""
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def settings_overrides(
    request: pytest.FixtureRequest, port: int, database_url: str
) -> dict[str, Any]:
    """The issuer is the live server's URL; a ``settings`` marker adds more."""
    overrides: dict[str, Any] = {"issuer": f"http://127.0.0.1:{port}"}
    if database_url:
        overrides["database_url"] = database_url
    marker = request.node.get_closest_marker("settings")
    return {**overrides, **(marker.kwargs if marker else {})}


@pytest.fixture
def base_url(app: Flask, port: int):  # type: ignore[no-untyped-def]
    """The app served over real HTTP, with the user 'obama' signed up."""
    with live_server(app, port) as url:
        assert Browser(url).sign_up_obama("obama") == 201
        yield url


def add_client(app: Flask, **options: Any) -> tuple[str, str | None]:
    """Register a client of the test's app."""
    options.setdefault("post_logout_redirect_uris", [LOGOUT_URI])
    return store.add_client(
        app.extensions[EXTENSION].database, "Test app", [REDIRECT_URI], **options
    )


@pytest.fixture
def rp(app: Flask, base_url: str) -> RelyingParty:
    """A confidential client, not first-party (it gets the consent page)."""
    client_id, secret = add_client(app)
    return RelyingParty(base_url, client_id, secret)


@pytest.fixture
def browser(base_url: str) -> Browser:
    """A user agent of the live server."""
    return Browser(base_url)


def callback_params(answer: requests.Response) -> dict[str, str]:
    """The query of a redirect to the client's redirect URI."""
    assert answer.status_code == 302, answer.text
    location = answer.headers["Location"]
    assert location.startswith(REDIRECT_URI), location
    return {key: values[0] for key, values in parse_qs(urlsplit(location).query).items()}


def logged_in_tokens(rp: RelyingParty, browser: Browser, **extra: str) -> dict[str, Any]:
    """The whole flow: authorize, log in, consent, exchange the code."""
    answer = browser.authorize(rp.authorization_url(**extra))
    callback_params(answer)
    return rp.fetch_token(answer.headers["Location"])


def public_id(app: Flask, username: str = "obama") -> str:
    """The random public id of a user."""
    with app.extensions[EXTENSION].database.session() as session:
        return session.query(User).filter_by(username=username).one().public_id


def test_discovery_lists_code_flow_with_s256_rs256_and_the_acr_values(
    rp: RelyingParty, port: int
) -> None:
    metadata = rp.metadata
    assert metadata["issuer"] == f"http://127.0.0.1:{port}"
    assert metadata["response_types_supported"] == ["code"]
    assert metadata["code_challenge_methods_supported"] == ["S256"]
    assert "RS256" in metadata["id_token_signing_alg_values_supported"]
    assert metadata["acr_values_supported"] == list(policy.ACR_VALUES)
    jwks = requests.get(metadata["jwks_uri"], timeout=30).json()
    assert [key["kty"] for key in jwks["keys"]] == ["RSA"]
    assert all("d" not in key for key in jwks["keys"])


def test_authlib_client_logs_in_and_validates_the_id_token(
    app: Flask, rp: RelyingParty, browser: Browser
) -> None:
    claims = rp.validate_id_token(logged_in_tokens(rp, browser))
    assert claims["sub"] == public_id(app) != "obama"
    assert claims["aud"] == rp.client_id
    assert claims["nonce"] == rp.nonce
    assert claims["amr"] == ["face", "vbm", "mfa"]
    assert claims["acr"] == policy.FACE_VOICE
    assert claims["preferred_username"] == "obama"
    assert claims["iat"] <= claims["exp"]
    assert claims["auth_time"] <= claims["iat"]


def test_userinfo_answers_the_access_tokens_user(
    app: Flask, rp: RelyingParty, browser: Browser
) -> None:
    logged_in_tokens(rp, browser)
    info = rp.session.get(rp.metadata["userinfo_endpoint"]).json()
    assert info == {"sub": public_id(app), "preferred_username": "obama"}


def test_refresh_tokens_rotate_on_every_use(rp: RelyingParty, browser: Browser) -> None:
    first = logged_in_tokens(rp, browser)
    second = rp.refresh(first["refresh_token"])
    assert second.status_code == 200, second.text
    assert second.json()["refresh_token"] != first["refresh_token"]
    third = rp.refresh(second.json()["refresh_token"])
    assert third.status_code == 200, third.text


def test_a_reused_refresh_token_revokes_the_whole_family(
    rp: RelyingParty, browser: Browser
) -> None:
    first = logged_in_tokens(rp, browser)
    rotated = rp.refresh(first["refresh_token"]).json()
    reused = rp.refresh(first["refresh_token"])
    assert reused.status_code == 400
    assert reused.json()["error"] == "invalid_grant"
    assert rp.refresh(rotated["refresh_token"]).json()["error"] == "invalid_grant"
    userinfo = requests.get(
        rp.metadata["userinfo_endpoint"],
        headers={"Authorization": f"Bearer {rotated['access_token']}"},
        timeout=30,
    )
    assert userinfo.status_code == 401


def test_no_refresh_token_without_offline_access(app: Flask, base_url: str) -> None:
    client_id, secret = add_client(app)
    rp = RelyingParty(base_url, client_id, secret, scope="openid profile")
    token = logged_in_tokens(rp, Browser(base_url))
    assert "refresh_token" not in token


def test_public_clients_log_in_with_pkce_alone(app: Flask, base_url: str) -> None:
    client_id, secret = add_client(app, public=True)
    assert secret is None
    rp = RelyingParty(base_url, client_id, None)
    assert rp.validate_id_token(logged_in_tokens(rp, Browser(base_url)))["aud"] == client_id


def test_plain_pkce_is_refused(rp: RelyingParty, browser: Browser) -> None:
    url = rp.authorization_url().replace(
        "code_challenge_method=S256", "code_challenge_method=plain"
    )
    params = callback_params(browser.open(url))
    assert params["error"] == "invalid_request"


def test_a_request_without_pkce_is_refused(rp: RelyingParty, browser: Browser) -> None:
    rp.session.code_challenge_method = None
    url, _ = rp.session.create_authorization_url(
        rp.metadata["authorization_endpoint"], nonce=rp.nonce
    )
    assert callback_params(browser.open(url))["error"] == "invalid_request"


def test_a_request_without_nonce_is_refused(rp: RelyingParty, browser: Browser) -> None:
    url, _ = rp.session.create_authorization_url(
        rp.metadata["authorization_endpoint"], code_verifier=rp.verifier
    )
    assert callback_params(browser.open(url))["error"] == "invalid_request"


def test_a_code_used_twice_fails_and_revokes_what_the_first_use_issued(
    rp: RelyingParty, browser: Browser
) -> None:
    answer = browser.authorize(rp.authorization_url())
    first = rp.fetch_token(answer.headers["Location"])
    code = callback_params(answer)["code"]
    again = requests.post(
        rp.metadata["token_endpoint"],
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT_URI,
            "code_verifier": rp.verifier,
        },
        auth=(rp.client_id, rp.client_secret),
        timeout=30,
    )
    assert again.status_code == 400
    assert again.json()["error"] == "invalid_grant"
    assert rp.refresh(first["refresh_token"]).json()["error"] == "invalid_grant"


def test_an_unregistered_redirect_uri_gets_an_error_page_never_a_redirect(
    rp: RelyingParty, browser: Browser
) -> None:
    url = rp.authorization_url().replace("127.0.0.1%3A9%2Fcallback", "evil.example%2Fcallback")
    answer = browser.open(url)
    assert answer.status_code == 400
    assert "Location" not in answer.headers
    assert "invalid_request" in answer.text


def test_a_wrong_redirect_uri_at_the_token_endpoint_is_invalid_grant(
    rp: RelyingParty, browser: Browser
) -> None:
    code = callback_params(browser.authorize(rp.authorization_url()))["code"]
    answer = requests.post(
        rp.metadata["token_endpoint"],
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": "http://127.0.0.1:9/other",
            "code_verifier": rp.verifier,
        },
        auth=(rp.client_id, rp.client_secret),
        timeout=30,
    )
    assert answer.status_code == 400
    assert answer.json()["error"] == "invalid_grant"


def test_a_wrong_client_secret_is_invalid_client(rp: RelyingParty, browser: Browser) -> None:
    code = callback_params(browser.authorize(rp.authorization_url()))["code"]
    answer = requests.post(
        rp.metadata["token_endpoint"],
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT_URI,
            "code_verifier": rp.verifier,
        },
        auth=(rp.client_id, "wrong-secret"),
        timeout=30,
    )
    assert answer.status_code == 401
    assert answer.json()["error"] == "invalid_client"


def test_a_wrong_code_verifier_is_invalid_grant(rp: RelyingParty, browser: Browser) -> None:
    answer = browser.authorize(rp.authorization_url())
    rp.verifier = "x" * 50
    with pytest.raises(Exception, match="invalid_grant"):
        rp.fetch_token(answer.headers["Location"])


def test_an_expired_code_is_invalid_grant(app: Flask, rp: RelyingParty, browser: Browser) -> None:
    answer = browser.authorize(rp.authorization_url())
    with app.extensions[EXTENSION].database.session() as session:
        session.execute(update(store.OidcCode).values(expires_at=store.utcnow().replace(year=2000)))
    with pytest.raises(Exception, match="invalid_grant"):
        rp.fetch_token(answer.headers["Location"])


@pytest.mark.settings(passkeys="off")
def test_with_passkeys_off_the_passkey_level_is_refused_at_once(
    rp: RelyingParty, browser: Browser
) -> None:
    url = rp.authorization_url(acr_values=policy.FACE_VOICE_PASSKEY)
    assert callback_params(browser.open(url))["error"] == "unmet_authentication_requirements"


def sign_up_with_passkey(browser: Browser, username: str) -> SoftAuthenticator:
    """Sign up obama's face and voice under another name, with a passkey; its device."""
    device = SoftAuthenticator()
    browser.give_obama_sign_up_samples(username)
    options = browser.post("/sign_up/passkey/options", username=username).json()["options"]
    credential = device.create(options, origin=browser.base_url, rp_id=RP_ID)
    assert browser.post("/sign_up/passkey", username=username, credential=credential).ok
    assert browser.post("/sign_up", username=username).status_code == 201
    return device


def prove_passkey(browser: Browser, device: SoftAuthenticator, username: str, path: str):  # type: ignore[no-untyped-def]
    """Answer fresh passkey options at ``path`` (``/log_in/passkey`` or ``..._only``)."""
    options = browser.post("/log_in/passkey/options", username=username).json()["options"]
    credential = device.get(options, origin=browser.base_url, rp_id=RP_ID)
    return browser.post(path, username=username, credential=credential)


def test_the_passkey_level_is_met_by_passkey_face_and_voice(
    rp: RelyingParty, browser: Browser
) -> None:
    device = sign_up_with_passkey(browser, "barack")
    assert browser.open(rp.authorization_url(acr_values=policy.FACE_VOICE_PASSKEY)).headers[
        "Location"
    ] == "/log_in"
    assert prove_passkey(browser, device, "barack", "/log_in/passkey").status_code == 200
    resumed = browser.log_in_obama("barack")["redirect"]
    answer = browser.consent(browser.open(browser.base_url + resumed))
    claims = rp.validate_id_token(rp.fetch_token(answer.headers["Location"]))
    assert claims["acr"] == policy.FACE_VOICE_PASSKEY
    assert {"face", "vbm", "hwk", "mfa"} <= set(claims["amr"])


def test_the_log_in_page_says_the_application_asks_for_a_passkey(
    rp: RelyingParty, browser: Browser
) -> None:
    assert 'id="passkey-required"' not in browser.get("/log_in").text
    browser.open(rp.authorization_url(acr_values=policy.FACE_VOICE_PASSKEY))
    assert 'id="passkey-required"' in browser.get("/log_in").text


def test_for_the_passkey_level_face_and_voice_without_a_passkey_get_401(
    rp: RelyingParty, browser: Browser
) -> None:
    browser.open(rp.authorization_url(acr_values=policy.FACE_VOICE_PASSKEY))
    browser.give_obama_log_in_samples("obama")
    answer = browser.post("/log_in", username="obama")
    assert answer.status_code == 401
    assert "passkey" in answer.json()["message"]


def test_a_passkey_alone_resumes_the_authorization_and_reports_hwk(
    rp: RelyingParty, browser: Browser
) -> None:
    device = sign_up_with_passkey(browser, "barack")
    browser.open(rp.authorization_url())
    resumed = prove_passkey(browser, device, "barack", "/log_in/passkey_only").json()["redirect"]
    answer = browser.consent(browser.open(browser.base_url + resumed))
    claims = rp.validate_id_token(rp.fetch_token(answer.headers["Location"]))
    assert claims["amr"] == ["hwk"]
    assert claims.get("acr", "") == ""


def test_a_log_in_short_of_the_passkey_level_is_refused_never_downgraded(
    rp: RelyingParty, browser: Browser
) -> None:
    device = sign_up_with_passkey(browser, "barack")
    browser.open(rp.authorization_url(acr_values=policy.FACE_VOICE_PASSKEY))
    resumed = prove_passkey(browser, device, "barack", "/log_in/passkey_only").json()["redirect"]
    answer = browser.open(browser.base_url + resumed)
    assert callback_params(answer)["error"] == "unmet_authentication_requirements"


def test_unknown_acr_values_are_refused(rp: RelyingParty, browser: Browser) -> None:
    url = rp.authorization_url(acr_values="urn:example:gold")
    assert callback_params(browser.open(url))["error"] == "invalid_request"


def test_acr_values_face_voice_are_met(rp: RelyingParty, browser: Browser) -> None:
    token = logged_in_tokens(rp, browser, acr_values=policy.FACE_VOICE)
    assert rp.validate_id_token(token)["acr"] == policy.FACE_VOICE


def test_prompt_none_without_a_session_is_login_required(
    rp: RelyingParty, browser: Browser
) -> None:
    params = callback_params(browser.open(rp.authorization_url(prompt="none")))
    assert params["error"] == "login_required"


def test_prompt_login_asks_for_a_fresh_log_in(rp: RelyingParty, browser: Browser) -> None:
    logged_in_tokens(rp, browser)
    rp.nonce = "another-nonce-value"
    answer = browser.open(rp.authorization_url(prompt="login"))
    assert answer.status_code == 302
    assert answer.headers["Location"] == "/log_in"


def test_max_age_zero_asks_for_a_fresh_log_in(rp: RelyingParty, browser: Browser) -> None:
    logged_in_tokens(rp, browser)
    rp.nonce = "another-nonce-value"
    answer = browser.open(rp.authorization_url(max_age="0"))
    assert answer.headers["Location"] == "/log_in"


def test_consent_is_remembered_per_user_and_client(rp: RelyingParty, browser: Browser) -> None:
    logged_in_tokens(rp, browser)
    rp.nonce = "another-nonce-value"
    callback_params(browser.open(rp.authorization_url()))


def test_denying_consent_answers_access_denied(rp: RelyingParty, browser: Browser) -> None:
    answer = browser.open(rp.authorization_url())
    browser.log_in_obama("obama")
    page = browser.open(rp.authorization_url())
    assert page.status_code == 200 and 'value="deny"' in page.text
    assert callback_params(browser.consent(page, "deny"))["error"] == "access_denied"
    assert answer.status_code == 302


def test_first_party_clients_skip_the_consent_page(app: Flask, base_url: str) -> None:
    client_id, secret = add_client(app, first_party=True)
    rp = RelyingParty(base_url, client_id, secret)
    browser = Browser(base_url)
    browser.open(rp.authorization_url())
    resumed = browser.log_in_obama("obama")["redirect"]
    callback_params(browser.open(base_url + resumed))


def test_the_consent_form_needs_its_csrf_token(rp: RelyingParty, browser: Browser) -> None:
    browser.open(rp.authorization_url())
    page = browser.open(browser.base_url + browser.log_in_obama("obama")["redirect"])
    answer = browser.http.post(page.url, data={"decision": "allow"}, allow_redirects=False)
    assert answer.status_code == 400
    assert "Location" not in answer.headers


def test_a_forged_id_token_fails_validation(rp: RelyingParty, browser: Browser) -> None:
    token = logged_in_tokens(rp, browser)
    header, payload, signature = token["id_token"].split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["sub"] = "someone-else"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    with pytest.raises(BadSignatureError):
        rp.validate_id_token({**token, "id_token": f"{header}.{forged}.{signature}"})


def test_rp_initiated_logout_ends_the_session_and_returns_to_a_registered_uri(
    rp: RelyingParty, browser: Browser
) -> None:
    token = logged_in_tokens(rp, browser)
    answer = browser.open(
        rp.metadata["end_session_endpoint"]
        + f"?id_token_hint={token['id_token']}&post_logout_redirect_uri={LOGOUT_URI}&state=s1"
    )
    assert answer.status_code == 302
    assert answer.headers["Location"] == f"{LOGOUT_URI}?state=s1"
    assert browser.open(browser.base_url + "/protected").status_code == 302


def test_logout_never_redirects_to_an_unregistered_uri(rp: RelyingParty, browser: Browser) -> None:
    token = logged_in_tokens(rp, browser)
    answer = browser.open(
        rp.metadata["end_session_endpoint"]
        + f"?id_token_hint={token['id_token']}&post_logout_redirect_uri=http://evil.example/"
    )
    assert answer.status_code == 200
    assert "Location" not in answer.headers


@pytest.mark.parametrize(
    "data",
    [
        {},
        {"grant_type": "password", "username": "obama", "password": "x"},
        {"grant_type": "authorization_code", "code": "nope"},
        {"grant_type": "refresh_token", "refresh_token": "x" * 5000},
        {"grant_type": "client_credentials"},
        {"grant_type": "authorization_code", "code": "\x00", "redirect_uri": "\x00"},
    ],
)
def test_bad_token_requests_get_oauth_errors_never_500(
    rp: RelyingParty, data: dict[str, str]
) -> None:
    answer = requests.post(
        rp.metadata["token_endpoint"], data=data, auth=(rp.client_id, rp.client_secret), timeout=30
    )
    assert 400 <= answer.status_code < 500
    assert answer.json()["error"] in {
        "invalid_request",
        "invalid_grant",
        "unsupported_grant_type",
        "unauthorized_client",
    }


@pytest.mark.parametrize(
    "query",
    [
        "",
        "client_id=unknown&response_type=code&redirect_uri=http://127.0.0.1:9/callback",
        "response_type=token&client_id={client_id}&redirect_uri=" + REDIRECT_URI,
        "response_type=code&client_id={client_id}&redirect_uri=" + REDIRECT_URI + "&scope=openid"
        "&code_challenge=x&code_challenge_method=S256&nonce=n&max_age=soon",
        "response_type=code&client_id=%00x&redirect_uri=" + REDIRECT_URI,
        "response_type=code&client_id={client_id}&redirect_uri=" + REDIRECT_URI + "&scope=openid"
        "&code_challenge=" + "a" * 43 + "&code_challenge_method=S256&nonce=%00",
        "response_type=code&client_id={client_id}&client_id=other&redirect_uri=" + REDIRECT_URI,
    ],
)
def test_bad_authorization_requests_get_oauth_errors_never_500(
    rp: RelyingParty, browser: Browser, query: str
) -> None:
    answer = browser.open(
        rp.metadata["authorization_endpoint"] + "?" + query.format(client_id=rp.client_id)
    )
    assert answer.status_code in (302, 400)
    if answer.status_code == 302:
        assert answer.headers["Location"].startswith(REDIRECT_URI)
        assert "error=" in answer.headers["Location"]


def test_deleting_the_account_deletes_its_oidc_rows(
    app: Flask, rp: RelyingParty, browser: Browser
) -> None:
    from facevoice.admin import delete_user

    logged_in_tokens(rp, browser)
    database = app.extensions[EXTENSION].database
    assert delete_user(database, "obama")
    with database.session() as session:
        for table in (store.OidcCode, store.OidcToken, store.OidcConsent):
            assert session.query(table).count() == 0


def test_signing_key_file_is_private(app: Flask) -> None:
    path = Path(app.extensions[EXTENSION].settings.oidc_signing_key_path)
    assert path.stat().st_mode & 0o777 == 0o600


def test_a_fresh_log_in_satisfies_prompt_login(rp: RelyingParty, browser: Browser) -> None:
    first = rp.validate_id_token(logged_in_tokens(rp, browser))
    time.sleep(1.1)  # auth_time has a resolution of one second
    rp.nonce = "another-nonce-value"
    again = rp.validate_id_token(logged_in_tokens(rp, browser, prompt="login"))
    assert again["auth_time"] > first["auth_time"]


def test_a_token_request_with_a_nul_client_id_is_invalid_client(rp: RelyingParty) -> None:
    answer = requests.post(
        rp.metadata["token_endpoint"],
        data={"grant_type": "authorization_code", "code": "x", "client_id": "\x00"},
        timeout=30,
    )
    assert answer.status_code in (400, 401)
    assert answer.json()["error"] in {"invalid_client", "invalid_request"}


def test_a_revoked_consent_is_asked_again_and_its_tokens_stop_working(
    rp: RelyingParty, browser: Browser
) -> None:
    token = logged_in_tokens(rp, browser)
    page = browser.open(browser.base_url + "/oidc/consents")
    assert "Test app" in page.text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert csrf
    revoked = browser.http.post(
        browser.base_url + "/oidc/consents/revoke",
        data={"csrf_token": csrf.group(1), "client_id": rp.client_id},
        allow_redirects=False,
        timeout=30,
    )
    assert revoked.status_code == 302
    assert rp.refresh(token["refresh_token"]).json()["error"] == "invalid_grant"
    rp.nonce = "another-nonce-value"
    again = browser.open(rp.authorization_url())
    assert again.status_code == 200 and 'value="allow"' in again.text


def test_a_code_from_one_machine_is_redeemed_at_another(
    app: Flask, rp: RelyingParty, browser: Browser, models: Any, tmp_path: Path
) -> None:
    from facevoice import create_app

    settings = app.extensions[EXTENSION].settings
    other = create_app(
        {
            "data_dir": str(tmp_path / "other"),
            "models": models,
            "warm_up": False,
            "TESTING": True,
            "database_url": settings.database_url,
            "issuer": settings.issuer,
            "oidc_signing_key_file": str(settings.oidc_signing_key_path),
        }
    )
    answer = browser.authorize(rp.authorization_url())
    with live_server(other, free_port()) as other_url:
        rp.metadata["token_endpoint"] = other_url + "/oidc/token"
        token = rp.fetch_token(answer.headers["Location"])
        rp.metadata["jwks_uri"] = other_url + "/oidc/jwks"
        assert rp.validate_id_token(token)["sub"] == public_id(app)


def test_prompt_none_without_consent_is_consent_required(
    rp: RelyingParty, browser: Browser
) -> None:
    browser.open(rp.authorization_url())
    browser.log_in_obama("obama")
    params = callback_params(browser.open(rp.authorization_url(prompt="none")))
    assert params["error"] == "consent_required"


def test_prompt_none_with_a_session_and_consent_answers_a_code_without_a_page(
    rp: RelyingParty, browser: Browser
) -> None:
    logged_in_tokens(rp, browser)
    rp.nonce = "another-nonce-value"
    assert "code" in callback_params(browser.open(rp.authorization_url(prompt="none")))
