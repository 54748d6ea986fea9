"""Log-in challenges issued to a session: each part used once, within its lifetime.

A challenge is kept server-side, like an attempt (in ``tmp/`` or Redis), under a random id
that the web layer keeps in the session. Its parts (the digits to say, the side to turn to)
are separate blobs, so taking one is an atomic pop: a challenge answered twice, or raced by
two requests, counts once.
"""

from __future__ import annotations

import contextlib
import json
import secrets
import time

from facevoice.errors import ChallengeMissing
from facevoice.storage.attempts import AttemptBlobs

VOICE = "voice"
FACE = "face"
EXPIRES = "expires.json"


class ChallengeStore:
    """Issues and takes log-in challenges."""

    def __init__(self, blobs: AttemptBlobs, lifetime_seconds: float) -> None:
        self.blobs = blobs
        self.lifetime_seconds = lifetime_seconds

    def issue(self, parts: dict[str, str], previous_id: str | None = None) -> str:
        """Store a new challenge (part name → value); the previous one of the session ends."""
        if previous_id:
            self.discard(previous_id)
        challenge_id = secrets.token_hex(16)
        expires = time.time() + self.lifetime_seconds
        self.blobs.put(challenge_id, EXPIRES, json.dumps(expires).encode())
        for part, value in parts.items():
            self.blobs.put(challenge_id, part, value.encode())
        return challenge_id

    def take(self, challenge_id: str | None, part: str) -> str:
        """The value of one part, which can never be taken again.

        ``ChallengeMissing`` when there is none: never issued, taken already, or expired.
        """
        if not challenge_id:
            raise ChallengeMissing()
        try:
            value = self.blobs.pop(challenge_id, part)
            expires = self.blobs.get(challenge_id, EXPIRES)
        except ValueError:  # not an id we issue
            raise ChallengeMissing() from None
        if value is None or expires is None:
            raise ChallengeMissing()
        if time.time() > json.loads(expires):
            self.discard(challenge_id)
            raise ChallengeMissing(
                "The challenge expired (they last 2 minutes). Ask for a new one and try again."
            )
        return value.decode()

    def discard(self, challenge_id: str) -> None:
        """Forget a challenge and whatever is left of it."""
        with contextlib.suppress(ValueError):  # not an id we issue: nothing to forget
            self.blobs.drop(challenge_id)
