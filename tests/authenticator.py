"""A software WebAuthn authenticator for HTTP-level tests: an ES256 key, attestation "none".

It builds what a browser sends after ``navigator.credentials.create`` and ``get`` (WebAuthn
Level 3 §6.1 authenticator data, §6.5 attestation objects, §5.8.1 client data), so the
server's py_webauthn checks run without a browser.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from typing import Any

import cbor2
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

ORIGIN, RP_ID = "http://localhost:5000", "localhost"
USER_PRESENT, USER_VERIFIED, BACKUP_ELIGIBLE, BACKED_UP, ATTESTED = 0x01, 0x04, 0x08, 0x10, 0x40


def b64url(data: bytes) -> str:
    """base64url without padding, as WebAuthn's JSON uses."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class SoftAuthenticator:
    """One passkey on one pretend device."""

    def __init__(self, backed_up: bool = False) -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.credential_id = secrets.token_bytes(32)
        self.sign_count = 0
        self.backed_up = backed_up

    def create(
        self, options: dict[str, Any], origin: str = ORIGIN, rp_id: str = RP_ID
    ) -> dict[str, Any]:
        """The browser's answer to ``navigator.credentials.create(options)``."""
        client_data = self._client_data("webauthn.create", options, origin)
        numbers = self.key.public_key().public_numbers()
        cose_key = cbor2.dumps(
            {
                1: 2,
                3: -7,
                -1: 1,
                -2: numbers.x.to_bytes(32, "big"),
                -3: numbers.y.to_bytes(32, "big"),
            }
        )
        attested = (
            bytes(16) + len(self.credential_id).to_bytes(2, "big") + self.credential_id + cose_key
        )
        auth_data = self._auth_data(rp_id, ATTESTED) + attested
        attestation = cbor2.dumps({"fmt": "none", "attStmt": {}, "authData": auth_data})
        return {
            "id": b64url(self.credential_id),
            "rawId": b64url(self.credential_id),
            "type": "public-key",
            "response": {
                "clientDataJSON": b64url(client_data),
                "attestationObject": b64url(attestation),
                "transports": ["internal"],
            },
            "clientExtensionResults": {},
        }

    def get(
        self, options: dict[str, Any], origin: str = ORIGIN, rp_id: str = RP_ID
    ) -> dict[str, Any]:
        """The browser's answer to ``navigator.credentials.get(options)``; the counter grows."""
        self.sign_count += 1
        client_data = self._client_data("webauthn.get", options, origin)
        auth_data = self._auth_data(rp_id)
        signed = auth_data + hashlib.sha256(client_data).digest()
        signature = self.key.sign(signed, ec.ECDSA(hashes.SHA256()))
        return {
            "id": b64url(self.credential_id),
            "rawId": b64url(self.credential_id),
            "type": "public-key",
            "response": {
                "clientDataJSON": b64url(client_data),
                "authenticatorData": b64url(auth_data),
                "signature": b64url(signature),
            },
            "clientExtensionResults": {},
        }

    def _auth_data(self, rp_id: str, extra_flags: int = 0) -> bytes:
        flags = USER_PRESENT | USER_VERIFIED | extra_flags
        if self.backed_up:
            flags |= BACKUP_ELIGIBLE | BACKED_UP
        rp_id_hash = hashlib.sha256(rp_id.encode()).digest()
        return rp_id_hash + bytes([flags]) + self.sign_count.to_bytes(4, "big")

    @staticmethod
    def _client_data(kind: str, options: dict[str, Any], origin: str) -> bytes:
        fields = {"type": kind, "challenge": options["challenge"], "origin": origin}
        return json.dumps({**fields, "crossOrigin": False}).encode()
