"""WSGI entry point for any server: ``gunicorn 'facevoice.wsgi:app'``."""

from facevoice import create_app

app = create_app()
