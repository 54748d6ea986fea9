"""Spoken challenge: check that a log-in recording says the random digits the page showed.

PocketSphinx's US English model ships inside its wheel. Exact recognition of digit strings is
unreliable with it, so the check is a likelihood ratio instead: the recording is aligned
with the expected words (a grammar holding only the challenge), then decoded freely with a
grammar of any sequence of digit words. When the recording says the challenge, the free
decode finds nothing much better than the challenge itself; when it says something else,
the challenge explains the sound far worse than the best sequence of digits does, or cannot
be aligned at all. The check passes when the challenge's score is within ``max_deficit`` of
the free decode's score.

When the free decode hears exactly the challenge, the alignment is skipped: the free decode's
best path is also a path of the challenge's grammar, so the alignment could only score as well
or better and the check passes. Measured on FSDD takes 0-49 (360 genuine readings, 1,100
recordings checked in all): every recording whose free decode was exact passed the full check
(189 genuine); half of the genuine readings are decided by one decode instead of two.

Scores are PocketSphinx path scores: log-likelihoods relative to the best senone of each frame,
in its internal units (1024 steps of log base 1.0001, about 0.1 nat each).
"""

from __future__ import annotations

import functools
import math
import random
import secrets
import threading
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pocketsphinx

from facevoice.biometrics.audio import SAMPLE_RATE, pcm16
from facevoice.errors import BadInput

DIGIT_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
# Digits a challenge is drawn from: not 0, which people say as "zero" or "oh", nor 6, whose
# "s" sounds vanish in narrow-band audio (8 kHz headsets): it failed most (docs/liveness.md).
CHALLENGE_DIGITS = "12345789"
CHALLENGE_LENGTH = 5
# Largest shortfall of the challenge's score behind the free decode's that still passes,
# chosen on FSDD takes 0-24 (docs/liveness.md).
MAX_DEFICIT = 800.0
# Wide beams: the aligned challenge must never be pruned away when it is said unclearly.
BEAMS = {
    "beam": 1e-100,
    "pbeam": 1e-100,
    "wbeam": 1e-80,
    "lpbeam": 1e-80,
    "lponlybeam": 1e-80,
}
ADVICE = (
    "We did not hear the digits shown. Say them clearly, one after the other, and record again."
)


@dataclass(frozen=True)
class Challenge:
    """A digit string the user must say; ``text`` is shown, ``words`` are what is expected."""

    digits: str

    def __post_init__(self) -> None:
        if not self.digits or not self.digits.isascii() or not self.digits.isdigit():
            raise BadInput("A spoken challenge is a string of digits.")

    @property
    def text(self) -> str:
        """The digits as shown on the page, separated by spaces: ``"4 7 1 9 2"``."""
        return " ".join(self.digits)

    @property
    def words(self) -> tuple[str, ...]:
        """The words the recording must hold, in order."""
        return tuple(DIGIT_WORDS[int(d)] for d in self.digits)

    @classmethod
    def from_text(cls, text: str) -> Challenge:
        """The challenge shown as ``text`` (spaces ignored), e.g. read back from a session."""
        return cls("".join(text.split()))


@dataclass(frozen=True)
class ChallengeDetails:
    """Why a recording passed or not: the scores compared and what the free decode heard."""

    heard: str
    aligned: bool
    expected_score: float
    best_score: float
    deficit: float
    max_deficit: float


@dataclass(frozen=True)
class ChallengeResult:
    """Outcome of checking a recording against a challenge."""

    passed: bool
    details: ChallengeDetails

    @property
    def message(self) -> str:
        """Advice for a refused user."""
        return "" if self.passed else ADVICE


def new_challenge(
    rng: random.Random | None = None,
    length: int = CHALLENGE_LENGTH,
    alphabet: str = CHALLENGE_DIGITS,
) -> Challenge:
    """A random digit challenge (``secrets`` randomness unless an ``rng`` is given)."""
    rng = rng or secrets.SystemRandom()
    return Challenge("".join(rng.choice(alphabet) for _ in range(length)))


def model_dir() -> Path:
    """Folder of the US English model inside the installed pocketsphinx wheel."""
    return Path(pocketsphinx.get_model_path()) / "en-us"


