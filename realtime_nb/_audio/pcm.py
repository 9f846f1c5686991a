"""The package's audio representation and conversions into it: mono ``numpy.int16`` at 24 kHz.

``SAMPLE_RATE`` and the array types are defined here; ``float_to_pcm16`` / ``pcm16_to_float`` convert
between int16 and float samples, ``to_pcm16`` coerces floats, ints, bytes, lists, stereo arrays and other
sample rates (through ``resample``), and ``rms_dbfs`` measures a level. ``_coerce_pcm16`` (everything
``to_pcm16`` does except resampling) is what the codecs and the WAV writer accept their input through.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import numpy.typing as npt

from .resample import resample

SAMPLE_RATE = 24000

Int16Array = npt.NDArray[np.int16]
Float32Array = npt.NDArray[np.float32]
_BYTES_LIKE = (bytes, bytearray, memoryview)


def float_to_pcm16(x: npt.ArrayLike) -> Int16Array:
    """Convert float samples in [-1, 1] to int16.

    Samples are clipped to [-1, 1] and scaled by 32768 (then rounded and clipped to 32767), the
    inverse of ``pcm16_to_float``: ``float_to_pcm16(pcm16_to_float(p))`` returns ``p`` exactly, and
    1.0 maps to 32767. NaN or infinite samples raise ``ValueError``.
    """
    arr = np.asarray(x, dtype=np.float64)
    if arr.size and not np.all(np.isfinite(arr)):
        raise ValueError("audio samples contain NaN or infinite values")
    scaled = np.rint(np.clip(arr, -1.0, 1.0) * 32768.0)
    return np.clip(scaled, -32768, 32767).astype(np.int16)


def pcm16_to_float(x: npt.ArrayLike | bytes) -> Float32Array:
    """Convert int16 samples (an integer array or little-endian bytes) to float32 by dividing by 32768."""
    if isinstance(x, _BYTES_LIKE):
        arr: np.ndarray = _pcm16_from_bytes(x)
    else:
        arr = np.asarray(x)
        if arr.dtype.kind not in "iu":
            raise TypeError(f"pcm16_to_float expects integer samples, got dtype {arr.dtype}")
        _check_int16_range(arr)
    out: Float32Array = arr.astype(np.float32) / np.float32(32768.0)
    return out


def _pcm16_from_bytes(data: bytes | bytearray | memoryview) -> Int16Array:
    raw = data.tobytes() if isinstance(data, memoryview) else bytes(data)
    if len(raw) % 2:
        raise ValueError(f"PCM16 audio must have an even number of bytes, got {len(raw)}")
    return np.frombuffer(raw, dtype="<i2").astype(np.int16)


def _check_int16_range(arr: np.ndarray) -> None:
    if arr.dtype.itemsize == 1 or arr.dtype == np.int16:
        return  # in range by construction (the common case: every mic chunk)
    if arr.size and (arr.min() < -32768 or arr.max() > 32767):
        raise ValueError(
            f"integer samples out of int16 range [{arr.min()}, {arr.max()}]; scale them to int16 "
            "or pass floats in [-1, 1]"
        )


def _mix_to_mono(arr: np.ndarray) -> np.ndarray:
    """Average the channels of a 2-D array (frames x channels, or channels x frames when obvious)."""
    if arr.ndim == 1:
        return arr
    rows, cols = arr.shape
    # (1 or 2, many) is channels-first; a plausible channel count (<= 8, i.e. 7.1) stays frames-first.
    if rows in (1, 2) and cols > 8:
        arr = arr.T
    if arr.shape[1] == 0:
        raise ValueError("2-D audio has no channels")
    mono: np.ndarray = arr.astype(np.float64).mean(axis=1)
    return mono


def _coerce_pcm16(data: Any) -> Int16Array:
    """Everything ``to_pcm16`` does except resampling."""
    if isinstance(data, _BYTES_LIKE):
        return _pcm16_from_bytes(data)
    if isinstance(data, str):
        raise TypeError("audio must be samples or bytes, not str (use b64decode_pcm16 for base64 text)")
    if isinstance(data, (list, tuple)):
        try:
            arr = np.asarray(data)
        except ValueError as exc:
            raise ValueError(f"could not convert list to audio samples: {exc}") from None
    elif isinstance(data, np.ndarray):
        arr = data
    else:
        raise TypeError(
            f"unsupported audio type {type(data).__name__}; expected a numpy array, bytes or a list"
        )
    if arr.ndim not in (1, 2):
        raise ValueError(f"audio must be 1-D (mono) or 2-D (frames x channels), got shape {arr.shape}")
    kind = arr.dtype.kind
    if kind == "f":
        if arr.size:
            if not np.all(np.isfinite(arr)):
                raise ValueError("audio samples contain NaN or infinite values")
            peak = float(np.max(np.abs(arr)))
            # Float int16-scale samples (e.g. np.array(pcm, float)) would silently clip to noise.
            if peak > 2.0:
                raise ValueError(
                    f"float audio must be in [-1, 1], got peak {peak:g}; divide int16-scale samples "
                    "by 32768 or pass an int16 array"
                )
        return float_to_pcm16(_mix_to_mono(arr))
    if kind in "iu":
        _check_int16_range(arr)
        if arr.ndim == 1:
            return arr.astype(np.int16)
        mixed: Int16Array = np.rint(_mix_to_mono(arr)).astype(np.int16)
        return mixed
    raise TypeError(f"unsupported sample dtype {arr.dtype}; expected float (in [-1, 1]) or int16")


def to_pcm16(data: Any, sample_rate: int = SAMPLE_RATE) -> Int16Array:
    """Convert audio in any common shape to mono int16 at 24 kHz.

    Accepts float arrays (samples in [-1, 1]; slightly hotter signals are clipped), int16 arrays,
    other integer arrays whose values fit int16, ``bytes``/``bytearray``/``memoryview`` holding
    16-bit little-endian PCM, and Python lists (numpy's dtype inference decides float vs int).
    2-D arrays are frames x channels, or channels x frames when the first dimension is 1 or 2 and the
    second is longer than 8; channels are averaged. Audio at another ``sample_rate`` is resampled.

    >>> to_pcm16([0.0, 0.5, -1.0]).tolist()
    [0, 16384, -32768]
    """
    return resample(_coerce_pcm16(data), sample_rate, SAMPLE_RATE)


# --- meters --------------------------------------------------------------------------------------


def rms_dbfs(pcm16: Any) -> float:
    """RMS level in dB relative to full scale (a full-scale square wave is 0 dBFS, a sine -3 dBFS).

    Silence and empty input give ``-inf``.
    """
    x = _coerce_pcm16(pcm16).astype(np.float64) / 32768.0
    if x.size == 0:
        return float("-inf")
    rms = math.sqrt(float(np.mean(x * x)))
    return 20.0 * math.log10(rms) if rms > 0 else float("-inf")
