"""The log-in page with the challenges on (README, "Liveness"), in headless Chromium.

The app issues a fixed challenge (testing configuration only): turn the head to the right, and
say 4 7 1 9 2. The user signs up as the person of short_hamilton_clip.mp4 with FSDD's jackson
as voice; at log-in the fake camera plays the clip's head turn and the fake microphone plays
jackson saying digits, once, from when the page opens it (fake_media.py).

Timing: the page opens the camera when "Take photo" is pressed and starts the burst after the
3-2-1 countdown, 3.1-3.2 s later here (TIMING_SCRIPT measures it; -s prints it, and a failed
photo step says it); the video holds the person facing the camera for
fake_media.TURN_STARTS_AFTER_SECONDS first, which leaves about a second of margin either way.
The microphone opens when "Record the digits" is pressed, with the recording graph built
beforehand: the recording holds the file from its first samples (measured: jackson's first
digit starts 0.53 s into both), well inside the 5 s recording.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from playwright.sync_api import Route, expect

from tests.browser.conftest import PersonFactory
from tests.browser.fake_media import (
    CLIP_STILL,
    CLIP_TURNING_LEFT,
    CLIP_TURNING_RIGHT,
    JACKSON_READING,
    jackson_says,
)
from tests.browser.people import Person

pytestmark = pytest.mark.browser

USERNAME = "clip_person"
DIGITS = "47192"
OTHER_DIGITS = "85329"
TURN_RIGHT = "Turn your head to your right, then back to the camera."
TURN_LEFT = "Turn your head to your left, then back to the camera."
TURN_DONE = "Head turn done: we saw you turn to your right."
DESKTOP = {"width": 1024, "height": 900}
PHONE = {"width": 390, "height": 844}
# Times (performance.now(), ms) at which the page opened a device and took burst frames.
TIMING_SCRIPT = """
window.__capture = {opened: [], frames: []};
if (navigator.mediaDevices) {
  const open = navigator.mediaDevices.getUserMedia.bind(navigator.mediaDevices);
  navigator.mediaDevices.getUserMedia = async (constraints) => {
    const asked = performance.now();
    const stream = await open(constraints);
    const kind = constraints.video ? "camera" : "microphone";
    window.__capture.opened.push({kind, asked, opened: performance.now()});
    return stream;
  };
}
const toDataURL = HTMLCanvasElement.prototype.toDataURL;
HTMLCanvasElement.prototype.toDataURL = function (...args) {
  window.__capture.frames.push(performance.now());
  return toDataURL.apply(this, args);
};
"""


@pytest.fixture(scope="module")
def site_settings() -> dict[str, Any]:
    """The challenges on, fixed so that the fake devices can answer them. Each refused
    challenge counts towards the user's lockout, and the attacks here refuse four in a row:
    the lockout waits for more, so that the tests do not depend on their order."""
    return {
        "TESTING": True,
        "fixed_voice_challenge": DIGITS,
        "fixed_face_turn": "right",
        "lockout_after_failures": 20,
    }


@pytest.fixture(scope="module")
def registered(browsers, screenshots) -> str:  # type: ignore[no-untyped-def]
    """The clip's person, signed up through the page facing the camera, with jackson's voice."""
    context = browsers.context(CLIP_STILL, JACKSON_READING, ("camera", "microphone"), DESKTOP)
    try:
        someone = Person(context.new_page(), screenshots)
        someone.sign_up(USERNAME)
        assert not someone.page_problems, someone.page_problems
    finally:
        context.close()
    return USERNAME


def capture_timing(someone: Person) -> str:
    """When the page opened the camera and took the burst's frames, relative to that (s)."""
    timing = someone.page.evaluate("window.__capture")
    cameras = [entry for entry in timing["opened"] if entry["kind"] == "camera"]
    if not cameras or not timing["frames"]:
        return json.dumps(timing)
    start = cameras[0]["asked"]
    frames = [round((t - start) / 1000, 2) for t in timing["frames"]]
    opened = round((cameras[0]["opened"] - start) / 1000, 2)
    return f"camera opened after {opened} s; frames at {frames} s"


def expect_photo_ok(someone: Person, status) -> None:  # type: ignore[no-untyped-def]
    """The photo step passed; else say what the page said and when the burst was taken."""
    try:
        someone.expect_ok(status)
    except AssertionError as error:
        raise AssertionError(f"{error}; {capture_timing(someone)}") from None


def expect_protected_page_is_closed(someone: Person) -> None:
    """/protected sends this person to the log-in page."""
    someone.visit("/protected")
    expect(someone.page).to_have_url(re.compile(r"/log_in$"))


def test_person_turning_as_asked_and_saying_the_digits_logs_in(
    registered: str, person: PersonFactory
) -> None:
    someone = person(
        camera=CLIP_TURNING_RIGHT, microphone=jackson_says(DIGITS), init_script=TIMING_SCRIPT
    )
    someone.visit(f"/log_in?username={registered}")
    expect(someone.turn_instruction).to_have_text(TURN_RIGHT)
    expect(someone.page.locator("#turn-challenge")).to_have_attribute("data-side", "right")
    expect(someone.digits).to_have_text("4 7 1 9 2")
    someone.shot("challenge-1-shown")

    photo = someone.take_photo(
        countdown_shot="challenge-2-countdown", turning_shot="challenge-3-turning"
    )
    expect_photo_ok(someone, photo)
    print(capture_timing(someone))  # shown with -s: the margins of the video
    [burst] = someone.photos
    assert "image" not in burst and len(burst["frames"]) == 12
    assert all(frame.startswith("data:image/jpeg;base64,") for frame in burst["frames"])
    someone.expect_ok(someone.record(recording_shot="challenge-4-recording"))
    someone.shot("challenge-5-ready")
    someone.click("Log in")
    someone.wait_for_log_in_outcome()
    expect(someone.page).to_have_url(re.compile(r"/protected$"))
    expect(someone.page.locator("#username")).to_have_text(registered)
    someone.shot("challenge-6-protected-page")
    assert someone.posts == ["take_photo", "record_voice", "log_in"]


