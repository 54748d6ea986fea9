"""Deciding a log-in from its face distance and voice similarity together.

Two rules exist:

- ``thresholds``: the face's fused distance is at most its threshold and the voice's cosine
  similarity at least its own.
- ``llr``: each score is turned into a log-likelihood ratio in nats (``Calibration``: how
  much likelier the score is from the enrolled person than from someone else, on a log
  scale, fitted by ``facevoice calibrate --llr``); the two ratios must sum to at least
  ``min_llr_sum``, and each must reach a floor, so that one very strong match cannot carry
  a clear mismatch of the other. The floor is applied as a score limit per modality (the
  score whose LLR is the floor), so both rules have the shape "each within a limit, then
  the rule's own test".
"""

from __future__ import annotations

from dataclasses import dataclass

THRESHOLDS = "thresholds"
LLR = "llr"
FUSIONS = (THRESHOLDS, LLR)


def check_fusion(name: str) -> str:
    """The rule's name if it is one of ``FUSIONS``, else ``ValueError`` naming the setting."""
    if name not in FUSIONS:
        raise ValueError(f"FACEVOICE_FUSION={name!r}: expected one of {', '.join(FUSIONS)}")
    return name


@dataclass(frozen=True)
class Calibration:
    """A score's log-likelihood ratio in nats: ``offset + slope * score``."""

    offset: float
    slope: float

    def llr(self, score: float) -> float:
        """The log-likelihood ratio of ``score`` (positive: likelier the enrolled person)."""
        return self.offset + self.slope * score

    def score_at(self, llr: float) -> float:
        """The score whose log-likelihood ratio is ``llr``."""
        return (llr - self.offset) / self.slope


@dataclass(frozen=True)
class FusionRule:
    """A log-in rule: a limit for each score, and for ``llr`` the sum the LLRs must reach."""

    name: str
    face_max_distance: float
    voice_min_similarity: float
    face: Calibration | None = None
    voice: Calibration | None = None
    min_llr_sum: float = 0.0

    def llr(self, face_distance: float, voice_similarity: float) -> float | None:
        """The summed log-likelihood ratio (nats) under the ``llr`` rule, else None."""
        if self.name != LLR or self.face is None or self.voice is None:
            return None
        return self.face.llr(face_distance) + self.voice.llr(voice_similarity)

    def accepts(self, face_within: bool, voice_within: bool, llr: float | None) -> bool:
        """Accept when both scores are within their limits and, for ``llr``, the sum is enough."""
        if not (face_within and voice_within):
            return False
        return self.name == THRESHOLDS or (llr is not None and llr >= self.min_llr_sum)


def thresholds_rule(face_max_distance: float, voice_min_similarity: float) -> FusionRule:
    """Face and voice each pass their own threshold."""
    return FusionRule(THRESHOLDS, face_max_distance, voice_min_similarity)


def llr_rule(
    face: Calibration, voice: Calibration, min_llr_sum: float, min_llr_each: float
) -> FusionRule:
    """The LLRs sum to ``min_llr_sum`` or more, each at least ``min_llr_each`` (nats).

    The face's calibration must fall with distance and the voice's rise with similarity.
    """
    if face.slope >= 0 or voice.slope <= 0:
        raise ValueError("the face LLR must fall with distance and the voice LLR rise")
    return FusionRule(
        LLR,
        face.score_at(min_llr_each),
        voice.score_at(min_llr_each),
        face,
        voice,
        min_llr_sum,
    )
