"""Offline text-to-speech for the local server: hibari's natural voice, espeak-ng, or a labelled fallback.

``synthesize(text, voice, speed)`` returns 24 kHz mono ``int16`` audio. Three engines (``engine_for(voice)``):

- **hibari** (``hibari_tts.py``): hibari-tts's "heart" voice (Apache-2.0, inside its wheel), natural
  speech, for the default voice ``alloy`` and four other GA voices rendered from it with another pitch
  and vocal-tract length (``hibari_tts.HIBARI_VOICES``); for every voice when espeak-ng is missing;

- **espeak-ng** (``backend() == "espeak-ng"``): the library and its voice data come from the
  ``espeakng-loader`` wheel (``pip install realtime-nb[speech]``); no system espeak is needed. It is
  driven through ctypes in synchronous mode, its 22050 Hz output is resampled to 24 kHz with
  ``realtime_nb.audio.resample``. espeak-ng's C API keeps global state and is not thread-safe, so every
  call holds one module-wide lock. Its noise generator is re-seeded on every call, but it also carries
  a little waveform state (the pitch-flutter phase) from one utterance to the next, so repeated
  syntheses give the same words, length (± a few samples) and loudness contour, not bit-identical
  samples (a repeated call served from the cache below returns the same samples).
  ``speed`` scales espeak's words-per-minute rate; below its 80 wpm minimum the extra time goes into
  pauses between words.
- **fallback** (``backend() == "fallback"``), used when the wheel is missing or the library won't load:
  *not speech*, a deterministic "babble" of band-limited harmonic tone bursts, one per syllable-ish
  group of letters, with pauses at spaces and punctuation, a pitch that depends on the voice, and a
  length of about 60 ms per character divided by ``speed``. It keeps the server's audio timing
  realistic (transcript alignment, truncation, barge-in) without any dependency.

**Cache.** Servers say the same sentences again and again (the echo brain's ``"I heard 2.0 seconds of
audio."``, a scripted greeting, a model's ``"Sure!"``), so ``synthesize`` keeps the most recently used
clips, keyed by backend, text, voice profile and speed: at most ``CACHE_MAX_ENTRIES`` clips and
``CACHE_MAX_SECONDS`` of audio in all (~2.9 MB); a hit costs a copy instead of ~5 ms of CPU per 2 s of
speech. ``cache_info()`` reports it, ``clear_cache()`` empties it.

Each of the ten GA voices maps to a distinct espeak-ng voice + variant, pitch, pitch range and rate
(``VOICE_PROFILES``), so they sound different; unknown voice names use ``alloy``'s profile.
``words_timing`` spreads the words of a text over its audio so transcript deltas can be sent next to
the audio chunks they describe.

>>> pcm = synthesize("Hello there", voice="coral")
>>> pcm.dtype
dtype('int16')
"""

from __future__ import annotations

import ctypes
import logging
import re
import threading
import zlib
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple

import numpy as np

from .. import audio as au
from . import hibari_tts

__all__ = [
    "CACHE_MAX_ENTRIES",
    "CACHE_MAX_SECONDS",
    "VOICE_PROFILES",
    "CacheInfo",
    "VoiceProfile",
    "available",
    "backend",
    "cache_info",
    "clear_cache",
    "engine_for",
    "fallback_synthesize",
    "synthesize",
    "words_timing",
]

log = logging.getLogger("realtime_nb.server.tts")

SAMPLE_RATE = au.SAMPLE_RATE
MIN_SPEED, MAX_SPEED = 0.25, 1.5

CACHE_MAX_ENTRIES = 256
"""At most this many synthesized clips are kept (0 turns the cache off)."""
CACHE_MAX_SECONDS = 60.0
"""At most this much audio in all is kept (int16 at 24 kHz: 2.9 MB); a longer clip is not kept."""


@dataclass(frozen=True)
class VoiceProfile:
    """How one GA voice is rendered.

    ``espeak_voice`` is an espeak-ng voice name with an optional ``+variant``; ``pitch`` and
    ``pitch_range`` are espeak-ng's 0-100 parameters (50 = the voice's default); ``rate`` is words
    per minute at speed 1.0; ``babble_hz`` is the fallback backend's fundamental frequency.
    """

    espeak_voice: str
    pitch: int
    pitch_range: int
    rate: int
    babble_hz: float


