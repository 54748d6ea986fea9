"""The log-in page with the challenges on (docs/liveness.md), in headless Chromium.

The app issues a fixed challenge (testing configuration only): turn the head to the right, and
say 4 7 1 9 2. The user signs up as the person of short_hamilton_clip.mp4 with FSDD's jackson
as voice; at log-in the fake camera plays the clip's head turn and the fake microphone plays
jackson saying digits, once, from when the page opens it (fake_media.py). The clip's frames
and jackson's digits are not one recording, so the lips cannot follow the digits: these tests
skip that check (TESTING only; tests/test_lipsync.py tests it on the clip with its own sound).

Timing: "Start the capture" opens the camera and the microphone together, and the capture
starts after the 3-2-1 countdown, 3.1-3.2 s later here (TIMING_SCRIPT measures it; -s prints
it, and a failed capture says it). The video holds the person facing the camera for
fake_media.TURN_STARTS_AFTER_SECONDS first, so the turn falls in the capture's first part;
jackson starts the digits fake_media.CAPTURE_DIGITS_AFTER_SECONDS after the microphone opens,
in the part where the page says to speak.
"""

from __future__ import annotations

import itertools
import json
import re
from statistics import median
from typing import Any

import pytest
from playwright.sync_api import expect

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
TURN_MS = 3500  # the page's head-turn part of the capture (log_in.js, CAPTURE.turnMs)
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
        "testing_skip_checks": "sync",
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
    """When the page opened the camera and took the capture's frames, relative to that (s)."""
    timing = someone.page.evaluate("window.__capture")
    cameras = [entry for entry in timing["opened"] if entry["kind"] == "camera"]
    if not cameras or not timing["frames"]:
        return json.dumps(timing)
    start = cameras[0]["asked"]
    frames = [round((t - start) / 1000, 1) for t in timing["frames"]]
    opened = round((cameras[0]["opened"] - start) / 1000, 2)
    return f"camera opened after {opened} s; frames at {frames} s"


def expect_capture_ok(someone: Person, status) -> None:  # type: ignore[no-untyped-def]
    """The capture passed; else say what the page said and when the frames were taken."""
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
        camera=CLIP_TURNING_RIGHT,
        microphone=jackson_says(DIGITS, late=True),
        init_script=TIMING_SCRIPT,
    )
    someone.visit(f"/log_in?username={registered}")
    expect(someone.turn_instruction).to_have_text(TURN_RIGHT)
    expect(someone.page.locator("#turn-challenge")).to_have_attribute("data-side", "right")
    expect(someone.digits).to_have_text("4 7 1 9 2")
    someone.shot("challenge-1-shown")

    capture = someone.capture(turning_shot="challenge-2-turning", saying_shot="challenge-3-saying")
    expect_capture_ok(someone, capture)
    print(capture_timing(someone))  # shown with -s: the margins of the video
    [sent] = someone.captures
    assert 8 <= len(sent["frames"]) <= 150
    assert all(frame.startswith("data:image/jpeg;base64,") for frame in sent["frames"])
    times = sent["frame_times_ms"]
    assert len(times) == len(sent["frames"]) and times == sorted(times)
    assert times[-1] - times[0] > 7000  # the turn (3.5 s) and the digits (5 s), filmed
    # Frames come faster while the digits are said: the lips need them (docs/liveness.md).
    turn_gaps = [b - a for a, b in itertools.pairwise(times) if b < TURN_MS]
    speech_gaps = [b - a for a, b in itertools.pairwise(times) if a >= TURN_MS]
    print(f"frame gaps (median ms): turn {median(turn_gaps)}, digits {median(speech_gaps)}")
    assert median(speech_gaps) < median(turn_gaps)
    assert sent["audio"].startswith("data:audio/wav;base64,")
    someone.shot("challenge-4-ready")
    someone.click("Log in")
    someone.wait_for_log_in_outcome()
    expect(someone.page).to_have_url(re.compile(r"/protected$"))
    expect(someone.page.locator("#username")).to_have_text(registered)
    someone.shot("challenge-5-protected-page")
    assert someone.posts == ["capture", "log_in"]


def test_still_picture_is_refused_because_it_does_not_turn_as_a_head(
    registered: str, person: PersonFactory
) -> None:
    someone = person(camera=CLIP_STILL, microphone=jackson_says(DIGITS, late=True))
    someone.visit("/log_in")
    someone.username_box.fill(registered)
    capture = someone.capture()
    expect(capture).to_have_attribute("data-state", "error")
    expect(capture).to_contain_text("We could not see your face turn as a head does")
    expect(capture).to_contain_text(
        "For your next try: turn your head to your right, then say the new digits 4 7 1 9 2."
    )
    expect(someone.page.get_by_role("button", name="Capture again")).to_be_focused()
    expect(capture.locator("li")).to_have_count(0)  # the server's advice alone
    someone.shot("challenge-refused-still-picture")
    assert someone.calls[-2:] == ["capture", "challenge"]
    someone.click("Log in")
    expect(someone.status("log-in-status")).to_contain_text("Make the capture first")
    assert someone.posts == ["capture"]
    expect_protected_page_is_closed(someone)


def test_right_head_turn_with_other_digits_gets_the_one_message_that_fits(
    registered: str, person: PersonFactory
) -> None:
    someone = person(
        camera=CLIP_TURNING_RIGHT,
        microphone=jackson_says(OTHER_DIGITS, late=True),
        init_script=TIMING_SCRIPT,
    )
    someone.visit(f"/log_in?username={registered}")
    capture = someone.capture()
    expect(capture).to_have_attribute("data-state", "error")
    expect(capture).to_contain_text(
        "We did not hear the digits shown. Say them clearly, one after the other"
    )
    expect(capture).not_to_contain_text("louder")
    expect(capture.locator("li")).to_have_count(0)
    expect(capture).to_contain_text("say the new digits 4 7 1 9 2.")
    assert someone.calls[-2:] == ["capture", "challenge"]
    someone.shot("challenge-refused-other-digits")
    someone.click("Log in")
    expect(someone.status("log-in-status")).to_contain_text("Make the capture first")
    assert someone.posts == ["capture"]
    expect_protected_page_is_closed(someone)


def test_head_turned_to_the_wrong_side_is_refused(registered: str, person: PersonFactory) -> None:
    # The same video mirrored: the person turns to their left when asked for the right.
    someone = person(
        camera=CLIP_TURNING_LEFT,
        microphone=jackson_says(DIGITS, late=True),
        init_script=TIMING_SCRIPT,
        viewport=PHONE,
    )
    someone.visit(f"/log_in?username={registered}")
    expect(someone.turn_instruction).to_have_text(TURN_RIGHT)
    capture = someone.capture()
    try:
        expect(capture).to_contain_text("not the other one")
    except AssertionError as error:
        raise AssertionError(f"{error}; {capture_timing(someone)}") from None
    print(capture_timing(someone))  # shown with -s
    someone.shot("challenge-refused-wrong-side-phone")
    assert someone.posts == ["capture"]
    expect_protected_page_is_closed(someone)
