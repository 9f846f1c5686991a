"""Payload helpers of the reducer: items copied without base64 audio, audio decoded in its session format.

The reducer stores nothing it was given: ``_clean_item`` deep-copies an item and takes its base64 audio
out (to be decoded and kept beside it), ``_pcm`` copies caller audio. ``_as_format`` reads a format in
either dialect (beta strings, GA objects) and ``_decode`` turns base64 in that format into int16 24 kHz.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from realtime_nb import audio as _audio

from .codec import clone
from .conversation import PCM

_DEFAULT_FORMAT: dict[str, Any] = {"type": "audio/pcm", "rate": 24000}
# Beta sessions name formats with strings; GA uses format objects.
_BETA_FORMATS: dict[str, dict[str, Any]] = {
    "pcm16": _DEFAULT_FORMAT,
    "g711_ulaw": {"type": "audio/pcmu"},
    "g711_alaw": {"type": "audio/pcma"},
}


def _empty() -> PCM:
    return np.zeros(0, dtype=np.int16)


def _pcm(chunk: Any) -> PCM:
    """A private int16 copy, so later changes to the caller's buffer cannot reach our state."""
    return np.array(chunk, dtype=np.int16).reshape(-1)


def _clean_item(item: dict[str, Any]) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """A deep copy of ``item`` without base64 audio, plus the removed ``(part type, base64)`` pairs."""
    clean = clone(item)
    found: list[tuple[str, str]] = []
    for part in clean.get("content") or []:
        if isinstance(part, dict) and isinstance(part.get("audio"), str):
            found.append((str(part.get("type")), part.pop("audio")))
    return clean, found


def _as_format(fmt: Any) -> dict[str, Any]:
    if isinstance(fmt, dict) and "type" in fmt:
        return fmt
    if isinstance(fmt, str):
        return _BETA_FORMATS.get(fmt, _DEFAULT_FORMAT)
    return _DEFAULT_FORMAT


def _decode(b64: str, fmt: dict[str, Any]) -> PCM:
    if fmt.get("type") == "audio/pcm":
        return _audio.b64decode_pcm16(b64)
    return _audio.decode_audio(_audio.b64decode(b64), fmt)
