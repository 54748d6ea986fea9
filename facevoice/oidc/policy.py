"""What a log-in proved, as OpenID Connect ``amr`` and ``acr`` values.

The provider never asks the factors themselves: it reads the session's log-in record
(``facevoice.web.security.login_record``: the RFC 8176 values of the factors proven) and
maps it here. facevoice's ``acr`` values, weakest first:

- ``urn:facevoice:acr:face-voice``: face and voice matched in the same log-in.
- ``urn:facevoice:acr:face-voice-passkey``: face, voice and a passkey (``hwk`` or ``swk``).
"""

from __future__ import annotations

from collections.abc import Iterable

FACE_VOICE = "urn:facevoice:acr:face-voice"
FACE_VOICE_PASSKEY = "urn:facevoice:acr:face-voice-passkey"
PASSKEY = frozenset({"hwk", "swk"})
# Each level and the factors it needs; one passkey value of PASSKEY is enough.
LEVELS: dict[str, tuple[frozenset[str], bool]] = {
    FACE_VOICE: (frozenset({"face", "vbm"}), False),
    FACE_VOICE_PASSKEY: (frozenset({"face", "vbm"}), True),
}
ACR_VALUES = tuple(LEVELS)
BIOMETRIC = frozenset({"face", "vbm"})


def meets(acr: str, factors: Iterable[str]) -> bool:
    """Whether the factors of a log-in reach the level ``acr``."""
    needed, passkey = LEVELS[acr]
    proven = set(factors)
    return needed <= proven and (not passkey or bool(PASSKEY & proven))


def acr_of(factors: Iterable[str]) -> str:
    """The strongest level a log-in reached (empty if none)."""
    proven = set(factors)
    reached = [acr for acr in ACR_VALUES if meets(acr, proven)]
    return reached[-1] if reached else ""


def is_known(acr: str) -> bool:
    """Whether ``acr`` is one of facevoice's levels."""
    return acr in LEVELS


def needs_passkey(acr: str) -> bool:
    """Whether the level ``acr`` (a known one) asks for a passkey."""
    return LEVELS[acr][1]


def is_attainable(acr: str, passkeys: bool) -> bool:
    """Whether some log-in on this installation could reach ``acr`` at all: with passkeys
    switched off (``FACEVOICE_PASSKEYS=off``) no level that needs one can be met."""
    return meets(acr, BIOMETRIC | ({"hwk"} if passkeys else set()))
