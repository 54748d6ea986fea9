"""Face evaluation from a DeepFace-style pairs file: ``file_x,file_y,Decision`` rows.

The evaluation's scores are the fused distances the server decides on; each model's own
cosine distances are kept beside them (``Evaluation.models``).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from facevoice.biometrics.face import (
    MODELS,
    FaceModel,
    create_embedding,
    face_distance,
    model_distances,
)
from facevoice.errors import FacevoiceError, NoFaceFound, TooManyFaces
from facevoice.evaluation import EvaluationError, Progress, quietly, require_files
from facevoice.evaluation.metrics import Scores
from facevoice.evaluation.report import Evaluation

FILE_COLUMNS = ("file_x", "file_y")
DECISION_COLUMNS = ("decision", "same")
SAME = frozenset({"yes", "1", "true"})
DIFFERENT = frozenset({"no", "0", "false"})


@dataclass(frozen=True)
class Pair:
    """Two photos (paths relative to the images folder) and whether they show one person."""

    file_x: str
    file_y: str
    same: bool


def read_pairs(path: Path) -> list[Pair]:
    """The pairs of a CSV file; ``EvaluationError`` says what is wrong with a bad file."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise EvaluationError(f"{path}: no such pairs file") from None
    except (OSError, UnicodeDecodeError) as error:
        raise EvaluationError(f"{path}: cannot read it as a UTF-8 CSV file ({error})") from None
    return parse_pairs(text, str(path))


def parse_pairs(text: str, source: str = "pairs file") -> list[Pair]:
    """Parse CSV text with a header naming file_x, file_y and Decision, decision or same."""
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if header is None:
        raise EvaluationError(f"{source}: empty, expected a header file_x,file_y,Decision")
    columns = _columns(header, source)
    pairs = [_pair(row, columns, source, reader.line_num) for row in reader if any(row)]
    if not pairs:
        raise EvaluationError(f"{source}: a header but no pairs")
    return pairs


def _columns(header: list[str], source: str) -> tuple[int, int, int]:
    names = [name.strip().lower() for name in header]
    decision = next((names.index(n) for n in DECISION_COLUMNS if n in names), None)
    if decision is None or any(n not in names for n in FILE_COLUMNS):
        raise EvaluationError(
            f"{source}: the header must name file_x, file_y and a decision column "
            f"(Decision, decision or same); it has: {', '.join(header)}"
        )
    return names.index("file_x"), names.index("file_y"), decision


def _pair(row: list[str], columns: tuple[int, int, int], source: str, line: int) -> Pair:
    if len(row) <= max(columns):
        raise EvaluationError(f"{source}, line {line}: {len(row)} field(s), too few")
    file_x, file_y, decision = (row[i].strip() for i in columns)
    if not file_x or not file_y:
        raise EvaluationError(f"{source}, line {line}: an empty file name")
    return Pair(file_x, file_y, _decision(decision, f"{source}, line {line}"))


def _decision(value: str, where: str) -> bool:
    lowered = value.lower()
    if lowered in SAME:
        return True
    if lowered in DIFFERENT:
        return False
    raise EvaluationError(f"{where}: decision {value!r} is not Yes/No, 1/0 or true/false")


def image_names(pairs: Iterable[Pair]) -> list[str]:
    """Every image named by the pairs, once, in order of appearance."""
    return list(dict.fromkeys(name for pair in pairs for name in (pair.file_x, pair.file_y)))


def face_embedding(path: Path, model: FaceModel, max_pixels: int) -> np.ndarray | str:
    """The embedding of a photo's single face as the server computes it, or why there is none."""
    try:
        return create_embedding(path, model, max_pixels)
    except NoFaceFound:
        return "no face"
    except TooManyFaces:
        return "several faces"
    except FacevoiceError as error:
        return f"unreadable: {error.message}"


def embed_files(
    names: list[str],
    folder: Path,
    embed: Callable[[Path], np.ndarray | str],
    progress: Progress,
    label: str,
) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """Embed each file once: embeddings by name, and the reason for each unusable file."""
    embeddings: dict[str, np.ndarray] = {}
    unusable: dict[str, str] = {}
    for name in progress(names, label):
        result = embed(folder / name)
        if isinstance(result, str):
            unusable[name] = result
        else:
            embeddings[name] = result
    return embeddings, unusable


def evaluate_faces(
    pairs: list[Pair],
    images: Path,
    model: FaceModel,
    max_pixels: int,
    progress: Progress = quietly,
) -> Evaluation:
    """Fused distances (and each model's) of every pair whose photos both hold one face."""
    names = image_names(pairs)
    require_files([images / name for name in names], "images")
    embeddings, unusable = embed_files(
        names, images, lambda p: face_embedding(p, model, max_pixels), progress, "Embedding faces"
    )
    kinds = ("fused", *MODELS)
    genuine: dict[str, list[float]] = {kind: [] for kind in kinds}
    impostor: dict[str, list[float]] = {kind: [] for kind in kinds}
    for pair in pairs:
        if pair.file_x in embeddings and pair.file_y in embeddings:
            x, y = embeddings[pair.file_x], embeddings[pair.file_y]
            distances = {"fused": face_distance(x, y), **model_distances(x, y)}
            for kind, distance in distances.items():
                (genuine if pair.same else impostor)[kind].append(distance)
    excluded = len(pairs) - len(genuine["fused"]) - len(impostor["fused"])
    scores = {kind: Scores.distances(genuine[kind], impostor[kind]) for kind in kinds}
    models = {name: scores[name] for name in MODELS}
    return Evaluation(len(pairs), scores["fused"], unusable, excluded, models=models)
