"""The outcome of a face or voice evaluation, as a JSON-ready report and as text."""

from __future__ import annotations

from dataclasses import dataclass, field

from facevoice.evaluation import EvaluationError
from facevoice.evaluation.metrics import (
    OperatingPoint,
    Scores,
    Summary,
    false_accepts,
    false_rejects,
    lowest_measurable_far,
    min_impostor_trials,
    summarise,
)

# How trials with an unusable sample are counted; the server refuses such samples at capture.
EXCLUDED_TRIALS = "trials using them are left out of every rate"
EXCLUDED_SAMPLES = "left out before trials are formed"


@dataclass(frozen=True)
class Evaluation:
    """Scores of the usable trials, and what could not be scored.

    ``trials`` counts every trial considered; ``excluded`` those left out because a sample
    in them is unusable; ``unusable`` maps each unusable file to the reason; ``counting``
    says how trials with unusable samples were counted. ``scores`` are those the server
    decides on; ``models`` holds, for a fused decision, each model's own scores of the same
    trials.
    """

    trials: int
    scores: Scores
    unusable: dict[str, str] = field(default_factory=dict)
    excluded: int = 0
    counting: str = EXCLUDED_TRIALS
    models: dict[str, Scores] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for kind, scores in (("genuine", self.scores.genuine), ("impostor", self.scores.impostor)):
            if scores.size == 0:
                raise EvaluationError(
                    f"no {kind} trial could be scored ({self.trials} trial(s), "
                    f"{len(self.unusable)} unusable file(s)): rates need both kinds"
                )

    def report(
        self, threshold: float, model_thresholds: dict[str, float] | None = None
    ) -> dict[str, object]:
        """The report's JSON object, with the issue's keys in the issue's order.

        The top-level figures describe the server's decision at ``threshold``; with
        ``models``, a ``models`` key gives each model's figures alone, at its threshold in
        ``model_thresholds``.
        """
        report: dict[str, object] = {
            "pairs": self.trials,
            "genuine": int(self.scores.genuine.size),
            "impostor": int(self.scores.impostor.size),
            "no_face": {
                "count": len(self.unusable),
                "files": dict(sorted(self.unusable.items())),
                "trials_excluded": self.excluded,
                "counted": self.counting,
            },
            **summarise(self.scores, threshold).as_dict(),
        }
        if self.models:
            thresholds = model_thresholds or {}
            report["models"] = {
                name: {
                    "genuine": int(scores.genuine.size),
                    "impostor": int(scores.impostor.size),
                    **summarise(scores, thresholds[name]).as_dict(),
                }
                for name, scores in self.models.items()
            }
        return report

    def text(
        self,
        threshold: float,
        unusable_label: str,
        model_thresholds: dict[str, float] | None = None,
    ) -> str:
        """The report as text; ``unusable_label`` names an unusable sample ("no usable face")."""
        summary = summarise(self.scores, threshold)
        lines = [
            f"trials: {self.trials}; scored: {self.scores.genuine.size} genuine, "
            f"{self.scores.impostor.size} impostor",
            f"{unusable_label}: {len(self.unusable)} file(s), {self.excluded} trial(s) "
            f"excluded: {self.counting} (the server refuses such samples at capture)",
        ]
        lines += [f"  {name}: {reason}" for name, reason in sorted(self.unusable.items())]
        lines += _rate_lines(self.scores, summary)
        thresholds = model_thresholds or {}
        for name, scores in self.models.items():
            lines.append(f"{name} alone:")
            model_summary = summarise(scores, thresholds[name])
            lines += [f"  {line}" for line in _rate_lines(scores, model_summary)]
        return "\n".join(lines)


def percent(rate: float) -> str:
    """A rate as a percentage with two decimals."""
    return f"{rate * 100:.2f} %"


def precise_percent(rate: float) -> str:
    """A rate as a percentage with three significant digits."""
    return f"{rate * 100:.3g} %"


def accept_rule(higher_accepts: bool, threshold: float) -> str:
    """How a trial is accepted, e.g. "distance <= 0.07"."""
    sign = "similarity >=" if higher_accepts else "distance <="
    return f"{sign} {threshold:g}"


def _rate_lines(scores: Scores, summary: Summary) -> list[str]:
    threshold = summary.threshold
    lines = [
        f"at the threshold (accept {accept_rule(scores.higher_accepts, threshold)}):",
        f"  accuracy {percent(summary.accuracy)}",
        f"  FAR {percent(summary.far)} ({false_accepts(scores, threshold)} of "
        f"{scores.impostor.size} impostor trials accepted)",
        f"  FRR {percent(summary.frr)} ({false_rejects(scores, threshold)} of "
        f"{scores.genuine.size} genuine trials rejected)",
        f"EER {percent(summary.eer.far)} at threshold {summary.eer.threshold:.4f}",
        f"ROC AUC {summary.auc:.4f}",
    ]
    lines += [_far_line(target, point, scores) for target, point in summary.at_far.items()]
    lowest = lowest_measurable_far(int(scores.impostor.size))
    if lowest is not None:
        lines.append(
            f"lowest FAR these impostor trials can show (rule of 3): {precise_percent(lowest)}"
        )
    return lines


def _far_line(target: float, point: OperatingPoint | None, scores: Scores) -> str:
    label = f"at FAR {percent(target)}:"
    if point is None:
        return (
            f"{label} not measurable ({scores.impostor.size} impostor trials; "
            f"at least {min_impostor_trials(target)} needed)"
        )
    return (
        f"{label} threshold {point.threshold:.4f}, FRR {percent(point.frr)} "
        f"(observed FAR {percent(point.far)})"
    )
