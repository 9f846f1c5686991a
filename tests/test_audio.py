"""Tests for realtime_nb.audio: conversions, resampling quality, G.711, wire formats, base64, WAV."""

from __future__ import annotations

import io
import struct
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from realtime_nb import audio

ALL_INT16 = np.arange(-32768, 32768, dtype=np.int16)


def tone(freq: float, rate: int, seconds: float = 0.5, amp: float = 0.5) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    return amp * np.sin(2 * np.pi * freq * t)


def level_db(x: np.ndarray) -> float:
    x = np.asarray(x, dtype=np.float64)
    return 20 * np.log10(np.sqrt(np.mean(x * x)))


def snr_db(ref: np.ndarray, test: np.ndarray) -> float:
    ref = np.asarray(ref, dtype=np.float64)
    noise = np.asarray(test, dtype=np.float64) - ref
    return 10 * np.log10(np.sum(ref * ref) / np.sum(noise * noise))


def peak_hz(x: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(np.asarray(x, dtype=np.float64) * np.hanning(len(x))))
    return float(np.fft.rfftfreq(len(x), 1 / rate)[np.argmax(spectrum)])


# --- float ⇄ pcm16 -------------------------------------------------------------------------------


def test_pcm16_float_round_trip_is_exact_for_every_int16():
    f = audio.pcm16_to_float(ALL_INT16)
    assert f.dtype == np.float32
    assert f[0] == -1.0 and f.max() < 1.0
    back = audio.float_to_pcm16(f)
    assert back.dtype == np.int16
    np.testing.assert_array_equal(back, ALL_INT16)


def test_float_to_pcm16_scales_and_clips():
    out = audio.float_to_pcm16([0.0, 0.5, -0.5, 1.0, -1.0, 3.0, -3.0])
    assert out.tolist() == [0, 16384, -16384, 32767, -32768, 32767, -32768]


def test_float_conversions_reject_bad_input():
    with pytest.raises(ValueError, match="NaN"):
        audio.float_to_pcm16([0.0, np.nan])
    with pytest.raises(TypeError, match="integer"):
        audio.pcm16_to_float(np.zeros(3, dtype=np.float32))
    with pytest.raises(ValueError, match="int16 range"):
        audio.pcm16_to_float(np.array([40000]))
    np.testing.assert_array_equal(audio.pcm16_to_float(b"\x00\x80\x00\x40"), [-1.0, 0.5])


# --- to_pcm16 ------------------------------------------------------------------------------------


def test_to_pcm16_accepts_bytes_like_little_endian():
    samples = np.array([1, -2, 32767, -32768], dtype="<i2")
    raw = samples.tobytes()
    for data in (raw, bytearray(raw), memoryview(raw)):
        out = audio.to_pcm16(data)
        assert out.dtype == np.int16
        assert out.tolist() == [1, -2, 32767, -32768]


def test_to_pcm16_floats_ints_and_lists():
    assert audio.to_pcm16(np.array([0.25, -0.25], dtype=np.float32)).tolist() == [8192, -8192]
    assert audio.to_pcm16(np.array([5, -5], dtype=np.int16)).tolist() == [5, -5]
    assert audio.to_pcm16(np.array([100, -100], dtype=np.int64)).dtype == np.int16
    assert audio.to_pcm16([0.0, 0.5]).tolist() == [0, 16384]
    assert audio.to_pcm16([7, -7]).tolist() == [7, -7]
    assert audio.to_pcm16(b"").size == 0 and audio.to_pcm16([]).dtype == np.int16


def test_to_pcm16_mixes_stereo_in_both_layouts():
    left, right = np.full(100, 1000, np.int16), np.full(100, 3000, np.int16)
    frames_first = np.stack([left, right], axis=1)  # (100, 2)
    assert set(audio.to_pcm16(frames_first).tolist()) == {2000}
    assert audio.to_pcm16(frames_first.T).shape == (100,)  # (2, 100) is channels-first
    assert set(audio.to_pcm16(frames_first.T).tolist()) == {2000}
    stereo_float = np.stack([np.full(50, 0.5), np.full(50, -0.5)], axis=1)
    assert set(audio.to_pcm16(stereo_float).tolist()) == {0}


def test_to_pcm16_resamples_to_24k():
    out = audio.to_pcm16(tone(1000, 48000, 0.1), sample_rate=48000)
    assert out.shape == (2400,)
    assert abs(peak_hz(out, 24000) - 1000) < 15


