"""GET /sign_up (the page, or whether a name is taken) and POST /sign_up."""

from __future__ import annotations

from flask import Blueprint, jsonify, render_template, request

from facevoice.errors import MissingSample, UsernameTaken
from facevoice.storage.attempts import SIGN_UP
from facevoice.storage.database import is_registered, record_event
from facevoice.web.requests import answer, read_fields, username_field, wants_json
from facevoice.web.services import services
from facevoice.web.session import end_attempt, find_attempt

bp = Blueprint("sign_up", __name__)


@bp.get("/sign_up")
def page():  # type: ignore[no-untyped-def]
    """The sign-up page, or with ``?username=`` and a JSON Accept header, whether it is taken."""
    if "username" in request.args and wants_json():
        username = username_field(request.args)
        return jsonify(username=username, registered=is_registered(services().database, username))
    return render_template("sign_up.html", max_phrases=services().settings.max_enroll_phrases)


@bp.post("/sign_up")
def sign_up():  # type: ignore[no-untyped-def]
    """Create the user from this session's photo and voice phrases."""
    username = username_field(read_fields())
    database = services().database
    attempt = find_attempt(username, SIGN_UP)
    try:
        if is_registered(database, username):
            raise UsernameTaken()
        if attempt is None:
            raise MissingSample()
        services().accounts.register(attempt)
    except UsernameTaken:
        if attempt is not None:
            end_attempt(attempt)
        record_event(database, "sign_up", username, request.remote_addr or "", "name_taken")
        raise
    end_attempt(attempt)
    record_event(database, "sign_up", username, request.remote_addr or "", "registered")
    return answer(201, f"Welcome, {username}! You can now log in with your face and voice.")
