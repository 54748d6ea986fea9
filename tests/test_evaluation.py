"""Issue 6: metrics on known inputs, pairs files, and the evaluation commands on real data."""

from __future__ import annotations

import json
import os
import random
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner, Result

from facevoice.biometrics.face import SFACE_SCALE
from facevoice.biometrics.vectors import normalise
from facevoice.cli import main
from facevoice.config import Settings
from facevoice.evaluation import EvaluationError
from facevoice.evaluation.calibration import stricter_round, write_env
from facevoice.evaluation.corpora import compose_phrases, split_parts, write_librispeech_speakers
from facevoice.evaluation.faces import Pair, parse_pairs, read_pairs
from facevoice.evaluation.fused import log_in_decision
from facevoice.evaluation.metrics import (
    Scores,
    accuracy,
    equal_error_rate,
    far_frr,
    min_impostor_trials,
    roc_auc,
    summarise,
    threshold_at_far,
)
from tests import media

REPORT_KEYS = [
    "pairs",
    "genuine",
    "impostor",
    "no_face",
    "threshold",
    "accuracy",
    "far",
    "frr",
    "eer",
    "eer_threshold",
    "auc",
    "thresholds_at_far",
]
FUSED_KEYS = ["genuine_attempts", "genuine_accepted", "impostor_attempts", "impostor_accepted"]
# Three LibriSpeech speakers: 4, 5 and 5 parts of 3 s.
VOICE_SPEAKERS = (media.SPEAKER_A, media.SPEAKER_B, "1069-133699-0000")
FACE_PAIRS = """file_x,file_y,Decision
obama.jpg,obama2.jpg,Yes
obama.jpg,people/test_obama1.jpg,Yes
biden.jpg,obama.jpg,No
biden.jpg,obama2.jpg,No
two_people.jpg,obama.jpg,No
"""

# --- metrics on known inputs -------------------------------------------------------------

SIMILARITIES = Scores.similarities([0.9, 0.8, 0.6], [0.1, 0.7, 0.3, 0.2])


def test_far_and_frr_of_similarities_at_a_threshold() -> None:
    assert far_frr(SIMILARITIES, 0.65) == (0.25, 1 / 3)
    assert accuracy(SIMILARITIES, 0.65) == pytest.approx(5 / 7)


def test_a_similarity_equal_to_the_threshold_is_accepted() -> None:
    scores = Scores.similarities([0.62], [0.62])
    assert far_frr(scores, 0.62) == (1.0, 0.0)


def test_a_distance_equal_to_the_threshold_is_accepted() -> None:
    scores = Scores.distances([0.07, 0.08], [0.07, 0.2])
    assert far_frr(scores, 0.07) == (0.5, 0.5)


def test_eer_is_taken_where_far_and_frr_are_closest() -> None:
    eer = equal_error_rate(SIMILARITIES)
    assert eer.threshold == 0.7
    assert eer.far == pytest.approx((0.25 + 1 / 3) / 2)


def test_eer_of_separated_distances_is_zero_at_the_largest_genuine_distance() -> None:
    eer = equal_error_rate(Scores.distances([0.03, 0.05], [0.13, 0.2]))
    assert (eer.far, eer.threshold) == (0.0, 0.05)


def test_roc_auc_counts_ties_as_half() -> None:
    assert roc_auc(SIMILARITIES) == pytest.approx(11 / 12)
    assert roc_auc(Scores.similarities([0.5], [0.5])) == 0.5
    assert roc_auc(Scores.distances([0.1], [0.2])) == 1.0


def test_min_impostor_trials_follow_the_rule_of_three() -> None:
    assert [min_impostor_trials(t) for t in (0.01, 0.001, 0.0001)] == [300, 3000, 30000]


def test_threshold_at_far_is_the_most_lenient_one_within_the_target() -> None:
    impostor = [i / 300 for i in range(300)]  # the top three are 0.99 and above
    scores = Scores.similarities([0.9999, 0.988, 0.5], impostor)
    point = threshold_at_far(scores, 0.01)
    assert point is not None
    assert (point.threshold, point.far, point.frr) == (0.988, 0.01, pytest.approx(1 / 3))
    assert threshold_at_far(scores, 0.001) is None


