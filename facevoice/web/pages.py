"""The main page, the page for logged-in users, and logging out."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template
from flask_login import current_user, login_required

from facevoice.biometrics.speech import CHALLENGE_LENGTH
from facevoice.config import Settings
from facevoice.web.security import end_session
from facevoice.web.services import services

bp = Blueprint("pages", __name__)


def how_to_log_in(settings: Settings) -> str:
    """What a log-in asks of a person, in the pages' words, for the challenges switched on."""
    if settings.face_challenge:
        face, who = "turn your head to the side the page shows", "it"
    else:
        face, who = "take a photo", "the page"
    if settings.voice_challenge:
        voice = f"say the {CHALLENGE_LENGTH} digits {who} shows"
    else:
        voice = "read one sentence aloud"
    return f"{face} and {voice}"


@bp.app_context_processor
def log_in_words() -> dict[str, str]:
    """Every page may say how a log-in goes on this site (``how_to_log_in``)."""
    return {"how_to_log_in": how_to_log_in(services().settings)}


@bp.get("/")
def main():  # type: ignore[no-untyped-def]
    """The main page."""
    return render_template("main.html")


@bp.get("/protected")
@login_required
def protected():  # type: ignore[no-untyped-def]
    """A page only logged-in users see; it greets them by name."""
    return render_template("protected.html", username=current_user.username)


@bp.route("/logout", methods=["GET", "POST"])
def logout():  # type: ignore[no-untyped-def]
    """End the session, every copy of its cookie too, and go back to the main page.

    A plain GET logs out as the described system says; at worst another site can log a
    visitor out, which ends nothing an attacker could use.
    """
    end_session()
    return redirect("/")
