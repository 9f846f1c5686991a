"""Input audio transcription as a job the I/O layer runs off the event loop (sans-I/O events).

When ``audio.input.transcription`` is set, each buffer commit makes a ``TranscriptionJob``. The engine
hands it to the I/O layer (``Engine.new_jobs``), which calls ``job.run(on_delta)`` in a worker thread
(speech recognition is CPU work; ``stt`` keeps the GIL free while it decodes), sends the events of each
``on_delta`` as the recognizer decodes segments, and finally hands the job to
``Engine.transcription_finished(job)`` on the loop thread, which stores the transcript on the user item:

- while decoding: ``conversation.item.input_audio_transcription.delta`` per decoded segment (with
  ``logprobs`` when the session's ``include`` asks for ``item.input_audio_transcription.logprobs``);
- success: ``.completed`` with the transcript and ``usage: {"type": "duration", "seconds": ceil(audio
  seconds)}`` (docs/protocol.md §5.4), plus ``logprobs`` when asked for;
- no recognizer, unsupported language or a recognizer error: ``.failed`` with an ``error`` object (kept
  apart from ``error`` events, as the service does).

``audio.input.transcription.language`` and ``.prompt`` go to the recognizer.

Responses whose context holds the item wait for the transcript before asking their brain, so the brain
reads what was said (``job.wait``): ``wait_s`` for the job to start decoding, then as long as a decode
of that much audio can take on a loaded machine (``decode_allowance_s``), so a busy server answers a
spoken turn with its words rather than "I heard N seconds of audio".
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import stt

__all__ = ["TranscriptionJob", "transcription_events"]

SAMPLE_RATE = 24000
LOGPROBS = "item.input_audio_transcription.logprobs"
DeltaCallback = Callable[[str, "list[dict[str, Any]] | None"], None]


@dataclass
class TranscriptionJob:
    """Recognize one committed user audio item; ``run()`` is blocking and thread-safe."""

    item_id: str
    pcm: np.ndarray
    config: dict[str, Any]                 # the session's audio.input.transcription
    include: list[str] = field(default_factory=list)  # the session's include
    stt_model: str | None = None           # the server's recognizer setting (None: the default)
    transcript: str | None = None          # set by run() on success
    logprobs: list[dict[str, Any]] | None = None
    deltas: int = 0                        # how many delta events were streamed
    error: dict[str, Any] | None = None    # set by run() on failure
    started_at: float | None = None        # monotonic time the recognizer began decoding
    started: threading.Event = field(default_factory=threading.Event)
    done: threading.Event = field(default_factory=threading.Event)

    @property
    def seconds(self) -> int:
        """Billed duration: the audio length rounded up to whole seconds."""
        return math.ceil(len(self.pcm) / SAMPLE_RATE)

    @property
    def wants_logprobs(self) -> bool:
        return LOGPROBS in (self.include or [])

    def decode_allowance_s(self) -> float:
        """How long a started decode may take before a response stops waiting: 2 s plus the audio's
        length (a real-time factor of 1 on a loaded machine; the packaged Whisper base runs at about 0.15)."""
        return 2.0 + len(self.pcm) / SAMPLE_RATE

    def wait(self, wait_s: float) -> bool:
        """Wait for the transcript: ``wait_s`` for decoding to start, then ``decode_allowance_s()`` from its
        start. True if the job finished."""
        t0 = time.monotonic()
        if not self.started.wait(wait_s):
            return self.done.is_set()
        started = self.started_at if self.started_at is not None else t0
        deadline = max(t0 + wait_s, started + self.decode_allowance_s())
        return self.done.wait(max(0.0, deadline - time.monotonic()))

    def _start(self) -> None:
        self.started_at = time.monotonic()
        self.started.set()

    def run(self, on_delta: DeltaCallback | None = None) -> None:
        """Recognize the audio; ``on_delta(text, logprobs)`` gets each decoded piece (from this thread)."""
        pieces: list[str] = []
        logprobs: list[dict[str, Any]] = []

        def segment(text: str, lp: list[dict[str, Any]] | None) -> None:
            pieces.append(text)
            if lp is not None:
                logprobs.extend(lp)
            self.deltas += 1
            if on_delta is not None:
                on_delta(text, lp)

        try:
            self.transcript = stt.transcribe(
                self.pcm, language=self.config.get("language") or None, prompt=self.config.get("prompt") or None,
                logprobs=self.wants_logprobs, model=self.stt_model, on_start=self._start, on_segment=segment)
            if self.wants_logprobs:
                self.logprobs = logprobs
        except stt.RecognizerUnavailable as exc:
            self.error = _error("transcription_unavailable", str(exc))
        except stt.UnsupportedLanguage as exc:
            self.error = _error("unsupported_language", f"{exc} Leave 'language' unset or use 'en'.", "language")
        except Exception as exc:  # a recognizer failure fails this transcription only
            self.error = _error("transcription_failed", f"Speech recognition failed: {type(exc).__name__}: {exc}")
        finally:
            self.started.set()
            self.done.set()


def _error(code: str, message: str, param: str | None = None) -> dict[str, Any]:
    return {"type": "server_error", "code": code, "message": message, "param": param}


def delta_event(job: TranscriptionJob, text: str, logprobs: list[dict[str, Any]] | None, ev: Any) -> dict[str, Any]:
    """One streamed ``…input_audio_transcription.delta``."""
    extra = {"logprobs": logprobs} if logprobs is not None else {}
    return dict(ev("conversation.item.input_audio_transcription.delta", item_id=job.item_id, content_index=0,
                   delta=text, **extra))


def transcription_events(job: TranscriptionJob, ev: Any) -> list[dict[str, Any]]:
    """The events reporting a finished job (``ev(type, **fields)`` builds an event).

    Deltas were streamed while decoding (``delta_event``); a job run without a delta callback, or one
    whose recognizer produced text without segments, gets its deltas here, one per word.
    """
    ids = {"item_id": job.item_id, "content_index": 0}
    if job.transcript is None:
        error = job.error or _error("transcription_failed", "Speech recognition did not finish.")
        return [ev("conversation.item.input_audio_transcription.failed", **ids, error=error)]
    out = []
    if not job.deltas and job.transcript:
        words = [w + " " for w in job.transcript.split(" ")]
        words[-1] = words[-1][:-1]
        out = [ev("conversation.item.input_audio_transcription.delta", **ids, delta=w) for w in words]
    extra = {"logprobs": job.logprobs} if job.logprobs is not None else {}
    out.append(ev("conversation.item.input_audio_transcription.completed", **ids, transcript=job.transcript,
                  usage={"type": "duration", "seconds": job.seconds}, **extra))
    return out
