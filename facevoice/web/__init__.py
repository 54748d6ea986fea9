"""The web layer: blueprints, templates, static files, and their wiring."""

from __future__ import annotations

from flask import Flask

from facevoice.web import account, capture, errors, health, log_in, pages, passkeys, sign_up
from facevoice.web.session import init_login


def init_web(app: Flask) -> None:
    """Register the blueprints, the login manager and the JSON error handlers."""
    init_login(app)
    errors.register(app)
    blueprints = (pages.bp, sign_up.bp, log_in.bp, account.bp, passkeys.bp, capture.bp, health.bp)
    for blueprint in blueprints:
        app.register_blueprint(blueprint)
