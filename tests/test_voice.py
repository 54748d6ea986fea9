"""Speaker embeddings on the real CAM++ model and real recordings."""

from __future__ import annotations

import numpy as np
import pytest

from facevoice.biometrics.audio import SAMPLE_RATE
from facevoice.biometrics.voice import compare_audios, enrollment_template, voice_check
from facevoice.config import Settings
from tests import media

THRESHOLD = Settings().voice_min_similarity


def part(speaker: str, index: int) -> np.ndarray:
    """A 3 s part of a LibriSpeech utterance."""
    return media.utterance(speaker)[index * 3 * SAMPLE_RATE : (index + 1) * 3 * SAMPLE_RATE]


def test_embedding_is_a_unit_192_vector(models) -> None:  # type: ignore[no-untyped-def]
    embedding = models.voice.embed(part(media.SPEAKER_A, 0))
    assert embedding.shape == (192,)
    assert float(embedding @ embedding) == pytest.approx(1.0, abs=1e-5)


def test_same_speaker_is_more_similar_than_another(models) -> None:  # type: ignore[no-untyped-def]
    same = compare_audios(part(media.SPEAKER_A, 0), part(media.SPEAKER_A, 3), models.voice)
    other = compare_audios(part(media.SPEAKER_A, 0), part(media.SPEAKER_B, 0), models.voice)
    assert same > THRESHOLD > other


def test_compare_audios_reads_files(models) -> None:  # type: ignore[no-untyped-def]
    a = media.LIBRISPEECH / f"{media.SPEAKER_A}.flac"
    assert compare_audios(a, a, models.voice) == pytest.approx(1.0, abs=1e-5)


def test_three_phrase_template_accepts_the_speaker_and_refuses_others(models) -> None:  # type: ignore[no-untyped-def]
    template = enrollment_template([models.voice.embed(part(media.SPEAKER_A, i)) for i in range(3)])
    assert voice_check(template, models.voice.embed(part(media.SPEAKER_A, 3)), THRESHOLD).matched
    impostor = voice_check(template, models.voice.embed(part(media.SPEAKER_B, 0)), THRESHOLD)
    assert not impostor.matched


def test_digit_phrases_of_one_speaker_match_across_takes(models) -> None:  # type: ignore[no-untyped-def]
    enrolled = enrollment_template(
        [
            models.voice.embed(media.digits_phrase("george", digits, take))
            for digits, take in (("1234", 0), ("5678", 4), ("9012", 8))
        ]
    )
    same = voice_check(
        enrolled, models.voice.embed(media.digits_phrase("george", "3579", 20)), THRESHOLD
    )
    other = voice_check(
        enrolled, models.voice.embed(media.digits_phrase("jackson", "3579", 20)), THRESHOLD
    )
    assert same.similarity > other.similarity
    assert same.matched


def test_template_is_the_normalised_mean() -> None:
    template = enrollment_template([np.array([1.0, 0.0]), np.array([0.0, 1.0])])
    np.testing.assert_allclose(template, [2**-0.5, 2**-0.5], rtol=1e-6)
