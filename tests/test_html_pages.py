"""The HTML pages through the test client: what they tell a newcomer, and the error pages."""

from __future__ import annotations

import re

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.exc import OperationalError

from facevoice.storage.lockout import record_failure

# What a browser sends when it opens an address.
BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}

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


def test_unknown_address_is_a_404_page_in_the_sites_layout(client: FlaskClient) -> None:
    answer = client.get("/no-such-page", headers=BROWSER)
    assert answer.status_code == 404
    assert answer.mimetype == "text/html"
    page = answer.data.decode()
    assert '<link rel="stylesheet" href="/static/css/style.css">' in page
    assert '<a class="brand" href="/">facevoice</a>' in page
    assert "<h1>Page not found</h1>" in page
    assert "There is no such page." in text_of(answer.data)


@pytest.mark.parametrize("accept", [{"Accept": "application/json"}, {"Accept": "*/*"}, {}])
def test_unknown_address_is_a_json_404_for_everyone_but_a_browser(
    client: FlaskClient, accept: dict[str, str]
) -> None:
    answer = client.get("/no-such-page", headers=accept)
    assert answer.status_code == 404
    assert answer.json == {"ok": False, "message": "There is no such page."}


def test_wrong_method_is_a_405_page_with_its_allow_header(client: FlaskClient) -> None:
    answer = client.get("/log_in/recovery", headers=BROWSER)
    assert answer.status_code == 405
    assert answer.mimetype == "text/html"
    assert "POST" in answer.headers["Allow"]
    assert "This address does not accept that method." in text_of(answer.data)


def test_server_failure_is_a_500_page_for_a_browser_and_json_for_the_pages_requests(
    app: Flask,
) -> None:
    def broken() -> str:
        raise RuntimeError("a bug")

    app.add_url_rule("/broken", view_func=broken)
    client = app.test_client()
    page = client.get("/broken", headers=BROWSER)
    assert page.status_code == 500 and page.mimetype == "text/html"
    assert "Something went wrong on our side" in text_of(page.data)
    fetched = client.get("/broken", headers={"Accept": "application/json"})
    assert fetched.status_code == 500
    assert fetched.json["message"] == "Something went wrong on our side. Please try again."


def test_database_outage_is_a_503_page_with_retry_after_for_a_browser(app: Flask) -> None:
    def outage() -> str:
        raise OperationalError("SELECT 1", {}, ConnectionRefusedError("connection refused"))

    app.add_url_rule("/outage", view_func=outage)
    answer = app.test_client().get("/outage", headers=BROWSER)
    assert answer.status_code == 503 and answer.mimetype == "text/html"
    assert int(answer.headers["Retry-After"]) > 0
    assert "<h1>Temporarily unavailable</h1>" in answer.data.decode()


def test_locked_out_challenge_stays_json_for_the_log_in_page(
    app: Flask, client: FlaskClient
) -> None:
    accounts = app.extensions["facevoice"].accounts
    for _ in range(5):
        record_failure(accounts.database, "alice", accounts.lockout)
    answer = client.get("/log_in/challenge?username=alice", headers={"Accept": "application/json"})
    assert answer.status_code == 429 and answer.mimetype == "application/json"
