"""Error rates of a verifier from its genuine and impostor scores.

Two score kinds exist: face *distances* (a trial is accepted when distance <= threshold) and
voice *similarities* (accepted when similarity >= threshold). Internally both become match
scores where higher means more alike (a distance is negated), accepted when score >= t.

The thresholds considered are the observed scores: any threshold between two neighbouring
observed scores makes the same decisions as one of them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

TARGET_FARS = (0.01, 0.001, 0.0001)
# Rule of three: with no false accept in n independent trials, the FAR is below 3/n at 95 %
# confidence; fewer impostor trials than 3/target cannot show a FAR of target.
RULE_OF_THREE = 3.0


@dataclass(frozen=True)
class Scores:
    """Scores of genuine and impostor trials, and which way a trial is accepted."""

    genuine: np.ndarray
    impostor: np.ndarray
    higher_accepts: bool

    @classmethod
    def distances(cls, genuine: list[float], impostor: list[float]) -> Scores:
        """Distances: a trial is accepted when its distance is at most the threshold."""
        return cls(_array(genuine), _array(impostor), higher_accepts=False)

    @classmethod
    def similarities(cls, genuine: list[float], impostor: list[float]) -> Scores:
        """Similarities: a trial is accepted when its similarity is at least the threshold."""
        return cls(_array(genuine), _array(impostor), higher_accepts=True)

    def match(self, values: np.ndarray | float) -> np.ndarray:
        """Scores or thresholds turned into match scores (higher = more alike)."""
        values = np.asarray(values, dtype=np.float64)
        return values if self.higher_accepts else -values

    def unmatch(self, value: float) -> float:
        """A match-score threshold turned back into this kind of score."""
        return float(value if self.higher_accepts else -value)

    def pooled(self, other: Scores) -> Scores:
        """The trials of both score sets together (same kind of score)."""
        if other.higher_accepts != self.higher_accepts:
            raise ValueError("cannot pool distances with similarities")
        return Scores(
            np.concatenate([self.genuine, other.genuine]),
            np.concatenate([self.impostor, other.impostor]),
            self.higher_accepts,
        )


@dataclass(frozen=True)
class OperatingPoint:
    """A threshold with the error rates it gives on the trials."""

    threshold: float
    far: float
    frr: float

    def as_dict(self) -> dict[str, float]:
        """The point as JSON-ready values."""
        return {"threshold": self.threshold, "far": self.far, "frr": self.frr}


def _array(values: list[float] | np.ndarray) -> np.ndarray:
    return np.sort(np.asarray(values, dtype=np.float64).reshape(-1))


def _require_both(scores: Scores) -> None:
    if scores.genuine.size == 0 or scores.impostor.size == 0:
        raise ValueError("error rates need at least one genuine and one impostor trial")


def false_accepts(scores: Scores, threshold: float) -> int:
    """How many impostor trials the threshold accepts."""
    return int(np.count_nonzero(scores.match(scores.impostor) >= scores.match(threshold)))


def false_rejects(scores: Scores, threshold: float) -> int:
    """How many genuine trials the threshold rejects."""
    return int(np.count_nonzero(scores.match(scores.genuine) < scores.match(threshold)))


def far_frr(scores: Scores, threshold: float) -> tuple[float, float]:
    """False accept rate (impostors accepted) and false reject rate (genuine rejected)."""
    _require_both(scores)
    far = false_accepts(scores, threshold) / scores.impostor.size
    frr = false_rejects(scores, threshold) / scores.genuine.size
    return far, frr


def accuracy(scores: Scores, threshold: float) -> float:
    """Share of all trials decided right: genuine accepted and impostors rejected."""
    _require_both(scores)
    wrong = false_accepts(scores, threshold) + false_rejects(scores, threshold)
    return 1.0 - wrong / (scores.genuine.size + scores.impostor.size)


def operating_curve(scores: Scores) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Match-score thresholds from strictest to most lenient, with their FAR and FRR.

    The first threshold rejects everything (FAR 0, FRR 1); the others are the observed scores.
    """
    _require_both(scores)
    genuine = np.sort(scores.match(scores.genuine))
    impostor = np.sort(scores.match(scores.impostor))
    observed = np.unique(np.concatenate([genuine, impostor]))[::-1]
    thresholds = np.concatenate([[np.nextafter(observed[0], np.inf)], observed])
    accepted = impostor.size - np.searchsorted(impostor, thresholds, side="left")
    rejected = np.searchsorted(genuine, thresholds, side="left")
    return thresholds, accepted / impostor.size, rejected / genuine.size