# Female-presenting GA voices get female variants (higher pitch), male-presenting ones male variants;
# accents (US, RP, Scottish, Caribbean) and rate/range tell same-gender voices apart.
VOICE_PROFILES: dict[str, VoiceProfile] = {
    "alloy": VoiceProfile("en-us+m3", pitch=84, pitch_range=50, rate=175, babble_hz=145.0),
    "ash": VoiceProfile("en-us+m1", pitch=51, pitch_range=40, rate=170, babble_hz=90.0),
    "ballad": VoiceProfile("en-gb-x-rp+m7", pitch=72, pitch_range=75, rate=160, babble_hz=130.0),
    "coral": VoiceProfile("en-us+f3", pitch=51, pitch_range=65, rate=180, babble_hz=212.0),
    "echo": VoiceProfile("en-us+m2", pitch=63, pitch_range=30, rate=175, babble_hz=110.0),
    "sage": VoiceProfile("en-gb-x-rp+f2", pitch=39, pitch_range=45, rate=165, babble_hz=170.0),
    "shimmer": VoiceProfile("en-us+f4", pitch=75, pitch_range=70, rate=185, babble_hz=235.0),
    "verse": VoiceProfile("en-gb-scotland+m4", pitch=78, pitch_range=60, rate=178, babble_hz=120.0),
    "marin": VoiceProfile("en-us+f1", pitch=57, pitch_range=55, rate=172, babble_hz=190.0),
    "cedar": VoiceProfile("en-029+m6", pitch=54, pitch_range=45, rate=165, babble_hz=100.0),
}

_LOCK = threading.Lock()  # guards espeak-ng's global state and the lazy loader

# espeak-ng C API constants (speak_lib.h).
_AUDIO_OUTPUT_SYNCHRONOUS = 2
_POS_CHARACTER = 1
_CHARS_UTF8 = 1
_RATE, _VOLUME, _PITCH, _RANGE, _WORDGAP = 1, 2, 3, 4, 7
_RATE_MIN, _RATE_MAX = 80, 450
_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p)


class _Espeak:
    """One initialized libespeak-ng (use only under ``_LOCK``)."""

    def __init__(self) -> None:
        import espeakng_loader  # optional dependency: ImportError means "no espeak"

        lib = ctypes.CDLL(espeakng_loader.get_library_path())
        lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        lib.espeak_Initialize.restype = ctypes.c_int
        lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        self._seed = getattr(lib, "espeak_ng_SetRandSeed", None)  # espeak-ng >= 1.51
        if self._seed is not None:
            self._seed.argtypes = [ctypes.c_long]
        lib.espeak_Synth.argtypes = [ctypes.c_char_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int,
                                     ctypes.c_uint, ctypes.c_uint, ctypes.c_void_p, ctypes.c_void_p]
        data = espeakng_loader.get_data_path().encode()
        rate = lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 0, data, 0)
        if rate <= 0:
            raise OSError(f"espeak_Initialize failed ({rate})")
        self.lib, self.rate = lib, rate
        self._chunks: list[bytes] = []
        self._callback = _CALLBACK(self._collect)  # keep a reference: C holds the pointer
        lib.espeak_SetSynthCallback(self._callback)

    def _collect(self, wav: Any, n: int, _events: Any) -> int:
        if wav and n > 0:
            self._chunks.append(ctypes.string_at(wav, n * 2))
        return 0  # 0 = keep going

    def speak(self, text: str, profile: VoiceProfile, speed: float) -> np.ndarray:
        lib = self.lib
        if lib.espeak_SetVoiceByName(profile.espeak_voice.encode()) != 0:
            lib.espeak_SetVoiceByName(b"en")
        wpm = profile.rate * speed
        # Below espeak's minimum rate the missing time goes into pauses between words: measured, one
        # unit of espeakWORDGAP at 80 wpm lengthens typical speech by ~11 % of its speed-1.0 length.
        gap = max(0, round((1 / speed - profile.rate / _RATE_MIN) / 0.11)) if wpm < _RATE_MIN else 0
        for param, value in ((_RATE, min(max(round(wpm), _RATE_MIN), _RATE_MAX)), (_VOLUME, 100),
                             (_PITCH, profile.pitch), (_RANGE, profile.pitch_range), (_WORDGAP, gap)):
            lib.espeak_SetParameter(param, value, 0)
        if self._seed is not None:
            self._seed(0x5EED)  # breath/noise randomness: same text, same noise
        raw = text.encode("utf-8")
        self._chunks = []
        err = lib.espeak_Synth(raw, len(raw) + 1, 0, _POS_CHARACTER, 0, _CHARS_UTF8, None, None)
        chunks, self._chunks = self._chunks, []
        if err != 0:
            raise RuntimeError(f"espeak_Synth failed ({err})")
        return np.frombuffer(b"".join(chunks), dtype=np.int16)


_engine: _Espeak | None = None
_load_failed = False


def _load() -> _Espeak | None:
    """The shared espeak-ng engine, loaded on first use; ``None`` if it can't be (call under ``_LOCK``)."""
    global _engine, _load_failed
    if _engine is None and not _load_failed:
        try:
            _engine = _Espeak()
        except (ImportError, OSError, AttributeError) as exc:
            _load_failed = True
            log.warning("espeak-ng unavailable (%s); TTS uses the non-speech fallback", exc)
    return _engine


