"""Audio helpers: PCM16 ⇄ float, resampling, G.711, base64 at the wire boundary, WAV files.

Inside realtime_nb audio is a 1-D ``numpy.int16`` array of mono samples at 24 kHz (``SAMPLE_RATE``),
which is what the Realtime ``audio/pcm`` format carries. This module converts everything else to and
from that representation:

- ``to_pcm16`` turns floats, ints, bytes, lists, stereo arrays and other sample rates into it;
- ``resample`` is a windowed-sinc (Kaiser) polyphase resampler for any pair of integer rates;
- ``ulaw_*`` / ``alaw_*`` implement ITU-T G.711; ``decode_audio`` / ``encode_audio`` handle the three
  Realtime wire formats (``audio/pcm``, ``audio/pcmu``, ``audio/pcma`` and their beta names);
- ``b64*`` exist only for the JSON wire boundary;
- ``read_wav`` / ``write_wav`` parse RIFF themselves, because the stdlib ``wave`` rejects float WAVs;
- ``load_file_24k`` reads any audio file: WAV with that parser, MP3, M4A/AAC, OGG/Opus, FLAC … with
  ``decode_file`` (FFmpeg through PyAV, ``pip install realtime-nb[files]``), bounded in size, length and
  time, with a clear ``ValueError`` for a file it cannot read.

Only numpy and the standard library are used (plus ``pybase64``'s SIMD codec for base64 when it is
installed, the stdlib otherwise), and every function is vectorized.

>>> pcm = to_pcm16(np.zeros(480, dtype=np.float32), sample_rate=48000)
>>> pcm.dtype, pcm.shape
(dtype('int16'), (240,))
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

import numpy as np

# The implementation lives in ``_audio``, one module per concern (pcm, resample, g711, wire, wav).
from ._audio.decode import decode_file, is_compressed_audio, load_file_24k
from ._audio.g711 import alaw_decode, alaw_encode, ulaw_decode, ulaw_encode
from ._audio.pcm import (
    _BYTES_LIKE,
    SAMPLE_RATE,
    Int16Array,
    _coerce_pcm16,
    _pcm16_from_bytes,
    float_to_pcm16,
    pcm16_to_float,
    rms_dbfs,
    to_pcm16,
)
from ._audio.pcm import Float32Array as Float32Array  # (type aliases: importable here, not in __all__)
from ._audio.resample import _bank as _bank  # server/vad.py builds its block resampler on the cached bank
from ._audio.resample import resample
from ._audio.wav import WavSource as WavSource
from ._audio.wav import load_wav_24k, read_wav, wav_bytes, write_wav
from ._audio.wire import bytes_per_ms, decode_audio, duration_ms, encode_audio

try:  # SIMD base64, ~15x the stdlib on a 100 ms audio delta; same strictness (see b64decode)
    import pybase64 as _pybase64
except ImportError:  # pragma: no cover - a declared dependency; the stdlib keeps everything working
    _pybase64 = None  # type: ignore[assignment]

__all__ = [
    "SAMPLE_RATE",
    "alaw_decode",
    "alaw_encode",
    "b64decode",
    "b64decode_pcm16",
    "b64encode",
    "b64encode_pcm16",
    "bytes_per_ms",
    "decode_audio",
    "decode_file",
    "duration_ms",
    "encode_audio",
    "float_to_pcm16",
    "is_compressed_audio",
    "load_file_24k",
    "load_wav_24k",
    "pcm16_to_float",
    "read_wav",
    "resample",
    "rms_dbfs",
    "to_pcm16",
    "ulaw_decode",
    "ulaw_encode",
    "wav_bytes",
    "write_wav",
]


# --- base64 (wire boundary only) -----------------------------------------------------------------
# Defined here rather than in ``_audio``: the backend is this module's ``_pybase64``, which the tests set
# to None to run the stdlib fallback.


def b64encode(data: bytes) -> str:
    """Base64-encode bytes to an ASCII str (standard alphabet, padded)."""
    if not isinstance(data, _BYTES_LIKE):
        raise TypeError(f"b64encode expects bytes, got {type(data).__name__}")
    if _pybase64 is not None:
        return _pybase64.b64encode_as_string(bytes(data))
    return base64.b64encode(bytes(data)).decode("ascii")


def _b64decode(s: str | bytes) -> bytes | bytearray:
    """``b64decode`` without the copy to ``bytes`` (pybase64 decodes into a ``bytearray``)."""
    if isinstance(s, str):
        if not s.isascii():
            raise ValueError("invalid base64: contains non-ASCII characters")
    elif not isinstance(s, _BYTES_LIKE):
        raise TypeError(f"b64decode expects str or bytes, got {type(s).__name__}")
    try:
        if _pybase64 is not None:
            # validate=True: only the alphabet and final padding, no whitespace (as binascii's strict mode)
            return _pybase64.b64decode_as_bytearray(s, validate=True)
        return base64.b64decode(s, validate=True)
    except binascii.Error as exc:
        raise ValueError(f"invalid base64 ({exc})") from None


def b64decode(s: str | bytes) -> bytes:
    """Strictly decode standard base64; raise ``ValueError`` on anything else (incl. whitespace)."""
    raw = _b64decode(s)
    return raw if isinstance(raw, bytes) else bytes(raw)


def b64encode_pcm16(pcm16: Any) -> str:
    """Base64 of 16-bit little-endian PCM, for ``audio/pcm`` wire payloads."""
    pcm = np.ascontiguousarray(_coerce_pcm16(pcm16), dtype="<i2")
    if _pybase64 is not None:
        return _pybase64.b64encode_as_string(pcm.data)  # reads the array's memory: no bytes copy
    return b64encode(pcm.tobytes())


def b64decode_pcm16(s: str) -> Int16Array:
    """Decode a base64 ``audio/pcm`` payload to int16 samples (a new, writable array)."""
    raw = _b64decode(s)
    if isinstance(raw, bytearray) and _NATIVE_I16_IS_LE:
        if len(raw) % 2:
            raise ValueError(f"PCM16 audio must have an even number of bytes, got {len(raw)}")
        return np.frombuffer(raw, _I16)  # the fresh bytearray is the array's own memory
    return _pcm16_from_bytes(raw)


_I16 = np.dtype(np.int16)  # the dtype object: numpy resolves ``np.int16`` (the type) on every call
_NATIVE_I16_IS_LE = _I16.byteorder == "=" and np.little_endian