@pytest.mark.parametrize(
    ("data", "exc", "match"),
    [
        (b"\x00\x01\x02", ValueError, "even number of bytes"),
        (np.array([0.0, np.nan]), ValueError, "NaN"),
        (np.array([0.0, np.inf]), ValueError, "infinite"),
        (np.array([1000.0, -2000.0]), ValueError, "divide int16-scale"),
        (np.array([40000], dtype=np.int32), ValueError, "int16 range"),
        (np.array([True, False]), TypeError, "dtype"),
        (np.array(["a", "b"]), TypeError, "dtype"),
        (np.zeros((2, 3, 4)), ValueError, "1-D"),
        ("UklGRg==", TypeError, "b64decode_pcm16"),
        ({"audio": 1}, TypeError, "unsupported audio type"),
        ([[0.0, 1.0], [0.5]], ValueError, "could not convert"),
    ],
)
def test_to_pcm16_rejects_bad_input(data, exc, match):
    with pytest.raises(exc, match=match):
        audio.to_pcm16(data)


# --- resampling ----------------------------------------------------------------------------------


def test_downsample_keeps_frequency_and_amplitude():
    x = tone(1000, 48000, 1.0)
    y = audio.resample(x, 48000, 24000)
    assert y.dtype == np.float32 and len(y) == 24000
    assert abs(peak_hz(y, 24000) - 1000) < 2
    assert abs(level_db(y[500:-500]) - level_db(x)) < 1.0


@pytest.mark.parametrize("freq", [13000, 18000])
def test_downsample_suppresses_aliases(freq):
    # Above the new 12 kHz Nyquist: without a low-pass, 13 kHz would fold to 11 kHz at full level.
    x = tone(freq, 48000, 1.0)
    y = audio.resample(x, 48000, 24000)
    assert level_db(x) - level_db(y[500:-500]) > 40


def test_naive_decimation_would_alias():
    # Guards the test above: the tone really does fold into the band when not filtered.
    x = tone(13000, 48000, 1.0)
    assert abs(peak_hz(x[::2], 24000) - 11000) < 2
    assert abs(level_db(x[::2]) - level_db(x)) < 0.5


def test_upsample_suppresses_images():
    x = tone(1000, 8000, 1.0)
    y = audio.resample(x, 8000, 24000)
    assert len(y) == 24000
    spectrum = np.abs(np.fft.rfft(y[1200:-1200] * np.hanning(len(y) - 2400)))
    freqs = np.fft.rfftfreq(len(y) - 2400, 1 / 24000)
    main = spectrum[np.abs(freqs - 1000) < 50].max()
    images = spectrum[(np.abs(freqs - 7000) < 50) | (np.abs(freqs - 9000) < 50)].max()
    assert 20 * np.log10(main / images) > 50
    assert abs(level_db(y[1200:-1200]) - level_db(x)) < 1.0


@pytest.mark.parametrize(
    ("src", "dst", "n_in", "n_out"),
    [(48000, 24000, 4800, 2400), (16000, 24000, 1600, 2400), (8000, 24000, 800, 2400),
     (24000, 8000, 2401, 801), (44100, 24000, 4410, 2400), (24000, 24000, 7, 7)],
)  # fmt: skip
def test_resample_lengths_and_dtypes(src, dst, n_in, n_out):
    ints = audio.resample(np.ones(n_in, dtype=np.int16), src, dst)
    assert ints.dtype == np.int16 and len(ints) == n_out
    floats = audio.resample(np.ones(n_in, dtype=np.float64), src, dst)
    assert floats.dtype == np.float32 and len(floats) == n_out


def test_resample_preserves_dc_and_round_trips():
    dc = audio.resample(np.full(4800, 1000, dtype=np.int16), 48000, 16000)
    assert set(dc[100:-100].tolist()) == {1000}
    x = audio.to_pcm16(tone(440, 24000, 0.5) + tone(3000, 24000, 0.5, 0.2))
    back = audio.resample(audio.resample(x, 24000, 48000), 48000, 24000)
    assert snr_db(x[200:-200], back[200:-200]) > 50


def test_resample_odd_rate_pair_uses_uncached_phases():
    x = tone(500, 24000, 0.2)
    y = audio.resample(x, 24000, 22051)  # 22051 output phases
    assert len(y) == int(np.ceil(len(x) * 22051 / 24000))
    assert abs(peak_hz(y, 22051) - 500) < 6


