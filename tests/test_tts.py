"""Offline TTS: espeak-ng output format, distinct voices, speed, thread safety, and the babble fallback."""

from __future__ import annotations

import itertools
import threading

import numpy as np
import pytest

from realtime_nb.server import tts

needs_espeak = pytest.mark.skipif(not tts.available(), reason="espeak-ng (espeakng-loader) not installed")

def espeak(text, voice="alloy", speed=1.0):
    """The espeak-ng engine (or its fallback when espeak-ng is missing), whatever engine a voice defaults to."""
    return tts.synthesize(text, voice=voice, speed=speed, engine="espeak-ng")


SENTENCE = "The quick brown fox jumps over the lazy dog"
GA_VOICES = {"alloy", "ash", "ballad", "coral", "echo", "sage", "shimmer", "verse", "marin", "cedar"}


def rms_dbfs(pcm: np.ndarray) -> float:
    return 20 * np.log10(np.sqrt(np.mean(pcm.astype(np.float64) ** 2)) / 32768)


def median_f0(pcm: np.ndarray, rate: int = 24000) -> float:
    """Median pitch of the loud, clearly periodic 40 ms frames (autocorrelation, 60-400 Hz)."""
    x = pcm.astype(np.float64)
    found = []
    for start in range(0, len(x) - 960, 480):
        frame = x[start:start + 960] - x[start:start + 960].mean()
        if np.sqrt(np.mean(frame**2)) < 1000:
            continue
        ac = np.correlate(frame, frame, "full")[959:]
        lo, hi = rate // 400, rate // 60
        lag = lo + int(np.argmax(ac[lo:hi]))
        if ac[lag] > 0.5 * ac[0]:
            found.append(rate / lag)
    return float(np.median(found))


