"""The ``facevoice`` command: run the site, and administer it."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

import click

from facevoice import admin
from facevoice.config import Settings
from facevoice.errors import ConfigurationError
from facevoice.evaluation.cli import calibrate, evaluate
from facevoice.oidc.keys import rotate as rotate_signing_key
from facevoice.storage import oidc


def settings() -> Settings:
    """The settings of this installation, as the app would see them."""
    from facevoice import resolve_settings

    return resolve_settings()


@click.group()
def main() -> None:
    """facevoice: a website login with face and voice."""


@main.command()
def run() -> None:
    """Serve the site with Flask's development server (FACEVOICE_HOST, FACEVOICE_PORT)."""
    from facevoice import create_app

    app = create_app()
    current = app.extensions["facevoice"].settings
    click.echo(f"facevoice: data in {current.data_dir}")
    # Browsers allow passkeys (WebAuthn) on https:// origins and on http://localhost only,
    # never on an address such as 127.0.0.1: open the site by the passkey origin.
    click.echo(f"facevoice: open {current.webauthn_origin}/")
    app.run(host=current.host, port=current.port, threaded=True)


@main.command()
def serve() -> None:
    """Serve the site with gunicorn, behind a reverse proxy: FACEVOICE_WORKERS processes
    on FACEVOICE_HOST:PORT."""
    from facevoice.server import serve as run_gunicorn

    # Like gunicorn's own lines; the workers inherit it for the app's warnings.
    logging.basicConfig(
        level=logging.WARNING,
        format="[%(asctime)s] [%(process)d] [%(levelname)s] %(name)s: %(message)s",
    )
    try:
        run_gunicorn(settings())
    except ConfigurationError as error:
        raise click.ClickException(str(error)) from None


@main.group()
def users() -> None:
    """List, re-enable, log out and delete users."""


@users.command("list")
def users_list() -> None:
    """Every registered user, with consecutive failed log-ins."""
    rows = admin.list_users(admin.database_of(settings()))
    for row in rows:
        state = "DISABLED" if row.disabled else f"{row.consecutive_failures} failures"
        click.echo(f"{row.username}\t{row.created_at:%Y-%m-%d %H:%M}\t{state}")
    click.echo(f"{len(rows)} user(s)", err=True)


@users.command("enable")
@click.argument("username")
def users_enable(username: str) -> None:
    """Re-enable biometric log-in of a username locked out by failed attempts."""
    if admin.enable_user(admin.database_of(settings()), username):
        click.echo(f"{username}: failed log-ins cleared, log-in enabled")
    else:
        click.echo(f"{username}: was not locked")


@users.command("logout")
@click.argument("username")
def users_logout(username: str) -> None:
    """End every session of a user at once (log out everywhere)."""
    ended = admin.log_out_everywhere(admin.database_of(settings()), username)
    if ended is None:
        click.echo(f"{username}: no such user")
        sys.exit(1)
    click.echo(f"{username}: {ended} session(s) ended")


@users.command("new-codes")
@click.argument("username")
def users_new_codes(username: str) -> None:
    """Make a new set of recovery codes for a user and print it (the old set stops working).

    For a user who lost their codes and cannot log in by face and voice: check who they are
    another way first, then hand them the codes over a safe channel.
    """
    codes = admin.new_recovery_codes(admin.database_of(settings()), username)
    if codes is None:
        click.echo(f"{username}: no such user")
        sys.exit(1)
    click.echo("\n".join(codes))
    click.echo(
        f"{username}: {len(codes)} new recovery codes; the old ones no longer work", err=True
    )


@users.command("delete")
@click.argument("username")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def users_delete(username: str, yes: bool) -> None:
    """Delete a user with all their data (templates, codes, sessions, counters, audit entries)."""
    if not yes:
        click.confirm(f"Delete {username} and all their data?", abort=True)
    if admin.delete_user(admin.database_of(settings()), username):
        click.echo(f"{username}: deleted")
    else:
        click.echo(f"{username}: no such user (any audit entries and counters were deleted)")
        sys.exit(1)


@main.group()
def audit() -> None:
    """The audit log of sign-ups and log-ins (server-side only)."""


