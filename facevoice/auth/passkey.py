"""The passkey (WebAuthn) factor: not built yet, only the places it plugs into.

When passkeys come, this module begins a ceremony, verifies its assertion, and says which
accounts have a passkey. Until then no account has one, so the policy never asks for it.
"""

from __future__ import annotations

from facevoice.storage.database import Database, User


def has_passkey(database: Database, user: User) -> bool:
    """Whether the account has a registered passkey (none can be registered yet)."""
    del database, user  # read the passkey table once it exists
    return False
