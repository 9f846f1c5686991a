"""Input audio transcription as a job the I/O layer runs off the event loop (sans-I/O events).

When ``audio.input.transcription`` is set, each buffer commit makes a ``TranscriptionJob``. The engine
hands it to the I/O layer (``Engine.new_jobs``), which calls ``job.run()`` in a worker thread (speech
recognition is CPU work) and then ``Engine.transcription_finished(job)`` on the loop thread, which
stores the transcript on the user item and returns the events:

- success: ``conversation.item.input_audio_transcription.delta`` per word, then ``.completed`` with
  ``usage: {"type": "duration", "seconds": ceil(samples / 24000)}`` (docs/protocol.md §5.4);
- no recognizer installed, unsupported language or a recognizer error: ``.failed`` with an ``error``
  object (kept apart from ``error`` events, as the service does).

Responses whose context holds the item wait for ``job.done`` (bounded) before asking their brain, so
the brain reads what was said (see ``producer.produce``).
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import stt

__all__ = ["TranscriptionJob", "transcription_events"]

SAMPLE_RATE = 24000
_ENGLISH = ("en", "en-us", "en-gb", "en_us", "en_gb")


@dataclass
class TranscriptionJob:
    """Recognize one committed user audio item; ``run()`` is blocking and thread-safe."""

    item_id: str
    pcm: np.ndarray
    config: dict[str, Any]                 # the session's audio.input.transcription
    transcript: str | None = None          # set by run() on success
    error: dict[str, Any] | None = None    # set by run() on failure
    done: threading.Event = field(default_factory=threading.Event)

    @property
    def seconds(self) -> int:
        """Billed duration: the audio length rounded up to whole seconds."""
        return math.ceil(len(self.pcm) / SAMPLE_RATE)

    def run(self) -> None:
        try:
            language = (self.config.get("language") or "en").lower()
            if language not in _ENGLISH:
                self.error = _error("unsupported_language", f"The local speech recognizer only knows English "
                                    f"(en-us); language '{language}' is not supported.", "language")
                return
            self.transcript = stt.transcribe(self.pcm)
        except stt.RecognizerUnavailable as exc:
            self.error = _error("transcription_unavailable", str(exc))
        except Exception as exc:  # a recognizer failure fails this transcription only
            self.error = _error("transcription_failed", f"Speech recognition failed: {type(exc).__name__}: {exc}")
        finally:
            self.done.set()


def _error(code: str, message: str, param: str | None = None) -> dict[str, Any]:
    return {"type": "server_error", "code": code, "message": message, "param": param}


def transcription_events(job: TranscriptionJob, ev: Any) -> list[dict[str, Any]]:
    """The events reporting a finished job (``ev(type, **fields)`` builds an event)."""
    ids = {"item_id": job.item_id, "content_index": 0}
    if job.transcript is None:
        error = job.error or _error("transcription_failed", "Speech recognition did not finish.")
        return [ev("conversation.item.input_audio_transcription.failed", **ids, error=error)]
    words = [w + " " for w in job.transcript.split(" ")] if job.transcript else []
    if words:
        words[-1] = words[-1][:-1]
    out = [ev("conversation.item.input_audio_transcription.delta", **ids, delta=w) for w in words]
    out.append(ev("conversation.item.input_audio_transcription.completed", **ids, transcript=job.transcript,
                  usage={"type": "duration", "seconds": job.seconds}))
    return out
