"""WAV files: ``read_wav`` / ``load_wav_24k`` parse RIFF themselves, ``wav_bytes`` / ``write_wav`` write them.

The parser is our own because the stdlib ``wave`` rejects float WAVs: it reads 8/16/24/32-bit integer
PCM, 32/64-bit float, G.711 A-law/µ-law and their WAVE_FORMAT_EXTENSIBLE forms, from a path, a binary
file object or bytes. Writing produces 16-bit mono PCM. Other containers (decoded by a real decoder)
belong in a module of their own beside this one.
"""

from __future__ import annotations

import os
import struct
from typing import Any, BinaryIO, Union

import numpy as np

from .g711 import _ALAW_DECODE, _ULAW_DECODE
from .pcm import _BYTES_LIKE, SAMPLE_RATE, Int16Array, _coerce_pcm16
from .resample import _rate, resample

WavSource = Union[str, "os.PathLike[str]", BinaryIO, bytes, bytearray, memoryview]

_WAVE_PCM, _WAVE_FLOAT, _WAVE_ALAW, _WAVE_ULAW, _WAVE_EXTENSIBLE = 1, 3, 6, 7, 0xFFFE

# Bounds a header must meet before any sample is touched: the cost of reading (and resampling to
# 24 kHz) then grows with the file's size only, never with what its header claims. A 1 Hz header on a
# 2 KB file once cost 24 s of CPU and a 200 KB one asked for 17.9 GiB.
MIN_RATE, MAX_RATE = 8000, 192000
MAX_CHANNELS = 32
_WIDTHS = (1, 2, 3, 4, 8)


def _read_source(src: Any) -> bytes:
    if isinstance(src, _BYTES_LIKE):
        return bytes(src)
    if isinstance(src, (str, os.PathLike)):
        with open(src, "rb") as f:
            return f.read()
    if hasattr(src, "read"):
        raw = src.read()
        if not isinstance(raw, bytes):
            raise TypeError("WAV file objects must be opened in binary mode")
        return raw
    raise TypeError(f"expected a path, a binary file or bytes, got {type(src).__name__}")


def _parse_fmt(body: bytes) -> tuple[int, int, int, int]:
    if len(body) < 16:
        raise ValueError("WAV 'fmt ' chunk is too short")
    code, channels, rate, _, block_align, bits = struct.unpack_from("<HHIIHH", body)
    if code == _WAVE_EXTENSIBLE:
        if len(body) < 40:
            raise ValueError("WAVE_FORMAT_EXTENSIBLE 'fmt ' chunk is too short")
        (code,) = struct.unpack_from("<H", body, 24)  # first two bytes of the SubFormat GUID
    if not 1 <= channels <= MAX_CHANNELS:
        raise ValueError(f"WAV header has {channels} channels; expected 1 to {MAX_CHANNELS}")
    if not MIN_RATE <= rate <= MAX_RATE:
        raise ValueError(f"WAV sample rate {rate} Hz is outside the supported {MIN_RATE}..{MAX_RATE} Hz")
    width = block_align // channels if block_align else (bits + 7) // 8
    if width not in _WIDTHS or (block_align and block_align != width * channels):
        raise ValueError(f"WAV header is inconsistent: block_align {block_align} for {channels} channels of "
                         f"{bits}-bit samples")
    return code, channels, rate, width


