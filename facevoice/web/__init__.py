"""The web layer: blueprints, templates, static files, and their wiring."""

from __future__ import annotations

from flask import Flask

from facevoice.web import account, capture, errors, health, log_in, oidc, pages, passkeys, sign_up
from facevoice.web.session import init_login


def init_web(app: Flask) -> None:
    """Register the blueprints, the login manager, the JSON error handlers and the provider."""
    init_login(app)
    errors.register(app)
    blueprints = (
        pages.bp, sign_up.bp, log_in.bp, account.bp, passkeys.bp, capture.bp, health.bp, oidc.bp
    )
    for blueprint in blueprints:
        app.register_blueprint(blueprint)
    oidc.init_oidc(app)
