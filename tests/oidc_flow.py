"""A relying party we did not write (Authlib's OAuth client) and a browser-like user, over HTTP."""

from __future__ import annotations

import re
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import requests
from authlib.integrations.requests_client import OAuth2Session
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from authlib.oidc.core import CodeIDToken
from flask import Flask
from joserfc import jwt
from joserfc.jwk import KeySet
from joserfc.jws import JWSRegistry
from werkzeug.serving import make_server

from tests import media
from tests.servers import HttpVisitor

REDIRECT_URI = "http://127.0.0.1:9/callback"  # nobody listens: the test reads the Location
FORM_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@contextmanager
def live_server(app: Flask, port: int) -> Iterator[str]:
    """Serve the app over real HTTP on 127.0.0.1:port in a thread."""
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.shutdown()
        thread.join(10)


@dataclass
class RelyingParty:
    """Authlib's OAuth 2 client, configured from our discovery document."""

    base_url: str
    client_id: str
    client_secret: str | None
    scope: str = "openid profile offline_access"
    metadata: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.metadata = requests.get(
            self.base_url + "/.well-known/openid-configuration", timeout=30
        ).json()
        self.session = OAuth2Session(
            self.client_id,
            self.client_secret,
            scope=self.scope,
            redirect_uri=REDIRECT_URI,
            code_challenge_method="S256",
            token_endpoint_auth_method="client_secret_basic" if self.client_secret else "none",
        )
        self.verifier = secrets.token_urlsafe(48)
        self.nonce = secrets.token_urlsafe(16)

    def authorization_url(self, **extra: str) -> str:
        """The URL the browser is sent to (code + PKCE S256 + nonce)."""
        url, _state = self.session.create_authorization_url(
            self.metadata["authorization_endpoint"],
            code_verifier=self.verifier,
            nonce=self.nonce,
            **extra,
        )
        return str(url)

    def fetch_token(self, callback_url: str, **extra: Any) -> dict[str, Any]:
        """Exchange the code of the callback URL for tokens."""
        return dict(
            self.session.fetch_token(
                self.metadata["token_endpoint"],
                authorization_response=callback_url,
                code_verifier=self.verifier,
                **extra,
            )
        )

    def validate_id_token(self, token: dict[str, Any]) -> dict[str, Any]:
        """Validate the ID token as Authlib's OpenID client does: JWKS signature, iss, aud,
        exp, nonce, at_hash."""
        keys = KeySet.import_key_set(requests.get(self.metadata["jwks_uri"], timeout=30).json())
        decoded = jwt.decode(
            token["id_token"],
            keys,
            registry=JWSRegistry(algorithms=self.metadata["id_token_signing_alg_values_supported"]),
        )
        claims = CodeIDToken(
            decoded.claims,
            decoded.header,
            {"iss": {"values": [self.metadata["issuer"]]}},
            {
                "nonce": self.nonce,
                "client_id": self.client_id,
                "access_token": token["access_token"],
            },
        )
        claims.validate(leeway=5)
        return dict(claims)

    def refresh(self, refresh_token: str) -> requests.Response:
        """A raw refresh request (the answer, whatever it is)."""
        auth = (self.client_id, self.client_secret) if self.client_secret else None
        data = {"grant_type": "refresh_token", "refresh_token": refresh_token}
        if not self.client_secret:
            data["client_id"] = self.client_id
        return requests.post(self.metadata["token_endpoint"], data=data, auth=auth, timeout=30)

    def code_challenge(self) -> str:
        """The S256 challenge of this client's verifier."""
        return str(create_s256_code_challenge(self.verifier))


class Browser(HttpVisitor):
    """A user agent: follows facevoice's pages, logs in over the HTTP API, answers the consent."""

    def open(self, url: str) -> requests.Response:
        """GET a URL without following redirects."""
        return self.http.get(url, allow_redirects=False, timeout=30)

    def log_in_obama(self, username: str) -> dict[str, Any]:
        """Log in with obama.jpg and speaker A; the JSON answer."""
        self.give_obama_log_in_samples(username)
        answer = self.post("/log_in", username=username)
        assert answer.status_code == 200, answer.text
        return dict(answer.json())

    def give_obama_log_in_samples(self, username: str) -> None:
        """The log-in's photo (obama.jpg) and a phrase of speaker A."""
        self.post(
            "/take_photo",
            username=username,
            flow="log_in",
            image=media.b64(media.photo("obama.jpg")),
        )
        self.post(
            "/record_voice",
            username=username,
            flow="log_in",
            audio=media.b64(media.phrase(media.SPEAKER_A, 3)),
        )

    def consent(self, page: requests.Response, decision: str = "allow") -> requests.Response:
        """Submit the consent form of a page as any HTTP client can."""
        match = FORM_CSRF.search(page.text)
        assert match and '<form method="post">' in page.text, page.text
        return self.http.post(
            page.url,
            data={"csrf_token": match.group(1), "decision": decision},
            allow_redirects=False,
            timeout=30,
        )

    def authorize(self, url: str, username: str | None = "obama") -> requests.Response:
        """Open an authorization URL, logging in and allowing as asked; the final redirect."""
        answer = self.open(url)
        if answer.status_code == 302 and answer.headers["Location"] == "/log_in":
            assert username is not None
            resumed = self.log_in_obama(username)["redirect"]
            assert resumed.startswith("/oidc/authorize?")
            answer = self.open(self.base_url + resumed)
        if answer.status_code == 200 and "decision" in answer.text:
            answer = self.consent(answer)
        return answer
