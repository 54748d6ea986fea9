"""A relying party we did not write: Apache httpd with mod_auth_openidc, driven by Chromium.

Headless Chromium opens Apache's protected folder, is sent to facevoice, logs in with the
fake camera and microphone with the challenges on (one capture of the head turn and the
digits, fixed as in test_challenges.py), consents, and lands on the protected page showing
the claims Apache received; then logs out through Apache (RP-initiated logout).
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import sqlalchemy as sa
from flask import Flask
from playwright.sync_api import expect
from werkzeug.serving import make_server

from facevoice import create_app
from facevoice.biometrics.models import Biometrics
from facevoice.storage import oidc as store
from facevoice.web.services import EXTENSION
from tests.browser.conftest import QuietHandler, with_strict_csp
from tests.browser.fake_media import CLIP_STILL, CLIP_TURNING_RIGHT, JACKSON_READING, jackson_says
from tests.browser.people import Person
from tests.servers import free_port

pytestmark = pytest.mark.browser

APACHE = Path("/usr/sbin/apache2")
MODULES = Path("/usr/lib/apache2/modules")
USERNAME = "clip_person"
DIGITS = "47192"
DESKTOP = {"width": 1024, "height": 900}
CLAIMS_PAGE = """<html><body><h1>Apache protected page</h1>
<p>sub: <span id="sub"><!--#echo var="OIDC_CLAIM_sub" --></span></p>
<p>amr: <span id="amr"><!--#echo var="OIDC_CLAIM_amr" --></span></p>
<p>acr: <span id="acr"><!--#echo var="OIDC_CLAIM_acr" --></span></p>
</body></html>
"""


@pytest.fixture(scope="module")
def site_port() -> int:
    """facevoice's port, known in advance: the issuer names it."""
    return free_port()


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def site_database(request: pytest.FixtureRequest) -> Iterator[str]:
    """The provider's database: empty for SQLite (the default file), or a fresh PostgreSQL one."""
    if request.param == "sqlite":
        yield ""
        return
    server_url = request.getfixturevalue("postgres_server_url")
    name = f"facevoice_apache_{secrets.token_hex(4)}"
    admin = sa.create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    yield server_url.rsplit("/", 1)[0] + f"/{name}"
    with admin.connect() as connection:
        connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="module")
def site_app(
    tmp_path_factory: pytest.TempPathFactory, models: Biometrics, site_port: int, site_database: str
) -> Flask:
    """The app whose issuer is the site's URL, on SQLite or PostgreSQL."""
    port = site_port
    return create_app(
        {
            "data_dir": str(tmp_path_factory.mktemp("site") / "data"),
            "models": models,
            "warm_up": False,
            # The challenges on, fixed so that the fake devices can answer them, and the
            # lips not checked (as tests/browser/test_challenges.py does).
            "TESTING": True,
            "fixed_voice_challenge": DIGITS,
            "fixed_face_turn": "right",
            "testing_skip_checks": "sync",
            "issuer": f"http://127.0.0.1:{port}",
            "database_url": site_database,
        }
    )