def test_resample_edge_cases():
    assert audio.resample(np.zeros(0, np.int16), 48000, 24000).dtype == np.int16
    assert audio.resample(np.zeros(0, np.float32), 8000, 24000).size == 0
    x = np.array([1, 2, 3], dtype=np.int16)
    same = audio.resample(x, 24000, 24000.0)
    same[0] = 99
    assert x[0] == 1  # a copy, not a view
    with pytest.raises(ValueError, match="positive"):
        audio.resample(x, 0, 24000)
    with pytest.raises(TypeError, match="integer number of Hz"):
        audio.resample(x, 44100.5, 24000)
    with pytest.raises(TypeError, match="int16 or float"):
        audio.resample(np.zeros(4, np.int32), 48000, 24000)
    with pytest.raises(ValueError, match="1-D"):
        audio.resample(np.zeros((4, 2), np.int16), 48000, 24000)


# --- G.711 ---------------------------------------------------------------------------------------


def test_g711_reference_values():
    assert audio.ulaw_encode([0, 32767, -32768, -1]) == bytes([0xFF, 0x80, 0x00, 0x7F])
    assert audio.alaw_encode([0, 32767, -32768, -1]) == bytes([0xD5, 0xAA, 0x2A, 0x55])
    assert audio.ulaw_decode(bytes([0xFF, 0x7F, 0x80, 0x00, 0xF0])).tolist() == [0, 0, 32124, -32124, 120]
    assert audio.alaw_decode(bytes([0xD5, 0x55, 0xAA, 0x2A])).tolist() == [8, -8, 32256, -32256]


@pytest.mark.parametrize(("encode", "decode"), [(audio.ulaw_encode, audio.ulaw_decode),
                                                (audio.alaw_encode, audio.alaw_decode)])  # fmt: skip
