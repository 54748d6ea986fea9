"""Vector helpers shared by the face and voice embeddings."""

from __future__ import annotations

import numpy as np


def normalise(vector: np.ndarray) -> np.ndarray:
    """``vector`` scaled to unit length, as float32."""
    vector = np.asarray(vector, dtype=np.float32)
    return vector / max(float(np.linalg.norm(vector)), 1e-12)


def cosine_similarity(a: np.ndarray, b: np.ndarray) -> float:
    """Cosine of the angle between two vectors (1 = same direction)."""
    return float(np.dot(normalise(a), normalise(b)))
