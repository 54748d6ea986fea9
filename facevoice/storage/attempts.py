"""Sign-ups and log-ins in progress.

An attempt belongs to one client session (the web layer keeps its id in the session), one
username and one flow. Raw photos and recordings are decoded in memory within the request
that brought them and never written to disk; what the attempt keeps between requests is
sealed embeddings, in ``tmp/<attempt-id>/`` by default or in Redis when several machines
must share them.
"""

from __future__ import annotations

import json
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from facevoice.storage.folders import ATTEMPT_ID, get_upload_folder, remove_folder
from facevoice.storage.templates import (
    PENDING_BURST,
    PENDING_FACE,
    PENDING_VOICE,
    TemplateCipher,
    TemplateKeyError,
)

SIGN_UP = "sign_up"
LOG_IN = "log_in"
FLOWS = (SIGN_UP, LOG_IN)
STATE = "attempt.json"
FACE = "face.bin"
BURST = "burst.bin"
PASSKEY = "passkey.json"
VOICE_PREFIX = "voice-"


def username_key(username: str) -> str:
    """The form under which a name is unique: ``Alice`` and ``alice`` are one account."""
    return username.lower()


class AttemptBlobs(Protocol):
    """Where attempts keep their small named blobs between requests."""

    def put(self, attempt_id: str, name: str, data: bytes) -> None:
        """Store (or replace) one blob and keep the attempt alive."""

    def get(self, attempt_id: str, name: str) -> bytes | None:
        """One blob, or None if the attempt or blob is gone or expired."""

    def names(self, attempt_id: str) -> list[str]:
        """The names of the attempt's blobs."""

    def remove(self, attempt_id: str, name: str) -> None:
        """Delete one blob."""

    def pop(self, attempt_id: str, name: str) -> bytes | None:
        """Read and delete one blob at once: of two concurrent pops, only one gets it."""

    def drop(self, attempt_id: str) -> None:
        """Delete the attempt and everything in it."""


class FolderBlobs:
    """Blobs as files in ``tmp/<attempt-id>/``; the folder's age is the attempt's age."""

    def __init__(self, tmp_dir: str | Path, timeout_seconds: float) -> None:
        self.tmp_dir = Path(tmp_dir)
        self.timeout_seconds = timeout_seconds

    def put(self, attempt_id: str, name: str, data: bytes) -> None:
        """Write one blob atomically and mark the attempt as active."""
        folder = get_upload_folder(self.tmp_dir, attempt_id)
        write_atomically(folder / name, data)
        os.utime(folder)

    def get(self, attempt_id: str, name: str) -> bytes | None:
        """Read one blob of a live attempt."""
        folder = get_upload_folder(self.tmp_dir, attempt_id, create=False)
        try:
            if time.time() - folder.stat().st_mtime > self.timeout_seconds:
                remove_folder(folder)
                return None
            return (folder / name).read_bytes()
        except (FileNotFoundError, NotADirectoryError):
            return None

    def names(self, attempt_id: str) -> list[str]:
        """Names of the blob files (not partial writes, nor raw samples of older versions)."""
        folder = get_upload_folder(self.tmp_dir, attempt_id, create=False)
        try:
            return [p.name for p in folder.iterdir() if p.suffix in {".bin", ".json"}]
        except (FileNotFoundError, NotADirectoryError):
            return []

    def remove(self, attempt_id: str, name: str) -> None:
        """Delete one blob file."""
        (get_upload_folder(self.tmp_dir, attempt_id, create=False) / name).unlink(missing_ok=True)

    def pop(self, attempt_id: str, name: str) -> bytes | None:
        """Claim the file by an atomic rename, then read and delete it."""
        folder = get_upload_folder(self.tmp_dir, attempt_id, create=False)
        claimed = folder / f"{name}.{secrets.token_hex(4)}.claimed"
        try:
            os.rename(folder / name, claimed)
        except (FileNotFoundError, NotADirectoryError):
            return None
        try:
            return claimed.read_bytes()
        finally:
            claimed.unlink(missing_ok=True)

    def drop(self, attempt_id: str) -> None:
        """Delete the attempt's folder."""
        remove_folder(get_upload_folder(self.tmp_dir, attempt_id, create=False))


def is_redis_url(url: str) -> bool:
    """Whether a storage URL names a Redis server (TCP, TLS or a Unix socket)."""
    return url.startswith(("redis://", "rediss://", "unix://"))


def redis_options(timeout_seconds: float) -> dict[str, Any]:
    """Redis client options that bound every call by ``timeout_seconds``.

    redis-py retries a failed call 10 times by default (15 s on a frozen server); we retry
    once, and only a broken connection (as after a restart), never a timeout.
    """
    import redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    return {
        "socket_connect_timeout": timeout_seconds,
        "socket_timeout": timeout_seconds,
        "retry": Retry(NoBackoff(), 1, supported_errors=(redis.ConnectionError,)),
    }