def _samples_as_int16_units(code: int, width: int, data: bytes) -> np.ndarray:
    """Decode sample bytes to float64 on the int16 scale (before mixing and rounding)."""
    if code == _WAVE_PCM and width == 1:
        return (np.frombuffer(data, np.uint8).astype(np.float64) - 128.0) * 256.0
    if code == _WAVE_PCM and width == 2:
        return np.frombuffer(data, "<i2").astype(np.float64)
    if code == _WAVE_PCM and width == 3:
        b = np.frombuffer(data, np.uint8).reshape(-1, 3).astype(np.int32)
        v = b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)
        return ((v ^ 0x800000) - 0x800000) / 256.0  # sign-extend 24 bits
    if code == _WAVE_PCM and width == 4:
        return np.frombuffer(data, "<i4") / 65536.0
    if code == _WAVE_FLOAT and width in (4, 8):
        x = np.frombuffer(data, "<f4" if width == 4 else "<f8").astype(np.float64)
        if x.size and not np.all(np.isfinite(x)):
            raise ValueError("float WAV contains NaN or infinite samples")
        return x * 32768.0
    if code in (_WAVE_ALAW, _WAVE_ULAW) and width == 1:
        table = _ALAW_DECODE if code == _WAVE_ALAW else _ULAW_DECODE
        return table[np.frombuffer(data, np.uint8)].astype(np.float64)
    raise ValueError(f"unsupported WAV encoding: format code {code:#x} with {8 * width}-bit samples")


def read_wav(path_or_file: WavSource) -> tuple[Int16Array, int]:
    """Read a WAV file (path, binary file object or the file's bytes) as mono int16 and its rate.

    Supports 8/16/24/32-bit integer PCM, 32/64-bit float (format 3), G.711 A-law/µ-law, and their
    WAVE_FORMAT_EXTENSIBLE forms; channels are averaged. No resampling (see ``load_wav_24k``).
    """
    raw = _read_source(path_or_file)
    if len(raw) < 12 or raw[:4] != b"RIFF" or raw[8:12] != b"WAVE":
        raise ValueError("not a WAV file (missing RIFF/WAVE header)")
    fmt = data = None
    pos = 12
    while pos + 8 <= len(raw):
        chunk_id, size = raw[pos : pos + 4], struct.unpack_from("<I", raw, pos + 4)[0]
        body = raw[pos + 8 : pos + 8 + size]  # streaming writers leave size too large: clamp
        if chunk_id == b"fmt " and fmt is None:
            fmt = _parse_fmt(body)
        elif chunk_id == b"data" and data is None:
            data = body
        pos += 8 + size + (size & 1)  # chunks are word-aligned
    if fmt is None or data is None:
        raise ValueError(f"WAV file has no {'fmt ' if fmt is None else 'data'!r} chunk")
    code, channels, rate, width = fmt
    frame = width * channels
    usable = len(data) - len(data) % frame  # drop a trailing partial frame
    samples = _samples_as_int16_units(code, width, data[:usable]).reshape(-1, channels)
    mono = samples.mean(axis=1)
    return np.clip(np.rint(mono), -32768, 32767).astype(np.int16), rate


def load_wav_24k(path: WavSource) -> Int16Array:
    """Read a WAV file as mono int16 resampled to 24 kHz."""
    pcm, rate = read_wav(path)
    return resample(pcm, rate, SAMPLE_RATE)


def wav_bytes(pcm16: Any, sample_rate: int = SAMPLE_RATE) -> bytes:
    """Build a 16-bit mono PCM WAV file in memory from ``pcm16`` (anything ``to_pcm16`` accepts)."""
    rate = _rate(sample_rate, "sample_rate")
    data = _coerce_pcm16(pcm16).astype("<i2").tobytes()
    if len(data) > 0xFFFFFFFF - 36:
        raise ValueError("audio too long for a WAV file (4 GiB limit)")
    header = struct.pack(
        "<4sI4s4sIHHIIHH4sI",
        b"RIFF", 36 + len(data), b"WAVE",
        b"fmt ", 16, _WAVE_PCM, 1, rate, rate * 2, 2, 16,
        b"data", len(data),
    )  # fmt: skip
    return header + data


def write_wav(
    path_or_file: str | os.PathLike[str] | BinaryIO, pcm16: Any, sample_rate: int = SAMPLE_RATE
) -> None:
    """Write ``pcm16`` as a 16-bit mono WAV file to a path or a binary file object."""
    blob = wav_bytes(pcm16, sample_rate)
    if hasattr(path_or_file, "write"):
        path_or_file.write(blob)
        return
    with open(path_or_file, "wb") as f:
        f.write(blob)
