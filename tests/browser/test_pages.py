"""The pages in headless Chromium with a fake camera and microphone, the way a person uses them.

Tests are grouped by the camera and microphone they need (one browser launch per group);
the user they log in as signs up once, through the sign-up page, on a phone-sized screen.
"""

from __future__ import annotations

import base64
import io
import re
import wave
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from playwright.sync_api import expect

from tests import media
from tests.browser.conftest import NO_DEVICES, NO_FACE, PersonFactory
from tests.browser.fake_media import SILENT
from tests.browser.people import PHOTO_BUTTON, Person
from tests.servers import HttpVisitor

pytestmark = pytest.mark.browser

USERNAME = "barack_o"
LOCKED_OUT = "locked_out"  # never registered: a lockout tells nothing about who exists
MUST_WAIT = re.compile(r"Too many failed log-ins for this account\. Wait \d+ seconds")
# Counts the page's getUserMedia calls, to show that a camera was never asked for.
COUNT_DEVICE_REQUESTS = """
window.__deviceRequests = 0;
if (navigator.mediaDevices) {
  const open = navigator.mediaDevices.getUserMedia.bind(navigator.mediaDevices);
  navigator.mediaDevices.getUserMedia = (constraints) => {
    window.__deviceRequests += 1;
    return open(constraints);
  };
}
"""
PHONE = {"width": 390, "height": 844}
FAILED = re.compile(r"log-in failed", re.IGNORECASE)
WAV_DATA_URL = "data:audio/wav;base64,"


@pytest.fixture(scope="module")
def registered(browsers, screenshots) -> str:  # type: ignore[no-untyped-def]
    """A user who signed up through the page with obama.jpg and speaker A's voice."""
    context = browsers.context("obama.jpg", media.SPEAKER_A, ("camera", "microphone"), PHONE)
    try:
        someone = Person(context.new_page(), screenshots)
        someone.sign_up(USERNAME, shots="sign-up")
        assert not someone.page_problems, someone.page_problems
    finally:
        context.close()
    return USERNAME


@pytest.fixture(scope="module")
def site_settings() -> dict[str, Any]:
    """The page basics without the log-in challenges; a lockout lasts the whole module, so
    that no test depends on how long the ones before it took."""
    return {"voice_challenge": False, "face_challenge": False, "lockout_wait_seconds": 3600}


def fail_log_ins(site: str, username: str, times: int = 5) -> None:
    """``times`` refused log-ins of ``username`` over HTTP (Biden's face, speaker A's voice)."""
    visitor = HttpVisitor(site)
    for _ in range(times):
        visitor.post(
            "/take_photo",
            username=username,
            flow="log_in",
            image=media.b64(media.photo("biden.jpg")),
        )
        visitor.post(
            "/record_voice",
            username=username,
            flow="log_in",
            audio=media.b64(media.phrase(media.SPEAKER_A, 3)),
        )
        assert visitor.post("/log_in", username=username).status_code == 401


@pytest.fixture(scope="module")
def locked_out(site: str) -> str:
    """A name locked out after five refused log-ins."""
    fail_log_ins(site, LOCKED_OUT)
    return LOCKED_OUT


def expect_protected_page_is_closed(someone: Person) -> None:
    """/protected sends this person to the log-in page."""
    someone.visit("/protected")
    expect(someone.page).to_have_url(re.compile(r"/log_in$"))


# --- Camera: obama.jpg, microphone: speaker A (the registered user's own face and voice).


def test_signed_up_user_logs_in_logs_out_and_logs_in_again(
    registered: str, person: PersonFactory
) -> None:
    someone = person()
    someone.visit("/")
    someone.shot("main-page")
    someone.follow(someone.page.get_by_role("navigation").get_by_role("link", name="Log in"))
    someone.log_in(registered, shots="log-in-1")
    # This app has the challenges off: one still photo and the sentence, as without them.
    [photo] = someone.photos
    assert photo["image"].startswith("data:image/jpeg;base64,") and "frames" not in photo
    assert "challenge" in someone.calls
    expect(someone.page).to_have_url(re.compile(r"/protected$"))
    expect(someone.page.locator("#username")).to_have_text(registered)
    someone.shot("log-in-2-protected-page")

    someone.follow(someone.page.get_by_role("navigation").get_by_role("link", name="Log out"))
    expect(someone.page).to_have_url(re.compile(r"/$"))
    expect_protected_page_is_closed(someone)

    someone.log_in(registered)
    expect(someone.page).to_have_url(re.compile(r"/protected$"))
    expect(someone.page.get_by_role("heading", level=1)).to_have_text(f"Hello, {registered}!")


