"""The data folder: ``db/`` for registered users, ``tmp/`` for attempts in progress."""

from __future__ import annotations

import logging
import os
import re
import secrets
import shutil
import time
from contextlib import suppress
from pathlib import Path

log = logging.getLogger(__name__)

ATTEMPT_ID = re.compile(r"^[0-9a-f]{32}$")
# Files a request writes and deletes itself, left behind only when its process died: raw
# samples of versions before photos and recordings were decoded in memory, and half-done
# writes (``.part``) or claims (``.claimed``) of attempt blobs.
STRAY_NAMES = frozenset({"img.png"})
STRAY_SUFFIXES = frozenset({".wav", ".part", ".claimed"})


def create_file_once(path: Path, text: str) -> bool:
    """Create ``path`` (owner-only) holding ``text`` unless it exists; True if this call made it.

    The text is written to a private file first and linked into place, so a process racing
    this one finds either no file or the whole text, never an empty or half-written one.
    """
    partial = path.with_name(f".{path.name}.{secrets.token_hex(8)}")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as out:
            out.write(text)
        os.link(partial, path)
    except FileExistsError:
        return False
    finally:
        partial.unlink(missing_ok=True)
    return True


def make_dirs(data_dir: str | Path) -> tuple[Path, Path]:
    """Create ``db/`` and ``tmp/`` under the data folder (owner-only) and return both."""
    root = Path(data_dir)
    db_dir, tmp_dir = root / "db", root / "tmp"
    for folder in (root, db_dir, tmp_dir):
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    return db_dir, tmp_dir


def get_upload_folder(tmp_dir: str | Path, attempt_id: str, create: bool = True) -> Path:
    """The folder of one attempt in ``tmp/``; the id is checked so no path escapes ``tmp/``."""
    if not ATTEMPT_ID.fullmatch(attempt_id):
        raise ValueError(f"invalid attempt id {attempt_id!r}")
    folder = Path(tmp_dir) / attempt_id
    if create:
        folder.mkdir(mode=0o700, exist_ok=True)
    return folder


def remove_folder(folder: Path) -> None:
    """Delete a folder and everything in it, if it exists."""
    shutil.rmtree(folder, ignore_errors=True)


def sweep_expired(tmp_dir: str | Path, max_age_seconds: float, now: float | None = None) -> int:
    """Delete attempt folders untouched for ``max_age_seconds``; return how many went."""
    now = time.time() if now is None else now
    removed = 0
    for folder in Path(tmp_dir).iterdir():
        try:
            age = now - folder.stat().st_mtime
        except FileNotFoundError:
            continue
        if age > max_age_seconds:
            if folder.is_dir():
                remove_folder(folder)
            else:
                folder.unlink(missing_ok=True)
            removed += 1
    if removed:
        log.info("swept %d expired attempt(s) from %s", removed, tmp_dir)
    return removed


def is_stray_file(path: Path) -> bool:
    """Whether a file in an attempt folder is one a dead request left behind."""
    return path.name in STRAY_NAMES or path.suffix in STRAY_SUFFIXES


def sweep_stray_files(tmp_dir: str | Path, max_age_seconds: float, now: float | None = None) -> int:
    """Delete raw samples and partial writes older than ``max_age_seconds`` (the longest a
    request may run) from the attempt folders; return how many went.

    The attempt's own age (its folder's time) is kept, so sweeping does not prolong it.
    """
    now = time.time() if now is None else now
    removed = 0
    for folder in Path(tmp_dir).iterdir():
        try:
            if not folder.is_dir():
                continue
            times = folder.stat()
            stale = [
                p
                for p in folder.iterdir()
                if is_stray_file(p) and now - p.stat().st_mtime > max_age_seconds
            ]
        except FileNotFoundError:
            continue
        for path in stale:
            path.unlink(missing_ok=True)
        if stale:
            removed += len(stale)
            with suppress(OSError):
                os.utime(folder, ns=(times.st_atime_ns, times.st_mtime_ns))
    if removed:
        log.info("swept %d stray sample file(s) from %s", removed, tmp_dir)
    return removed
