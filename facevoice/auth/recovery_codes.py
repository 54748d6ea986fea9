"""The recovery-code factor: ten one-time codes, the way in that needs no biometrics.

NIST SP 800-63B-4 calls these look-up secrets. Each code is 13 symbols of Crockford's
base32 (no I, L, O or U, so nothing looks like something else) from ``secrets``: 65 bits,
shown as ``XXXX-XXXX-XXXX-X``. Typing is forgiving: dashes and spaces are ignored, letter
case too, and O, I and L are read as 0, 1 and 1.

Below 112 bits a look-up secret must be stored salted and hashed with a password-hashing
scheme (§3.1.2): each code is kept only as ``scrypt`` of the code with a 128-bit random
salt. The ten codes of a set share their salt, so a try costs one scrypt rather than ten
(and a flood of tries ten times less CPU); different users and sets never share one, so
nothing can be precomputed. A used code's row is deleted, so it never works again.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Sequence

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from facevoice.auth import passkey
from facevoice.auth.factors import PASSKEY, RECOVERY_CODE
from facevoice.auth.policy import decide, refuse_if_locked
from facevoice.storage.database import (
    Database,
    RecoveryCode,
    RecoveryFailures,
    User,
    get_user,
    record_event,
)
from facevoice.storage.lockout import (
    LockoutPolicy,
    LockoutState,
    lockout_state,
    reserve_attempt,
    reset_failures,
)

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford's base32
SYMBOLS_PER_CODE = 13  # 13 × 5 = 65 bits
GROUP = 4  # symbols between dashes
CODES_PER_SET = 10
SALT_BYTES = 16
# scrypt's cost: 16 MiB and a few tens of milliseconds per hash.
SCRYPT_N, SCRYPT_R, SCRYPT_P, HASH_BYTES = 2**14, 8, 1, 32
SCRYPT_MAXMEM = 64 * 1024 * 1024
TYPED_AS = str.maketrans({"O": "0", "I": "1", "L": "1"})  # Crockford's reading of look-alikes
MAX_TYPED_CHARS = 64  # longer input is no code: refuse without hashing it
FACTORS = (RECOVERY_CODE,)


def new_code() -> str:
    """A fresh random code, grouped for typing: ``XXXX-XXXX-XXXX-X``."""
    return grouped("".join(secrets.choice(ALPHABET) for _ in range(SYMBOLS_PER_CODE)))


def grouped(symbols: str) -> str:
    """Symbols with a dash after every ``GROUP`` of them."""
    return "-".join(symbols[i : i + GROUP] for i in range(0, len(symbols), GROUP))


def normalise(typed: object) -> str | None:
    """The 13 symbols a person meant, or None if the text cannot be a code."""
    if not isinstance(typed, str) or len(typed) > MAX_TYPED_CHARS:
        return None
    symbols = "".join(typed.split()).replace("-", "").upper().translate(TYPED_AS)
    if len(symbols) != SYMBOLS_PER_CODE or any(symbol not in ALPHABET for symbol in symbols):
        return None
    return symbols


def code_hash(symbols: str, salt: bytes) -> str:
    """The stored form of a normalised code: scrypt with the salt, in hex."""
    digest = hashlib.scrypt(
        symbols.encode("ascii"),
        salt=salt,
        n=SCRYPT_N,
        r=SCRYPT_R,
        p=SCRYPT_P,
        maxmem=SCRYPT_MAXMEM,
        dklen=HASH_BYTES,
    )
    return digest.hex()


def new_set() -> tuple[list[str], list[RecoveryCode]]:
    """Ten distinct new codes, and their rows (hashes only) not yet given a user."""
    codes: list[str] = []
    while len(codes) < CODES_PER_SET:
        code = new_code()
        if code not in codes:
            codes.append(code)
    salt = secrets.token_bytes(SALT_BYTES)
    rows = [
        RecoveryCode(salt=salt.hex(), code_hash=code_hash(normalise(code) or "", salt))
        for code in codes
    ]
    return codes, rows


class RecoveryCodes:
    """Issuing, counting and using a user's recovery codes."""

    def __init__(self, database: Database, lockout: LockoutPolicy) -> None:
        self.database = database
        self.lockout = lockout

    def replace(self, user: User, client_ip: str) -> list[str]:
        """A new set for ``user``; the old set stops working in the same transaction."""
        codes, rows = new_set()
        with self.database.session() as session:
            session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
            for row in rows:
                row.user_id = user.id
                session.add(row)
            record_event(
                self.database,
                "account",
                user.username,
                client_ip,
                "new_recovery_codes",
                session=session,
            )
        return codes

    def remaining(self, user: User) -> int:
        """How many unused codes the user has."""
        with self.database.session() as session:
            count = session.scalar(
                select(func.count())
                .select_from(RecoveryCode)
                .where(RecoveryCode.user_id == user.id)
            )
            return int(count or 0)

    def log_in(
        self, username: str, typed: object, client_ip: str, proven: Sequence[str] = ()
    ) -> User | None:
        """The user if ``typed`` is one of their unused codes (then used up), else None.

        Its own lockout counter (``RecoveryFailures``), with the biometric log-in's rules:
        locked-out names raise ``AccountLocked`` or ``AccountDisabled``; otherwise the try
        is reserved before any check. A wrong code, a used one and an unknown user all end
        the same way, after the same work. An account with a passkey must have proved it in
        this session (``proven``) first. Every decision goes to the audit log.
        """
        self._refuse_if_locked(
            lockout_state(self.database, username, self.lockout, counter=RecoveryFailures),
            username,
            client_ip,
        )
        self._refuse_if_locked(
            reserve_attempt(self.database, username, self.lockout, counter=RecoveryFailures),
            username,
            client_ip,
        )
        with self.database.session() as session:
            user = get_user(session, username)
            if user is None:
                _burn_one_hash()
                outcome = "unknown_user"
            elif not self._passkey_done(user, proven):
                outcome = "passkey_required"
            elif _use_code(session, user, typed):
                outcome = "accepted"
            else:
                outcome = "refused"
            tried = [*(name for name in proven if name == PASSKEY), RECOVERY_CODE]
            record_event(
                self.database,
                "log_in",
                username,
                client_ip,
                outcome,
                session=session,
                factors=tried,
            )
        if outcome != "accepted":
            return None
        reset_failures(self.database, username, counter=RecoveryFailures)
        return user

    def _passkey_done(self, user: User, proven: Sequence[str]) -> bool:
        """The policy's word on whether the code may be tried (the passkey comes first)."""
        has_passkey = passkey.has_passkey(self.database, user)
        return decide([*proven, RECOVERY_CODE], has_passkey).accepted

    def _refuse_if_locked(self, state: LockoutState, username: str, client_ip: str) -> None:
        refuse_if_locked(self.database, state, username, client_ip, FACTORS)


def _use_code(session: Session, user: User, typed: object) -> bool:
    """Whether ``typed`` is an unused code of ``user``; if so its row is deleted.

    The delete must remove the row: of two tries with one code at once, only one wins.
    """
    symbols = normalise(typed)
    rows = list(session.scalars(select(RecoveryCode).where(RecoveryCode.user_id == user.id)))
    if symbols is None or not rows:
        _burn_one_hash()
        return False
    hashes: dict[str, str] = {}
    for row in rows:
        if row.salt not in hashes:
            hashes[row.salt] = code_hash(symbols, bytes.fromhex(row.salt))
        if hmac.compare_digest(hashes[row.salt], row.code_hash):
            deleted = session.execute(delete(RecoveryCode).where(RecoveryCode.id == row.id))
            return bool(deleted.rowcount)
    return False


def _burn_one_hash() -> None:
    """The work of checking a code, for tries that need none: they take as long as a wrong code."""
    code_hash("0" * SYMBOLS_PER_CODE, secrets.token_bytes(SALT_BYTES))