class ChallengeDecoder:
    """PocketSphinx, loaded once, scoring recordings against digit challenges (thread-safe)."""

    LOOP = "digit_loop"
    EXPECTED = "expected"

    def __init__(self) -> None:
        folder = model_dir()
        self._decoder = pocketsphinx.Decoder(
            hmm=str(folder / "en-us"),
            dict=str(folder / "cmudict-en-us.dict"),
            lm=None,
            samprate=SAMPLE_RATE,
            loglevel="FATAL",
            # Every senone scored in every frame, so all searches share one normalisation
            # and their path scores can be compared.
            compallsen=True,
            # Hypothesis scores straight from the Viterbi search, not a rescaled lattice.
            bestpath=False,
            # No word insertion penalty: scores are acoustic, whatever the word count.
            wip=1.0,
            **BEAMS,
        )
        self._decoder.add_fsg(self.LOOP, self._grammar(self.LOOP, DIGIT_WORDS, loop=True))
        # The Python binding returns base**score; its logarithm gives the score back.
        self._log_base = math.log(self._decoder.config["logbase"])
        self._lock = threading.Lock()

    def _grammar(self, name: str, words: tuple[str, ...], loop: bool) -> pocketsphinx.FsgModel:
        """A grammar of exactly ``words`` in order, or (``loop``) of any sequence of them."""
        if loop:
            arcs = [(0, 1, 1.0, w) for w in words] + [(1, 1, 1.0, w) for w in words]
            return self._decoder.create_fsg(name, 0, 1, arcs)
        arcs = [(i, i + 1, 1.0, w) for i, w in enumerate(words)]
        return self._decoder.create_fsg(name, 0, len(words), arcs)

    def _decode(self, search: str, audio: bytes) -> tuple[str, float]:
        """Hypothesis and path score of one search; score is -inf when nothing was found."""
        self._decoder.activate_search(search)
        with warnings.catch_warnings():
            # Deprecated but still the only way to forget the noise estimate of the last
            # recording: without it, a score would depend on what was decoded before.
            warnings.simplefilter("ignore", DeprecationWarning)
            self._decoder.start_stream()
        self._decoder.start_utt()
        self._decoder.process_raw(audio, full_utt=True)
        self._decoder.end_utt()
        hypothesis = self._decoder.hyp()
        if hypothesis is None or hypothesis.score <= 0:
            return "", -math.inf
        return hypothesis.hypstr, math.log(hypothesis.score) / self._log_base

    def best_digits(self, audio: bytes) -> tuple[str, float]:
        """The best sequence of digit words in 16-bit PCM ``audio``, and its score."""
        with self._lock:
            return self._decode(self.LOOP, audio)

    def align(self, audio: bytes, words: tuple[str, ...]) -> float:
        """Score of ``audio`` aligned with ``words`` in order; -inf when they cannot be aligned."""
        with self._lock:
            self._decoder.add_fsg(self.EXPECTED, self._grammar(self.EXPECTED, words, loop=False))
            aligned, score = self._decode(self.EXPECTED, audio)
        return score if aligned == " ".join(words) else -math.inf

    def warm_up(self) -> None:
        """Decode one second of quiet noise, so the first log-in pays no first-call costs."""
        rng = np.random.default_rng(0)
        audio = pcm16((rng.standard_normal(SAMPLE_RATE) * 0.01).astype(np.float32))
        self.best_digits(audio)
        self.align(audio, ("one",))


@functools.cache
def get_challenge_decoder() -> ChallengeDecoder:
    """The process-wide challenge decoder."""
    return ChallengeDecoder()


def judge_challenge(
    heard: str, best_score: float, expected_score: float, max_deficit: float = MAX_DEFICIT
) -> ChallengeResult:
    """The decision from a free decode and an alignment (see the module's docstring)."""
    aligned = math.isfinite(expected_score) and math.isfinite(best_score)
    deficit = best_score - expected_score if aligned else math.inf
    details = ChallengeDetails(
        heard=heard,
        aligned=aligned,
        expected_score=expected_score,
        best_score=best_score,
        deficit=deficit,
        max_deficit=max_deficit,
    )
    return ChallengeResult(passed=aligned and deficit <= max_deficit, details=details)


def check_challenge(
    samples: np.ndarray,
    challenge: Challenge,
    decoder: ChallengeDecoder | None = None,
    max_deficit: float = MAX_DEFICIT,
) -> ChallengeResult:
    """Whether 16 kHz mono ``samples`` say ``challenge`` (likelihood-ratio rule, see module).

    ``samples`` should be trimmed of long silences (``audio.speech_samples``).
    """
    decoder = decoder or get_challenge_decoder()
    audio = pcm16(samples)
    heard, best = decoder.best_digits(audio)
    if heard == " ".join(challenge.words):
        # The free decode's best path is a path of the challenge's grammar too, so the
        # alignment would score at least as well (deficit <= 0): it passes without it.
        return judge_challenge(heard, best, best, max_deficit)
    expected = decoder.align(audio, challenge.words)
    return judge_challenge(heard, best, expected, max_deficit)