def available() -> bool:
    """True if espeak-ng can be loaded (the ``espeakng-loader`` wheel is installed and works)."""
    with _LOCK:
        return _load() is not None


def backend() -> Literal["espeak-ng", "fallback"]:
    """Which backend ``synthesize`` uses."""
    return "espeak-ng" if available() else "fallback"


def _profile(voice: str) -> VoiceProfile:
    return VOICE_PROFILES.get(voice, VOICE_PROFILES["alloy"])


def _clamp_speed(speed: float) -> float:
    return min(max(float(speed), MIN_SPEED), MAX_SPEED)


ENGINES = ("hibari", "espeak-ng", "fallback")


def engine_for(voice: str = "alloy", engine: str | None = None) -> str:
    """Which engine speaks ``voice``: ``"hibari"`` for ``hibari_tts.HIBARI_VOICES`` (and for every voice
    when espeak-ng is not installed), ``"espeak-ng"`` for the others, ``"fallback"`` when neither loads.
    ``engine`` forces one (``"espeak-ng"`` falls back to the babble when espeak-ng is missing)."""
    if engine is not None and engine not in ENGINES:
        raise ValueError(f"engine must be one of {', '.join(ENGINES)} or None, not {engine!r}")
    if engine == "fallback":
        return "fallback"
    if engine != "espeak-ng" and hibari_tts.available() and (
            engine == "hibari" or voice in hibari_tts.HIBARI_VOICES or not available()):
        return "hibari"
    return "espeak-ng" if available() else "fallback"


def synthesize(text: str, voice: str = "alloy", speed: float = 1.0, *, engine: str | None = None) -> np.ndarray:
    """Speak ``text`` with a GA ``voice``; returns 24 kHz mono int16 (empty for blank text).

    ``speed`` (clamped to 0.25-1.5) scales the speaking rate. The voice's engine (``engine_for(voice)``):
    hibari's natural "heart" renderings for five voices, espeak-ng for the others, else the
    deterministic non-speech ``fallback_synthesize``; ``engine=`` forces one. Recently spoken clips come
    from a cache (see the module docstring); the caller always gets its own array. Safe to call from
    several threads.
    """
    if not text.strip():
        return np.zeros(0, dtype=np.int16)
    speed = _clamp_speed(speed)
    use = engine_for(voice, engine)
    if use == "hibari":
        name = voice if voice in hibari_tts.HIBARI_VOICES else hibari_tts.STAND_INS.get(voice, "alloy")
        key: tuple[Any, ...] = ("hibari", text, hibari_tts.HIBARI_VOICES[name], speed)
        cached = _CACHE.get(key)
        if cached is not None:
            mine: np.ndarray = cached.copy()
            return mine
        out = hibari_tts.synthesize(text, name, speed)
        if out is not None:
            _CACHE.put(key, out)
            return out
        use = "espeak-ng" if available() else "fallback"  # hibari failed to load: the next engine
    profile = _profile(voice)
    with _LOCK:
        espeak = _load() if use == "espeak-ng" else None
    key = ("espeak-ng" if espeak is not None else "fallback", text, profile, speed)
    hit = _CACHE.get(key)
    if hit is not None:
        copy: np.ndarray = hit.copy()
        return copy
    if espeak is None:
        pcm = fallback_synthesize(text, voice, speed)
    else:
        with _LOCK:
            raw = espeak.speak(text, profile, speed)
        pcm = np.asarray(au.resample(raw, espeak.rate, SAMPLE_RATE), dtype=np.int16)
    _CACHE.put(key, pcm)
    return pcm


class CacheInfo(NamedTuple):
    """What ``synthesize``'s cache holds (``cache_info()``)."""

    entries: int
    seconds: float
    hits: int
    misses: int


class _ClipCache:
    """A thread-safe LRU of read-only clips, bounded by ``CACHE_MAX_ENTRIES`` and ``CACHE_MAX_SECONDS``
    (read on every insertion, so changing them takes effect at the next one)."""

    def __init__(self) -> None:
        self._clips: OrderedDict[Any, np.ndarray] = OrderedDict()
        self._samples = 0
        self._hits = self._misses = 0
        self._lock = threading.Lock()

    def get(self, key: Any) -> np.ndarray | None:
        with self._lock:
            pcm = self._clips.get(key)
            if pcm is None:
                self._misses += 1
                return None
            self._clips.move_to_end(key)
            self._hits += 1
            return pcm

    def put(self, key: Any, pcm: np.ndarray) -> None:
        max_samples = CACHE_MAX_SECONDS * SAMPLE_RATE
        if pcm.size > max_samples or CACHE_MAX_ENTRIES <= 0:
            return
        clip = pcm.copy()
        clip.setflags(write=False)
        with self._lock:
            old = self._clips.pop(key, None)
            if old is not None:
                self._samples -= old.size
            self._clips[key] = clip
            self._samples += clip.size
            while len(self._clips) > CACHE_MAX_ENTRIES or self._samples > max_samples:
                _, dropped = self._clips.popitem(last=False)
                self._samples -= dropped.size

    def clear(self) -> None:
        with self._lock:
            self._clips.clear()
            self._samples = 0
            self._hits = self._misses = 0

    def info(self) -> CacheInfo:
        with self._lock:
            return CacheInfo(len(self._clips), self._samples / SAMPLE_RATE, self._hits, self._misses)