@pytest.fixture(scope="module")
def site(site_app: Flask, site_port: int) -> Iterator[str]:
    """facevoice served on 127.0.0.1."""
    port = site_port
    app = site_app
    server = make_server(
        "127.0.0.1", port, with_strict_csp(app), threaded=True, request_handler=QuietHandler
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def apache_config(root: Path, port: int, issuer: str, client_id: str, secret: str) -> str:
    """A non-system Apache on 127.0.0.1:port protecting /protected with mod_auth_openidc."""
    modules = [
        ("mpm_event_module", "mod_mpm_event.so"),
        ("authn_core_module", "mod_authn_core.so"),
        ("authz_core_module", "mod_authz_core.so"),
        ("authz_user_module", "mod_authz_user.so"),
        ("include_module", "mod_include.so"),
        ("auth_openidc_module", "mod_auth_openidc.so"),
    ]
    loads = "\n".join(f"LoadModule {name} {MODULES / so}" for name, so in modules)
    base = f"http://127.0.0.1:{port}"
    return f"""{loads}
ServerRoot "{root}"
ServerName 127.0.0.1
Listen 127.0.0.1:{port}
PidFile "{root}/httpd.pid"
ErrorLog "{root}/error.log"
LogLevel warn auth_openidc:info
User nobody
Group nogroup
DocumentRoot "{root}/htdocs"
OIDCProviderMetadataURL {issuer}/.well-known/openid-configuration
OIDCClientID {client_id}
OIDCClientSecret {secret}
OIDCRedirectURI {base}/protected/redirect_uri
OIDCCryptoPassphrase test-passphrase-not-secret
OIDCScope "openid profile"
OIDCPKCEMethod S256
OIDCProviderTokenEndpointAuth client_secret_basic
<Directory />
  AllowOverride None
</Directory>
<Directory "{root}/htdocs">
  Require all granted
</Directory>
<Location /protected>
  AuthType openid-connect
  Require valid-user
  Options +Includes
  SetOutputFilter INCLUDES
</Location>
"""


@pytest.fixture(scope="module")
def apache(site: str, site_app: Flask) -> Iterator[str]:
    """Apache with mod_auth_openidc as a registered confidential client of facevoice."""
    if not APACHE.exists() or not (MODULES / "mod_auth_openidc.so").exists():
        message = (
            "no Apache with mod_auth_openidc (apt-get install apache2 libapache2-mod-auth-openidc)"
        )
        if os.environ.get("FACEVOICE_REQUIRE_SERVICES") == "1":
            pytest.fail(message)  # CI installs them: missing packages are a broken setup
        pytest.skip(message)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    client_id, secret = store.add_client(
        site_app.extensions[EXTENSION].database,
        "Apache test site",
        [f"{base}/protected/redirect_uri"],
        [f"{base}/logged-out.html"],
    )
    assert secret is not None
    # Apache's workers run as nobody: pytest's own folders are closed to others.
    root = Path(tempfile.mkdtemp(prefix="facevoice-apache-"))
    root.chmod(0o755)
    (root / "htdocs" / "protected").mkdir(parents=True)
    (root / "htdocs" / "protected" / "claims.html").write_text(CLAIMS_PAGE)
    (root / "htdocs" / "logged-out.html").write_text(
        "<html><body><h1>Logged out</h1></body></html>"
    )
    for path in (root / "htdocs", root / "htdocs" / "protected"):
        path.chmod(0o755)
    config = root / "httpd.conf"
    config.write_text(apache_config(root, port, site, client_id, secret))
    process = subprocess.Popen(
        [str(APACHE), "-f", str(config), "-DFOREGROUND"],
        stdout=(root / "stdout.log").open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            assert process.poll() is None, (root / "stdout.log").read_text()
            try:
                requests.get(base + "/logged-out.html", timeout=2)
                break
            except requests.ConnectionError:
                time.sleep(0.2)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=20)
        print((root / "error.log").read_text()[-3000:] if (root / "error.log").exists() else "")
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def registered(browsers: Any, screenshots: Any) -> str:
    """The clip's person, signed up through the page facing the camera, with jackson's voice."""
    context = browsers.context(CLIP_STILL, JACKSON_READING, ("camera", "microphone"), DESKTOP)
    try:
        someone = Person(context.new_page(), screenshots)
        someone.sign_up(USERNAME)
        assert not someone.page_problems, someone.page_problems
    finally:
        context.close()
    return USERNAME


def test_apache_logs_in_through_facevoice_and_logs_out(
    apache: str, site: str, registered: str, person: Any
) -> None:
    # At log-in the clip's person turns right as asked, and jackson says the digits.
    someone: Person = person(camera=CLIP_TURNING_RIGHT, microphone=jackson_says(DIGITS, late=True))
    someone.visit(apache + "/protected/claims.html")
    expect(someone.page).to_have_url(re.compile(r"/log_in$"))
    someone.username_box.fill(USERNAME)
    someone.expect_ok(someone.capture())
    someone.click("Log in")
    expect(someone.page.get_by_role("heading", level=1)).to_have_text(
        "Allow Apache test site?", timeout=120_000
    )
    someone.click("Allow")
    expect(someone.page).to_have_url(apache + "/protected/claims.html")
    sub = someone.page.locator("#sub").inner_text()
    assert sub and sub != USERNAME
    assert someone.page.locator("#amr").inner_text() == "face,vbm,mfa"
    someone.visit(
        apache
        + "/protected/redirect_uri?logout="
        + requests.utils.quote(apache + "/logged-out.html")
    )
    expect(someone.page).to_have_url(apache + "/logged-out.html")
    someone.visit(site + "/protected")
    expect(someone.page).to_have_url(re.compile(r"/log_in$"))
