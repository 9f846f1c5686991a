"""Speech fixtures with known boundaries, built from the local server's TTS (a helper for tests).

``make_utterance(segments)`` concatenates ``("silence", ms)`` and ``("speech", text)`` segments. Each
speech segment is synthesized with ``realtime_nb.server.tts``'s espeak-ng engine (the audio the tests
were tuned on, whatever engine a voice speaks with in the server) and trimmed of the synthesizer's own
leading/trailing silence and its faint echo tails: the speech runs from the first to the last sample
where the 5 ms moving RMS level reaches ``TRIM_DBFS`` (-50 dBFS, before any rescaling), so the true
speech intervals are known to the sample. White noise (-60 dBFS by default) is
then added everywhere, as a room would. ``make_utterance_wav`` writes the result as a 24 kHz WAV.

>>> pcm, truth = make_utterance([("silence", 500), ("speech", "hello there"), ("silence", 800)])
>>> truth[0][0]
500.0
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np

from realtime_nb import audio as au
from realtime_nb.server import tts

RATE = au.SAMPLE_RATE
TRIM_DBFS = -50.0
_ENVELOPE = RATE // 200  # 5 ms

Segment = tuple[str, "int | float | str"]


def trim(pcm: np.ndarray, dbfs: float = TRIM_DBFS) -> np.ndarray:
    """Cut the leading and trailing samples whose centred 5 ms RMS level is below ``dbfs``."""
    power = np.convolve(pcm.astype(np.float64) ** 2, np.ones(_ENVELOPE) / _ENVELOPE, mode="same")
    loud = np.flatnonzero(power >= (32768.0 * 10 ** (dbfs / 20)) ** 2)
    return pcm[loud[0]:loud[-1] + 1] if loud.size else pcm[:0]


def white_noise(n: int, dbfs: float, seed: int = 0) -> np.ndarray:
    """Gaussian white noise with an RMS of ``dbfs`` (float, int16 scale)."""
    return np.random.default_rng(seed).standard_normal(n) * 32768.0 * 10 ** (dbfs / 20)


def make_utterance(segments: Sequence[Segment], *, voice: str = "alloy", speed: float = 1.0,
                   level_dbfs: float | None = None, noise_dbfs: float | None = -60.0, seed: int = 0,
                   ) -> tuple[np.ndarray, list[tuple[float, float]]]:
    """Build 24 kHz int16 audio and the true speech intervals ``[(start_ms, end_ms), ...]``.

    ``level_dbfs`` rescales every speech segment to that RMS level; ``noise_dbfs=None`` adds no noise.
    """
    parts: list[np.ndarray] = []
    truth: list[tuple[float, float]] = []
    n = 0
    for kind, value in segments:
        if kind == "silence":
            seg = np.zeros(round(float(value) * RATE / 1000))
        elif kind == "speech":
            seg = trim(tts.synthesize(str(value), voice=voice, speed=speed, engine="espeak-ng")).astype(np.float64)
            if level_dbfs is not None and seg.size:
                seg *= 32768.0 * 10 ** (level_dbfs / 20) / np.sqrt(np.mean(seg**2))
            truth.append((n * 1000 / RATE, (n + seg.size) * 1000 / RATE))
        else:
            raise ValueError(f"unknown segment kind {kind!r} (use 'silence' or 'speech')")
        parts.append(seg)
        n += seg.size
    signal = np.concatenate(parts) if parts else np.zeros(0)
    if noise_dbfs is not None:
        signal = signal + white_noise(signal.size, noise_dbfs, seed)
    return np.clip(np.rint(signal), -32768, 32767).astype(np.int16), truth


def make_utterance_wav(path: str | os.PathLike[str], segments: Sequence[Segment], **kwargs: object
                       ) -> list[tuple[float, float]]:
    """Write ``make_utterance(segments, **kwargs)`` to a WAV file; returns the true speech intervals."""
    pcm, truth = make_utterance(segments, **kwargs)  # type: ignore[arg-type]
    au.write_wav(path, pcm)
    return truth
