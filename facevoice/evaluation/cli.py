"""``facevoice evaluate face|voice|fused`` and ``facevoice calibrate``.

Reports go to standard output (one JSON object with ``--json``); progress bars and notes go
to standard error. Bad input ends the command with a message and exit status 1 (2 for a
wrong option or a missing file named by an option).
"""

from __future__ import annotations

import contextlib
import functools
import json
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import click

from facevoice.auth.biometric import configured_llr_rule
from facevoice.biometrics.face import SFACE_SCALE, get_face_model
from facevoice.biometrics.fusion import THRESHOLDS, check_fusion
from facevoice.biometrics.voice import get_speaker_encoder
from facevoice.config import Settings
from facevoice.evaluation import EvaluationError
from facevoice.evaluation.calibration import (
    DEFAULT_TARGET_FAR,
    LlrFit,
    Recommendation,
    env_name,
    fit_llr,
    llr_env,
    recommend,
    write_env,
)
from facevoice.evaluation.faces import evaluate_faces, read_pairs
from facevoice.evaluation.fused import FusedResult, evaluate_persons, read_persons
from facevoice.evaluation.metrics import Scores, lowest_measurable_far, min_impostor_trials
from facevoice.evaluation.plot import det_plot
from facevoice.evaluation.report import Evaluation, accept_rule, percent, precise_percent
from facevoice.evaluation.voices import evaluate_voices

EXISTING_FILE = click.Path(exists=True, dir_okay=False, path_type=Path)
EXISTING_DIR = click.Path(exists=True, file_okay=False, path_type=Path)
NEW_FILE = click.Path(dir_okay=False, path_type=Path)
POSITIVE = click.FloatRange(min=0, min_open=True)


def with_progress(items: Sequence[Any], label: str) -> Iterator[Any]:
    """Iterate with a progress bar on standard error."""
    with click.progressbar(items, label=label, file=sys.stderr) as bar:
        yield from bar


@contextlib.contextmanager
def clear_errors() -> Iterator[None]:
    """Turn evaluation errors into a message and exit status 1."""
    try:
        yield
    except EvaluationError as error:
        raise click.ClickException(str(error)) from None


def note(message: str) -> None:
    """A line for the operator on standard error, outside any JSON report."""
    click.echo(message, err=True)


def print_json(data: dict[str, Any]) -> None:
    """One JSON object on standard output."""
    click.echo(json.dumps(data, indent=2))


def print_evaluation(
    evaluation: Evaluation,
    threshold: float,
    as_json: bool,
    heading: str,
    unusable_label: str,
    model_thresholds: dict[str, float] | None = None,
) -> None:
    """The report of a face or voice evaluation, as JSON or text."""
    if as_json:
        print_json(evaluation.report(threshold, model_thresholds))
    else:
        click.echo(heading)
        click.echo(evaluation.text(threshold, unusable_label, model_thresholds))


def face_model_thresholds(settings: Settings) -> dict[str, float]:
    """Each face model's threshold alone: dlib's configured one, SFace's published one."""
    return {"dlib": settings.face_max_cosine_distance, "sface": SFACE_SCALE}


def save_plot(scores: Scores, plot: Path | None, threshold: float, title: str) -> None:
    """Write the DET curve if asked to."""
    if plot is not None:
        try:
            det_plot(scores, plot, threshold, title)
        except OSError as error:
            raise click.ClickException(f"cannot write the plot {plot}: {error}") from None
        note(f"DET curve written to {plot}")


@click.group()
def evaluate() -> None:
    """Measure error rates on your own labelled photos and recordings."""