def test_recovery_codes_download_and_the_way_on_stays_shut_until_they_are_saved(
    person: PersonFactory, tmp_path: Path
) -> None:
    someone = person()
    downloaded: list[str] = []

    def try_to_leave_then_download(shown: list[str]) -> None:
        page = someone.page
        log_in_now = page.get_by_role("link", name="Log in now")
        expect(log_in_now).to_have_attribute("aria-disabled", "true")
        log_in_now.click(force=True)  # force: a person can click it, Playwright would wait
        expect(page).to_have_url(re.compile(r"/sign_up$"))
        with page.expect_download() as download:
            someone.click("Download as a text file")
        saved = tmp_path / download.value.suggested_filename
        download.value.save_as(saved)
        downloaded.extend(saved.read_text().splitlines())
        assert len(set(shown)) == 10 and set(shown) <= set(downloaded)

    someone.sign_up("codes_keeper", before_saving=try_to_leave_then_download)
    assert downloaded[0] == "facevoice recovery codes for codes_keeper"


def test_first_tab_reaches_a_skip_link_that_moves_on_to_the_content(
    person: PersonFactory,
) -> None:
    someone = person()
    someone.visit("/log_in")
    page = someone.page
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to content")
    expect(skip).to_be_focused()
    expect(skip).to_be_in_viewport()
    someone.shot("skip-link")
    page.keyboard.press("Enter")
    expect(page.locator("main#content")).to_be_focused()
    page.keyboard.press("Tab")  # the next stop is inside the content, past the navigation
    assert page.evaluate("document.querySelector('main').contains(document.activeElement)")


def test_unknown_address_shows_the_sites_own_404_page(person: PersonFactory) -> None:
    someone = person()
    response = someone.page.goto("/no-such-page")
    assert response is not None and response.status == 404
    expect(someone.page.get_by_role("heading", level=1)).to_have_text("Page not found")
    expect(
        someone.page.get_by_role("navigation").get_by_role("link", name="Log in")
    ).to_be_visible()
    someone.shot("page-not-found")
    someone.follow(someone.page.get_by_role("link", name="Go to the main page"))
    expect(someone.page).to_have_url(re.compile(r"/$"))


def test_sign_up_page_works_with_the_keyboard_in_reading_order(person: PersonFactory) -> None:
    someone = person()
    page = someone.page
    someone.visit("/sign_up")
    someone.username_box.focus()
    page.keyboard.type("keyboard_user")
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Turn on camera and microphone")).to_be_focused()
    page.keyboard.press("Enter")
    take_photo = page.get_by_role("button", name="Take photo")
    expect(take_photo).to_be_focused()  # the next thing to do
    page.keyboard.press("Enter")
    someone.expect_ok(someone.wait_until_done(someone.status("photo-status")))
    expect(page.get_by_role("button", name="Record phrase 1")).to_be_focused()
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Record phrase 2")).to_be_focused()
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Shift+Tab")
    expect(page.get_by_role("button", name="Retake photo")).to_be_focused()


def test_sign_up_page_sends_each_phrase_as_16_khz_mono_16_bit_wav(person: PersonFactory) -> None:
    someone = person()
    someone.visit("/sign_up")
    someone.username_box.fill("wav_check")
    someone.turn_on_devices()
    someone.expect_ok(someone.record("Record phrase 1"))
    expect(someone.page.get_by_role("button", name="Record phrase 1 again")).to_be_visible()
    [audio] = someone.recordings
    assert audio.startswith(WAV_DATA_URL)
    with wave.open(io.BytesIO(base64.b64decode(audio[len(WAV_DATA_URL) :]))) as recording:
        assert recording.getnchannels() == 1
        assert recording.getsampwidth() == 2
        assert recording.getframerate() == 16_000
        assert recording.getnframes() == 4 * 16_000
        samples = np.frombuffer(recording.readframes(recording.getnframes()), dtype="<i2")
    assert np.sqrt(np.mean(samples.astype(np.float64) ** 2)) > 300, "the recording is silent"


def test_sign_up_page_enrolls_a_short_burst_of_frames(person: PersonFactory) -> None:
    someone = person()
    someone.visit("/sign_up")
    someone.username_box.fill("burst_check")
    someone.turn_on_devices()
    status = someone.take_photo()
    someone.expect_ok(status)
    [photo] = someone.photos
    assert "image" not in photo and len(photo["frames"]) == 5
    assert all(frame.startswith("data:image/jpeg;base64,") for frame in photo["frames"])
    expect(status).to_contain_text("Photo OK")