_CACHE = _ClipCache()


def cache_info() -> CacheInfo:
    """Entries, seconds of audio, hits and misses of ``synthesize``'s cache (since the last clear).

    >>> clear_cache(); _ = synthesize("Hi"); _ = synthesize("Hi"); cache_info().hits
    1
    """
    return _CACHE.info()


def clear_cache() -> None:
    """Forget every cached clip (and the hit/miss counts)."""
    _CACHE.clear()


# --- fallback babble ------------------------------------------------------------------------------

_MS_PER_CHAR = 60.0
_PAUSE_MS = {",": 250.0, ";": 300.0, ":": 300.0, ".": 400.0, "!": 400.0, "?": 400.0}
_TOKEN = re.compile(r"[^\W_]+|.", re.UNICODE | re.DOTALL)
_VOWELS = re.compile(r"[aeiouy]+", re.IGNORECASE)


def _burst(n: int, f0: float, seed: int) -> np.ndarray:
    """A harmonic tone burst (partials below ~3.4 kHz), gently falling pitch, raised-cosine envelope."""
    ramp = np.arange(n) / max(n - 1, 1)
    f = f0 * (1.1 + 0.05 * (seed % 5 - 2) - 0.15 * ramp)
    phase = 2 * np.pi * np.cumsum(f) / SAMPLE_RATE
    out = np.zeros(n)
    for k in range(1, int(3400 // (f0 * 1.2)) + 1):
        out += np.sin(k * phase) / k ** (1.0 + 0.15 * (seed % 3))
    env = np.sin(np.pi * (np.arange(n) + 0.5) / n) ** 0.5
    return out * env / max(float(np.max(np.abs(out))), 1e-9)


def fallback_synthesize(text: str, voice: str = "alloy", speed: float = 1.0) -> np.ndarray:
    """Deterministic **non-speech** babble standing in for TTS when espeak-ng is missing.

    Each word becomes tone bursts at the voice's ``babble_hz``, one per vowel group, 60 ms per
    letter in all; spaces and other characters are 60 ms of silence, punctuation adds a pause
    (250-400 ms). Everything is divided by ``speed``, so the length is about
    ``60 ms x len(text) / speed`` plus the pauses. Same input, same samples.
    """
    if not text.strip():
        return np.zeros(0, dtype=np.int16)
    speed = _clamp_speed(speed)
    f0 = _profile(voice).babble_hz
    spm = SAMPLE_RATE / 1000.0 / speed  # samples per ms of "speech time"
    parts: list[np.ndarray] = []
    for token in _TOKEN.findall(text):
        if token[0].isalnum():
            n_syl = max(1, len(_VOWELS.findall(token)))
            total = round(_MS_PER_CHAR * len(token) * spm)
            seed = zlib.crc32(token.lower().encode())  # stable across processes, unlike hash()
            for i in range(n_syl):
                n = total * (i + 1) // n_syl - total * i // n_syl
                gap = min(n // 5, round(20 * spm))  # a short closure between syllables
                parts.append(0.3 * _burst(n - gap, f0, seed + i))
                parts.append(np.zeros(gap))
        else:
            parts.append(np.zeros(round((_MS_PER_CHAR + _PAUSE_MS.get(token, 0.0)) * spm)))
    return au.float_to_pcm16(np.concatenate(parts))


# --- transcript alignment ---------------------------------------------------------------------------


def words_timing(text: str, n_samples: int) -> list[tuple[str, int]]:
    """Split ``text`` into words and give each the sample where it starts in ``n_samples`` of audio.

    Words keep their trailing whitespace (leading whitespace goes to the first word), so joining the
    pieces gives ``text`` back. Start samples are proportional to the character offset, which is
    close enough to align transcript deltas with audio deltas.

    >>> words_timing("Hi there you", 1200)
    [('Hi ', 0), ('there ', 300), ('you', 900)]
    """
    pieces = re.findall(r"\s*\S+\s*", text) if text.strip() else ([text] if text else [])
    out: list[tuple[str, int]] = []
    offset = 0
    for piece in pieces:
        out.append((piece, round(offset * n_samples / len(text))))
        offset += len(piece)
    return out