def test_threshold_at_far_for_distances_looks_at_the_smallest_distances() -> None:
    impostor = [1 - i / 300 for i in range(300)]  # the three closest are 0.01 and below
    point = threshold_at_far(Scores.distances([0.0001, 0.012, 0.5], impostor), 0.01)
    assert point is not None
    assert (point.threshold, point.frr) == (0.012, pytest.approx(1 / 3))


def test_threshold_at_far_is_not_measurable_with_too_few_impostors() -> None:
    scores = Scores.similarities([0.9], [i / 299 for i in range(299)])
    assert threshold_at_far(scores, 0.01) is None
    assert summarise(scores, 0.5).as_dict()["thresholds_at_far"] == {
        "0.01": None,
        "0.001": None,
        "0.0001": None,
    }


def test_thresholds_round_in_the_stricter_direction() -> None:
    assert stricter_round(0.6931, higher_accepts=True) == 0.694
    assert stricter_round(0.694, higher_accepts=True) == 0.694
    assert stricter_round(0.0689, higher_accepts=False) == 0.068


def test_write_env_replaces_old_values_and_keeps_other_lines(tmp_path: Path) -> None:
    env = tmp_path / "facevoice.env"
    env.write_text("# site\nexport FACEVOICE_VOICE_MIN_SIMILARITY=0.5\nFACEVOICE_PORT=8000\n")
    write_env(
        env,
        {"FACEVOICE_VOICE_MIN_SIMILARITY": "0.694", "FACEVOICE_FACE_MAX_COSINE_DISTANCE": "0.07"},
    )
    assert env.read_text().splitlines() == [
        "# site",
        "FACEVOICE_VOICE_MIN_SIMILARITY=0.694",
        "FACEVOICE_PORT=8000",
        "FACEVOICE_FACE_MAX_COSINE_DISTANCE=0.07",
    ]


def test_fused_decision_needs_both_face_and_voice() -> None:
    settings = Settings()
    rng = np.random.default_rng(0)
    face, voice = normalise(rng.standard_normal(128)), normalise(rng.standard_normal(192))
    other_voice = normalise(rng.standard_normal(192))
    assert log_in_decision(face, voice, face, voice, settings).accepted
    refused = log_in_decision(face, voice, face, other_voice, settings)
    assert refused.face.matched and not refused.voice.matched and not refused.accepted


