"""Natural offline speech: hibari-tts's "heart" voice (Apache-2.0, 7.9 MB int8 ONNX, inside its wheel).

hibari is a Kokoro-82M distillation whose network predicts, per 10 ms frame, a harmonic spectral envelope,
a noise envelope, a residual and the pitch (f0); its own DSP then builds the waveform from a pulse train at
that pitch. Only the "heart" voice ships in the wheel (the others download on first use, which an offline
machine cannot do), so the GA voices it renders are "heart" with a changed **pitch** (f0 scaled) and
**vocal-tract length** (the envelopes warped along the frequency axis: formants move down for a longer,
deeper tract), plus a speaking rate. For a new pitch the harmonic envelope is smoothed over 180 Hz first:
the network draws the harmonics of its own pitch into it, which would pull a shifted voice back. That
makes the five in ``HIBARI_VOICES`` distinct (median pitch 110, 135, 165, 195, 230 Hz, formants apart),
each transcribed word for word by Whisper (``tests/test_tts_voices.py``).

``synthesize(text, voice, speed)`` returns 24 kHz mono int16, one sentence at a time (hibari splits the
text into sentences; the server already hands it one sentence per call). The noise is seeded from the
text, so the same text gives the same samples. Thread-safe: onnxruntime sessions may run concurrently,
and the DSP is numpy on per-call arrays.
"""

from __future__ import annotations

import importlib.util
import logging
import threading
import zlib
from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import audio as au

__all__ = ["HIBARI_VOICES", "STAND_INS", "HibariVoice", "available", "synthesize"]

log = logging.getLogger("realtime_nb.server.tts")


@dataclass(frozen=True)
class HibariVoice:
    """A rendering of hibari's "heart": ``pitch`` scales f0, ``tract`` the formant frequencies, ``rate`` the pace."""

    pitch: float
    tract: float
    rate: float


HIBARI_VOICES: dict[str, HibariVoice] = {
    "alloy": HibariVoice(pitch=1.0, tract=1.0, rate=1.0),       # heart as trained: warm, mid-high
    "shimmer": HibariVoice(pitch=1.2, tract=1.05, rate=1.04),   # higher and brighter
    "marin": HibariVoice(pitch=0.86, tract=0.95, rate=0.97),    # lower, calm
    "echo": HibariVoice(pitch=0.7, tract=0.9, rate=1.02),       # low, light
    "ash": HibariVoice(pitch=0.58, tract=0.85, rate=0.98),      # deep: low pitch, long vocal tract
}
"""The GA voices hibari renders; the other five keep their espeak-ng renderings (``tts.VOICE_PROFILES``)."""
STAND_INS = {"coral": "marin", "sage": "alloy", "ballad": "echo", "verse": "echo", "cedar": "ash"}
"""Without espeak-ng (its extra is GPL and optional), the other voices use the nearest hibari rendering."""

_LOCK = threading.Lock()
_model: Any = None
_failed: str | None = None


def available() -> bool:
    """Whether hibari-tts (and onnxruntime) is installed; the model loads on first use."""
    return _failed is None and importlib.util.find_spec("hibari") is not None


def _load() -> Any:
    global _model, _failed
    with _LOCK:
        if _model is None and _failed is None:
            try:
                from hibari import Hibari

                _model = Hibari(voice="heart", threads=1)
            except Exception as exc:  # a missing onnxruntime, a broken wheel
                _failed = f"{type(exc).__name__}: {exc}"
                log.warning("hibari-tts unavailable (%s); speech uses espeak-ng", _failed)
        return _model


def _warp(a: np.ndarray, factor: float) -> np.ndarray:
    """Stretch ``a`` ([bins, frames]) along the frequency axis by ``factor`` (> 1: formants move up)."""
    n = a.shape[0]
    idx = np.clip(np.arange(n) / factor, 0, n - 1)
    i0 = idx.astype(np.intp)
    i1 = np.minimum(i0 + 1, n - 1)
    w = (idx - i0)[:, None].astype(np.float32)
    out: np.ndarray = a[i0] * (1 - w) + a[i1] * w
    return out


def _smooth(a: np.ndarray, bins: int = 9) -> np.ndarray:
    """A moving average over ``bins`` frequency bins (20 Hz each): the envelope without the harmonic ripple
    of the pitch the network predicted, so a pulse train at another pitch is not filtered back to it."""
    half = bins // 2
    padded = np.pad(a, ((half + 1, half), (0, 0)), mode="edge")
    c = np.cumsum(padded, axis=0, dtype=np.float64)
    out: np.ndarray = ((c[bins:] - c[:-bins]) / bins).astype(np.float32)
    return out


def synthesize(text: str, voice: str = "alloy", speed: float = 1.0) -> np.ndarray | None:
    """Speak ``text`` (24 kHz int16) in one of ``HIBARI_VOICES``; ``None`` if hibari cannot be loaded."""
    model = _load()
    if model is None:
        return None
    from hibari import dsp

    profile = HIBARI_VOICES.get(voice, HIBARI_VOICES["alloy"])
    rng = np.random.default_rng(zlib.crc32(text.encode("utf-8")))
    parts = []
    for phonemes in model.phonemize(text):
        ids = np.asarray([model.ids(phonemes)], np.int64)
        pace = np.asarray([max(0.5, min(2.0, speed * profile.rate))], np.float32)
        lh, th, ln, lr, phi, f0 = (o[0] for o in model.sess.run(None, {"ids": ids, "speed": pace}))
        if profile.pitch != 1.0:
            lh = _smooth(lh)
        if profile.tract != 1.0:
            lh, th, ln, lr, phi = (_warp(x, profile.tract) for x in (lh, th, ln, lr, phi))
        parts.append(dsp.synth(lh, th, ln, lr, phi, f0 * profile.pitch, rng))
    if not parts:
        return np.zeros(0, np.int16)
    out: np.ndarray = au.float_to_pcm16(np.concatenate(parts))
    return out