def test_recording_falls_back_to_media_recorder_without_audio_worklet(
    person: PersonFactory,
) -> None:
    # Browsers without AudioWorklet at 16 kHz (older Firefox) record compressed audio.
    someone = person(init_script="delete window.AudioWorkletNode;")
    someone.visit("/sign_up")
    someone.username_box.fill("fallback")
    someone.turn_on_devices()
    expect(someone.page.locator("#level")).not_to_have_attribute("aria-valuenow", "0")
    someone.expect_ok(someone.record("Record phrase 1"))
    [audio] = someone.recordings
    assert audio.startswith("data:audio/webm"), audio[:40]


def test_sign_up_page_says_a_registered_name_is_taken(
    registered: str, person: PersonFactory
) -> None:
    someone = person()
    someone.visit("/sign_up")
    someone.username_box.fill(registered.upper())
    expect(someone.status("username-status")).to_contain_text("is taken")
    expect(someone.username_box).to_have_attribute("aria-invalid", "true")
    someone.shot("sign-up-name-taken")
    someone.click("Take photo")
    expect(someone.username_box).to_be_focused()
    assert "take_photo" not in someone.posts


def test_sign_up_page_says_what_is_wrong_with_a_malformed_name(person: PersonFactory) -> None:
    someone = person()
    someone.visit("/sign_up")
    someone.username_box.fill("a b")
    expect(someone.status("username-status")).to_contain_text("no spaces")
    someone.click("Create account")
    expect(someone.username_box).to_be_focused()
    assert someone.posts == []


def test_refused_camera_permission_says_how_to_allow_it(person: PersonFactory) -> None:
    someone = person(allow=["microphone"])
    someone.visit("/log_in")
    someone.username_box.fill("anyone")
    status = someone.turn_on_devices("Turn on camera")  # the log-in page opens it alone
    expect(status).to_have_attribute("data-state", "error")
    expect(status).to_contain_text("not allowed to use the camera")
    expect(status).to_contain_text("Allow")
    expect(status).to_contain_text("reload")
    expect(someone.page.get_by_role("button", name="Turn on camera", exact=True)).to_be_visible()
    someone.shot("device-camera-refused")


def test_log_in_page_opens_the_microphone_only_to_record_and_says_if_it_is_refused(
    person: PersonFactory,
) -> None:
    someone = person(allow=["camera"])
    someone.visit("/log_in")
    someone.username_box.fill("anyone")
    status = someone.record()
    expect(status).to_contain_text("not allowed to use the microphone")
    expect(status).to_contain_text("Allow")
    # The camera was not asked for: its part of the page is untouched.
    expect(someone.status("device-status")).to_be_empty()
    expect(someone.page.locator("#camera")).to_have_attribute("data-camera", "off")
    assert someone.posts == []
    someone.shot("device-microphone-refused-log-in")


def test_refused_camera_and_microphone_permission_stops_the_photo_step(
    person: PersonFactory,
) -> None:
    someone = person(allow=[], viewport=PHONE)
    someone.visit("/sign_up")
    someone.username_box.fill("newcomer")
    someone.click("Take photo")
    status = someone.status("device-status")
    expect(status).to_contain_text("not allowed to use the camera and the microphone")
    expect(someone.status("photo-status")).to_contain_text("needs the camera")
    assert someone.posts == []
    someone.shot("device-both-refused-phone")


def test_page_on_an_insecure_address_says_to_use_https(person: PersonFactory) -> None:
    # On plain http from another host, browsers hide navigator.mediaDevices entirely.
    someone = person(
        init_script="Object.defineProperty(window, 'isSecureContext', {get: () => false});"
        "Object.defineProperty(navigator, 'mediaDevices', {get: () => undefined});"
    )
    someone.visit("/log_in")
    status = someone.status("device-status")
    expect(status).to_contain_text("only work on a secure page")
    expect(status).to_contain_text("https://")
    someone.username_box.fill("anyone")
    someone.click("Take photo")
    expect(status).to_contain_text("https://")
    someone.shot("device-insecure-page")


def test_log_in_page_tells_a_locked_out_name_to_wait_as_soon_as_it_is_typed(
    locked_out: str, person: PersonFactory
) -> None:
    someone = person()
    someone.visit("/log_in")
    someone.username_box.fill(locked_out)
    someone.page.keyboard.press("Tab")  # on to the next step: the name is known
    status = someone.status("username-status")
    expect(status).to_have_text(MUST_WAIT)
    expect(status).to_have_attribute("data-state", "error")
    someone.shot("log-in-locked-out-name")
    assert someone.posts == []


def test_log_in_page_tells_a_locked_out_name_to_wait_without_opening_the_camera(
    locked_out: str, person: PersonFactory
) -> None:
    someone = person(init_script=COUNT_DEVICE_REQUESTS)
    someone.visit("/log_in")
    someone.username_box.fill(locked_out)
    someone.click(PHOTO_BUTTON)
    expect(someone.status("photo-status")).to_have_text(MUST_WAIT)
    assert someone.page.evaluate("window.__deviceRequests") == 0
    expect(someone.page.locator("#camera")).to_have_attribute("data-camera", "off")
    assert someone.posts == []


