"""Any audio file: MP3, M4A/AAC, OGG/Opus, FLAC (made here with PyAV's encoders) decode to 24 kHz mono;
bad and hostile files fail fast with a ValueError that says why."""

from __future__ import annotations

import io
import time

import numpy as np
import pytest

from realtime_nb import audio as au
from realtime_nb._audio import decode

av = pytest.importorskip("av")

RATE = 44100


def tone(seconds: float = 1.0, rate: int = RATE, hz: float = 440.0) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (0.5 * np.sin(2 * np.pi * hz * t)).astype(np.float32)


def encode(path, codec: str, fmt: str, signal: np.ndarray, rate: int = RATE, stereo: bool = True) -> None:
    """Write ``signal`` with one of PyAV's encoders (``fmt``: the container)."""
    layout = "stereo" if stereo else "mono"
    with av.open(str(path), "w", format=fmt) as out:
        stream = out.add_stream(codec, rate=48000 if "opus" in codec else rate, layout=layout)
        cc = stream.codec_context
        planar = np.stack([signal, signal]) if stereo else signal[None, :]
        frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(planar), format="fltp", layout=layout)
        frame.sample_rate = rate
        fifo = av.AudioFifo()
        resampler = av.AudioResampler(format=cc.format.name, layout=layout, rate=cc.rate)
        for f in [*resampler.resample(frame), *resampler.resample(None)]:
            fifo.write(f)
        size = cc.frame_size or 1024
        while (chunk := fifo.read(size, partial=True)) is not None and chunk.samples:
            for packet in stream.encode(chunk):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)


def dominant_hz(pcm: np.ndarray) -> float:
    spectrum = np.abs(np.fft.rfft(pcm.astype(np.float64)))
    return float(np.argmax(spectrum) * au.SAMPLE_RATE / len(pcm))


@pytest.mark.parametrize(("name", "codec", "fmt"), [
    ("a.mp3", "libmp3lame", "mp3"), ("a.m4a", "aac", "ipod"), ("a.ogg", "libopus", "ogg"),
    ("a.flac", "flac", "flac"), ("a.opus", "libopus", "opus"),
])
def test_each_format_decodes_to_24k_mono(tmp_path, name, codec, fmt):
    path = tmp_path / name
    encode(path, codec, fmt, tone(1.0))
    pcm = au.load_file_24k(path)
    assert pcm.dtype == np.int16 and pcm.ndim == 1
    assert abs(len(pcm) - au.SAMPLE_RATE) < 0.1 * au.SAMPLE_RATE   # about 1 s, whatever the codec's padding
    assert abs(dominant_hz(pcm) - 440) < 5
    assert np.sqrt(np.mean(pcm.astype(np.float64) ** 2)) > 0.3 * 0.5 * 32767 / np.sqrt(2)
    # bytes in memory decode the same way, and are recognized as a file rather than raw PCM
    data = path.read_bytes()
    assert au.is_compressed_audio(data)
    assert len(au.load_file_24k(data)) == len(pcm)


def test_wav_still_goes_through_our_own_parser(tmp_path, monkeypatch):
    path = tmp_path / "a.wav"
    au.write_wav(path, au.to_pcm16(tone(0.5, 16000), 16000))
    monkeypatch.setattr(decode, "decode_file", lambda *a, **k: pytest.fail("PyAV used for a WAV"))
    assert len(au.load_file_24k(path)) == au.SAMPLE_RATE // 2


@pytest.mark.parametrize("data", [b"ID3" + bytes(5000), b"OggS" + b"\x00" * 100, b"not audio at all " * 50,
                                  b"fLaC" + np.random.default_rng(1).bytes(4000)])
def test_garbage_is_a_clear_error_fast(tmp_path, data):
    path = tmp_path / "bad.mp3"
    path.write_bytes(data)
    t0 = time.monotonic()
    with pytest.raises(ValueError, match=r"bad\.mp3"):
        au.load_file_24k(path)
    assert time.monotonic() - t0 < 5


def test_a_file_with_no_audio_stream_is_refused(tmp_path):
    path = tmp_path / "video.mkv"
    with av.open(str(path), "w") as out:
        stream = out.add_stream("ffv1", rate=1)
        stream.width = stream.height = 16
        frame = av.VideoFrame.from_ndarray(np.zeros((16, 16, 3), np.uint8), format="rgb24")
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            out.mux(packet)
    with pytest.raises(ValueError, match="no audio stream"):
        au.load_file_24k(path)


def test_length_and_size_are_capped(tmp_path):
    path = tmp_path / "long.flac"
    encode(path, "flac", "flac", tone(3.0, 16000), rate=16000, stereo=False)
    with pytest.raises(ValueError, match="longer than 1 s"):
        au.decode_file(path, max_seconds=1.0)
    with pytest.raises(ValueError, match="too large"):
        au.decode_file(path, max_bytes=100)
    with pytest.raises(ValueError, match="too large"):
        au.decode_file(path.read_bytes(), max_bytes=100)
    with pytest.raises(ValueError, match="empty"):
        au.decode_file(b"")
    with pytest.raises(ValueError, match="Cannot read"):
        au.decode_file(tmp_path / "missing.mp3")


def test_a_file_object_decodes(tmp_path):
    path = tmp_path / "a.mp3"
    encode(path, "libmp3lame", "mp3", tone(0.5))
    assert abs(len(au.decode_file(io.BytesIO(path.read_bytes()))) - au.SAMPLE_RATE // 2) < 2400
