"""Passkeys in headless Chromium with a virtual authenticator (Chrome DevTools Protocol).

The site is served as ``localhost``: browsers refuse WebAuthn on IP addresses such as
127.0.0.1. One person (one browser context, one virtual authenticator: their device) signs
up with a passkey and then logs in with it, in the order of the tests below; a second
context with an authenticator of its own is another device.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from playwright.sync_api import BrowserContext, CDPSession, Page, expect

from tests import media
from tests.browser.conftest import Browsers
from tests.browser.people import Person, Screenshots

pytestmark = pytest.mark.browser

USERNAME = "passkey_user"
AUTHENTICATOR = {
    "protocol": "ctap2",
    "ctap2Version": "ctap2_1",
    "transport": "internal",
    "hasResidentKey": True,
    "hasUserVerification": True,
    "isUserVerified": True,
    "automaticPresenceSimulation": True,
}
STATUS_TIMEOUT_MS = 30_000


@pytest.fixture(scope="module")
def site_host() -> str:
    """Passkeys need a domain name: the site is reached as localhost."""
    return "localhost"


@dataclass
class Device:
    """A browser context with its own virtual authenticator, and the person using it."""

    context: BrowserContext
    page: Page
    person: Person
    cdp: CDPSession
    authenticator_id: str

    def credentials(self) -> list[dict[str, Any]]:
        """The passkeys the authenticator holds."""
        answer = self.cdp.send(
            "WebAuthn.getCredentials", {"authenticatorId": self.authenticator_id}
        )
        return list(answer["credentials"])

    def log_out(self) -> None:
        """Forget the site's cookies (the passkey stays on the device).

        The page is closed first: a request it still sends (its challenge, under load) would
        otherwise set a new session cookie, without a CSRF secret, after the cookies are gone.
        """
        self.page.goto("about:blank")
        self.context.clear_cookies()


def open_device(browsers: Browsers, screenshots: Screenshots) -> Device:
    """A new context (own cookies) with a new virtual authenticator."""
    context = browsers.context(
        "obama.jpg", media.SPEAKER_A, ("camera", "microphone"), {"width": 1024, "height": 900}
    )
    page = context.new_page()
    cdp = context.new_cdp_session(page)
    cdp.send("WebAuthn.enable", {"enableUI": False})
    added = cdp.send("WebAuthn.addVirtualAuthenticator", {"options": AUTHENTICATOR})
    return Device(context, page, Person(page, screenshots), cdp, added["authenticatorId"])


@pytest.fixture(scope="module")
def device(browsers: Browsers, screenshots: Screenshots) -> Iterator[Device]:
    """The person's own device, for every test of the module."""
    opened = open_device(browsers, screenshots)
    yield opened
    problems = opened.person.page_problems
    opened.context.close()
    assert not problems, f"the page reported problems: {problems}"


def settled(status: Any) -> Any:
    """Wait until a status line shows its outcome."""
    expect(status).to_have_attribute(
        "data-state", re.compile(r"^(ok|error)$"), timeout=STATUS_TIMEOUT_MS
    )
    return status


def passkey_only_log_in(device: Device, username: str = USERNAME) -> None:
    """ "Use my passkey instead" on the log-in page."""
    page = device.page
    device.person.visit("/log_in")
    device.person.username_box.fill(username)
    page.locator("#passkey-only summary").click()
    device.person.click("Log in with my passkey")


def test_passkey_sign_up_with_a_passkey(device: Device) -> None:
    def add_passkey() -> None:
        device.page.get_by_label("Name of this passkey").fill("Test laptop")
        device.person.click("Add a passkey")
        status = settled(device.person.status("passkey-status"))
        expect(status).to_have_attribute("data-state", "ok")
        device.person.shot("passkey-sign-up-added")

    device.person.sign_up(USERNAME, before_create=add_passkey)
    (credential,) = device.credentials()
    assert credential["rpId"] == "localhost"
    assert credential["isResidentCredential"] is True
    device.log_out()


def test_passkey_log_in_with_passkey_face_and_voice(device: Device) -> None:
    person = device.person
    person.visit("/log_in")
    person.username_box.fill(USERNAME)
    person.turn_on_devices("Turn on camera")
    person.click("Confirm my passkey")
    status = settled(person.status("passkey-status"))
    expect(status).to_contain_text("Passkey confirmed")
    person.log_in()
    expect(device.page).to_have_url(re.compile(r"/protected$"))
    device.log_out()


def test_passkey_log_in_without_the_passkey_takes_no_photo(device: Device) -> None:
    person = device.person
    person.visit("/log_in")
    person.username_box.fill(USERNAME)
    person.turn_on_devices("Turn on camera")
    status = person.take_photo()
    expect(status).to_have_attribute("data-state", "error")
    expect(status).to_contain_text("passkey")
    device.log_out()


def test_passkey_only_log_in(device: Device) -> None:
    passkey_only_log_in(device)
    expect(device.page).to_have_url(re.compile(r"/protected$"), timeout=STATUS_TIMEOUT_MS)


def test_passkey_from_another_device_is_refused(
    device: Device, browsers: Browsers, screenshots: Screenshots
) -> None:
    """A second authenticator holding the passkey's id under another key is refused."""
    other = open_device(browsers, screenshots)
    try:
        (own,) = device.credentials()
        key = ec.generate_private_key(ec.SECP256R1())
        pkcs8 = key.private_bytes(
            serialization.Encoding.DER,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        forged = {
            "credentialId": own["credentialId"],
            "isResidentCredential": True,
            "rpId": "localhost",
            "privateKey": base64.b64encode(pkcs8).decode(),
            "userHandle": own["userHandle"],
            "signCount": own["signCount"] + 100,
        }
        other.cdp.send(
            "WebAuthn.addCredential",
            {"authenticatorId": other.authenticator_id, "credential": forged},
        )
        passkey_only_log_in(other)
        status = settled(other.person.status("passkey-only-status"))
        expect(status).to_have_attribute("data-state", "error")
        expect(status).to_contain_text("not accepted")
        assert not other.page.url.endswith("/protected")
    finally:
        other.context.close()


def test_passkey_removed_no_longer_works(device: Device) -> None:
    page, person = device.page, device.person
    person.visit("/account")
    expect(page.locator("#passkeys")).to_contain_text("Test laptop")
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Remove").click()
    expect(page.locator("#no-passkeys")).to_be_visible(timeout=STATUS_TIMEOUT_MS)
    device.log_out()
    passkey_only_log_in(device)
    status = settled(person.status("passkey-only-status"))
    expect(status).to_have_attribute("data-state", "error")
    assert not page.url.endswith("/protected")
