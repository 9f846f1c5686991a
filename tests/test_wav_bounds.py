"""The WAV reader checks a header's rate, channels and sample size before touching any sample.

A hostile or broken header gets a clear ``ValueError`` at once, in time and memory bounded by the
file's size: never a ``ZeroDivisionError``, never seconds of CPU or gigabytes asked for by a header
that claims 1 Hz.
"""

from __future__ import annotations

import struct
import time

import pytest

from realtime_nb import audio


def wav(body: bytes, *, channels: int = 1, rate: int = 16000, bits: int = 16, block: int | None = None) -> bytes:
    block = channels * bits // 8 if block is None else block
    fmt = struct.pack("<HHIIHH", 1, channels, rate, rate * block, block, bits)
    chunks = b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", len(body)) + body
    return b"RIFF" + struct.pack("<I", 4 + len(chunks)) + b"WAVE" + chunks


@pytest.mark.parametrize(("blob", "words"), [
    (wav(b"\x00" * 2048, rate=1), "sample rate 1 Hz"),
    (wav(b"\x00" * 200_000, rate=1), "sample rate 1 Hz"),
    (wav(b"\x00" * 64, rate=7999), "outside the supported 8000..192000"),
    (wav(b"\x00" * 64, rate=10_000_000), "outside"),
    (wav(b"\x00" * 64, channels=0), "0 channels"),
    (wav(b"\x00" * 64, channels=4000), "4000 channels"),
    (wav(b"\x00" * 64, bits=0, block=0), "inconsistent"),       # was ZeroDivisionError
    (wav(b"\x00" * 64, channels=2, block=1), "inconsistent"),   # block_align < channels: width 0
    (wav(b"\x00" * 64, channels=2, bits=16, block=5), "inconsistent"),
])
def test_bad_headers_raise_a_clear_value_error_fast(blob, words):
    started = time.perf_counter()
    with pytest.raises(ValueError, match=words):
        audio.load_wav_24k(blob)
    assert time.perf_counter() - started < 1.0


@pytest.mark.parametrize("rate", [8000, 44100, 192000])
def test_supported_rates_still_read(rate):
    pcm, got = audio.read_wav(wav(b"\x01\x00" * 100, rate=rate))
    assert got == rate and len(pcm) == 100