def test_g711_quantizer_is_monotonic_and_decodes_to_interval_midpoints(encode, decode):
    codes = encode(ALL_INT16)
    assert len(codes) == ALL_INT16.size
    decoded = decode(codes).astype(np.int64)
    assert np.all(np.diff(decoded) >= 0)  # a monotonic quantizer: each level owns one interval of x
    levels, first, counts = np.unique(decoded, return_index=True, return_counts=True)
    assert set(levels.tolist()) == set(decode(bytes(range(256))).tolist())  # every level is reachable
    lo, hi = ALL_INT16[first].astype(np.int64), ALL_INT16[first + counts - 1].astype(np.int64)
    inner = slice(1, -1)  # the extreme levels also absorb the clipped range
    assert np.all(np.abs(levels[inner] - (lo[inner] + hi[inner]) / 2) <= 1)
    # Intervals grow with magnitude: 8 wide near zero (µ-law) / 16 (A-law), 1024 / 2048 at the top.
    assert (hi - lo + 1)[len(levels) // 2 + 2] <= 16 and (hi - lo + 1)[-2] >= 1024


@pytest.mark.parametrize(("encode", "decode"), [(audio.ulaw_encode, audio.ulaw_decode),
                                                (audio.alaw_encode, audio.alaw_decode)])  # fmt: skip
def test_g711_sine_snr(encode, decode):
    x = audio.to_pcm16(tone(440, 8000, 1.0, amp=0.5))
    assert snr_db(x, decode(encode(x))) > 30


def test_g711_matches_cpython_audioop():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        audioop = pytest.importorskip("audioop")  # removed in Python 3.13
    every_code = bytes(range(256))
    assert audio.ulaw_decode(every_code).tobytes() == audioop.ulaw2lin(every_code, 2)
    assert audio.alaw_decode(every_code).tobytes() == audioop.alaw2lin(every_code, 2)
    assert audio.alaw_encode(ALL_INT16) == audioop.lin2alaw(ALL_INT16.tobytes(), 2)
    # audioop rounds negative µ-law inputs toward -inf before encoding; compare the non-negative half.
    positive = ALL_INT16[ALL_INT16 >= 0]
    assert audio.ulaw_encode(positive) == audioop.lin2ulaw(positive.tobytes(), 2)


def test_g711_decode_rejects_non_bytes():
    with pytest.raises(TypeError, match=r"G\.711 data must be bytes"):
        audio.ulaw_decode([1, 2, 3])
    assert audio.alaw_decode(np.array([0xD5], dtype=np.uint8)).tolist() == [8]


# --- wire formats --------------------------------------------------------------------------------

PCM_NAMES = ["audio/pcm", "pcm16", {"type": "audio/pcm"}, {"type": "audio/pcm", "rate": 24000}]
ULAW_NAMES = ["audio/pcmu", "g711_ulaw", {"type": "audio/pcmu"}]
ALAW_NAMES = ["audio/pcma", "g711_alaw", {"type": "audio/pcma"}]


@pytest.mark.parametrize("fmt", PCM_NAMES)
def test_pcm_wire_format_is_exact(fmt):
    x = ALL_INT16[::7]
    wire = audio.encode_audio(x, fmt)
    assert wire == x.astype("<i2").tobytes()
    np.testing.assert_array_equal(audio.decode_audio(wire, fmt), x)
    assert audio.bytes_per_ms(fmt) == 48.0
    assert audio.duration_ms(4800, fmt) == 100.0


@pytest.mark.parametrize("fmt", ULAW_NAMES + ALAW_NAMES)
def test_g711_wire_formats_resample_through_8k(fmt):
    x = audio.to_pcm16(tone(440, 24000, 0.5))
    wire = audio.encode_audio(x, fmt)
    assert len(wire) == len(x) // 3  # one byte per 8 kHz sample
    back = audio.decode_audio(wire, fmt)
    assert back.dtype == np.int16 and len(back) == len(x)
    assert snr_db(x[300:-300], back[300:-300]) > 25
    assert audio.bytes_per_ms(fmt) == 8.0
    assert audio.duration_ms(len(wire), fmt) == pytest.approx(500.0)


def test_ulaw_and_alaw_wire_bytes_differ():
    x = audio.to_pcm16(tone(440, 24000, 0.1))
    assert audio.encode_audio(x, "g711_ulaw") != audio.encode_audio(x, "g711_alaw")
    assert audio.encode_audio(x, "g711_ulaw") == audio.ulaw_encode(audio.resample(x, 24000, 8000))


def test_wire_format_errors():
    with pytest.raises(ValueError, match="unknown audio format"):
        audio.decode_audio(b"", "audio/opus")
    with pytest.raises(ValueError, match="unknown audio format"):
        audio.bytes_per_ms({"rate": 24000})
    with pytest.raises(ValueError, match="24000 Hz"):
        audio.encode_audio(np.zeros(4, np.int16), {"type": "audio/pcm", "rate": 16000})
    with pytest.raises(TypeError, match="audio format"):
        audio.bytes_per_ms(48)
    with pytest.raises(TypeError, match="decode base64 first"):
        audio.decode_audio("AAAA", "audio/pcm")
    with pytest.raises(ValueError, match="even number"):
        audio.decode_audio(b"\x00", "pcm16")


# --- base64 --------------------------------------------------------------------------------------


def test_b64_helpers():
    assert audio.b64encode(b"\x00\x01") == "AAE="
    assert audio.b64decode("AAE=") == b"\x00\x01"
    assert audio.b64encode_pcm16(np.array([1, -1], np.int16)) == "AQD//w=="
    assert audio.b64decode_pcm16("AQD//w==").tolist() == [1, -1]


@pytest.fixture(params=["pybase64", "stdlib"])
def b64_backend(request, monkeypatch):
    """Run a test with pybase64 (the dependency) and with the stdlib fallback used when it is missing."""
    if request.param == "stdlib":
        monkeypatch.setattr(audio, "_pybase64", None)
    return request.param


def test_pybase64_is_the_backend():
    assert audio._pybase64 is not None, "pybase64 is a dependency: the receive path decodes audio with it"


_INVALID_B64 = ["AAE", "A#E=", "AAE=\n", "ñAAA", "====", "AA=A", " AAE=", "AA\tE=", "AAE=AAAA", "AA-_", "AAE=\x00",
                "AAECAw==\r\n", "AAEC\nAw=="]


@pytest.mark.parametrize("bad", _INVALID_B64)
def test_b64decode_rejects_invalid(bad, b64_backend):
    with pytest.raises(ValueError, match="invalid base64"):
        audio.b64decode(bad)
    with pytest.raises(ValueError, match="invalid base64"):
        audio.b64decode(bad.encode("utf-8"))
    with pytest.raises(ValueError, match="invalid base64"):
        audio.b64decode_pcm16(bad)


def test_b64_helpers_on_both_backends(b64_backend):
    assert audio.b64encode(b"\x00\x01") == "AAE=" == audio.b64encode(bytearray(b"\x00\x01"))
    assert audio.b64encode(memoryview(b"abc")) == "YWJj"
    assert audio.b64decode("AAE=") == b"\x00\x01" == audio.b64decode(b"AAE=")
    assert type(audio.b64decode("AAE=")) is bytes and audio.b64decode("") == b""
    x = np.array([1, -1, 300, -32768, 32767], np.int16)
    s = audio.b64encode_pcm16(x)
    assert s == audio.b64encode(x.astype("<i2").tobytes())
    assert audio.b64encode_pcm16(x[::2]) == audio.b64encode(x[::2].astype("<i2").tobytes())  # strided
    assert audio.b64encode_pcm16(x.astype(">i2")) == s  # big-endian input: still little-endian on the wire
    pcm = audio.b64decode_pcm16(s)
    assert pcm.dtype == np.int16 and pcm.flags.writeable and pcm.tolist() == x.tolist()
    pcm[0] = 7  # a new array: writing to it changes nothing else
    assert audio.b64decode_pcm16(s)[0] == 1


def test_b64decode_pcm16_rejects_odd_bytes_and_b64encode_rejects_str(b64_backend):
    with pytest.raises(ValueError, match="even number of bytes"):
        audio.b64decode_pcm16("AAAA")  # 3 bytes
    with pytest.raises(TypeError):
        audio.b64encode("text")
    with pytest.raises(TypeError):
        audio.b64decode(123)


@settings(max_examples=200, deadline=None)
@given(arrays(np.int16, st.integers(0, 500)))
def test_property_b64_round_trip_exact(x):
    s = audio.b64encode_pcm16(x)
    assert isinstance(s, str)
    np.testing.assert_array_equal(audio.b64decode_pcm16(s), x)


@settings(max_examples=200, deadline=None)
@given(arrays(np.int16, st.integers(0, 500)))
def test_property_g711_error_bounded(x):
    mag = np.abs(x.astype(np.int32))
    ulaw_err = np.abs(audio.ulaw_decode(audio.ulaw_encode(x)).astype(np.int32) - x)
    # Half a quantization step, (|x| + bias) / 32, up to the µ-law clip point; beyond it, the clip.
    bound = np.where(mag <= 32635, (mag + 132) / 32, 32768 - 32124)
    assert np.all(ulaw_err <= bound)
    alaw_err = np.abs(audio.alaw_decode(audio.alaw_encode(x)).astype(np.int32) - x)
    assert np.all(alaw_err <= np.maximum(8, mag / 32))


# --- WAV -----------------------------------------------------------------------------------------


def make_wav(body: bytes, *, code: int, channels: int, rate: int, bits: int, extensible: bool = False,
             extra_chunks: bytes = b"") -> bytes:  # fmt: skip
    block = channels * bits // 8
    fmt = struct.pack("<HHIIHH", 0xFFFE if extensible else code, channels, rate, rate * block, block, bits)
    if extensible:
        guid_tail = b"\x00\x00\x00\x00\x10\x00\x80\x00\x00\xaa\x00\x38\x9b\x71"
        fmt += struct.pack("<HHI", 22, bits, 0) + struct.pack("<H", code) + guid_tail
    chunks = b"fmt " + struct.pack("<I", len(fmt)) + fmt + extra_chunks
    chunks += b"data" + struct.pack("<I", len(body)) + body
    return b"RIFF" + struct.pack("<I", 4 + len(chunks)) + b"WAVE" + chunks


def test_wav_round_trip_path_file_and_bytes(tmp_path):
    x = ALL_INT16[::13]
    path = tmp_path / "a.wav"
    audio.write_wav(path, x, sample_rate=16000)
    for source in (path, str(path), io.BytesIO(path.read_bytes()), path.read_bytes()):
        pcm, rate = audio.read_wav(source)
        assert rate == 16000
        np.testing.assert_array_equal(pcm, x)
    buf = io.BytesIO()
    audio.write_wav(buf, x)
    assert buf.getvalue() == audio.wav_bytes(x) and audio.read_wav(buf.getvalue())[1] == 24000


def test_wav_bytes_header_is_standard_pcm16_mono():
    blob = audio.wav_bytes(np.array([1, 2, 3], np.int16), 8000)
    assert len(blob) == 44 + 6
    assert blob[:4] == b"RIFF" and blob[8:16] == b"WAVEfmt "
    assert struct.unpack_from("<HHIIHH", blob, 20) == (1, 1, 8000, 16000, 2, 16)


@pytest.mark.parametrize("extensible", [False, True])
def test_read_float32_wav(extensible):
    samples = np.array([0.0, 0.5, -0.5, 1.0, -1.0, 1.5], dtype="<f4")
    blob = make_wav(samples.tobytes(), code=3, channels=1, rate=48000, bits=32, extensible=extensible)
    pcm, rate = audio.read_wav(blob)
    assert rate == 48000
    assert pcm.tolist() == [0, 16384, -16384, 32767, -32768, 32767]


def test_read_stereo_16bit_wav_mixes_to_mono_and_skips_odd_chunks():
    stereo = np.array([[1000, 3000], [-100, 100], [32767, 32767]], dtype="<i2")
    odd_chunk = b"LIST" + struct.pack("<I", 3) + b"abc\x00"  # odd size: one pad byte
    blob = make_wav(stereo.tobytes(), code=1, channels=2, rate=44100, bits=16, extra_chunks=odd_chunk)
    pcm, rate = audio.read_wav(blob)
    assert rate == 44100 and pcm.tolist() == [2000, 0, 32767]


def test_read_8_24_32_bit_and_g711_wavs():
    u8 = np.array([128, 255, 0], dtype=np.uint8).tobytes()
    pcm8, _ = audio.read_wav(make_wav(u8, code=1, channels=1, rate=8000, bits=8))
    assert pcm8.tolist() == [0, 32512, -32768]
    s24 = b"".join(v.to_bytes(3, "little", signed=True) for v in (0, 0x123456, -0x800000, 256))
    assert audio.read_wav(make_wav(s24, code=1, channels=1, rate=8000, bits=24))[0].tolist() == [
        0, 0x1234, -32768, 1]  # fmt: skip
    s32 = np.array([65536 * 5, -(2**31)], dtype="<i4").tobytes()
    assert audio.read_wav(make_wav(s32, code=1, channels=1, rate=8000, bits=32))[0].tolist() == [5, -32768]
    ulaw = audio.ulaw_encode(np.array([0, 1000, -1000], np.int16))
    pcm, _ = audio.read_wav(make_wav(ulaw, code=7, channels=1, rate=8000, bits=8))
    np.testing.assert_array_equal(pcm, audio.ulaw_decode(ulaw))


def test_load_wav_24k_resamples(tmp_path):
    path = tmp_path / "48k.wav"
    audio.write_wav(path, audio.to_pcm16(tone(1000, 48000, 0.5)), sample_rate=48000)
    pcm = audio.load_wav_24k(path)
    assert pcm.dtype == np.int16 and len(pcm) == 12000
    assert abs(peak_hz(pcm, 24000) - 1000) < 3


@pytest.mark.parametrize(
    ("blob", "match"),
    [
        (b"not a wav file at all", "RIFF/WAVE"),
        (b"RIFF\x04\x00\x00\x00WAVE", "'fmt ' chunk"),
        (make_wav(b"\x00" * 8, code=2, channels=1, rate=8000, bits=4), "unsupported WAV encoding"),
        (make_wav(b"\x00" * 8, code=1, channels=0, rate=8000, bits=16), "0 channels"),
        (make_wav(np.array([np.nan], "<f4").tobytes(), code=3, channels=1, rate=8000, bits=32), "NaN"),
    ],
)
def test_read_wav_errors(blob, match):
    with pytest.raises(ValueError, match=match):
        audio.read_wav(blob)


def test_read_wav_rejects_text_files(tmp_path):
    with pytest.raises(TypeError, match="binary mode"):
        audio.read_wav(io.StringIO("RIFF"))


# --- meters --------------------------------------------------------------------------------------


def test_rms_dbfs():
    assert audio.rms_dbfs(np.full(100, -32768, np.int16)) == pytest.approx(0.0)
    assert audio.rms_dbfs(audio.to_pcm16(tone(1000, 24000, 1.0, amp=1.0))) == pytest.approx(-3.01, abs=0.01)
    assert audio.rms_dbfs(audio.to_pcm16(tone(1000, 24000, 1.0, amp=0.1))) == pytest.approx(-23.01, abs=0.01)
    assert audio.rms_dbfs(np.zeros(10, np.int16)) == float("-inf")
    assert audio.rms_dbfs(b"") == float("-inf")
