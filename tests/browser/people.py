"""A person using the pages in a browser: what they click, type and read (no API calls)."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from playwright.sync_api import ConsoleMessage, Error, Locator, Page, Request, expect

SETTLED = re.compile(r"^(ok|error)$")  # a status line's data-state once a step is done
CAPTURE_TIMEOUT_MS = 60_000  # countdown, the capture (11.5 s) or recording, upload, the models
PHOTO_BUTTON = re.compile(r"^(Retake|Take) photo$")
CAPTURE_BUTTON = re.compile(r"^(Start the capture|Capture again)$")
# The log-in page's record button: the sentence, or the digits of a spoken challenge.
RECORD_BUTTON = re.compile(r"^Record (the sentence|the digits|again)$")


class Screenshots:
    """Saves full-page screenshots, named after the state they show."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def save(self, page: Page, name: str) -> Path:
        """Save what the page shows now as ``<name>.png``."""
        path = self.folder / f"{name}.png"
        page.screenshot(path=str(path), full_page=True, animations="disabled")
        return path


class Person:
    """Someone at a browser with a camera and a microphone, using the site like anyone would."""

    def __init__(self, page: Page, screenshots: Screenshots) -> None:
        self.page = page
        self.screenshots = screenshots
        self.page_problems: list[str] = []
        self.posts: list[str] = []  # the endpoints the page POSTed to, in order
        self.calls: list[str] = []  # the same, with "challenge" for each challenge fetched
        self.recordings: list[str] = []  # the "audio" fields the page sent
        self.photos: list[dict[str, Any]] = []  # the fields of each /take_photo request
        self.captures: list[dict[str, Any]] = []  # the fields of each /log_in/capture request
        page.on("pageerror", lambda error: self.page_problems.append(f"script error: {error}"))
        page.on("console", self._console)
        page.on("request", self._request)

    def _console(self, message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text or "Refused to" in message.text:
            self.page_problems.append(f"{message.type}: {message.text}")

    def _request(self, request: Request) -> None:
        endpoint = request.url.split("?")[0].rsplit("/", 1)[-1]
        if request.method == "GET" and endpoint == "challenge":
            self.calls.append(endpoint)
        if request.method != "POST":
            return
        self.posts.append(endpoint)
        self.calls.append(endpoint)
        if endpoint == "record_voice":
            self.recordings.append(request.post_data_json.get("audio", ""))
        if endpoint == "take_photo":
            self.photos.append(request.post_data_json)
        if endpoint == "capture":
            self.captures.append(request.post_data_json)

    def shot(self, name: str) -> Path:
        """Save a screenshot of what this person sees now."""
        return self.screenshots.save(self.page, name)

    def visit(self, path: str) -> None:
        """Open a page of the site."""
        self.page.goto(path)

    def follow(self, link: Locator) -> None:
        """Click a link and wait until the new page has loaded, its scripts included (a
        button pressed before its script runs does nothing)."""
        with self.page.expect_navigation():
            link.click()

    @property
    def username_box(self) -> Locator:
        """The username text field."""
        return self.page.get_by_role("textbox", name="Username", exact=True)

    def status(self, element_id: str) -> Locator:
        """A status line by its id."""
        return self.page.locator(f"#{element_id}")

    def click(self, name: str | re.Pattern[str]) -> None:
        """Press a button by its visible name."""
        self.page.get_by_role("button", name=name).click()

    def turn_on_devices(self, button: str = "Turn on camera and microphone") -> Locator:
        """Press the button that turns the devices on; returns the device status line.

        (The sign-up page opens the camera and the microphone together; the log-in page's
        button, "Turn on camera", only the camera.)
        """
        self.click(button)
        status = self.status("device-status")
        expect(status).to_have_attribute("data-state", SETTLED)
        return status

    @property
    def turn_instruction(self) -> Locator:
        """The log-in page's head-turn challenge, above the camera picture."""
        return self.page.locator("#turn-instruction")

    @property
    def digits(self) -> Locator:
        """The digits of the log-in page's spoken challenge."""
        return self.page.locator("#say-challenge .digits")

    def wait_until_done(self, status: Locator) -> Locator:
        """Wait until a step's status line shows its outcome (ok or error)."""
        expect(status).to_have_attribute("data-state", SETTLED, timeout=CAPTURE_TIMEOUT_MS)
        return status

    def take_photo(
        self, countdown_shot: str | None = None, turning_shot: str | None = None
    ) -> Locator:
        """Press "Take photo", sit through the countdown (and the head turn, when the page
        asks for one); returns the photo's status line."""
        self.click(PHOTO_BUTTON)
        if countdown_shot:
            expect(self.page.locator("#countdown")).to_have_text("2")
            self.shot(countdown_shot)
        if turning_shot:  # when the page says to come back: the head is turned then
            cue = self.page.locator("#turn-cue")
            expect(cue).to_have_attribute("data-phase", "back", timeout=CAPTURE_TIMEOUT_MS)
            self.page.wait_for_timeout(400)
            self.shot(turning_shot)
        return self.wait_until_done(self.status("photo-status"))

    def capture(self, turning_shot: str | None = None, saying_shot: str | None = None) -> Locator:
        """Press "Start the capture" and stay for the countdown, the head turn and the digits;
        returns the capture's status line."""
        self.click(CAPTURE_BUTTON)
        cue = self.page.locator("#turn-cue")
        for phase, shot in (("back", turning_shot), ("say", saying_shot)):
            if shot:
                expect(cue).to_have_attribute("data-phase", phase, timeout=CAPTURE_TIMEOUT_MS)
                self.page.wait_for_timeout(400)
                self.shot(shot)
        return self.wait_until_done(self.status("photo-status"))

    def record(
        self, button: str | re.Pattern[str] = RECORD_BUTTON, recording_shot: str | None = None
    ) -> Locator:
        """Press a record button and stay for the recording; returns that phrase's status line."""
        pressed = self.page.get_by_role("button", name=button, exact=True)
        number = pressed.locator("xpath=ancestor::li").get_attribute("data-phrase")
        phrase = self.page.locator(f'li.phrase[data-phrase="{number}"]')
        pressed.click()
        if recording_shot:
            expect(phrase.locator(".seconds-left")).to_have_text(re.compile(r"[12] s left"))
            self.shot(recording_shot)
        return self.wait_until_done(phrase.locator(".status"))

    def expect_ok(self, status: Locator) -> None:
        """The step succeeded (the message says why not, if it did not)."""
        try:
            expect(status).to_have_attribute("data-state", "ok", timeout=1000)
        except AssertionError:
            raise AssertionError(f"step failed: {status.inner_text()!r}") from None

    def sign_up(
        self,
        username: str,
        shots: str | None = None,
        before_create: Callable[[], None] | None = None,
        before_saving: Callable[[list[str]], None] | None = None,
    ) -> None:
        """Sign up through the sign-up page; ``shots`` names screenshots of each state.

        ``before_create`` runs once the photo and the phrases are done (adding a passkey);
        ``before_saving`` gets the recovery codes shown, before "I have saved these codes".
        """
        self.visit("/sign_up")
        if shots:
            self.shot(f"{shots}-1-empty")
        self.username_box.fill(username)
        expect(self.status("username-status")).to_contain_text("is free")
        self.expect_ok(self.turn_on_devices())
        if shots:
            self.shot(f"{shots}-2-camera-on")
        self.expect_ok(self.take_photo(f"{shots}-3-countdown" if shots else None))
        for number in (1, 2, 3):
            shot = f"{shots}-4-recording" if shots and number == 1 else None
            self.expect_ok(self.record(f"Record phrase {number}", shot))
        if shots:
            self.shot(f"{shots}-5-all-steps-done")
        if before_create is not None:
            before_create()
        self.click("Create account")
        expect(self.page.get_by_role("heading", name="Your account is ready")).to_be_visible()
        codes = self.page.locator("#signed-up .codes-list li")
        expect(codes).to_have_count(10)
        if shots:
            self.shot(f"{shots}-6-account-ready")
        if before_saving is not None:
            before_saving([text.strip() for text in codes.all_inner_texts()])
        self.page.get_by_label("I have saved these codes").check()
        self.follow(self.page.get_by_role("link", name="Log in now"))
        expect(self.page).to_have_url(re.compile(r"/log_in\?username="))
        expect(self.username_box).to_have_value(username)

    def log_in(self, username: str | None = None, shots: str | None = None) -> Locator:
        """Log in through the log-in page (already open); returns the log-in status line.

        ``username`` None keeps the name already in the field.
        """
        if username is not None:
            self.username_box.fill(username)
        self.expect_ok(self.take_photo())  # opens the camera
        self.expect_ok(self.record())  # opens the microphone
        if shots:
            self.shot(f"{shots}-ready")
        self.click("Log in")
        return self.wait_for_log_in_outcome()

    def wait_for_log_in_outcome(self) -> Locator:
        """Wait until the page went on to /protected, or says the log-in failed."""
        status = self.status("log-in-status")
        deadline = time.monotonic() + CAPTURE_TIMEOUT_MS / 1000
        while time.monotonic() < deadline:
            if self.page.url.endswith("/protected"):
                self.page.wait_for_load_state()
                return status
            try:
                if status.get_attribute("data-state", timeout=500) == "error":
                    return status
            except Error:
                pass  # between two pages
            self.page.wait_for_timeout(200)
        raise AssertionError(f"no log-in outcome; the page is at {self.page.url}")