def equal_error_rate(scores: Scores) -> OperatingPoint:
    """The EER: at the strictest threshold where FAR and FRR are closest, their mean."""
    thresholds, far, frr = operating_curve(scores)
    best = int(np.argmin(np.abs(far - frr)))
    rate = float((far[best] + frr[best]) / 2)
    return OperatingPoint(scores.unmatch(thresholds[best]), rate, rate)


def roc_auc(scores: Scores) -> float:
    """Area under the ROC curve: P(a genuine trial scores better than an impostor), ties 1/2."""
    _require_both(scores)
    impostor = np.sort(scores.match(scores.impostor))
    genuine = scores.match(scores.genuine)
    below = np.searchsorted(impostor, genuine, side="left")
    tied = np.searchsorted(impostor, genuine, side="right") - below
    wins = float(np.sum(below) + 0.5 * np.sum(tied))
    return wins / (genuine.size * impostor.size)


def min_impostor_trials(target_far: float) -> int:
    """Fewest impostor trials that can show a FAR of ``target_far`` (rule of three)."""
    return math.ceil(RULE_OF_THREE / target_far - 1e-9)


def lowest_measurable_far(impostor_trials: int) -> float | None:
    """The smallest target FAR that this many impostor trials can show (rule of three)."""
    return RULE_OF_THREE / impostor_trials if impostor_trials else None


def threshold_at_far(scores: Scores, target_far: float) -> OperatingPoint | None:
    """The most lenient threshold whose FAR is at most ``target_far``, with its FRR.

    None when there are too few impostor trials to show that FAR (see ``min_impostor_trials``).
    """
    if scores.impostor.size < min_impostor_trials(target_far):
        return None
    thresholds, far, frr = operating_curve(scores)
    allowed = math.floor(target_far * scores.impostor.size + 1e-9) / scores.impostor.size
    best = int(np.flatnonzero(far <= allowed)[-1])
    return OperatingPoint(scores.unmatch(thresholds[best]), float(far[best]), float(frr[best]))


@dataclass(frozen=True)
class Summary:
    """Every figure of an evaluation report at one threshold."""

    threshold: float
    accuracy: float
    far: float
    frr: float
    eer: OperatingPoint
    auc: float
    at_far: dict[float, OperatingPoint | None]

    def as_dict(self) -> dict[str, object]:
        """The figures under the report's JSON keys."""
        return {
            "threshold": self.threshold,
            "accuracy": self.accuracy,
            "far": self.far,
            "frr": self.frr,
            "eer": self.eer.far,
            "eer_threshold": self.eer.threshold,
            "auc": self.auc,
            "thresholds_at_far": {
                str(target): point.as_dict() if point else None
                for target, point in self.at_far.items()
            },
        }


def summarise(scores: Scores, threshold: float) -> Summary:
    """Accuracy, FAR and FRR at ``threshold``, EER, ROC AUC and thresholds at TARGET_FARS."""
    far, frr = far_frr(scores, threshold)
    return Summary(
        threshold=threshold,
        accuracy=accuracy(scores, threshold),
        far=far,
        frr=frr,
        eer=equal_error_rate(scores),
        auc=roc_auc(scores),
        at_far={target: threshold_at_far(scores, target) for target in TARGET_FARS},
    )
