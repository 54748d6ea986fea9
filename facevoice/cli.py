"""The ``facevoice`` command: run the site, and administer it."""

from __future__ import annotations

import click

from facevoice.config import Settings


@click.group()
def main() -> None:
    """facevoice: a website login with face and voice."""


@main.command()
def run() -> None:
    """Serve the site with Flask's development server (FACEVOICE_HOST, FACEVOICE_PORT)."""
    from facevoice import create_app

    settings = Settings.from_env()
    app = create_app()
    click.echo(f"facevoice: data in {app.extensions['facevoice'].settings.data_dir}")
    app.run(host=settings.host, port=settings.port, threaded=True)
