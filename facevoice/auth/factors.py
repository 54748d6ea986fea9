"""The factors a log-in can prove, and how RFC 8176 names each.

Our own names are what the audit log keeps (``AuditEvent.factors``): they say exactly what
was used. RFC 8176 names are what the session records and an OpenID Connect ``amr`` claim
reports; :func:`facevoice.auth.policy.amr_of` maps one to the other.
"""

from __future__ import annotations

FACE = "face"
VOICE = "voice"
PASSKEY = "passkey"
RECOVERY_CODE = "recovery_code"

BIOMETRIC = (FACE, VOICE)  # proven together, by one log-in attempt

# RFC 8176 §2. A recovery code becomes "otp": RFC 8176 registers no value for recovery or
# look-up secrets, and "otp" (a one-time password) is the closest: a secret that works once.
# A relying party then sees a single, knowledge-like factor, never "face" or "mfa", which is
# what a recovery log-in is. A passkey is "hwk" (a key held in hardware), or "swk" when
# WebAuthn's backed-up flag says it is synced between devices (software-held keys).
AMR = {FACE: "face", VOICE: "vbm", PASSKEY: "hwk", RECOVERY_CODE: "otp"}
SYNCED_PASSKEY_AMR = "swk"

# How the account page names them.
LABELS = {FACE: "face", VOICE: "voice", PASSKEY: "passkey", RECOVERY_CODE: "recovery code"}



def parse_factors(text: str | None) -> list[str]:
    """The factor names of an audit entry's ``factors`` column."""
    return [name for name in (text or "").split(",") if name]


def describe(factors: list[str]) -> str:
    """A person's words for a list of factors: "face and voice", "recovery code"."""
    labels = [LABELS.get(name, name) for name in factors]
    if len(labels) <= 1:
        return "".join(labels) or "-"
    return ", ".join(labels[:-1]) + " and " + labels[-1]
