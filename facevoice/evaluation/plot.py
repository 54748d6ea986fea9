"""DET curves (FRR against FAR on normal-deviate axes) as PNG files, drawn by matplotlib's Agg."""

from __future__ import annotations

from pathlib import Path
from statistics import NormalDist

import numpy as np

from facevoice.evaluation.metrics import Scores, equal_error_rate, far_frr, operating_curve
from facevoice.evaluation.report import percent

TICKS = (0.0001, 0.001, 0.01, 0.02, 0.05, 0.1, 0.2, 0.4)
LOWEST_RATE = 0.00005  # rates of 0 are drawn on this edge; the normal deviate of 0 is -inf
HIGHEST_RATE = 0.5
EDGE_MARGIN = 0.15  # normal deviates of room around the plotted range, so edge points show


def probit(rates: np.ndarray | float) -> np.ndarray:
    """Normal deviates of rates, clipped to the plotted range."""
    clipped = np.clip(np.asarray(rates, dtype=np.float64), LOWEST_RATE, HIGHEST_RATE)
    inverse = np.vectorize(NormalDist().inv_cdf)
    return inverse(clipped)


def _tick(rate: float) -> str:
    return f"{rate * 100:g} %"


def det_plot(scores: Scores, path: Path, threshold: float, title: str) -> None:
    """Draw the DET curve of ``scores`` into a PNG, marking ``threshold`` and the EER."""
    # Imported here: matplotlib takes a while to load and only --plot needs it.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    _, far, frr = operating_curve(scores)
    figure = Figure(figsize=(6, 6))
    FigureCanvasAgg(figure)  # the Agg backend, without pyplot's global state
    axes = figure.add_subplot()
    axes.plot(probit(far), probit(frr), drawstyle="steps-post", label="DET curve")
    at_threshold = far_frr(scores, threshold)
    axes.plot(*probit(at_threshold), "o", label=f"threshold {threshold:g}")
    eer = equal_error_rate(scores)
    axes.plot(*probit((eer.far, eer.frr)), "s", label=f"EER {percent(eer.far)}")
    ticks, labels = probit(np.array(TICKS)), [_tick(t) for t in TICKS]
    axes.set_xticks(ticks, labels)
    axes.set_yticks(ticks, labels)
    edges = probit(np.array([LOWEST_RATE, HIGHEST_RATE])) + np.array([-EDGE_MARGIN, EDGE_MARGIN])
    axes.set_xlim(*edges)
    axes.set_ylim(*edges)
    axes.set_xlabel(f"false accept rate ({scores.impostor.size} impostor trials; 0 at the edge)")
    axes.set_ylabel(f"false reject rate ({scores.genuine.size} genuine trials; 0 at the edge)")
    axes.set_title(title)
    axes.grid(True, alpha=0.3)
    axes.legend(loc="upper right")
    figure.tight_layout()
    figure.savefig(path, format="png", dpi=100)
