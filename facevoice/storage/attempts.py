"""Sign-ups and log-ins in progress: one folder per attempt in ``tmp/``.

An attempt belongs to one client session (the web layer keeps its id in the session), one
username and one flow. It holds only embeddings: raw photos and recordings are written to
the attempt folder, embedded and deleted within the request that brought them.
"""

from __future__ import annotations

import json
import os
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from facevoice.storage.folders import ATTEMPT_ID, get_upload_folder, remove_folder
from facevoice.storage.templates import (
    PENDING_FACE,
    PENDING_VOICE,
    TemplateCipher,
    TemplateKeyError,
)

SIGN_UP = "sign_up"
LOG_IN = "log_in"
FLOWS = (SIGN_UP, LOG_IN)
STATE_FILE = "attempt.json"
FACE_FILE = "face.bin"


def username_key(username: str) -> str:
    """The form under which a name is unique: ``Alice`` and ``alice`` are one account."""
    return username.lower()


@dataclass(frozen=True)
class Attempt:
    """One pending sign-up or log-in and the embeddings it has collected so far."""

    id: str
    folder: Path
    username: str
    flow: str
    max_phrases: int
    cipher: TemplateCipher

    def belongs_to(self, username: str, flow: str) -> bool:
        """Whether this attempt is the one of ``username`` in ``flow``."""
        return self.flow == flow and username_key(self.username) == username_key(username)

    @property
    def photo_path(self) -> Path:
        """Where an uploaded photo waits while it is embedded."""
        return self.folder / "img.png"

    @property
    def recording_path(self) -> Path:
        """Where a recording waits while it is embedded."""
        return self.folder / ("reference.wav" if self.flow == SIGN_UP else "sample.wav")

    def save_face(self, embedding: np.ndarray) -> None:
        """Keep the face embedding, replacing an earlier one."""
        self._save(self.folder / FACE_FILE, embedding, PENDING_FACE)

    def face(self) -> np.ndarray | None:
        """The face embedding, if a photo was taken."""
        return self._load(self.folder / FACE_FILE, PENDING_FACE)

    def save_voice(self, embedding: np.ndarray, phrase: int | None = None) -> int:
        """Keep a phrase embedding; return how many phrases the attempt now has.

        ``phrase`` (1-based) replaces that phrase, for a retake. Without it a sign-up adds a
        phrase, replacing the oldest once ``max_phrases`` are kept; a log-in keeps one.
        """
        limit = self.max_phrases if self.flow == SIGN_UP else 1
        if phrase is None:
            phrase = self._next_phrase(limit)
        if not 1 <= phrase <= limit:
            raise ValueError(f"phrase must be between 1 and {limit}")
        self._save(self._voice_path(phrase), embedding, PENDING_VOICE)
        return len(self._voice_files())

    def voices(self) -> list[np.ndarray]:
        """The phrase embeddings collected so far, in phrase order."""
        arrays = (self._load(path, PENDING_VOICE) for path in self._voice_files())
        return [array for array in arrays if array is not None]

    def touch(self) -> None:
        """Mark the attempt as active, postponing its expiry."""
        os.utime(self.folder)

    def _save(self, path: Path, embedding: np.ndarray, kind: str) -> None:
        # Pending embeddings are biometric data too: sealed like the stored templates.
        _write_atomically(path, self.cipher.seal(embedding, self.id, kind))
        self.touch()

    def _load(self, path: Path, kind: str) -> np.ndarray | None:
        try:
            return self.cipher.open(path.read_bytes(), self.id, kind)
        except (FileNotFoundError, TemplateKeyError):
            return None

    def _voice_path(self, phrase: int) -> Path:
        return self.folder / f"voice-{phrase}.bin"

    def _voice_files(self) -> list[Path]:
        return sorted(self.folder.glob("voice-*.bin"), key=lambda p: int(p.stem.split("-")[1]))

    def _next_phrase(self, limit: int) -> int:
        taken = {int(p.stem.split("-")[1]) for p in self._voice_files()}
        free = [n for n in range(1, limit + 1) if n not in taken]
        if free:
            return free[0]
        oldest = min(self._voice_files(), key=lambda p: p.stat().st_mtime_ns)
        return int(oldest.stem.split("-")[1])


class AttemptStore:
    """Creates, finds and ends attempts under ``tmp/``."""

    def __init__(
        self, tmp_dir: str | Path, max_phrases: int, timeout_seconds: float, cipher: TemplateCipher
    ) -> None:
        self.tmp_dir = Path(tmp_dir)
        self.cipher = cipher
        self.max_phrases = max_phrases
        self.timeout_seconds = timeout_seconds

    def find(self, attempt_id: str | None) -> Attempt | None:
        """The live attempt with this id, or None if it is unknown, ended or expired."""
        if not attempt_id or not ATTEMPT_ID.fullmatch(attempt_id):
            return None
        folder = get_upload_folder(self.tmp_dir, attempt_id, create=False)
        try:
            state = json.loads((folder / STATE_FILE).read_text())
            expired = time.time() - folder.stat().st_mtime > self.timeout_seconds
        except (FileNotFoundError, NotADirectoryError, json.JSONDecodeError):
            return None
        if expired:
            remove_folder(folder)
            return None
        return Attempt(
            attempt_id, folder, state["username"], state["flow"], self.max_phrases, self.cipher
        )

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
        folder = get_upload_folder(self.tmp_dir, new_id)
        _write_atomically(
            folder / STATE_FILE,
            json.dumps({"username": username, "flow": flow, "created": time.time()}).encode(),
        )
        return Attempt(new_id, folder, username, flow, self.max_phrases, self.cipher)

    def end(self, attempt: Attempt) -> None:
        """Delete the attempt and everything it holds."""
        remove_folder(attempt.folder)


@contextmanager
def sample_file(path: Path, data: bytes) -> Iterator[Path]:
    """Write an uploaded sample to ``path`` and delete it on leaving, whatever happened."""
    try:
        _write_atomically(path, data)
        yield path
    finally:
        path.unlink(missing_ok=True)


def _write_atomically(path: Path, data: bytes) -> None:
    partial = path.with_name(path.name + ".part")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    os.replace(partial, path)
