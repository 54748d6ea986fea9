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

log = logging.getLogger(__name__)

MAGIC = b"FV1"
KEY_BYTES = 32
NONCE_BYTES = 12
KEY_ID_BYTES = 8
FACE = "face"
VOICE = "voice"


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


def load_or_create_key_file(path: Path) -> bytes:
    """Read the key file, or create it once with owner-only permissions."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return parse_key(path.read_text())
    with os.fdopen(fd, "w") as out:
        out.write(new_key_text() + "\n")
    log.warning("generated a new template key in %s: back it up apart from the database", path)
    return parse_key(path.read_text())


def key_id(key: bytes) -> bytes:
    """A short fingerprint naming the key a template was sealed with."""
    return hashlib.sha256(b"facevoice-template-key" + key).digest()[:KEY_ID_BYTES]


class TemplateCipher:
    """Seals and opens templates with one current key (and older keys during rotation)."""

    def __init__(self, key: bytes, old_keys: tuple[bytes, ...] = ()) -> None:
        self._current = key
        self._keys = {key_id(k): AESGCM(k) for k in (key, *old_keys)}

    def seal(self, vector: np.ndarray, username_key: str, kind: str) -> bytes:
        """Encrypt a template for one account and kind."""
        nonce = os.urandom(NONCE_BYTES)
        plain = np.asarray(vector, dtype="<f4").tobytes()
        sealed = self._keys[key_id(self._current)].encrypt(nonce, plain, _aad(username_key, kind))
        return MAGIC + key_id(self._current) + nonce + sealed

    def open(self, blob: bytes, username_key: str, kind: str) -> np.ndarray:
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
                nonce, blob[start + KEY_ID_BYTES + NONCE_BYTES :], _aad(username_key, kind)
            )
        except InvalidTag:
            raise TemplateKeyError(
                "template does not belong to this account or was altered"
            ) from None
        return np.frombuffer(plain, dtype="<f4").astype(np.float32)

    def is_current(self, blob: bytes) -> bool:
        """Whether a template is sealed with the current key."""
        return blob[len(MAGIC) : len(MAGIC) + KEY_ID_BYTES] == key_id(self._current)


def _aad(username_key: str, kind: str) -> bytes:
    return f"{kind}\x00{username_key}".encode()
