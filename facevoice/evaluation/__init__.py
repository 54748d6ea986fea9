"""Measuring facevoice on labelled photos and recordings: error rates, DET plots, thresholds.

Everything here embeds and decides with the functions the server uses; nothing imports Flask.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

MAX_LISTED = 5


class EvaluationError(Exception):
    """Input an evaluation cannot use (missing file, malformed CSV or JSON); says what to fix."""


def require_files(paths: Sequence[Path], kind: str) -> None:
    """Raise ``EvaluationError`` naming the files of ``paths`` that do not exist."""
    missing = sorted({str(p) for p in paths if not p.is_file()})
    if missing:
        listed = ", ".join(missing[:MAX_LISTED]) + (" …" if len(missing) > MAX_LISTED else "")
        total = len(set(paths))
        raise EvaluationError(f"missing {kind}: {listed} ({len(missing)} of {total})")


Progress = Callable[[Sequence[Any], str], Iterable[Any]]
"""Wraps a sequence being worked through with a label, e.g. to show a progress bar."""


def quietly(items: Sequence[Any], label: str) -> Iterable[Any]:
    """A ``Progress`` that shows nothing."""
    return items