@audit.command("list")
@click.option("--user", "username", help="Only this username.")
@click.option("--limit", type=int, default=50, show_default=True, help="At most this many.")
def audit_list(username: str | None, limit: int) -> None:
    """Recent entries, newest first."""
    for event in admin.audit_events(admin.database_of(settings()), username, limit):
        face = "-" if event.face_distance is None else f"{event.face_distance:.3f}"
        voice = "-" if event.voice_similarity is None else f"{event.voice_similarity:.3f}"
        click.echo(
            f"{event.at:%Y-%m-%d %H:%M:%S}\t{event.event}\t{event.username}\t"
            f"{event.client_ip}\t{event.outcome}\tface={face}\tvoice={voice}"
        )


@audit.command("export")
@click.option("--format", "fmt", type=click.Choice(["csv", "json"]), default="csv")
@click.option("--user", "username", help="Only this username.")
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), help="File to write.")
def audit_export(fmt: str, username: str | None, output: Path | None) -> None:
    """Every entry as CSV or JSON, to a file or standard output."""
    text = admin.export_audit(admin.audit_events(admin.database_of(settings()), username), fmt)
    if output:
        output.write_text(text)
    else:
        click.echo(text, nl=False)


@main.group()
def keys() -> None:
    """The key that encrypts biometric templates, and the OpenID Connect signing keys."""


@keys.command("rotate")
@click.option("--new-key", default="", help="64 hex digits (default: a fresh random key).")
def keys_rotate(new_key: str) -> None:
    """Re-encrypt every template under a new key."""
    current = settings()
    count = admin.rotate_template_key(current, admin.database_of(current), new_key)
    click.echo(f"re-encrypted the templates of {count} user(s)")
    if current.template_key:
        click.echo("now set FACEVOICE_TEMPLATE_KEY to the new key alone")


@keys.command("rotate-signing")
def keys_rotate_signing() -> None:
    """Sign new ID tokens with a fresh key; the old one stays published until its tokens expire."""
    current = settings()
    try:
        fresh = rotate_signing_key(
            current.oidc_signing_key_path, current.oidc_longest_token_seconds
        )
    except ConfigurationError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"signing with the new key {fresh.kid}; the JWKS publishes the old ones too")


@main.group()
def clients() -> None:
    """The applications that may log users in through facevoice (OpenID Connect)."""


@clients.command("add")
@click.option("--name", required=True, help="Shown to users on the consent page.")
@click.option("--redirect-uri", "redirect_uris", multiple=True, required=True, help="Exact.")
@click.option(
    "--post-logout-redirect-uri",
    "post_logout_uris",
    multiple=True,
    help="Where RP-initiated logout may return to (exact).",
)
@click.option("--public", is_flag=True, help="No secret (a browser or native app): PKCE only.")
@click.option("--first-party", is_flag=True, help="Our own application: no consent page.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def clients_add(
    name: str,
    redirect_uris: tuple[str, ...],
    post_logout_uris: tuple[str, ...],
    public: bool,
    first_party: bool,
    as_json: bool,
) -> None:
    """Register a client; its secret is printed once (only its hash is kept)."""
    client_id, secret = oidc.add_client(
        admin.database_of(settings()),
        name,
        list(redirect_uris),
        list(post_logout_uris),
        public=public,
        first_party=first_party,
    )
    if as_json:
        click.echo(json.dumps({"client_id": client_id, "client_secret": secret}))
        return
    click.echo(f"client_id: {client_id}")
    if secret is not None:
        click.echo(f"client_secret: {secret}")
        click.echo("The secret is shown only now; keep it in the application's settings.", err=True)


@clients.command("list")
def clients_list() -> None:
    """Every registered client."""
    for client in oidc.list_clients(admin.database_of(settings())):
        kind = "public" if client.public else "confidential"
        party = "\tfirst-party" if client.first_party else ""
        uris = " ".join(client.redirect_uris)
        click.echo(f"{client.client_id}\t{client.name}\t{kind}{party}\t{uris}")


@clients.command("remove")
@click.argument("client_id")
def clients_remove(client_id: str) -> None:
    """Remove a client with its codes, tokens and consents."""
    if not oidc.remove_client(admin.database_of(settings()), client_id):
        click.echo(f"{client_id}: no such client")
        sys.exit(1)
    click.echo(f"{client_id}: removed")


main.add_command(evaluate)
main.add_command(calibrate)


if __name__ == "__main__":
    main()
