"""The HTML pages through the test client: what they tell a newcomer."""

from __future__ import annotations

import re

import pytest
from flask.testing import FlaskClient

HOW_TO_LOG_IN = [
    (
        {"face_challenge": True, "voice_challenge": True},
        "turn your head to the side the page shows and say the 5 digits it shows",
    ),
    (
        {"face_challenge": True, "voice_challenge": False},
        "turn your head to the side the page shows and read one sentence aloud",
    ),
    (
        {"face_challenge": False, "voice_challenge": True},
        "take a photo and say the 5 digits the page shows",
    ),
    (
        {"face_challenge": False, "voice_challenge": False},
        "take a photo and read one sentence aloud",
    ),
]


def text_of(html: bytes) -> str:
    """A page's words without its tags, on one line."""
    return " ".join(re.sub(r"<[^>]+>", " ", html.decode()).split())


@pytest.mark.parametrize(("settings_overrides", "words"), HOW_TO_LOG_IN)
def test_main_page_describes_the_log_in_the_challenges_ask_for(
    client: FlaskClient, words: str
) -> None:
    assert f"Log in: {words}. That is all." in text_of(client.get("/").data)


@pytest.mark.parametrize(("settings_overrides", "words"), HOW_TO_LOG_IN)
def test_sign_up_success_panel_describes_the_log_in_the_challenges_ask_for(
    client: FlaskClient, words: str
) -> None:
    page = text_of(client.get("/sign_up").data)
    assert f"From now on you log in with your face and your voice: {words}." in page
