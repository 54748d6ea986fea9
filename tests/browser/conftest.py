"""Fixtures of the browser tests: the real app on 127.0.0.1, and headless Chromium whose
camera and microphone play files made from ../shared/data (see ../shared/BROWSER-TESTING.md).

Chromium's fake devices are fixed per launch, so the tests ask ``browsers`` for a page with a
given camera and microphone; it keeps one browser open at a time, so tests that share a
camera and a microphone should sit next to each other in a module.

Camera and microphone access is granted per browser context (Playwright permissions) rather
than with ``--use-fake-ui-for-media-stream``, which would grant it to every page: so one
launch also serves the tests where a person refuses the permission.
"""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, sync_playwright
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from facevoice import create_app
from facevoice.biometrics.models import Biometrics
from tests import media
from tests.browser import fake_media
from tests.browser.people import Person, Screenshots

CHROMIUM = Path(os.environ.get("FACEVOICE_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Keep Chromium off the network: every name resolves to nothing but the site's own host.
# Checked: with "EXCLUDE 127.0.0.1" only 127.0.0.1 answers; with "EXCLUDE localhost" only
# localhost (127.0.0.1 is then blocked too); excluding both at once breaks localhost.
RESOLVER_RULES = "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE {host}"
SITE_HOST = "127.0.0.1"  # passkey pages need "localhost" (tests/browser/test_passkeys.py)
# The policy the pages must work under: no inline script or style anywhere.
STRICT_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "media-src 'self' blob: mediastream:; connect-src 'self'; object-src 'none'; base-uri 'none'"
)
SCREENSHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"
PAGE_TIMEOUT_MS = 30_000
NO_FACE = "no-face"  # camera name of a room without anyone in it
NO_DEVICES = ""  # camera and microphone name of a computer that has none

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def with_strict_csp(app: WsgiApp) -> WsgiApp:
    """Add STRICT_CSP to every answer that has no Content-Security-Policy of its own."""

    def serve(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            if not any(name.lower() == "content-security-policy" for name, _ in headers):
                headers = [*headers, ("Content-Security-Policy", STRICT_CSP)]
            return start_response(status, headers, exc_info)

        return app(environ, start)

    return serve


class QuietHandler(WSGIRequestHandler):
    """A request handler that does not log every request to stderr."""

    def log_request(self, *args: Any, **kwargs: Any) -> None:
        """Log nothing."""


@pytest.fixture(scope="module")
def site_settings() -> dict[str, Any]:
    """Settings of the module's app. The page basics run without the log-in challenges
    (the server's ``off`` switches); test_challenges.py overrides this to turn them on."""
    return {"voice_challenge": False, "face_challenge": False}


@pytest.fixture(scope="module")
def site_host() -> str:
    """The host name the browser reaches the site by (it always listens on 127.0.0.1)."""
    return SITE_HOST


@pytest.fixture(scope="module")
def site(
    tmp_path_factory: pytest.TempPathFactory,
    models: Biometrics,
    site_settings: dict[str, Any],
    site_host: str,
) -> Iterator[str]:
    """The real app with a fresh data folder, served on 127.0.0.1; yields its base URL.

    The app's passkey origin is that URL, known once the server has its port.
    """
    data_dir = tmp_path_factory.mktemp("site") / "data"
    served: list[WsgiApp] = []
    server: BaseWSGIServer = make_server(
        "127.0.0.1",
        0,
        lambda environ, start_response: served[0](environ, start_response),
        threaded=True,
        request_handler=QuietHandler,
    )
    url = f"http://{site_host}:{server.server_port}"
    config = {"data_dir": str(data_dir), "models": models, "warm_up": False, "origin": url}
    served.append(with_strict_csp(create_app({**config, **site_settings})))
    thread = threading.Thread(target=server.serve_forever, name="facevoice-site", daemon=True)
    thread.start()
    try:
        yield url
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    """Playwright's driver, once per run."""
    if not CHROMIUM.exists():
        message = f"no Chromium at {CHROMIUM} (apt-get install chromium)"
        if os.environ.get("FACEVOICE_REQUIRE_SERVICES") == "1":
            pytest.fail(message)  # CI installs it: a missing browser is a broken setup
        pytest.skip(message)
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="session")
def screenshots() -> Screenshots:
    """Where the tests save what a person sees: artifacts/screenshots/."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return Screenshots(SCREENSHOTS)


class FakeMedia:
    """Camera (Y4M) and microphone (WAV) files for Chromium, made once per name."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def camera(self, name: str) -> Path:
        """A camera showing a photo of faces/ (cropped as a webcam would), NO_FACE, or one of
        fake_media.CAMERAS (the video clip's person)."""
        path = self.folder / f"{Path(name).stem}.y4m"
        if not path.exists():
            if name in fake_media.CAMERAS:
                fake_media.CAMERAS[name](path)
            elif name == NO_FACE:
                fake_media.write_y4m(fake_media.empty_room_frame(), path)
            else:
                fake_media.write_y4m(fake_media.webcam_frame(media.FACES / name), path)
        return path

    def microphone(self, name: str) -> str:
        """The fake microphone's file argument: a LibriSpeech speaker's utterance in a loop, or
        one of fake_media's FSDD recordings (played once when the name ends in ``%noloop``)."""
        stem, once, _ = name.partition(fake_media.NO_LOOP)
        path = self.folder / f"{stem}.wav"
        if not path.exists():
            fake_media.write_microphone(stem, path)
        return f"{path}{once}"


class Browsers:
    """Headless Chromium launches by camera and microphone, one open at a time."""

    def __init__(self, playwright: Playwright, site: str, folder: Path, host: str) -> None:
        self.playwright = playwright
        self.site = site
        self.host = host
        self.folder = folder
        self.media = FakeMedia(folder / "media")
        self.media.folder.mkdir()
        self.browser: Browser | None = None
        self.devices: tuple[str, str] | None = None

    def launch(self, camera: str, microphone: str) -> Browser:
        """The browser whose fake camera shows ``camera`` and microphone plays ``microphone``."""
        if self.browser is not None and self.devices == (camera, microphone):
            return self.browser
        self.close()
        home = self.folder / "home"
        shutil.rmtree(home, ignore_errors=True)
        home.mkdir()
        env = {
            **os.environ,
            "HOME": str(home),
            "XDG_CONFIG_HOME": str(home / ".config"),
            "XDG_CACHE_HOME": str(home / ".cache"),
            "XDG_DATA_HOME": str(home / ".local" / "share"),
            "TMPDIR": str(home),
        }
        args = [*CHROMIUM_FLAGS, RESOLVER_RULES.format(host=self.host)]
        if camera != NO_DEVICES or microphone != NO_DEVICES:
            args += [
                "--use-fake-device-for-media-stream",
                f"--use-file-for-fake-video-capture={self.media.camera(camera)}",
                f"--use-file-for-fake-audio-capture={self.media.microphone(microphone)}",
            ]
        self.browser = self.playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=args, env=env
        )
        self.devices = (camera, microphone)
        return self.browser

    def context(
        self, camera: str, microphone: str, allow: Iterable[str], viewport: dict[str, int]
    ) -> BrowserContext:
        """A fresh browser context (own cookies) with the given media permissions granted."""
        context = self.launch(camera, microphone).new_context(base_url=self.site, viewport=viewport)
        context.set_default_timeout(PAGE_TIMEOUT_MS)
        allowed = list(allow)
        if allowed:
            context.grant_permissions(allowed, origin=self.site)
        return context

    def close(self) -> None:
        """Close the open browser, if any."""
        if self.browser is not None:
            self.browser.close()
        self.browser = None
        self.devices = None


