"""Compressed audio files (MP3, M4A/AAC, OGG/Opus/Vorbis, FLAC, WebM …) decoded by FFmpeg through PyAV.

``decode_file(source)`` returns 24 kHz mono int16, whatever the container, codec, channel layout or rate
(FFmpeg's resampler does the conversion while decoding). WAV stays with our own parser (``wav.py``) and
needs nothing installed; ``load_file_24k`` picks one or the other. PyAV (``pip install realtime-nb[files]``,
also part of ``[speech]``) bundles FFmpeg in its wheels.

A bad or hostile file fails fast with a ``ValueError`` that says what is wrong, and decoding is bounded:

- at most ``MAX_BYTES`` of file (checked before reading);
- at most ``MAX_SECONDS`` of decoded audio (a tiny file that claims hours stops at the limit, so memory
  stays under ``MAX_SECONDS`` x 48 kB);
- at most ``MAX_DECODE_S`` of wall-clock time;
- a file with no audio stream, or that FFmpeg cannot parse, is refused.
"""

from __future__ import annotations

import io
import os
import time
from typing import Any

import numpy as np

from .pcm import _BYTES_LIKE, SAMPLE_RATE, Int16Array

__all__ = ["MAX_BYTES", "MAX_DECODE_S", "MAX_SECONDS", "decode_file", "is_compressed_audio", "load_file_24k"]

MAX_BYTES = 1 << 30
"""Largest file accepted (1 GiB)."""
MAX_SECONDS = 4 * 3600.0
"""Longest decoded audio accepted (4 hours: 660 MB of int16 at 24 kHz)."""
MAX_DECODE_S = 300.0
"""Longest time decoding may take."""

# Leading bytes of the containers people have (checked on bytes, which are otherwise raw PCM16).
_MAGIC = (b"ID3", b"OggS", b"fLaC", b"\x1a\x45\xdf\xa3", b"FORM", b"#!AMR", b"caff")


def is_compressed_audio(data: bytes) -> bool:
    """Whether ``data`` starts like a compressed audio file (MP3, MP4/M4A, OGG, FLAC, WebM, AIFF, AMR, CAF)."""
    head = bytes(data[:12])
    if head.startswith(_MAGIC) or head[4:8] == b"ftyp":
        return True
    return len(head) >= 2 and head[0] == 0xFF and (head[1] & 0xE0) == 0xE0  # an MPEG audio / ADTS frame sync


def _av() -> Any:
    try:
        import av
    except ImportError:
        raise ValueError("Reading compressed audio (MP3, M4A, OGG, FLAC …) needs PyAV: "
                         "pip install realtime-nb[files]  (WAV files need nothing)") from None
    return av


def decode_file(source: Any, *, max_seconds: float = MAX_SECONDS, max_bytes: int = MAX_BYTES,
                max_decode_s: float = MAX_DECODE_S) -> Int16Array:
    """Decode an audio file (path, bytes or binary file object) to 24 kHz mono int16; ``ValueError`` if it can't be."""
    av = _av()
    name = os.fspath(source) if isinstance(source, (str, os.PathLike)) else "<audio bytes>"
    if isinstance(source, (str, os.PathLike)):
        try:
            size = os.path.getsize(source)
        except OSError as exc:
            raise ValueError(f"Cannot read audio file {name}: {exc.strerror or exc}") from None
        if size > max_bytes:
            raise ValueError(f"Audio file {name} is too large: {size} bytes (at most {max_bytes}).")
        if size == 0:
            raise ValueError(f"Audio file {name} is empty.")
        src: Any = os.fspath(source)
    elif isinstance(source, _BYTES_LIKE):
        if len(source) > max_bytes:
            raise ValueError(f"Audio data is too large: {len(source)} bytes (at most {max_bytes}).")
        if not len(source):
            raise ValueError("Audio data is empty.")
        src = io.BytesIO(bytes(source))
    elif hasattr(source, "read"):
        src = source
    else:
        raise TypeError(f"expected a path, bytes or a binary file object, got {type(source).__name__}")
    deadline = time.monotonic() + max_decode_s
    limit = int(max_seconds * SAMPLE_RATE)
    chunks: list[np.ndarray] = []
    total = 0
    try:
        with av.open(src, mode="r", metadata_errors="ignore") as container:
            streams = container.streams.audio
            if not streams:
                raise ValueError(f"{name} has no audio stream.")
            resampler = av.AudioResampler(format="s16", layout="mono", rate=SAMPLE_RATE)
            for frame in container.decode(streams[0]):
                for out in [*resampler.resample(frame)]:
                    pcm = out.to_ndarray().reshape(-1)
                    chunks.append(pcm)
                    total += len(pcm)
                if total > limit:
                    raise ValueError(f"{name} is longer than {max_seconds:g} s of audio; cut it or raise max_seconds.")
                if time.monotonic() > deadline:
                    raise ValueError(f"Decoding {name} took longer than {max_decode_s:g} s.")
            for out in resampler.resample(None):  # flush what the resampler holds back
                chunks.append(out.to_ndarray().reshape(-1))
    except av.error.FFmpegError as exc:
        raise ValueError(f"Cannot decode {name} as audio: {exc}") from None
    if not chunks:
        raise ValueError(f"{name} holds no decodable audio.")
    return np.ascontiguousarray(np.concatenate(chunks), dtype=np.int16)


def load_file_24k(source: Any) -> Int16Array:
    """Any audio file as 24 kHz mono int16: WAV through our parser, everything else through ``decode_file``."""
    from .wav import load_wav_24k

    if isinstance(source, (str, os.PathLike)):
        with open(source, "rb") as f:
            head = f.read(12)
        if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
            return load_wav_24k(source)
        return decode_file(source)
    if isinstance(source, _BYTES_LIKE):
        if bytes(source[:4]) == b"RIFF":
            return load_wav_24k(bytes(source))
        return decode_file(source)
    return decode_file(source)
