"""Streaming VAD: boundary accuracy on synthesized speech with known truth, stamps, chunking, robustness.

The speech comes from ``speechgen`` (espeak-ng through ``realtime_nb.server.tts``), whose true
boundaries are known to the sample. Both backends are held to ±40 ms on clean speech; measured
errors are about ±10 ms (10 ms frames).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from speechgen import make_utterance, make_utterance_wav, white_noise

from realtime_nb import audio as au
from realtime_nb.server import tts, vad
from realtime_nb.server.vad import VadEvent, VoiceActivityDetector, create_vad

pytestmark = pytest.mark.skipif(not tts.available(), reason="speech fixtures need espeak-ng")
needs_webrtc = pytest.mark.skipif(vad.webrtcvad is None, reason="webrtcvad not installed")

TOL_MS = 40
BACKENDS = [pytest.param("webrtc", marks=needs_webrtc), "energy"]

# (voice, segments): 1-3 speech segments, silences >= 800 ms and not multiples of 10 ms.
UTTERANCES = [
    ("alloy", [("silence", 655), ("speech", "Hello there how are you"), ("silence", 905)]),
    ("coral", [("silence", 733), ("speech", "Six"), ("silence", 1012), ("speech", "Yes please"),
               ("silence", 847)]),
    ("echo", [("silence", 1201), ("speech", "The fish swims"), ("silence", 866), ("speech", "Stop"),
              ("silence", 923), ("speech", "Seven hundred"), ("silence", 1104)]),
    ("shimmer", [("silence", 512), ("speech", "She sells sea shells"), ("silence", 1337)]),
    ("cedar", [("silence", 804), ("speech", "Thanks a lot"), ("silence", 1455), ("speech", "Fine"),
               ("silence", 817)]),
    ("ballad", [("silence", 977), ("speech", "Please call Stella"), ("silence", 888),
                ("speech", "Ask her to bring these things"), ("silence", 1003)]),
]


def detect(pcm: np.ndarray, **kwargs) -> list[VadEvent]:
    return VoiceActivityDetector(**kwargs).feed(pcm)


def intervals(events: list[VadEvent], prefix_ms: int, silence_ms: int) -> list[tuple[int, int]]:
    """Undo the padding: (detected onset, detected end of speech) per turn; checks the alternation."""
    kinds = [e.kind for e in events]
    assert kinds == ["speech_started", "speech_stopped"] * (len(events) // 2), kinds
    pairs = zip(events[::2], events[1::2], strict=True)
    return [(a.audio_ms + prefix_ms, b.audio_ms - silence_ms) for a, b in pairs]


def assert_close(found: list[tuple[int, int]], truth: list[tuple[float, float]], tol: float) -> float:
    assert len(found) == len(truth), (found, truth)
    errors = [abs(f[i] - t[i]) for f, t in zip(found, truth, strict=True) for i in (0, 1)]
    assert max(errors) <= tol, (found, truth)
    return max(errors)


@pytest.fixture(scope="module")
def clips() -> list[tuple[np.ndarray, list[tuple[float, float]]]]:
    return [make_utterance(segments, voice=voice) for voice, segments in UTTERANCES]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("index", range(len(UTTERANCES)), ids=[u[0] for u in UTTERANCES])
def test_boundaries_within_40_ms(clips, index, backend):
    pcm, truth = clips[index]
    events = detect(pcm, backend=backend)  # defaults: prefix 300 ms, silence 200 ms
    assert_close(intervals(events, 300, 200), truth, TOL_MS)


def test_boundaries_from_a_wav_file(tmp_path):
    path = tmp_path / "turns.wav"
    truth = make_utterance_wav(path, [("silence", 1003), ("speech", "What time is it"), ("silence", 901),
                                      ("speech", "Thank you"), ("silence", 950)], voice="sage")
    assert truth[0][0] == pytest.approx(1003.0)
    events = detect(au.load_wav_24k(path))
    assert_close(intervals(events, 300, 200), truth, TOL_MS)


@pytest.mark.parametrize(("prefix", "silence"), [(0, 200), (300, 200), (500, 500), (150, 800), (1000, 350)])
def test_padding_and_silence_shift_the_stamps_exactly(prefix, silence):
    pcm, _ = make_utterance([("silence", 1507), ("speech", "Good morning"), ("silence", 1500),
                             ("speech", "Again please"), ("silence", 1000)], voice="marin")
    ref = detect(pcm, prefix_padding_ms=0, silence_duration_ms=200)
    onsets = [e.audio_ms for e in ref if e.kind == "speech_started"]
    ends = [e.audio_ms - 200 for e in ref if e.kind == "speech_stopped"]
    got = detect(pcm, prefix_padding_ms=prefix, silence_duration_ms=silence)
    # Padding is clamped at 0 and at the previous turn's speech_stopped stamp.
    floors = [0] + [end + silence for end in ends[:-1]]
    expected = []
    for onset, end, floor in zip(onsets, ends, floors, strict=True):
        expected += [VadEvent("speech_started", max(onset - prefix, floor)),
                     VadEvent("speech_stopped", end + silence)]
    assert got == expected


def test_padding_is_clamped_at_zero_and_at_the_previous_turn():
    pcm, _ = make_utterance([("silence", 405), ("speech", "Yes"), ("silence", 700), ("speech", "No"),
                             ("silence", 800)], voice="ash")
    events = detect(pcm, prefix_padding_ms=600, silence_duration_ms=200)
    assert events[0] == VadEvent("speech_started", 0)
    assert events[2].kind == "speech_started"
    assert events[2].audio_ms == events[1].audio_ms  # would be ~300 ms earlier without the clamp


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_any_chunking_gives_the_same_events(clips, backend, seed):
    pcm, _ = clips[2]
    whole = detect(pcm, backend=backend)
    rng = np.random.default_rng(seed)
    detector = VoiceActivityDetector(backend=backend)
    events, pos = [], 0
    while pos < len(pcm):
        n = int(np.exp(rng.uniform(0, np.log(24000))))  # 1 sample .. 1 s, log-uniform
        events += detector.feed(pcm[pos:pos + n])
        pos += n
    assert events == whole
    assert detector.position_ms == len(pcm) * 1000 // 24000


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("threshold", [0.0, 0.1, 0.5, 0.9])
def test_silence_and_quiet_noise_give_no_events(backend, threshold):
    silence = np.zeros(24000 * 2, dtype=np.int16)
    noise = np.rint(white_noise(24000 * 4, -60.0, seed=3)).astype(np.int16)
    for pcm in (silence, noise):
        assert detect(pcm, backend=backend, threshold=threshold) == []


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_10_ms_click_is_not_speech(backend):
    clicks = (np.full(240, 20000.0), white_noise(240, -3.0, seed=4), 20000 * np.sign(np.sin(np.arange(240))))
    for click in clicks:
        pcm = white_noise(24000 * 2, -60.0, seed=5)
        pcm[12000:12240] += click
        assert detect(np.clip(np.rint(pcm), -32768, 32767).astype(np.int16), backend=backend) == []


@pytest.mark.parametrize("backend", BACKENDS)
def test_higher_threshold_is_less_sensitive_on_quiet_speech(backend):
    pcm, truth = make_utterance([("silence", 655), ("speech", "Hello there how are you"), ("silence", 900)],
                                voice="marin", level_dbfs=-35.0)
    sensitive = detect(pcm, backend=backend, threshold=0.1)
    assert abs(sensitive[0].audio_ms + 300 - truth[0][0]) <= TOL_MS
    assert abs(sensitive[-1].audio_ms - 200 - truth[-1][1]) <= TOL_MS
    assert detect(pcm, backend=backend, threshold=0.9) == []


def test_speech_from_the_first_sample_is_detected():
    pcm, truth = make_utterance([("speech", "Hello there"), ("silence", 800)], voice="verse")
    events = detect(pcm, prefix_padding_ms=0)
    assert events[0].kind == "speech_started" and events[0].audio_ms <= TOL_MS
    assert abs(events[1].audio_ms - 200 - truth[0][1]) <= TOL_MS


@needs_webrtc
def test_webrtc_ignores_a_whistle_that_fools_the_energy_detector():
    t = np.arange(24000) / 24000
    whistle = np.concatenate([np.zeros(12000), 3000 * np.sin(2 * np.pi * 9000 * t), np.zeros(12000)])
    pcm = whistle.astype(np.int16)
    assert detect(pcm, backend="webrtc") == []
    assert [e.kind for e in detect(pcm, backend="energy")] == ["speech_started", "speech_stopped"]


def test_state_position_and_reset(clips):
    pcm, truth = clips[0]
    detector = VoiceActivityDetector()
    split = round((truth[0][0] + 200) * 24)  # mid-speech
    assert [e.kind for e in detector.feed(pcm[:split])] == ["speech_started"]
    assert detector.in_speech
    assert detector.position_ms == split * 1000 // 24000
    assert [e.kind for e in detector.feed(pcm[split:])] == ["speech_stopped"]
    assert not detector.in_speech
    detector.reset()
    assert detector.position_ms == 0 and not detector.in_speech
    assert detector.feed(pcm) == detect(pcm)


@pytest.mark.parametrize("lo", [64, 32])  # the webrtc block, silero's 32 ms window
def test_the_block_resampler_is_resample_bit_for_bit(lo):
    rng = np.random.default_rng(lo)
    resampler = vad._block_resampler(lo, 544)
    for level in (0.0, 1.0, 300.0, 3000.0, 30000.0, 1e6):  # the last one clips
        x = np.clip(rng.standard_normal(864) * level, -32768, 32767).astype(np.int16)
        assert np.array_equal(resampler(x), au.resample(x, 24000, 16000)[lo:544])


def test_frame_levels_are_the_per_frame_mean_power():
    rng = np.random.default_rng(3)
    pcm = np.clip(rng.standard_normal(2400) * np.repeat(10.0 ** rng.uniform(-1, 4.5, 10), 240) + 500, -32768,
                  32767).astype(np.int16)
    pcm[:240] = 7  # DC only: the floor
    expected = []
    for frame in pcm.reshape(-1, 240).astype(np.float64):
        power = float(np.mean((frame - np.mean(frame)) ** 2)) / 32768.0**2
        expected.append(10 * math.log10(power) if power > 1e-12 else -120.0)
    assert vad._levels_db(pcm) == expected


@pytest.mark.parametrize("backend", BACKENDS)
def test_detectors_in_several_threads_match_one_thread(clips, backend):
    import threading

    pcms = [pcm for pcm, _ in clips[:4]]
    alone = [detect(pcm, backend=backend) for pcm in pcms]
    found: list[list[VadEvent]] = [[] for _ in pcms]

    def run(i: int) -> None:
        detector = VoiceActivityDetector(backend=backend)
        for pos in range(0, len(pcms[i]), 960):
            found[i] += detector.feed(pcms[i][pos:pos + 960])

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(pcms))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert found == alone


def test_feed_validates_input():
    detector = VoiceActivityDetector()
    with pytest.raises(TypeError):
        detector.feed(np.zeros(10, dtype=np.float32))
    assert detector.feed(np.zeros(0, dtype=np.int16)) == []
    with pytest.raises(ValueError):
        VoiceActivityDetector(threshold=1.5)
    with pytest.raises(ValueError):
        VoiceActivityDetector(backend="nope")  # type: ignore[arg-type]


def test_backend_selection(monkeypatch):
    assert VoiceActivityDetector().backend == vad.default_backend()
    monkeypatch.setattr(vad, "webrtcvad", None)
    assert vad.default_backend() == "energy"
    assert VoiceActivityDetector().backend == "energy"
    with pytest.raises(ImportError):
        VoiceActivityDetector(backend="webrtc")


def test_create_vad_reads_turn_detection():
    d = create_vad({"type": "server_vad", "threshold": 0.7, "prefix_padding_ms": 120,
                    "silence_duration_ms": 650, "idle_timeout_ms": None, "create_response": True,
                    "interrupt_response": True})
    assert (d.threshold, d.prefix_padding_ms, d.silence_duration_ms) == (0.7, 120, 650)
    d = create_vad({"type": "server_vad", "threshold": None})
    assert (d.threshold, d.prefix_padding_ms, d.silence_duration_ms) == (0.5, 300, 200)
    silences = {e: create_vad({"type": "semantic_vad", "eagerness": e}).silence_duration_ms
                for e in ("low", "medium", "high", "auto")}
    assert silences == {"low": 2000, "medium": 1000, "high": 500, "auto": 1000}
    assert create_vad({"type": "semantic_vad"}).silence_duration_ms == 1000
    assert create_vad({"type": "server_vad"}, backend="energy").backend == "energy"
    for bad in (None, {}, {"type": "push_to_talk"}, {"type": "semantic_vad", "eagerness": "eager"}):
        with pytest.raises(ValueError):
            create_vad(bad)  # type: ignore[arg-type]