def envelope(pcm: np.ndarray) -> np.ndarray:
    """10 ms RMS envelope in dB."""
    frames = pcm[: len(pcm) // 240 * 240].astype(np.float64).reshape(-1, 240)
    return 10 * np.log10(np.mean(frames**2, axis=1) + 1.0)


def test_voice_profiles_cover_the_ga_voices():
    assert set(tts.VOICE_PROFILES) == GA_VOICES
    assert len({p.espeak_voice for p in tts.VOICE_PROFILES.values()}) == len(GA_VOICES)
    assert tts.backend() == ("espeak-ng" if tts.available() else "fallback")
    assert tts.engine_for("coral") == ("espeak-ng" if tts.available() else tts.engine_for("alloy"))


@needs_espeak
def test_output_is_24k_int16_speech():
    pcm = espeak("Hello there, how are you doing today?")
    assert pcm.dtype == np.int16 and pcm.ndim == 1
    assert 1.2 < len(pcm) / 24000 < 3.5  # seconds: a plausible speaking rate at 24 kHz
    assert rms_dbfs(pcm) > -30
    assert 70 < median_f0(pcm) < 300  # voiced, with a speaking pitch
    spectrum = np.abs(np.fft.rfft(pcm.astype(np.float64)))
    freqs = np.fft.rfftfreq(len(pcm), 1 / 24000)
    assert spectrum[freqs > 11500].sum() < 0.01 * spectrum.sum()  # resampled from 22050 Hz, band-limited


@needs_espeak
def test_voices_sound_different():
    pitch = {v: median_f0(espeak(SENTENCE, voice=v)) for v in sorted(GA_VOICES)}
    values = sorted(pitch.values())
    assert min(b / a for a, b in itertools.pairwise(values)) > 1.04, pitch  # ten distinct pitches
    for v in ("coral", "sage", "shimmer", "marin"):
        assert pitch[v] > 160, pitch
    for v in ("ash", "echo", "cedar", "verse", "ballad"):
        assert pitch[v] < 140, pitch


@needs_espeak
def test_speed_scales_duration():
    base = len(espeak(SENTENCE, voice="sage"))
    for speed in (1.5, 0.75, 0.5, 0.25):
        ratio = len(espeak(SENTENCE, voice="sage", speed=speed)) / base
        assert ratio == pytest.approx(1 / speed, rel=0.15), speed
    # Out of range speeds are clamped to the GA range 0.25-1.5.
    assert len(espeak(SENTENCE, voice="sage", speed=9)) == pytest.approx(base / 1.5, rel=0.05)


@pytest.mark.parametrize("text", ["", "   ", "\n"])
def test_blank_text_is_empty_audio(text):
    for out in (espeak(text), tts.fallback_synthesize(text)):
        assert out.dtype == np.int16 and out.shape == (0,)


@needs_espeak
def test_unknown_voice_uses_alloy():
    a, b = espeak("Testing", voice="alloy"), espeak("Testing", voice="nova-ish")
    assert abs(len(a) - len(b)) < 24 and median_f0(a) == pytest.approx(median_f0(b), rel=0.03)


@needs_espeak
def test_concurrent_synthesis_matches_sequential(monkeypatch):
    # espeak-ng carries a little waveform state (pitch-flutter phase) from one utterance to the next,
    # so repeated calls are not bit-identical; an unguarded library would garble or crash instead.
    monkeypatch.setattr(tts, "CACHE_MAX_ENTRIES", 0)  # every call synthesizes, concurrently
    tts.clear_cache()
    jobs = [("One two three four", "alloy"), ("Concurrency is not parallelism", "coral"),
            ("Threads share the library", "echo"), ("A lock keeps it safe", "shimmer")] * 3
    sequential = [espeak(text, voice=voice) for text, voice in jobs]
    results: list[np.ndarray | None] = [None] * len(jobs)

    def work(worker: int) -> None:
        for i in range(worker, len(jobs), 4):
            results[i] = espeak(*jobs[i])

    threads = [threading.Thread(target=work, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for seq, par in zip(sequential, results, strict=True):
        assert par is not None and par.dtype == np.int16
        assert abs(len(par) - len(seq)) <= 0.01 * len(seq)
        n = min(len(par), len(seq)) // 240 * 240
        assert np.corrcoef(envelope(seq[:n]), envelope(par[:n]))[0, 1] > 0.95


# --- cache ----------------------------------------------------------------------------------------------


def test_a_cache_hit_returns_the_same_audio_as_a_fresh_array():
    tts.clear_cache()
    first = espeak("Caching is fun", voice="coral", speed=1.25)
    again = espeak("Caching is fun", voice="coral", speed=1.25)
    assert np.array_equal(first, again) and again is not first
    info = tts.cache_info()
    assert (info.entries, info.hits, info.misses) == (1, 1, 1)
    again[:] = 0  # the caller owns its array: the cached clip is unchanged
    assert np.array_equal(espeak("Caching is fun", voice="coral", speed=1.25), first)
    first[:] = 0
    assert espeak("Caching is fun", voice="coral", speed=1.25).any()


def test_the_cache_key_is_text_voice_and_speed():
    tts.clear_cache()
    base = espeak("Keyed", voice="ash")
    others = [espeak("Keyed!", voice="ash"), espeak("Keyed", voice="sage"),
              espeak("Keyed", voice="ash", speed=0.5)]
    assert tts.cache_info().entries == 4 and tts.cache_info().hits == 0
    assert all(not np.array_equal(base, o) for o in others)
    espeak("Keyed", voice="ash", speed=0.1)  # clamped to 0.25: another speed
    espeak("Keyed", voice="ash", speed=0.25)
    assert tts.cache_info().hits == 1
    espeak("Keyed", voice="no-such-voice")  # unknown voices use alloy's profile
    espeak("Keyed", voice="alloy")
    assert tts.cache_info().hits == 2


def test_the_cache_is_bounded_by_entries_and_seconds(monkeypatch):
    tts.clear_cache()
    monkeypatch.setattr(tts, "CACHE_MAX_ENTRIES", 3)
    for word in ("one", "two", "three", "four"):
        espeak(word)
    assert tts.cache_info().entries == 3
    espeak("two")  # the least recently used, "one", was dropped; "two" is still there
    assert tts.cache_info().hits == 1
    espeak("one")
    assert tts.cache_info().hits == 1
    seconds = len(espeak(SENTENCE)) / 24000
    monkeypatch.setattr(tts, "CACHE_MAX_SECONDS", 1.5 * seconds)
    tts.clear_cache()
    espeak(SENTENCE)
    espeak(SENTENCE + ".")  # together over the limit: the older one goes
    info = tts.cache_info()
    assert info.entries == 1 and info.seconds <= 1.5 * seconds
    monkeypatch.setattr(tts, "CACHE_MAX_SECONDS", 0.5 * seconds)
    tts.clear_cache()
    espeak(SENTENCE)  # longer than the whole budget: not kept
    assert tts.cache_info().entries == 0
    monkeypatch.setattr(tts, "CACHE_MAX_ENTRIES", 0)
    espeak("off")
    espeak("off")
    assert tts.cache_info().entries == 0 and tts.cache_info().hits == 0


def test_the_cache_keeps_the_backends_apart(monkeypatch):
    tts.clear_cache()
    real = espeak("Hello there", voice="ash")
    monkeypatch.setattr(tts, "_load", lambda: None)
    assert np.array_equal(espeak("Hello there", voice="ash"), tts.fallback_synthesize("Hello there", "ash"))
    monkeypatch.undo()
    assert np.array_equal(espeak("Hello there", voice="ash"), real)


# --- fallback ---------------------------------------------------------------------------------------


def test_fallback_is_deterministic_and_proportional():
    a = tts.fallback_synthesize(SENTENCE, voice="coral")
    assert a.dtype == np.int16 and np.array_equal(a, tts.fallback_synthesize(SENTENCE, voice="coral"))
    assert len(a) / 24 == pytest.approx(60 * len(SENTENCE), rel=0.02)  # ~60 ms per character
    double = tts.fallback_synthesize(SENTENCE + " " + SENTENCE, voice="coral")
    assert len(double) / len(a) == pytest.approx(2, rel=0.03)
    assert len(tts.fallback_synthesize(SENTENCE, speed=1.5)) == pytest.approx(len(a) / 1.5, rel=0.02)
    assert rms_dbfs(a) > -30


def test_fallback_pauses_at_punctuation_and_depends_on_voice():
    plain = tts.fallback_synthesize("yes no")
    comma = tts.fallback_synthesize("yes, no.")
    assert len(comma) - len(plain) == pytest.approx(24 * (60 + 250 + 60 + 400), abs=24)
    low = median_f0(tts.fallback_synthesize(SENTENCE, "echo"))
    high = median_f0(tts.fallback_synthesize(SENTENCE, "shimmer"))
    assert low < 130 < 200 < high


def test_synthesize_falls_back_without_espeak(monkeypatch):
    monkeypatch.setattr(tts, "_load", lambda: None)
    assert not tts.available()
    assert tts.backend() == "fallback"
    out = espeak("Hello there", voice="ash", speed=1.25)
    assert np.array_equal(out, tts.fallback_synthesize("Hello there", voice="ash", speed=1.25))


# --- transcript alignment -----------------------------------------------------------------------------


def test_words_timing_spreads_words_over_the_audio():
    text = " Hello there, how are you?"
    timing = tts.words_timing(text, 24000)
    assert "".join(w for w, _ in timing) == text
    assert [w.strip() for w, _ in timing] == ["Hello", "there,", "how", "are", "you?"]
    starts = [s for _, s in timing]
    assert starts[0] == 0 and starts == sorted(starts) and starts[-1] < 24000
    assert starts[1] == round(text.index("there") * 24000 / len(text))
    assert tts.words_timing("", 100) == []
    assert tts.words_timing("  ", 100) == [("  ", 0)]