def test_still_picture_is_refused_because_the_head_did_not_turn(
    registered: str, person: PersonFactory
) -> None:
    someone = person(camera=CLIP_STILL, microphone=jackson_says(DIGITS))
    someone.visit("/log_in")
    someone.username_box.fill(registered)
    photo = someone.take_photo()
    expect(photo).to_have_attribute("data-state", "error")
    expect(photo).to_contain_text("Turn your head further to the side shown")
    expect(photo).to_contain_text("For your next try: turn your head to your right.")
    expect(someone.page.get_by_role("button", name="Retake photo")).to_be_focused()
    someone.shot("challenge-refused-still-picture")
    # The retake answers the new challenge the page fetched: refused again for the same
    # reason, not for want of a live challenge.
    photo = someone.take_photo()
    expect(photo).to_contain_text("Turn your head further to the side shown")
    assert someone.calls[-4:] == ["take_photo", "challenge", "take_photo", "challenge"]
    someone.click("Log in")
    expect(someone.status("log-in-status")).to_contain_text("Take your photo first")
    assert someone.posts == ["take_photo", "take_photo"]
    expect_protected_page_is_closed(someone)


def test_right_head_turn_with_other_digits_is_refused_at_the_voice_step(
    registered: str, person: PersonFactory
) -> None:
    someone = person(
        camera=CLIP_TURNING_RIGHT, microphone=jackson_says(OTHER_DIGITS), init_script=TIMING_SCRIPT
    )
    someone.visit(f"/log_in?username={registered}")
    expect(someone.digits).to_have_text("4 7 1 9 2")
    expect_photo_ok(someone, someone.take_photo())
    voice = someone.record()
    expect(voice).to_have_attribute("data-state", "error")
    expect(voice).to_contain_text("We did not hear the digits shown")
    expect(voice).to_contain_text("For your next try, say the new digits: 4 7 1 9 2.")
    assert someone.calls[-2:] == ["record_voice", "challenge"]
    expect(someone.page.get_by_role("button", name="Record again")).to_be_focused()
    someone.shot("challenge-refused-other-digits")
    someone.click("Log in")
    expect(someone.status("log-in-status")).to_contain_text("Record your voice first")
    assert someone.posts == ["take_photo", "record_voice"]
    expect_protected_page_is_closed(someone)


def test_refused_digits_leave_the_accepted_head_turn_shown_as_done(
    registered: str, person: PersonFactory
) -> None:
    someone = person(
        camera=CLIP_TURNING_RIGHT, microphone=jackson_says(OTHER_DIGITS), init_script=TIMING_SCRIPT
    )
    someone.visit(f"/log_in?username={registered}")
    expect_photo_ok(someone, someone.take_photo())
    box = someone.page.locator("#turn-challenge")
    expect(box).to_have_attribute("data-done", "true")
    # This app's turn is fixed: make the next challenge ask for the other side, as a random
    # one may.
    other_side: list[str] = []

    def ask_for_the_left(route: Route) -> None:
        served = route.fetch()
        body = {**served.json(), "turn": "left", "instruction": TURN_LEFT}
        other_side.append(body["turn"])
        route.fulfill(response=served, json=body)

    someone.page.route("**/log_in/challenge*", ask_for_the_left)
    voice = someone.record()
    expect(voice).to_contain_text("For your next try, say the new digits")
    assert other_side == ["left"]
    expect(box).to_have_attribute("data-side", "right")
    expect(box).to_have_attribute("data-done", "true")
    expect(someone.turn_instruction).to_have_text(TURN_DONE)
    someone.shot("challenge-refused-digits-turn-done")


def test_other_digits_get_the_one_message_that_fits(registered: str, person: PersonFactory) -> None:
    someone = person(
        camera=CLIP_TURNING_RIGHT, microphone=jackson_says(OTHER_DIGITS), init_script=TIMING_SCRIPT
    )
    someone.visit(f"/log_in?username={registered}")
    voice = someone.record()
    expect(voice).to_contain_text(
        "We did not hear the digits shown. Say them clearly, one after the other, and record again."
    )
    expect(voice).not_to_contain_text("louder")
    expect(voice.locator("li")).to_have_count(0)


def test_head_turned_to_the_wrong_side_is_refused(registered: str, person: PersonFactory) -> None:
    # The same video mirrored: the person turns to their left when asked for the right.
    someone = person(
        camera=CLIP_TURNING_LEFT,
        microphone=jackson_says(DIGITS),
        init_script=TIMING_SCRIPT,
        viewport=PHONE,
    )
    someone.visit(f"/log_in?username={registered}")
    expect(someone.turn_instruction).to_have_text(TURN_RIGHT)
    photo = someone.take_photo()
    try:
        expect(photo).to_contain_text("not the other one")
    except AssertionError as error:
        raise AssertionError(f"{error}; {capture_timing(someone)}") from None
    print(capture_timing(someone))  # shown with -s
    someone.shot("challenge-refused-wrong-side-phone")
    assert someone.posts == ["take_photo"]
    expect_protected_page_is_closed(someone)
