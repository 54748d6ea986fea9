"""Biometric templates encrypted at rest with AES-256-GCM.

A sealed template is ``b"FV1" + key id (8 bytes) + nonce (12 bytes) + ciphertext``. The
username and the kind of template are authenticated data, so a template copied onto another
account, or a face template swapped for a voice one, fails to open.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import logging
import os
import secrets
from pathlib import Path

import numpy as np
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from facevoice.storage.folders import create_file_once

log = logging.getLogger(__name__)

MAGIC = b"FV1"
KEY_BYTES = 32
NONCE_BYTES = 12
KEY_ID_BYTES = 8
FACE = "face"
VOICE = "voice"
PENDING_FACE = "pending-face"
PENDING_VOICE = "pending-voice"
PENDING_BURST = "pending-burst"


class TemplateKeyError(Exception):
    """A template key that is malformed, or a template sealed with another key."""


def parse_key(text: str) -> bytes:
    """A 32-byte key from its hex or (URL-safe) Base64 form."""
    text = text.strip()
    candidates = []
    with contextlib.suppress(ValueError):
        candidates.append(bytes.fromhex(text))
    with contextlib.suppress(binascii.Error, ValueError):
        candidates.append(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
    for key in candidates:
        if len(key) == KEY_BYTES:
            return key
    raise TemplateKeyError("a template key must be 32 bytes, written as 64 hex digits or Base64")


def new_key_text() -> str:
    """A fresh random key, hex-encoded."""
    return secrets.token_hex(KEY_BYTES)


def parse_keys(text: str) -> list[bytes]:
    """Keys separated by commas or new lines, the current one first."""
    keys = [parse_key(part) for part in text.replace(",", "\n").split() if part.strip()]
    if not keys:
        raise TemplateKeyError("no template key given")
    return keys


def load_or_create_key_file(path: Path) -> list[bytes]:
    """The keys of a key file (current first), creating it once with owner-only access."""
    if not path.exists() and create_file_once(path, new_key_text() + "\n"):
        log.warning("generated a new template key in %s: back it up apart from the database", path)
    return parse_keys(path.read_text())


def write_key_file(path: Path, keys: list[bytes]) -> None:
    """Replace the key file atomically with these keys, the current one first."""
    partial = path.with_name(path.name + ".part")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write("".join(key.hex() + "\n" for key in keys))
    os.replace(partial, path)


def load_cipher(key_text: str, key_file: Path) -> TemplateCipher:
    """The cipher of ``FACEVOICE_TEMPLATE_KEY`` if set, else of the key file."""
    keys = parse_keys(key_text) if key_text else load_or_create_key_file(key_file)
    return TemplateCipher(keys[0], tuple(keys[1:]))


def key_id(key: bytes) -> bytes:
    """A short fingerprint naming the key a template was sealed with."""
    return hashlib.sha256(b"facevoice-template-key" + key).digest()[:KEY_ID_BYTES]


class TemplateCipher:
    """Seals and opens templates with one current key (and older keys during rotation)."""

    def __init__(self, key: bytes, old_keys: tuple[bytes, ...] = ()) -> None:
        self._current = key
        self._old = old_keys
        self._keys = {key_id(k): AESGCM(k) for k in (key, *old_keys)}

    def seal(self, vector: np.ndarray, owner: str, kind: str) -> bytes:
        """Encrypt a template for one owner (an account's username key) and kind."""
        nonce = os.urandom(NONCE_BYTES)
        plain = np.asarray(vector, dtype="<f4").tobytes()
        sealed = self._keys[key_id(self._current)].encrypt(nonce, plain, _aad(owner, kind))
        return MAGIC + key_id(self._current) + nonce + sealed

    def open(self, blob: bytes, owner: str, kind: str) -> np.ndarray:
        """Decrypt a template; ``TemplateKeyError`` if it is not ours or was tampered with."""
        if not blob.startswith(MAGIC):
            raise TemplateKeyError("not a sealed template")
        start = len(MAGIC)
        kid = blob[start : start + KEY_ID_BYTES]
        nonce = blob[start + KEY_ID_BYTES : start + KEY_ID_BYTES + NONCE_BYTES]
        cipher = self._keys.get(kid)
        if cipher is None:
            raise TemplateKeyError("template sealed with an unknown key")
        try:
            plain = cipher.decrypt(
                nonce, blob[start + KEY_ID_BYTES + NONCE_BYTES :], _aad(owner, kind)
            )
        except InvalidTag:
            raise TemplateKeyError(
                "template does not belong to this account or was altered"
            ) from None
        return np.frombuffer(plain, dtype="<f4").astype(np.float32)

    @property
    def keys(self) -> list[bytes]:
        """The current key, then the older ones."""
        return [self._current, *(k for k in self._old if k != self._current)]

    def is_current(self, blob: bytes) -> bool:
        """Whether a template is sealed with the current key."""
        return blob[len(MAGIC) : len(MAGIC) + KEY_ID_BYTES] == key_id(self._current)


def _aad(owner: str, kind: str) -> bytes:
    return f"{kind}\x00{owner}".encode()
