"""The one place that turns proven factors into a log-in decision and into ``amr`` values.

Web pages, the CLI and the OpenID Connect provider ask this module, never the factors.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from facevoice.auth.factors import AMR, BIOMETRIC, PASSKEY, RECOVERY_CODE, SYNCED_PASSKEY_AMR
from facevoice.errors import AccountDisabled, AccountLocked
from facevoice.storage.database import Database, record_event
from facevoice.storage.lockout import LockoutState

# The sets of factors that log a person in (NIST SP 800-63B-4 §3.2.3: a way in without
# biometrics is always offered, the recovery code, and the passkey alone where allowed).
SUFFICIENT = (frozenset(BIOMETRIC), frozenset({RECOVERY_CODE}), frozenset({PASSKEY, *BIOMETRIC}))
PASSKEY_ALONE = frozenset({PASSKEY})  # with user verification on the device


@dataclass(frozen=True)
class Decision:
    """What a set of proven factors amounts to."""

    accepted: bool
    factors: tuple[str, ...]

    @property
    def amr(self) -> tuple[str, ...]:
        """The RFC 8176 values the session records (``mfa`` when the kinds differ)."""
        return amr_of(self.factors)


def decide(
    proven: Iterable[str], has_passkey: bool = False, passkey_alone: bool = False
) -> Decision:
    """Accept when the proven factors hold a sufficient set for this account.

    An account with a passkey needs the passkey as well as any other factor (the issue:
    "the passkey must be proved in the same session first"). ``passkey_alone`` (the
    operator's ``FACEVOICE_PASSKEY_ONLY_LOGIN``) lets a passkey log in by itself.
    """
    factors = tuple(dict.fromkeys(proven))
    held = frozenset(factors)
    sufficient = (*SUFFICIENT, PASSKEY_ALONE) if passkey_alone else SUFFICIENT
    accepted = any(needed <= held for needed in sufficient)
    if has_passkey and PASSKEY not in held:
        accepted = False
    return Decision(accepted=accepted, factors=factors)


def amr_of(factors: Iterable[str], synced_passkey: bool = False) -> tuple[str, ...]:
    """RFC 8176 ``amr`` values of proven factors, in order, and ``mfa`` when two or more.

    A passkey is ``hwk``, or ``swk`` when ``synced_passkey`` (WebAuthn's backed-up flag:
    the key is copied between devices, so it is not bound to one piece of hardware).
    ``mfa`` follows the count of factors, as our OpenID Connect issue asks, not NIST's
    categories: face and voice are both "something you are", so a relying party that needs
    NIST multi-factor asks for the passkey level (``acr``) instead.
    """
    values = [
        SYNCED_PASSKEY_AMR if name == PASSKEY and synced_passkey else AMR[name]
        for name in dict.fromkeys(factors)
    ]
    if len(values) >= 2:
        values.append("mfa")
    return tuple(values)


def refuse_if_locked(
    database: Database,
    state: LockoutState,
    username: str,
    client_ip: str,
    factors: Iterable[str],
) -> None:
    """Audit and raise ``AccountDisabled`` (403) or ``AccountLocked`` (429) if not allowed."""
    if state.allowed:
        return
    outcome = "disabled" if state.disabled else "locked"
    record_event(database, "log_in", username, client_ip, outcome, factors=factors)
    raise_if_locked(state)


def raise_if_locked(state: LockoutState) -> None:
    """Raise ``AccountDisabled`` (403) or ``AccountLocked`` (429) if ``state`` allows no try."""
    if state.allowed:
        return
    if state.disabled:
        raise AccountDisabled()
    raise AccountLocked(state.retry_after_seconds)
