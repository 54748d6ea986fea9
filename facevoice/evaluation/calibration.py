"""Recommending face and voice thresholds for a target false accept rate, fitting each
score's log-likelihood ratio (``fit_llr``), and saving them."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from facevoice.config import ENV_PREFIX
from facevoice.evaluation.metrics import (
    OperatingPoint,
    Scores,
    far_frr,
    lowest_measurable_far,
    min_impostor_trials,
    threshold_at_far,
)

DEFAULT_TARGET_FAR = 1e-4  # NIST SP 800-63B-4's bar for a biometric comparison
DECIMALS = 3
SETTINGS = {"face": "face_max_fused_distance", "voice": "voice_min_similarity"}
LLR_SETTINGS = {
    "face": ("face_llr_offset", "face_llr_per_distance"),
    "voice": ("voice_llr_offset", "voice_llr_per_similarity"),
}
LLR_DECIMALS = 2
NEWTON_STEPS = 100


@dataclass(frozen=True)
class Recommendation:
    """A threshold for one modality at a target FAR, or None when the trials cannot show it."""

    target_far: float
    higher_accepts: bool
    genuine: int
    impostor: int
    point: OperatingPoint | None

    def as_dict(self) -> dict[str, object]:
        """JSON-ready values; threshold, far and frr are null when not supported."""
        unsupported = {"threshold": None, "far": None, "frr": None}
        return {
            **(self.point.as_dict() if self.point else unsupported),
            "genuine": self.genuine,
            "impostor": self.impostor,
            "supported": self.point is not None,
            "needed_impostor": min_impostor_trials(self.target_far),
            "lowest_measurable_far": lowest_measurable_far(self.impostor),
        }


def stricter_round(threshold: float, higher_accepts: bool, decimals: int = DECIMALS) -> float:
    """Round a threshold to ``decimals`` in the direction that accepts no more trials."""
    factor = 10**decimals
    if higher_accepts:
        return math.ceil(threshold * factor - 1e-9) / factor
    return math.floor(threshold * factor + 1e-9) / factor


def recommend(scores: Scores, target_far: float) -> Recommendation:
    """The most lenient threshold with FAR <= target, rounded stricter, with its FAR and FRR."""
    genuine, impostor = int(scores.genuine.size), int(scores.impostor.size)
    point = threshold_at_far(scores, target_far)
    if point is None:
        return Recommendation(target_far, scores.higher_accepts, genuine, impostor, None)
    threshold = stricter_round(point.threshold, scores.higher_accepts)
    far, frr = far_frr(scores, threshold)
    point = OperatingPoint(threshold, far, frr)
    return Recommendation(target_far, scores.higher_accepts, genuine, impostor, point)


def env_name(modality: str) -> str:
    """The environment variable of a modality's threshold, e.g. FACEVOICE_VOICE_MIN_SIMILARITY."""
    return ENV_PREFIX + SETTINGS[modality].upper()


def write_env(path: Path, values: dict[str, str]) -> None:
    """Set ``NAME=value`` lines in an env file, replacing earlier ones and keeping the rest."""
    lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
    pending = dict(values)
    for index, line in enumerate(lines):
        match = re.match(r"\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=", line)
        if match and match.group(1) in values:
            lines[index] = f"{match.group(1)}={values[match.group(1)]}"
            pending.pop(match.group(1), None)
    lines += [f"{name}={value}" for name, value in pending.items()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


@dataclass(frozen=True)
class LlrFit:
    """A score's log-likelihood ratio in nats, ``offset + slope * score``, and its trials."""

    offset: float
    slope: float
    genuine: int
    impostor: int

    def as_dict(self) -> dict[str, float | int]:
        """JSON-ready values."""
        return {
            "offset": self.offset,
            "slope": self.slope,
            "genuine": self.genuine,
            "impostor": self.impostor,
        }


def fit_llr(scores: Scores) -> LlrFit:
    """Platt scaling at equal priors: a logistic regression of genuine on the raw score.

    Each class weighs as much in total as the other, so the fitted log-odds are the
    log-likelihood ratio; Platt's targets, (N+1)/(N+2) for the N genuine trials and
    1/(M+2) for the M impostor ones, keep the slope finite when the classes do not overlap.
    Offset and slope are rounded to two decimals.
    """
    x = np.concatenate([scores.genuine, scores.impostor]).astype(np.float64)
    n, m = scores.genuine.size, scores.impostor.size
    if n == 0 or m == 0:
        raise ValueError("an LLR fit needs genuine and impostor trials")
    target = np.concatenate([np.full(n, (n + 1) / (n + 2)), np.full(m, 1 / (m + 2))])
    weight = np.concatenate([np.full(n, 1 / n), np.full(m, 1 / m)])
    design = np.stack([np.ones_like(x), x], axis=1)
    params = np.zeros(2)
    for _ in range(NEWTON_STEPS):
        p = 1 / (1 + np.exp(-(design @ params)))
        gradient = design.T @ (weight * (p - target))
        hessian = design.T @ (design * (weight * p * (1 - p))[:, None])
        step = np.linalg.solve(hessian, gradient)
        params -= step
        if np.max(np.abs(step)) < 1e-10:
            break
    offset, slope = (round(float(v), LLR_DECIMALS) for v in params)
    return LlrFit(offset, slope, int(n), int(m))


def llr_env(modality: str, fit: LlrFit) -> dict[str, str]:
    """The environment lines of a modality's LLR fit, e.g. FACEVOICE_VOICE_LLR_OFFSET."""
    offset, slope = LLR_SETTINGS[modality]
    return {
        ENV_PREFIX + offset.upper(): f"{fit.offset:g}",
        ENV_PREFIX + slope.upper(): f"{fit.slope:g}",
    }