class RedisBlobs:
    """Blobs in one Redis hash per attempt, expiring ``timeout_seconds`` after last use."""

    def __init__(self, url: str, timeout_seconds: float, call_timeout_seconds: float) -> None:
        import redis

        self.client = redis.Redis.from_url(url, **redis_options(call_timeout_seconds))
        self.timeout_seconds = int(timeout_seconds)

    def _key(self, attempt_id: str) -> str:
        if not ATTEMPT_ID.fullmatch(attempt_id):
            raise ValueError(f"invalid attempt id {attempt_id!r}")
        return f"facevoice:attempt:{attempt_id}"

    def put(self, attempt_id: str, name: str, data: bytes) -> None:
        """Store one blob and renew the attempt's expiry."""
        key = self._key(attempt_id)
        with self.client.pipeline() as pipe:
            pipe.hset(key, name, data)
            pipe.expire(key, self.timeout_seconds)
            pipe.execute()

    def get(self, attempt_id: str, name: str) -> bytes | None:
        """One blob of a live attempt."""
        value = self.client.hget(self._key(attempt_id), name)
        return bytes(value) if value is not None else None  # type: ignore[arg-type]

    def names(self, attempt_id: str) -> list[str]:
        """Names of the attempt's blobs."""
        return [n.decode() for n in self.client.hkeys(self._key(attempt_id))]  # type: ignore[union-attr]

    def remove(self, attempt_id: str, name: str) -> None:
        """Delete one blob."""
        self.client.hdel(self._key(attempt_id), name)

    def pop(self, attempt_id: str, name: str) -> bytes | None:
        """Read and delete one blob in one transaction."""
        key = self._key(attempt_id)
        with self.client.pipeline() as pipe:  # MULTI/EXEC: atomic
            pipe.hget(key, name)
            pipe.hdel(key, name)
            value, _ = pipe.execute()
        return bytes(value) if value is not None else None

    def drop(self, attempt_id: str) -> None:
        """Delete the attempt."""
        self.client.delete(self._key(attempt_id))

    def ping(self) -> bool:
        """Whether Redis answers."""
        return bool(self.client.ping())


@dataclass(frozen=True)
class Attempt:
    """One pending sign-up or log-in and the embeddings it has collected so far."""

    id: str
    username: str
    flow: str
    max_phrases: int
    cipher: TemplateCipher
    blobs: AttemptBlobs
    scratch: Path

    def belongs_to(self, username: str, flow: str) -> bool:
        """Whether this attempt is the one of ``username`` in ``flow``."""
        return self.flow == flow and username_key(self.username) == username_key(username)

    def save_passkey(self, registration: str) -> None:
        """Keep a verified new passkey (JSON) until the sign-up creates the account."""
        self.blobs.put(self.id, PASSKEY, registration.encode())

    def passkey(self) -> str | None:
        """The verified new passkey of a sign-up (JSON), if one was added."""
        data = self.blobs.get(self.id, PASSKEY)
        return data.decode() if data is not None else None

    def save_face(self, embedding: np.ndarray) -> None:
        """Keep the face embedding, replacing an earlier one (and any earlier burst)."""
        self._save(FACE, embedding, PENDING_FACE)
        self.blobs.remove(self.id, BURST)

    def face(self) -> np.ndarray | None:
        """The face embedding, if a photo was taken."""
        return self._load(FACE, PENDING_FACE)

    def save_burst(self, embeddings: list[np.ndarray]) -> None:
        """Keep the embeddings of a head-turn burst's turned faces (its peak), for the log-in."""
        if embeddings:
            self._save(BURST, np.stack(embeddings), PENDING_BURST)
        else:
            self.blobs.remove(self.id, BURST)

    def burst(self) -> list[np.ndarray]:
        """The turned faces of the head-turn burst, if the photo was one."""
        flat = self._load(BURST, PENDING_BURST)
        return [] if flat is None else list(flat.reshape(-1, self._face_size()))

    def _face_size(self) -> int:
        face = self.face()
        return face.size if face is not None else 128

    def save_voice(self, embedding: np.ndarray, phrase: int | None = None) -> int:
        """Keep a phrase embedding; return how many phrases the attempt now has.

        ``phrase`` (1-based, in recording order) replaces that phrase, for a retake. Without
        it a sign-up adds a phrase, dropping the oldest beyond ``max_phrases``; a log-in
        keeps one.
        """
        limit = self.max_phrases if self.flow == SIGN_UP else 1
        numbers = self._phrase_numbers()
        if phrase is not None:
            if not 1 <= phrase <= limit:
                raise ValueError(f"phrase must be between 1 and {limit}")
            if phrase <= len(numbers):
                self._save(_voice_name(numbers[phrase - 1]), embedding, PENDING_VOICE)
                return len(numbers)
        numbers.append((numbers[-1] + 1) if numbers else 1)
        self._save(_voice_name(numbers[-1]), embedding, PENDING_VOICE)
        for dropped in numbers[:-limit]:
            self.blobs.remove(self.id, _voice_name(dropped))
        return min(len(numbers), limit)

    def voices(self) -> list[np.ndarray]:
        """The phrase embeddings collected so far, in recording order."""
        arrays = (self._load(_voice_name(n), PENDING_VOICE) for n in self._phrase_numbers())
        return [array for array in arrays if array is not None]

    def _phrase_numbers(self) -> list[int]:
        names = self.blobs.names(self.id)
        return sorted(int(n[len(VOICE_PREFIX) : -4]) for n in names if n.startswith(VOICE_PREFIX))

    def _save(self, name: str, embedding: np.ndarray, kind: str) -> None:
        # Pending embeddings are biometric data too: sealed like the stored templates.
        self.blobs.put(self.id, name, self.cipher.seal(embedding, self.id, kind))

    def _load(self, name: str, kind: str) -> np.ndarray | None:
        blob = self.blobs.get(self.id, name)
        if blob is None:
            return None
        try:
            return self.cipher.open(blob, self.id, kind)
        except TemplateKeyError:
            return None


