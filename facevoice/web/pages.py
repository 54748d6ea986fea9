"""The main page, the page for logged-in users, and logging out."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template
from flask_login import current_user, login_required

from facevoice.web.security import end_session

bp = Blueprint("pages", __name__)


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
