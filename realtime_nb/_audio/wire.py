"""The three Realtime wire audio formats: ``audio/pcm`` (24 kHz PCM16), ``audio/pcmu``, ``audio/pcma``.

``decode_audio`` / ``encode_audio`` convert wire bytes (already base64-decoded) to and from 24 kHz int16,
resampling G.711 from and to 8 kHz; formats are GA format objects, their type strings or the beta names
(``pcm16``, ``g711_ulaw``, ``g711_alaw``). ``bytes_per_ms`` / ``duration_ms`` size wire audio.
"""

from __future__ import annotations

from typing import Any

from .g711 import alaw_decode, alaw_encode, ulaw_decode, ulaw_encode
from .pcm import _BYTES_LIKE, SAMPLE_RATE, Int16Array, _coerce_pcm16, _pcm16_from_bytes
from .resample import resample

_G711_RATE = 8000

_FORMAT_NAMES = {
    "audio/pcm": "audio/pcm",
    "pcm16": "audio/pcm",
    "audio/pcmu": "audio/pcmu",
    "g711_ulaw": "audio/pcmu",
    "audio/pcma": "audio/pcma",
    "g711_alaw": "audio/pcma",
}
_FORMAT_RATES = {"audio/pcm": SAMPLE_RATE, "audio/pcmu": _G711_RATE, "audio/pcma": _G711_RATE}


def _format_type(fmt: str | dict[str, Any]) -> str:
    rate = None
    if isinstance(fmt, dict):
        name, rate = fmt.get("type"), fmt.get("rate")
    elif isinstance(fmt, str):
        name = fmt
    else:
        raise TypeError(f"audio format must be a str or a {{'type': ...}} dict, got {type(fmt).__name__}")
    canonical = _FORMAT_NAMES.get(name) if isinstance(name, str) else None
    if canonical is None:
        raise ValueError(f"unknown audio format {name!r}; expected one of {sorted(_FORMAT_NAMES)}")
    if rate is not None and rate != _FORMAT_RATES[canonical]:
        raise ValueError(f"{canonical} audio must be at {_FORMAT_RATES[canonical]} Hz, got rate={rate!r}")
    return canonical


def decode_audio(data: bytes, fmt: str | dict[str, Any]) -> Int16Array:
    """Decode wire audio bytes in Realtime format ``fmt`` to int16 mono at 24 kHz.

    ``fmt`` is a GA format object (``{"type": "audio/pcmu"}``), its type string, or a beta name
    (``"pcm16"``, ``"g711_ulaw"``, ``"g711_alaw"``). G.711 audio is upsampled from 8 kHz.
    """
    kind = _format_type(fmt)
    if not isinstance(data, _BYTES_LIKE):
        raise TypeError(f"wire audio must be bytes (decode base64 first), got {type(data).__name__}")
    if kind == "audio/pcm":
        return _pcm16_from_bytes(data)
    decoded = ulaw_decode(data) if kind == "audio/pcmu" else alaw_decode(data)
    return resample(decoded, _G711_RATE, SAMPLE_RATE)


def encode_audio(pcm16_24k: Any, fmt: str | dict[str, Any]) -> bytes:
    """Encode 24 kHz audio (anything ``to_pcm16`` accepts) as wire bytes in format ``fmt``.

    ``audio/pcm`` gives 16-bit little-endian bytes; G.711 formats are downsampled to 8 kHz first.
    """
    kind = _format_type(fmt)
    pcm = _coerce_pcm16(pcm16_24k)
    if kind == "audio/pcm":
        return pcm.astype("<i2").tobytes()
    narrow = resample(pcm, SAMPLE_RATE, _G711_RATE)
    return ulaw_encode(narrow) if kind == "audio/pcmu" else alaw_encode(narrow)


def bytes_per_ms(fmt: str | dict[str, Any]) -> float:
    """Wire bytes per millisecond of audio: 48.0 for ``audio/pcm``, 8.0 for G.711."""
    kind = _format_type(fmt)
    return _FORMAT_RATES[kind] * (2 if kind == "audio/pcm" else 1) / 1000.0


def duration_ms(nbytes: int, fmt: str | dict[str, Any]) -> float:
    """Duration in milliseconds of ``nbytes`` of wire audio in format ``fmt``."""
    if nbytes < 0:
        raise ValueError(f"nbytes must be non-negative, got {nbytes}")
    return nbytes / bytes_per_ms(fmt)