def test_turn_on_camera_button_tells_a_locked_out_name_to_wait(
    locked_out: str, person: PersonFactory
) -> None:
    someone = person(init_script=COUNT_DEVICE_REQUESTS)
    someone.visit("/log_in")
    someone.username_box.fill(locked_out)
    someone.click("Turn on camera")
    expect(someone.status("device-status")).to_have_text(MUST_WAIT)
    assert someone.page.evaluate("window.__deviceRequests") == 0
    assert someone.posts == []


# --- Camera: biden.jpg, microphone: speaker A.


def test_another_face_is_refused_and_the_protected_page_stays_closed(
    registered: str, person: PersonFactory
) -> None:
    someone = person(camera="biden.jpg")
    someone.visit("/log_in")
    status = someone.log_in(registered)
    expect(status).to_contain_text(FAILED)
    expect(someone.page).to_have_url(re.compile(r"/log_in$"))
    expect(someone.page.get_by_role("button", name="Try again")).to_be_focused()
    someone.shot("log-in-refused-other-face")
    expect_protected_page_is_closed(someone)


def test_the_refusal_that_locks_a_name_out_says_at_once_that_it_must_wait(
    site: str, person: PersonFactory
) -> None:
    fail_log_ins(site, "fifth_try", times=4)
    someone = person(camera="biden.jpg")
    someone.visit("/log_in")
    status = someone.log_in("fifth_try")
    expect(status).to_contain_text(FAILED)
    expect(status).to_contain_text(MUST_WAIT)
    someone.shot("log-in-refused-now-locked-out")


def test_after_the_refusal_that_locks_a_name_out_no_photo_is_taken(
    site: str, person: PersonFactory
) -> None:
    fail_log_ins(site, "next_try", times=4)
    someone = person(camera="biden.jpg")
    someone.visit("/log_in")
    someone.log_in("next_try")
    someone.click("Try again")
    someone.click(PHOTO_BUTTON)
    expect(someone.status("photo-status")).to_have_text(MUST_WAIT)
    assert someone.posts == ["take_photo", "record_voice", "log_in"]


# --- Camera: obama.jpg, microphone: speaker B.


def test_the_right_face_with_another_voice_is_refused(
    registered: str, person: PersonFactory
) -> None:
    someone = person(microphone=media.SPEAKER_B)
    someone.visit("/log_in")
    status = someone.log_in(registered)
    expect(status).to_contain_text(FAILED)
    someone.shot("log-in-refused-other-voice")
    someone.click("Try again")
    expect(someone.page.get_by_role("button", name="Take photo")).to_be_focused()
    expect(status).to_be_empty()
    expect_protected_page_is_closed(someone)


# --- Camera: an empty room, microphone: speaker A.


def test_camera_without_a_face_is_refused_at_the_photo_step(
    registered: str, person: PersonFactory
) -> None:
    someone = person(camera=NO_FACE)
    someone.visit("/log_in")
    someone.username_box.fill(registered)
    status = someone.take_photo()  # turns the camera on first
    expect(status).to_have_attribute("data-state", "error")
    expect(status).to_contain_text("No face found")
    expect(status).to_contain_text("Light your face from the front")
    expect(someone.page.get_by_role("button", name="Retake photo")).to_be_focused()
    someone.shot("log-in-no-face")
    someone.click("Log in")
    expect(someone.status("log-in-status")).to_contain_text("Take your photo first")
    assert someone.posts == ["take_photo"], "no log-in may be attempted without a photo"


# --- Camera: obama.jpg, microphone: silent.


def test_silent_recording_gets_the_one_message_that_fits(person: PersonFactory) -> None:
    someone = person(microphone=SILENT)
    someone.visit("/log_in")
    someone.username_box.fill("anyone")
    status = someone.record()
    expect(status).to_have_text(
        "We heard nothing: the recording is silent. Check that your microphone is connected, "
        "not muted, and allowed for this site."
    )
    expect(status.locator("li")).to_have_count(0)  # no tip to speak louder after it
    someone.shot("log-in-silent-recording")


# --- No camera and no microphone at all.


def test_computer_without_camera_or_microphone_says_to_connect_them(person: PersonFactory) -> None:
    someone = person(camera=NO_DEVICES, microphone=NO_DEVICES)
    someone.visit("/sign_up")
    someone.username_box.fill("newcomer")
    status = someone.turn_on_devices()
    expect(status).to_have_attribute("data-state", "error")
    expect(status).to_contain_text("No camera and no microphone were found")
    expect(status).to_contain_text("Connect them")
    someone.shot("device-none-found")
    assert someone.posts == []
