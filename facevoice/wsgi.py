"""WSGI entry point for any server: ``gunicorn 'facevoice.wsgi:app'``."""

from facevoice import create_app
from facevoice.server import hide_server_banner

hide_server_banner()
app = create_app()