class AttemptStore:
    """Creates, finds and ends attempts."""

    def __init__(
        self,
        tmp_dir: str | Path,
        max_phrases: int,
        timeout_seconds: float,
        cipher: TemplateCipher,
        blobs: AttemptBlobs | None = None,
    ) -> None:
        self.tmp_dir = Path(tmp_dir)
        self.max_phrases = max_phrases
        self.timeout_seconds = timeout_seconds
        self.cipher = cipher
        self.blobs = blobs or FolderBlobs(tmp_dir, timeout_seconds)

    def find(self, attempt_id: str | None) -> Attempt | None:
        """The live attempt with this id, or None if it is unknown, ended or expired."""
        if not attempt_id or not ATTEMPT_ID.fullmatch(attempt_id):
            return None
        raw = self.blobs.get(attempt_id, STATE)
        if raw is None:
            return None
        try:
            state = json.loads(raw)
        except json.JSONDecodeError:
            return None
        return self._attempt(attempt_id, state["username"], state["flow"])

    def begin(self, attempt_id: str | None, username: str, flow: str) -> Attempt:
        """The attempt of ``username`` in ``flow``: the current one, or a new one.

        A client that switches to another username or flow abandons its earlier attempt.
        """
        if flow not in FLOWS:
            raise ValueError(f"unknown flow {flow!r}")
        current = self.find(attempt_id)
        if current is not None:
            if current.belongs_to(username, flow):
                return current
            self.end(current)
        new_id = secrets.token_hex(16)
        state = {"username": username, "flow": flow, "created": time.time()}
        self.blobs.put(new_id, STATE, json.dumps(state).encode())
        return self._attempt(new_id, username, flow)

    def end(self, attempt: Attempt) -> None:
        """Delete the attempt and everything it holds."""
        self.blobs.drop(attempt.id)
        remove_folder(attempt.scratch)

    def _attempt(self, attempt_id: str, username: str, flow: str) -> Attempt:
        scratch = get_upload_folder(self.tmp_dir, attempt_id, create=False)
        return Attempt(
            attempt_id, username, flow, self.max_phrases, self.cipher, self.blobs, scratch
        )


def attempt_blobs(
    url: str, tmp_dir: str | Path, timeout_seconds: float, call_timeout_seconds: float = 2.0
) -> AttemptBlobs:
    """The store for pending attempts: ``redis://...`` or, when empty, the local ``tmp/``.

    Attempts expire ``timeout_seconds`` after last use; one Redis call waits at most
    ``call_timeout_seconds``.
    """
    if is_redis_url(url):
        return RedisBlobs(url, timeout_seconds, call_timeout_seconds)
    if url:
        raise ValueError(f"unsupported attempt store {url!r}: use redis://host:port/db")
    return FolderBlobs(tmp_dir, timeout_seconds)


def write_atomically(path: Path, data: bytes) -> None:
    """Write a file readable only by its owner, all at once (readers never see half)."""
    partial = path.with_name(path.name + ".part")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    os.replace(partial, path)


def _voice_name(number: int) -> str:
    return f"{VOICE_PREFIX}{number}.bin"
