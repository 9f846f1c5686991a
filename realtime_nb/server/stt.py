"""Offline speech recognition for the local server: pocketsphinx with the en-us model its wheel ships.

``transcribe(pcm16_24k) -> str`` decodes one whole utterance (24 kHz mono int16) and returns the
words it heard in sentence case, without punctuation (``""`` for silence). ``available()`` says
whether a recognizer can be loaded (``pip install realtime-nb[speech]``); without one, ``transcribe`` raises
``RecognizerUnavailable`` and the server reports ``conversation.item.input_audio_transcription.failed``.

How it decodes:

- the audio is resampled to 16 kHz (``realtime_nb.audio.resample``), the acoustic model's rate;
- a faint, seeded white noise is added 30 dB below the speech level (the 90th percentile of the
  20 ms frame levels). Digital silence and the sharp, empty spectra of synthesized speech make
  the log filter-bank features of an MFCC front end swing wildly; a noise floor like a real
  microphone's tames them. On noise-free espeak-ng audio it lowers the word error rate from 0.89
  to 0.64; on the benchmark's speech, which already has a -60 dBFS noise floor, only from 0.62 to
  0.61 (``bench/bench_asr.py``). The same input gives the same transcript;
- audio whose loudest 20 ms frame is under ``QUIET_DBFS`` is silence: ``""`` without decoding;
- the whole utterance is decoded in one pass (batch cepstral mean normalization), so there are no
  partial hypotheses: the server sends the final transcript as word deltas, then ``completed``,
  like the service's non-streaming transcription models.

One decoder is loaded lazily (about 0.3 s) and shared; pocketsphinx decoders are not thread-safe, so
calls are serialized by a lock. Its feature extraction is reset before each utterance, so a
transcript does not depend on what was decoded before (another session's audio, say). Decoding takes
about a fifth of the audio's duration on one core: callers (the server's I/O layer) run it in a
worker thread.

>>> text = transcribe(pcm)                      # doctest: +SKIP
>>> text
'Turn on the lights in the kitchen'
"""

from __future__ import annotations

import logging
import threading
from typing import Any

import numpy as np

from .. import audio as au

__all__ = ["DITHER_DB", "QUIET_DBFS", "RecognizerUnavailable", "available", "transcribe"]

log = logging.getLogger("realtime_nb.server.stt")

RATE = 16000
DITHER_DB = 30.0
"""How far below the speech level (dB) the added noise floor sits."""
DECODER_OPTIONS: dict[str, Any] = {"fwdflat": False}
"""pocketsphinx options: skip the flat-lexicon second pass. On the 120 utterances of
``bench/bench_asr.py`` (one run, a shared machine): defaults WER 0.586 in 102 s; this 0.608 in 64 s
(a shorter wait before a spoken turn's answer); adding ``maxhmmpf=3000`` 0.635 in 30 s."""
_FRAME = RATE // 50  # 20 ms
QUIET_DBFS = -55.0
"""Audio whose loudest 20 ms frame is below this level is taken as silence (transcript ``""``)."""
_QUIET = 32768.0 * 10 ** (QUIET_DBFS / 20)

_LOCK = threading.Lock()
_decoder: Any = None
_load_error: str | None = None


class RecognizerUnavailable(RuntimeError):
    """No speech recognizer could be loaded (pocketsphinx is missing or broken)."""


def _load() -> Any:
    """The shared decoder, loaded on first use (call under ``_LOCK``)."""
    global _decoder, _load_error
    if _decoder is None and _load_error is None:
        try:
            from pocketsphinx import Decoder  # optional dependency

            _decoder = Decoder(samprate=RATE, loglevel="FATAL", **DECODER_OPTIONS)
        except Exception as exc:  # ImportError, or a model that fails to load
            _load_error = f"{type(exc).__name__}: {exc}"
            log.warning("pocketsphinx unavailable (%s); input audio transcription will fail", _load_error)
    return _decoder


def available() -> bool:
    """True if the pocketsphinx recognizer loads (the ``speech`` extra is installed)."""
    with _LOCK:
        return _load() is not None


def unavailable_reason() -> str | None:
    """Why ``available()`` is False (``None`` if it is True or was not asked yet)."""
    with _LOCK:
        _load()
        return _load_error


def _frame_levels(x: np.ndarray) -> np.ndarray:
    n = len(x) // _FRAME
    return np.sqrt(np.mean(x[: n * _FRAME].reshape(n, _FRAME) ** 2, axis=1)) if n else np.zeros(1)


def _with_noise_floor(pcm16k: np.ndarray) -> np.ndarray:
    """Add seeded white noise ``DITHER_DB`` below the speech level (see the module docstring)."""
    x = pcm16k.astype(np.float64)
    speech = float(np.percentile(_frame_levels(x), 90))
    noise = np.random.default_rng(len(x)).standard_normal(len(x)) * speech * 10 ** (-DITHER_DB / 20)
    return np.clip(np.rint(x + noise), -32768, 32767).astype(np.int16)


def transcribe(pcm16_24k: np.ndarray) -> str:
    """Recognize one utterance of 24 kHz mono int16 audio; returns its words (may be ``""``).

    Raises ``RecognizerUnavailable`` when pocketsphinx cannot be loaded. Thread-safe.
    """
    pcm = np.asarray(pcm16_24k)
    if pcm.dtype != np.int16 or pcm.ndim != 1:
        raise TypeError(f"transcribe expects 1-D int16 samples, got {pcm.dtype} {pcm.shape}")
    pcm16k = au.resample(pcm, au.SAMPLE_RATE, RATE)
    # Under 100 ms, or nothing louder than a whisper: no speech (the model would hallucinate a word).
    if len(pcm) < au.SAMPLE_RATE // 10 or float(np.max(_frame_levels(pcm16k.astype(np.float64)))) < _QUIET:
        with _LOCK:
            if _load() is None:
                raise RecognizerUnavailable(_unavailable_message())
        return ""
    data = _with_noise_floor(pcm16k).tobytes()
    with _LOCK:
        decoder = _load()
        if decoder is None:
            raise RecognizerUnavailable(_unavailable_message())
        decoder.reinit_feat()  # forget the previous utterance's noise statistics: same input, same words
        decoder.start_utt()
        decoder.process_raw(data, False, True)
        decoder.end_utt()
        hyp = decoder.hyp()
    words = (hyp.hypstr if hyp is not None else "").split()
    # pocketsphinx marks alternative pronunciations as word(2); fillers look like <sil> or [noise]
    words = [w.split("(")[0] for w in words if not w.startswith(("<", "["))]
    return _sentence_case(words)


def _sentence_case(words: list[str]) -> str:
    """``["i", "think", "so"]`` → ``"I think so"`` (the model writes lower case, no punctuation)."""
    words = ["I" if w == "i" else "I" + w[1:] if w.startswith("i'") else w for w in words]
    text = " ".join(words)
    return text[:1].upper() + text[1:]


def _unavailable_message() -> str:
    return ("The local server has no speech recognizer: install it with `pip install realtime-nb[speech]` "
            f"(pocketsphinx). ({_load_error})")