@pytest.fixture(scope="module")
def browsers(
    playwright: Playwright, site: str, site_host: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Browsers]:
    """The module's browsers; closed when the module's tests are done."""
    pool = Browsers(playwright, site, tmp_path_factory.mktemp("browsers"), site_host)
    try:
        yield pool
    finally:
        pool.close()


PersonFactory = Callable[..., Person]


@pytest.fixture
def person(browsers: Browsers, screenshots: Screenshots) -> Iterator[PersonFactory]:
    """Make a person at a browser: ``person(camera="obama.jpg", microphone=SPEAKER_A)``.

    Their page must raise no script error and break no Content-Security-Policy rule.
    """
    opened: list[tuple[BrowserContext, Person]] = []

    def make(
        camera: str = "obama.jpg",
        microphone: str = media.SPEAKER_A,
        allow: Iterable[str] = ("camera", "microphone"),
        viewport: dict[str, int] | None = None,
        init_script: str | None = None,
    ) -> Person:
        context = browsers.context(
            camera, microphone, allow, viewport or {"width": 1024, "height": 900}
        )
        if init_script:
            context.add_init_script(init_script)
        page: Page = context.new_page()
        someone = Person(page, screenshots)
        opened.append((context, someone))
        return someone

    yield make
    problems = [problem for _, someone in opened for problem in someone.page_problems]
    for context, _ in opened:
        context.close()
    assert not problems, f"the page reported problems: {problems}"
