"""ITU-T G.711 µ-law and A-law: int16 samples ⇄ one byte per sample, at the same rate.

Encoding is vectorized through ``searchsorted`` on the segment starts; decoding is a lookup in a
256-entry table (``_ULAW_DECODE`` / ``_ALAW_DECODE``, which the WAV reader also uses for G.711 WAVs).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .pcm import _BYTES_LIKE, Int16Array, _coerce_pcm16

_SEGMENT_STARTS = np.array([256 << i for i in range(7)])  # 256 ... 16384: segment i+1 starts here
_ULAW_BIAS = 0x84
_ULAW_CLIP = 32635


def _ulaw_table() -> Int16Array:
    b = ~np.arange(256) & 0xFF
    exp, mant = (b >> 4) & 0x07, b & 0x0F
    mag = (((mant << 3) + _ULAW_BIAS) << exp) - _ULAW_BIAS
    table: Int16Array = np.where(b & 0x80, -mag, mag).astype(np.int16)
    return table


def _alaw_table() -> Int16Array:
    a = np.arange(256) ^ 0x55
    seg, mant = (a >> 4) & 0x07, a & 0x0F
    mag = ((mant << 4) + np.where(seg == 0, 8, 0x108)) << np.maximum(seg - 1, 0)
    table: Int16Array = np.where(a & 0x80, mag, -mag).astype(np.int16)
    return table


_ULAW_DECODE = _ulaw_table()
_ALAW_DECODE = _alaw_table()


def _g711_codes(data: Any) -> np.ndarray:
    if isinstance(data, _BYTES_LIKE):
        return np.frombuffer(bytes(data), dtype=np.uint8)
    if isinstance(data, np.ndarray) and data.dtype == np.uint8 and data.ndim == 1:
        return data
    raise TypeError(f"G.711 data must be bytes (or a 1-D uint8 array), got {type(data).__name__}")


def ulaw_encode(pcm16: Any) -> bytes:
    """Encode int16 samples (anything ``to_pcm16`` accepts, no resampling) as G.711 µ-law bytes.

    Uses the standard 0x84 bias, clipping at 32635 and inverted code bits: ``ulaw_encode([0])`` is
    ``b"\\xff"``. Each sample gets the code of the G.711 decision interval containing it.
    """
    x = _coerce_pcm16(pcm16).astype(np.int32)
    sign = np.where(x < 0, 0x80, 0)
    mag = np.minimum(np.abs(x), _ULAW_CLIP) + _ULAW_BIAS
    exp = np.searchsorted(_SEGMENT_STARTS, mag, side="right")
    mant = (mag >> (exp + 3)) & 0x0F
    codes = ~(sign | (exp << 4) | mant) & 0xFF
    return bytes(codes.astype(np.uint8))


def ulaw_decode(data: bytes) -> Int16Array:
    """Decode G.711 µ-law bytes to int16 samples (same rate; max magnitude 32124)."""
    out: Int16Array = _ULAW_DECODE[_g711_codes(data)]
    return out


def alaw_encode(pcm16: Any) -> bytes:
    """Encode int16 samples (anything ``to_pcm16`` accepts, no resampling) as G.711 A-law bytes.

    Even bits are inverted (XOR 0x55, with the sign bit set for positive samples): ``alaw_encode([0])``
    is ``b"\\xd5"``. Each sample gets the code of the G.711 decision interval containing it.
    """
    x = _coerce_pcm16(pcm16).astype(np.int32)
    neg = x < 0
    mag = np.where(neg, -x - 1, x)  # one's-complement magnitude, as G.711 specifies, 0..32767
    seg = np.searchsorted(_SEGMENT_STARTS, mag, side="right")
    mant = (mag >> np.maximum(seg + 3, 4)) & 0x0F
    return (((seg << 4) | mant) ^ np.where(neg, 0x55, 0xD5)).astype(np.uint8).tobytes()


def alaw_decode(data: bytes) -> Int16Array:
    """Decode G.711 A-law bytes to int16 samples (same rate; max magnitude 32256)."""
    out: Int16Array = _ALAW_DECODE[_g711_codes(data)]
    return out
