"""A windowed-sinc (Kaiser) polyphase resampler for any pair of integer sample rates.

``resample`` takes int16 or float 1-D audio; the filter bank for a rate pair is built once and cached
(``_bank``, which ``server/vad.py`` reuses for its block resampler). Common rate pairs go through
``_resample_phases`` (one output phase at a time), odd ones through ``_resample_loop``; both add the
same products in the same order, so the output does not depend on the path. ``_rate`` validates a rate.
"""

from __future__ import annotations

import functools
import math
import operator
from typing import Any

import numpy as np
import numpy.typing as npt

_ROLLOFF = 0.9  # pass-band edge as a fraction of the lower of the two Nyquist frequencies
_ZEROS = 16  # sinc zero crossings on each side of the kernel: sets the transition width
_BETA = 8.0  # Kaiser window shape, ~80 dB stop band
_BANK_CACHE_MAX_UP = 4096  # cache the full filter bank only when it is small


def _rate(value: Any, name: str) -> int:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool):
        raise TypeError(f"{name} must be an integer number of Hz, got {value!r}")
    try:
        rate = operator.index(value)
    except TypeError:
        raise TypeError(f"{name} must be an integer number of Hz, got {value!r}") from None
    if rate <= 0:
        raise ValueError(f"{name} must be positive, got {rate}")
    return rate


def _kernel(up: int, down: int, phases: np.ndarray) -> tuple[np.ndarray, int]:
    """Windowed-sinc taps, one row per output phase; column c weighs input sample ``base + c - k``."""
    fc = 0.5 * min(1.0, up / down) * _ROLLOFF  # cut-off in cycles per input sample
    half = _ZEROS / (2.0 * fc)  # kernel half-width in input samples
    k = math.ceil(half)
    dist = phases[:, None] / up - np.arange(-k, k + 1)[None, :]
    inside = np.abs(dist) < half
    window = np.zeros_like(dist)
    window[inside] = np.i0(_BETA * np.sqrt(1.0 - (dist[inside] / half) ** 2)) / np.i0(_BETA)
    taps = 2.0 * fc * np.sinc(2.0 * fc * dist) * window
    taps /= taps.sum(axis=1, keepdims=True)  # exact unity gain at DC for every phase
    return taps, k


@functools.lru_cache(maxsize=32)
def _bank(up: int, down: int) -> tuple[np.ndarray, int]:
    taps, k = _kernel(up, down, np.arange(up))
    taps.setflags(write=False)
    return taps, k


_PHASES_MAX_UP = 512  # up to here (all common rate pairs), resample one output phase at a time


def _resample_phases(arr: np.ndarray, up: int, down: int, n_out: int) -> npt.NDArray[np.float64]:
    """The same sums as ``_resample_loop``, one output phase at a time, without gathers.

    Outputs ``j, j + up, j + 2up, ...`` share a phase: their inputs are a strided window of the padded
    signal (start ``(j * down) // up``, step ``down``), weighted by one column of taps. Each product is
    the loop's product, and ``np.add.reduce`` over axis 0 of a C-ordered array adds the rows (taps) one
    after another, as the loop does, so the output is bit-identical. ~4x faster for the VAD's 30 ms
    blocks, ~5x for a TTS clip.
    """
    taps, k = _bank(up, down)
    n_taps = 2 * k + 1
    padded = np.zeros(arr.size + 2 * k + 1)
    padded[k : k + arr.size] = arr
    step = padded.strides[0]
    out = np.empty(n_out)
    for j in range(min(up, n_out)):
        start, phase = divmod(j * down, up)
        count = (n_out - j + up - 1) // up
        # A strided view (the ndarray constructor: as_strided's Python wrapper costs more than the product).
        window = np.ndarray((n_taps, count), dtype=np.float64, buffer=padded, offset=start * step,
                            strides=(step, down * step))
        out[j::up] = np.add.reduce(np.multiply(window, taps[phase][:, None], order="C"), axis=0)
    return out


def resample(x: npt.ArrayLike, src_rate: int, dst_rate: int) -> np.ndarray:
    """Resample 1-D audio from ``src_rate`` to ``dst_rate`` Hz with a band-limited polyphase filter.

    int16 in gives int16 out (rounded, clipped); float in gives float32 out. The kernel is a
    Kaiser-windowed sinc whose cut-off is 0.9 x the lower Nyquist frequency, so downsampling is
    anti-aliased and upsampling suppresses images. The output has ``ceil(len(x) * dst / src)``
    samples, aligned with the input (no delay). Each call treats its input as a whole signal with
    silence around it, so resample whole clips rather than tiny chunks.

    >>> resample(np.zeros(480, dtype=np.int16), 48000, 24000).shape
    (240,)
    """
    src = _rate(src_rate, "src_rate")
    dst = _rate(dst_rate, "dst_rate")
    arr = np.asarray(x)
    if arr.ndim != 1:
        raise ValueError(f"resample expects 1-D mono audio, got shape {arr.shape}")
    if arr.dtype.kind == "f":
        is_int = False
    elif arr.dtype == np.int16:
        is_int = True
    else:
        raise TypeError(f"resample expects int16 or float samples, got {arr.dtype} (use to_pcm16 first)")
    out_dtype = np.int16 if is_int else np.float32
    if src == dst:
        return arr.astype(out_dtype)
    g = math.gcd(src, dst)
    up, down = dst // g, src // g
    n_out = -(-arr.size * up // down)
    if n_out == 0:
        return np.zeros(0, dtype=out_dtype)
    if up <= _PHASES_MAX_UP:
        out = _resample_phases(arr, up, down, n_out)
    else:
        out = _resample_loop(arr, up, down, n_out)
    if is_int:
        return np.clip(np.rint(out), -32768, 32767).astype(np.int16)
    return out.astype(np.float32)


def _resample_loop(arr: np.ndarray, up: int, down: int, n_out: int) -> npt.NDArray[np.float64]:
    # Output n sits at input time n * down / up = base + phase / up.
    base, phase = np.divmod(np.arange(n_out, dtype=np.int64) * down, up)
    if up <= _BANK_CACHE_MAX_UP:
        taps, k = _bank(up, down)
    else:  # odd rate pairs: only build the phases that occur
        used, phase = np.unique(phase, return_inverse=True)
        taps, k = _kernel(up, down, used)
    padded = np.zeros(arr.size + 2 * k + 1)
    padded[k : k + arr.size] = arr
    out = np.zeros(n_out)
    for c in range(2 * k + 1):  # one vectorized pass per tap; memory stays O(n_out)
        column = taps[:, c]
        out += padded[base + c] * (column[0] if up == 1 else column[phase])
    return out
