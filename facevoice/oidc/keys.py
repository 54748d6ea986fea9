"""The ID-token signing keys: one file of private JWKs, shared by every machine.

The file holds a JSON object ``{"keys": [{"jwk": ..., "created_at": unix}, ...]}``, newest
first: the first key signs, all of them are published in the JWKS so tokens signed by an
older key still verify. It is created once (mode 0600) and rotated with
``facevoice keys rotate-signing``.
"""

from __future__ import annotations

import itertools
import json
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from joserfc.jwk import KeySet, RSAKey

from facevoice.errors import ConfigurationError
from facevoice.storage.folders import create_file_once

ALGORITHM = "RS256"
RSA_BITS = 2048


@dataclass(frozen=True)
class SigningKey:
    """One private signing key and when it was made (Unix time)."""

    key: RSAKey
    created_at: float

    @property
    def kid(self) -> str:
        """The key id, in every token header this key signs."""
        return str(self.key.kid)


def new_signing_key() -> SigningKey:
    """A fresh RSA key with a random ``kid``."""
    parameters = {"kid": secrets.token_urlsafe(12), "alg": ALGORITHM, "use": "sig"}
    return SigningKey(RSAKey.generate_key(RSA_BITS, parameters, private=True), time.time())


def read_keys(path: Path) -> list[SigningKey]:
    """The keys of a key file, newest first; ``ConfigurationError`` if it is unreadable."""
    try:
        entries = json.loads(path.read_text())["keys"]
        keys = [
            SigningKey(RSAKey.import_key(entry["jwk"]), float(entry["created_at"]))
            for entry in entries
        ]
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise ConfigurationError(f"OpenID Connect signing key file {path}: {error}") from None
    if not keys or not all(key.key.is_private for key in keys):
        raise ConfigurationError(f"OpenID Connect signing key file {path}: no private key")
    return keys


def write_keys(path: Path, keys: list[SigningKey]) -> None:
    """Write the key file atomically, readable by its owner only."""
    entries: list[dict[str, Any]] = [
        {"jwk": key.key.as_dict(private=True), "created_at": key.created_at} for key in keys
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        json.dump({"keys": entries}, out)
    os.replace(partial, path)


def ensure_keys(path: Path) -> None:
    """Create the key file with one key unless it exists (several workers may race)."""
    if path.exists():
        return
    key = new_signing_key()
    entries = [{"jwk": key.key.as_dict(private=True), "created_at": key.created_at}]
    path.parent.mkdir(parents=True, exist_ok=True)
    create_file_once(path, json.dumps({"keys": entries}))


def rotate(path: Path, keep_seconds: float) -> SigningKey:
    """Add a new signing key in front; drop old keys retired more than ``keep_seconds`` ago.

    A key is retired when the next newer one was made; until every token it signed has
    expired it stays published.
    """
    ensure_keys(path)
    keys = read_keys(path)
    fresh = new_signing_key()
    now = fresh.created_at
    kept = [keys[0]]
    for newer, older in itertools.pairwise(keys):
        if now - newer.created_at <= keep_seconds:
            kept.append(older)
    write_keys(path, [fresh, *kept])
    return fresh


class KeyStore:
    """The key file of one installation, read again whenever it changes on disk."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._stamp: tuple[int, int] | None = None
        self._keys: list[SigningKey] = []

    def keys(self) -> list[SigningKey]:
        """Every published key, newest (the signing one) first."""
        ensure_keys(self.path)
        stat = self.path.stat()
        stamp = (stat.st_mtime_ns, stat.st_ino)
        if stamp != self._stamp:
            self._keys, self._stamp = read_keys(self.path), stamp
        return self._keys

    def signing_key(self) -> SigningKey:
        """The key that signs new tokens."""
        return self.keys()[0]

    def public_jwks(self) -> dict[str, Any]:
        """The JWKS document: the public halves of every published key."""
        return {"keys": [key.key.as_dict(private=False) for key in self.keys()]}

    def public_key_set(self) -> KeySet:
        """The published keys as a joserfc key set, to verify tokens we signed."""
        return KeySet.import_key_set(self.public_jwks())