# --- pairs files ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "file_x,file_y,Decision\na.jpg,b.jpg,Yes\na.jpg,c.jpg,No\n",
        "file_x,file_y,decision\na.jpg,b.jpg,1\n\na.jpg,c.jpg,0\n",
        "same,file_y,file_x,extra\nTRUE,b.jpg,a.jpg,x\nfalse,c.jpg,a.jpg,y\n",
        "file_x , file_y , Decision\r\n a.jpg , b.jpg , yes\r\na.jpg,c.jpg,NO\r\n",
    ],
)
def test_pairs_files_in_every_accepted_variant(text: str) -> None:
    assert parse_pairs(text) == [
        Pair("a.jpg", "b.jpg", True),
        Pair("a.jpg", "c.jpg", False),
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty"),
        ("file_x,file_y\na.jpg,b.jpg\n", "decision column"),
        ("file_x,file_y,Decision\n", "no pairs"),
        ("file_x,file_y,Decision\na.jpg,b.jpg,maybe\n", "line 2: decision 'maybe'"),
        ("file_x,file_y,Decision\na.jpg,b.jpg,Yes\na.jpg,b.jpg\n", "line 3: 2 field(s)"),
        ("file_x,file_y,Decision\na.jpg,,No\n", "empty file name"),
    ],
)
def test_bad_pairs_files_say_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(EvaluationError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_pairs(text)


def test_pairs_files_may_start_with_a_byte_order_mark(tmp_path: Path) -> None:
    path = tmp_path / "pairs.csv"
    path.write_bytes("file_x,file_y,Decision\na.jpg,b.jpg,Yes\n".encode("utf-8-sig"))
    assert read_pairs(path) == [Pair("a.jpg", "b.jpg", True)]


def test_a_missing_pairs_file_is_an_evaluation_error(tmp_path: Path) -> None:
    with pytest.raises(EvaluationError, match="no such pairs file"):
        read_pairs(tmp_path / "nope.csv")


# --- voice folders -------------------------------------------------------------------------


def test_digit_phrases_use_each_file_at_most_once_in_4_to_6_digits() -> None:
    files = [Path(f"{d}_x_{t}.wav") for d in range(10) for t in range(5)]
    phrases = compose_phrases(files, random.Random(0))
    used = [p for phrase in phrases for p in phrase]
    assert len(used) == len(set(used)) and len(files) - len(used) < 4
    assert all(4 <= len(phrase) <= 6 for phrase in phrases)


def test_split_parts_drops_the_short_remainder() -> None:
    parts = split_parts(np.zeros(16_000 * 7), seconds=3.0)
    assert [p.size for p in parts] == [48_000, 48_000]


@pytest.fixture(scope="module")
def voice_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three LibriSpeech speakers cut into 3 s parts: 4, 5 and 5 recordings."""
    folder = tmp_path_factory.mktemp("voices")
    files = [media.LIBRISPEECH / f"{speaker}.flac" for speaker in VOICE_SPEAKERS]
    assert list(write_librispeech_speakers(files, folder).values()) == [4, 5, 5]
    return folder


# --- the commands on real data -------------------------------------------------------------


def run(*args: str) -> Result:
    """Run ``facevoice`` with arguments, keeping standard output apart from standard error."""
    return CliRunner().invoke(main, list(args))


def run_json(*args: str) -> Any:
    """Run a command with --json; standard output must be one JSON object."""
    result = run(*args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.fixture
def face_pairs(tmp_path: Path) -> Path:
    """A few pairs of real photos, one with a group photo."""
    path = tmp_path / "pairs.csv"
    path.write_text(FACE_PAIRS)
    return path


def test_evaluate_face_reports_every_key(models: Any, face_pairs: Path, tmp_path: Path) -> None:
    plot = tmp_path / "det.png"
    args = ["--pairs", str(face_pairs), "--images", str(media.FACES), "--plot", str(plot)]
    report = run_json("evaluate", "face", *args)
    assert list(report) == [*REPORT_KEYS, "models"]
    assert (report["pairs"], report["genuine"], report["impostor"]) == (5, 2, 2)
    assert report["no_face"] == {
        "count": 1,
        "files": {"two_people.jpg": "several faces"},
        "trials_excluded": 1,
        "counted": "trials using them are left out of every rate",
    }
    assert report["threshold"] == Settings().face_max_fused_distance
    assert (report["far"], report["frr"], report["accuracy"], report["auc"]) == (0, 0, 1, 1)
    assert report["eer"] == 0 and 0 < report["eer_threshold"] < report["threshold"]
    assert report["thresholds_at_far"] == {"0.01": None, "0.001": None, "0.0001": None}
    assert plot.read_bytes().startswith(b"\x89PNG")


def test_evaluate_face_reports_each_model_alone_under_models(models: Any, face_pairs: Path) -> None:
    report = run_json("evaluate", "face", "--pairs", str(face_pairs), "--images", str(media.FACES))
    assert list(report["models"]) == ["dlib", "sface"]
    dlib, sface = report["models"]["dlib"], report["models"]["sface"]
    assert dlib["threshold"] == Settings().face_max_cosine_distance
    assert sface["threshold"] == SFACE_SCALE
    for figures in (dlib, sface):
        assert list(figures) == ["genuine", "impostor", *REPORT_KEYS[4:]]
        assert (figures["genuine"], figures["impostor"]) == (2, 2)
        assert figures["eer"] == 0 and figures["far"] == 0
    # The top level is the fused score: not the same numbers as either model's.
    assert report["eer_threshold"] not in (dlib["eer_threshold"], sface["eer_threshold"])


def test_calibrate_writes_the_fused_face_threshold(models: Any, tmp_path: Path) -> None:
    env = tmp_path / "facevoice.env"
    pairs = Path(__file__).resolve().parents[1] / "eval" / "faces-pairs.csv"
    args = ["--pairs", str(pairs), "--images", str(media.FACES), "--target-far", "0.02"]
    report = run_json("calibrate", *args, "--write", str(env))
    face = report["face"]
    assert face["supported"] is True and face["far"] <= 0.02 and face["impostor"] == 177
    assert env.read_text() == f"FACEVOICE_FACE_MAX_FUSED_DISTANCE={face['threshold']:g}\n"


def test_evaluate_face_text_says_how_group_photos_were_counted(
    models: Any, face_pairs: Path
) -> None:
    result = run("evaluate", "face", "--pairs", str(face_pairs), "--images", str(media.FACES))
    assert result.exit_code == 0, result.output
    assert "two_people.jpg: several faces" in result.stdout
    assert "1 trial(s) excluded: trials using them are left out of every rate" in result.stdout
    assert "not measurable (2 impostor trials; at least 300 needed)" in result.stdout


def test_evaluate_face_with_a_missing_photo_fails_clearly(tmp_path: Path) -> None:
    pairs = tmp_path / "pairs.csv"
    pairs.write_text("file_x,file_y,Decision\nobama.jpg,nobody.jpg,No\n")
    result = run("evaluate", "face", "--pairs", str(pairs), "--images", str(media.FACES))
    assert result.exit_code == 1
    assert "missing images:" in result.output and "nobody.jpg (1 of 2)" in result.output


def test_evaluate_face_with_a_bad_csv_fails_clearly(tmp_path: Path) -> None:
    pairs = tmp_path / "pairs.csv"
    pairs.write_text("left,right\nobama.jpg,biden.jpg\n")
    result = run("evaluate", "face", "--pairs", str(pairs), "--images", str(media.FACES))
    assert result.exit_code == 1
    assert "must name file_x, file_y and a decision column" in result.output


def test_evaluate_face_with_a_missing_pairs_file_fails(tmp_path: Path) -> None:
    result = run("evaluate", "face", "--pairs", str(tmp_path / "x.csv"), "--images", ".")
    assert result.exit_code != 0
    assert "does not exist" in result.output


def test_evaluate_voice_scores_every_pair_once(models: Any, voice_folder: Path) -> None:
    report = run_json("evaluate", "voice", "--dir", str(voice_folder))
    assert list(report) == REPORT_KEYS
    assert (report["pairs"], report["genuine"], report["impostor"]) == (91, 26, 65)
    assert report["no_face"]["count"] == 0
    assert report["auc"] > 0.95
    assert report["frr"] < 0.2 and report["far"] < 0.05


def test_evaluate_voice_with_enrollment_of_three(models: Any, voice_folder: Path) -> None:
    report = run_json("evaluate", "voice", "--dir", str(voice_folder), "--enroll", "3")
    # One template per speaker; probes are the 1, 2 and 2 recordings left over.
    assert (report["genuine"], report["impostor"]) == (5, 10 + 9 + 9)
    assert report["frr"] == 0 and report["far"] == 0


def test_evaluate_voice_with_crop_makes_ordered_trials(models: Any, voice_folder: Path) -> None:
    report = run_json("evaluate", "voice", "--dir", str(voice_folder), "--crop", "1.5")
    assert report["pairs"] == 14 * 13


def test_evaluate_voice_needs_two_speakers(tmp_path: Path) -> None:
    (tmp_path / "alone").mkdir()
    (tmp_path / "alone" / "a.wav").write_bytes(media.silence(1))
    result = run("evaluate", "voice", "--dir", str(tmp_path))
    assert result.exit_code == 1
    assert "at least two speakers" in result.output


def write_persons(path: Path) -> None:
    """Two persons, obama and biden, each with two photos and four 3 s parts of a speaker."""
    faces = os.path.relpath(media.FACES, path.parent)
    voices = os.path.relpath(media.LIBRISPEECH, path.parent)
    persons = [
        {
            "name": name,
            "faces": [f"{faces}/{photo}" for photo in photos],
            "voices": [
                {"path": f"{voices}/{speaker}.flac", "start": 3 * i, "end": 3 * i + 3}
                for i in range(4)
            ],
        }
        for name, photos, speaker in (
            ("obama", ["obama.jpg", "people/test_obama1.jpg"], media.SPEAKER_A),
            ("biden", ["biden.jpg", "people/biden/biden2.jpg"], media.SPEAKER_B),
        )
    ]
    path.write_text(json.dumps({"persons": persons}))


def test_evaluate_fused_accepts_the_person_and_refuses_the_other(
    models: Any, tmp_path: Path
) -> None:
    persons = tmp_path / "persons.json"
    write_persons(persons)
    report = run_json("evaluate", "fused", "--persons", str(persons))
    assert list(report) == [*FUSED_KEYS, "fusion", "other_fusion"]
    # Enrolled: one photo and three parts; genuine: 1 photo x 1 part; impostor: 2 x 4.
    counts = {
        "genuine_attempts": 2,
        "genuine_accepted": 2,
        "impostor_attempts": 16,
        "impostor_accepted": 0,
    }
    assert report == {**counts, "fusion": "thresholds", "other_fusion": {"fusion": "llr", **counts}}


def test_evaluate_fused_reports_both_rules_the_configured_one_first(
    models: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    persons = tmp_path / "persons.json"
    write_persons(persons)
    monkeypatch.setenv("FACEVOICE_FUSION", "llr")
    result = run("evaluate", "fused", "--persons", str(persons))
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[1].startswith("llr (the server's rule): face LLR + voice LLR >= ")
    assert lines[4].startswith("thresholds (not used by the server): face fused distance <= ")
    assert lines[2].startswith("  genuine attempts: 2, accepted 2")
    assert lines[6].startswith("  impostor attempts: 16, accepted 0")


def test_evaluate_fused_with_a_bad_persons_file_fails_clearly(tmp_path: Path) -> None:
    persons = tmp_path / "persons.json"
    persons.write_text('[{"faces": ["a.jpg"], "voices": []}, {}]')
    result = run("evaluate", "fused", "--persons", str(persons))
    assert result.exit_code == 1
    assert "person 1: faces and voices must be non-empty lists" in result.output


def test_evaluate_fused_names_missing_files(tmp_path: Path) -> None:
    persons = tmp_path / "persons.json"
    persons.write_text(json.dumps([{"faces": ["a.jpg"], "voices": ["a.wav"]}] * 2))
    result = run("evaluate", "fused", "--persons", str(persons))
    assert result.exit_code == 1
    assert "missing faces or voices:" in result.output and "a.wav (2 of 2)" in result.output


def test_calibrate_says_when_the_data_cannot_support_the_target(
    models: Any, face_pairs: Path, voice_folder: Path, tmp_path: Path
) -> None:
    args = ["--pairs", str(face_pairs), "--images", str(media.FACES)]
    report = run_json("calibrate", *args, "--voice-dir", str(voice_folder), "--enroll", "1")
    assert list(report) == ["target_far", "face", "voice", "written"]
    assert report["target_far"] == 0.0001
    assert report["face"]["supported"] is False and report["face"]["threshold"] is None
    assert report["voice"]["needed_impostor"] == 30000
    env = tmp_path / "facevoice.env"
    result = run("calibrate", *args, "--write", str(env))
    assert result.exit_code == 1 and "nothing written" in result.output
    assert not env.exists()


def test_calibrate_writes_a_supported_voice_threshold(
    models: Any, voice_folder: Path, tmp_path: Path
) -> None:
    env = tmp_path / "facevoice.env"
    args = ["--voice-dir", str(voice_folder), "--enroll", "1", "--target-far", "0.05"]
    report = run_json("calibrate", *args, "--write", str(env))
    voice = report["voice"]
    assert voice["supported"] is True and voice["impostor"] == 65 and voice["far"] <= 0.05
    assert report["face"] is None and report["written"] == str(env)
    assert env.read_text() == f"FACEVOICE_VOICE_MIN_SIMILARITY={voice['threshold']:g}\n"


def test_calibrate_with_llr_fits_each_score_and_writes_the_fits(
    models: Any, face_pairs: Path, voice_folder: Path, tmp_path: Path
) -> None:
    env = tmp_path / "facevoice.env"
    args = ["--pairs", str(face_pairs), "--images", str(media.FACES), "--llr"]
    args += ["--voice-dir", str(voice_folder), "--enroll", "1", "--target-far", "0.05"]
    report = run_json("calibrate", *args, "--write", str(env))
    face, voice = report["llr"]["face"], report["llr"]["voice"]
    assert face["slope"] < 0 < voice["slope"]
    assert (face["genuine"], face["impostor"], voice["impostor"]) == (2, 2, 65)
    lines = env.read_text().splitlines()
    assert f"FACEVOICE_FACE_LLR_PER_DISTANCE={face['slope']:g}" in lines
    assert f"FACEVOICE_VOICE_LLR_OFFSET={voice['offset']:g}" in lines