@evaluate.command("face")
@click.option("--pairs", type=EXISTING_FILE, required=True, help="CSV: file_x,file_y,Decision.")
@click.option("--images", type=EXISTING_DIR, required=True, help="Folder the file names are in.")
@click.option("--threshold", type=float, help="Max fused distance (default: configured).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option("--plot", type=NEW_FILE, help="Write a DET curve to this PNG file.")
def evaluate_face(
    pairs: Path, images: Path, threshold: float | None, as_json: bool, plot: Path | None
) -> None:
    """Face error rates over a DeepFace-style pairs file (each photo embedded once).

    Rates are those of the fused dlib+SFace distance the server decides on; each model's
    rates alone follow (under "models" in the JSON). Pairs with a photo holding no face or
    several faces are left out of every rate and reported under no_face.
    """
    settings = Settings.from_env()
    threshold = settings.face_max_fused_distance if threshold is None else threshold
    with clear_errors():
        model = get_face_model(settings.face_detect_width_px)
        evaluation = evaluate_faces(
            read_pairs(pairs), images, model, settings.max_image_pixels, with_progress
        )
    heading = f"Face evaluation: pairs {pairs}, photos in {images}"
    print_evaluation(
        evaluation,
        threshold,
        as_json,
        heading,
        "photos without a usable face",
        face_model_thresholds(settings),
    )
    save_plot(evaluation.scores, plot, threshold, f"Faces (fused): {pairs.name}")


@evaluate.command("voice")
@click.option("--dir", "folder", type=EXISTING_DIR, required=True, help="One folder per speaker.")
@click.option(
    "--enroll",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Recordings averaged into each enrollment template.",
)
@click.option("--crop", type=POSITIVE, help="Cut test recordings to this many seconds of speech.")
@click.option("--threshold", type=float, help="Min cosine similarity (default: configured).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option("--plot", type=NEW_FILE, help="Write a DET curve to this PNG file.")
def evaluate_voice(
    folder: Path,
    enroll: int,
    crop: float | None,
    threshold: float | None,
    as_json: bool,
    plot: Path | None,
) -> None:
    """Voice error rates over every genuine and impostor trial of a folder of speakers.

    Recordings are decoded and trimmed as the server does; those without usable speech are
    listed under no_face and take part in no trial. In the JSON, pairs counts the trials.
    """
    settings = Settings.from_env()
    threshold = settings.voice_min_similarity if threshold is None else threshold
    with clear_errors():
        encoder = get_speaker_encoder(settings.torch_threads)
        evaluation = evaluate_voices(folder, encoder, settings, enroll, crop, with_progress)
    cropped = f", test recordings cropped to {crop:g} s" if crop else ""
    heading = f"Voice evaluation: {folder}, enrollment of {enroll} recording(s){cropped}"
    print_evaluation(evaluation, threshold, as_json, heading, "recordings without usable speech")
    save_plot(evaluation.scores, plot, threshold, f"Voices: {folder.name}, enroll {enroll}")


@evaluate.command("fused")
@click.option("--persons", type=EXISTING_FILE, required=True, help="JSON: faces, voices.")
@click.option("--face-max-distance", type=float, help="Face threshold (default: configured).")
@click.option("--voice-min-similarity", type=float, help="Voice threshold (default: configured).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def evaluate_fused(
    persons: Path,
    face_max_distance: float | None,
    voice_min_similarity: float | None,
    as_json: bool,
) -> None:
    """Log-ins decided as /log_in decides them, under both fusion rules on the same trials.

    The configured rule (FACEVOICE_FUSION, the server's) comes first, at the top level of
    the JSON with its name under "fusion"; the other rule under "other_fusion". The threshold
    options change the thresholds rule only.
    """
    overrides = {
        "face_max_fused_distance": face_max_distance,
        "voice_min_similarity": voice_min_similarity,
    }
    settings = Settings.from_env(overrides={k: v for k, v in overrides.items() if v is not None})
    with clear_errors():
        check_rule(settings.fusion)
        people = read_persons(persons)
        face_model = get_face_model(settings.face_detect_width_px)
        encoder = get_speaker_encoder(settings.torch_threads)
        results = evaluate_persons(people, face_model, encoder, settings, with_progress)
    (used, result), (other, other_result) = results.items()
    if as_json:
        print_json(
            {
                **result.as_dict(),
                "fusion": used,
                "other_fusion": {"fusion": other, **other_result.as_dict()},
            }
        )
        for line in _fused_left_out(result):
            note(line)
    else:
        click.echo(_fused_text(results, persons, settings))


def check_rule(name: str) -> None:
    """An unknown FACEVOICE_FUSION as an evaluation error."""
    try:
        check_fusion(name)
    except ValueError as error:
        raise EvaluationError(str(error)) from None


def _rule_line(name: str, settings: Settings) -> str:
    if name == THRESHOLDS:
        return (
            f"face fused distance <= {settings.face_max_fused_distance:g} and voice similarity "
            f">= {settings.voice_min_similarity:g}"
        )
    rule = configured_llr_rule(settings)
    return (
        f"face LLR + voice LLR >= {settings.llr_min_sum:g} nats, each >= "
        f"{settings.llr_min_each:g} (face distance <= {rule.face_max_distance:.3f}, voice "
        f"similarity >= {rule.voice_min_similarity:.3f})"
    )


def _fused_text(results: dict[str, FusedResult], persons: Path, settings: Settings) -> str:
    lines = [f"Fused evaluation: {persons}"]
    for number, (name, result) in enumerate(results.items()):
        role = "the server's rule" if number == 0 else "not used by the server"
        lines.append(f"{name} ({role}): {_rule_line(name, settings)}")
        for kind in ("genuine", "impostor"):
            attempts, accepted = result.attempts[kind], result.accepted[kind]
            rate = percent(accepted / attempts) if attempts else "n/a"
            lines.append(
                f"  {kind} attempts: {attempts}, accepted {accepted} ({rate}); within the face "
                f"limit {result.face_matched[kind]}, the voice limit {result.voice_matched[kind]}"
            )
    return "\n".join(lines + _fused_left_out(next(iter(results.values()))))


def _fused_left_out(result: FusedResult) -> list[str]:
    lines = [f"unusable sample (left out): {name}: {why}" for name, why in result.unusable.items()]
    if result.not_enrolled:
        lines.append(f"not enrolled (no usable face or voice): {', '.join(result.not_enrolled)}")
    return lines


@click.command()
@click.option("--pairs", type=EXISTING_FILE, help="Face pairs CSV (with --images).")
@click.option("--images", type=EXISTING_DIR, help="Folder the face pairs' photos are in.")
@click.option(
    "--voice-dir",
    "voice_dirs",
    type=EXISTING_DIR,
    multiple=True,
    help="Folder of speaker folders; repeat to pool (trials stay within a folder).",
)
@click.option(
    "--enroll",
    type=click.IntRange(min=1),
    default=3,
    show_default=True,
    help="Recordings per voice template (the sign-up page asks for 3).",
)
@click.option("--crop", type=POSITIVE, help="Cut test recordings to this many seconds of speech.")
@click.option(
    "--target-far",
    type=click.FloatRange(0, 1, min_open=True, max_open=True),
    default=DEFAULT_TARGET_FAR,
    show_default=True,
    help="False accept rate to meet.",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option("--write", "env_file", type=NEW_FILE, help="Set the thresholds in this env file.")
@click.option("--llr", is_flag=True, help="Also fit each score's log-likelihood ratio.")
def calibrate(
    pairs: Path | None,
    images: Path | None,
    voice_dirs: tuple[Path, ...],
    enroll: int,
    crop: float | None,
    target_far: float,
    as_json: bool,
    env_file: Path | None,
    llr: bool,
) -> None:
    """Recommend face and voice thresholds for a target false accept rate.

    A threshold is recommended only when there are enough impostor trials to show the target
    (rule of three: at least 3 / target); it is the most lenient one whose measured FAR is at
    most the target, rounded to three decimals in the stricter direction. With --llr, each
    score's log-likelihood ratio (the LLR fusion's calibration) is fitted on the same trials
    too, reported under "llr", and written with --write.
    """
    if pairs is None and not voice_dirs:
        raise click.UsageError("give face pairs (--pairs, --images) or --voice-dir, or both")
    if (pairs is None) != (images is None):
        raise click.UsageError("--pairs and --images go together")
    settings = Settings.from_env()
    with clear_errors():
        scores: dict[str, Scores] = {}
        if pairs and images:
            scores["face"] = _face_scores(pairs, images, settings)
        if voice_dirs:
            scores["voice"] = _voice_scores(voice_dirs, settings, enroll, crop)
    results: dict[str, Recommendation | None] = {
        name: recommend(scores[name], target_far) if name in scores else None
        for name in ("face", "voice")
    }
    fits = {name: fit_llr(s) for name, s in scores.items()} if llr else {}
    written = _write_thresholds(results, fits, env_file) if env_file else {}
    if as_json:
        report: dict[str, Any] = {
            "target_far": target_far,
            **{name: r.as_dict() if r else None for name, r in results.items()},
            "written": str(env_file) if written else None,
        }
        if llr:
            report["llr"] = {name: fit.as_dict() for name, fit in fits.items()}
        print_json(report)
    else:
        click.echo(_calibration_text(results, target_far))
        for name, fit in fits.items():
            click.echo(_llr_line(name, fit))
    for name, value in written.items():
        note(f"wrote {name}={value} to {env_file}")


def _face_scores(pairs: Path, images: Path, settings: Settings) -> Scores:
    model = get_face_model(settings.face_detect_width_px)
    evaluation = evaluate_faces(
        read_pairs(pairs), images, model, settings.max_image_pixels, with_progress
    )
    _note_unusable(evaluation)
    return evaluation.scores


def _voice_scores(
    folders: tuple[Path, ...], settings: Settings, enroll: int, crop: float | None
) -> Scores:
    encoder = get_speaker_encoder(settings.torch_threads)
    scores = []
    for folder in folders:
        evaluation = evaluate_voices(folder, encoder, settings, enroll, crop, with_progress)
        _note_unusable(evaluation)
        scores.append(evaluation.scores)
    return functools.reduce(Scores.pooled, scores)


def _llr_line(name: str, fit: LlrFit) -> str:
    score = "fused distance" if name == "face" else "similarity"
    return (
        f"{name} LLR (nats) = {fit.offset:g} + {fit.slope:g} x {score} "
        f"(Platt, equal priors; {fit.genuine} genuine, {fit.impostor} impostor trials)"
    )


def _note_unusable(evaluation: Evaluation) -> None:
    if evaluation.unusable:
        count, excluded = len(evaluation.unusable), evaluation.excluded
        note(f"{count} unusable file(s), {excluded} trial(s) excluded: {evaluation.counting}")


def _write_thresholds(
    results: dict[str, Recommendation | None], fits: dict[str, LlrFit], env_file: Path
) -> dict[str, str]:
    values = {
        env_name(name): f"{r.point.threshold:g}"
        for name, r in results.items()
        if r is not None and r.point is not None
    }
    for name, fit in fits.items():
        values.update(llr_env(name, fit))
    if not values:
        raise click.ClickException(
            f"nothing written to {env_file}: the data cannot support the target FAR"
        )
    try:
        write_env(env_file, values)
    except OSError as error:
        raise click.ClickException(f"cannot write {env_file}: {error}") from None
    return values


def _calibration_text(results: dict[str, Recommendation | None], target_far: float) -> str:
    lines = [f"Target FAR {percent(target_far)} (1 in {round(1 / target_far):,})"]
    for name, result in results.items():
        if result is not None:
            lines.append(_recommendation_line(name, result))
    return "\n".join(lines)


def _recommendation_line(name: str, result: Recommendation) -> str:
    trials = f"{result.genuine} genuine, {result.impostor} impostor trials"
    if result.point is None:
        lowest_far = lowest_measurable_far(result.impostor)
        lowest = precise_percent(lowest_far) if lowest_far else "n/a"
        return (
            f"{name}: not supported by the data ({trials}); at least "
            f"{min_impostor_trials(result.target_far)} impostor trials are needed. "
            f"These trials can show a FAR down to {lowest}: run again with a larger "
            "--target-far, or with more data."
        )
    point = result.point
    rule = accept_rule(result.higher_accepts, point.threshold)
    return (
        f"{name}: {env_name(name)}={point.threshold:g} (accept {rule}): "
        f"FAR {percent(point.far)}, FRR {percent(point.frr)} on {trials}"
    )
