"""The input audio buffer of one connection (sans-I/O): appends, VAD turns, commits, transcription, idle timeout.

A mixin of ``Engine`` (``engine.py``), kept apart because it is one concern: everything between the
client's ``input_audio_buffer.*`` events and a committed user audio item. With
``audio.input.transcription`` set, a commit also makes a ``TranscriptionJob`` for the I/O layer
(``new_jobs``), and ``transcription_finished`` stores its transcript on the item and reports it.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import audio as au
from ..protocol.conversation import Conversation
from ..protocol.errors import EventError
from ..protocol.events import MAX_APPEND_BYTES, MIN_COMMIT_MS, SAMPLE_RATE
from ..protocol.ids import item_id as new_item_id
from .runner import ev
from .transcription import TranscriptionJob, transcription_events
from .vad import VoiceActivityDetector, create_vad

if TYPE_CHECKING:
    from .runner import ResponseRun

Event = dict[str, Any]
SPM = SAMPLE_RATE // 1000  # samples per millisecond


class InputAudio:
    """Input audio buffer state and handlers; ``Engine`` provides the rest (see its ``__init__``)."""

    # provided by Engine
    session: dict[str, Any]
    conversation: Conversation
    clock: Callable[[], float]
    inband: ResponseRun | None
    vad_backend: str | None
    stt_model: str | None
    new_jobs: list[TranscriptionJob]
    _transcribing: dict[str, TranscriptionJob]
    _timeline: int
    _buf: list[np.ndarray]
    _buf_start: int
    _buf_len: int
    _vad: VoiceActivityDetector | None
    _vad_base: int
    _speech_item: str | None
    _speech_start_ms: int
    _last_activity: float

    def create_response(self, r: dict[str, Any], event_id: str | None) -> list[Event]:
        raise NotImplementedError

    def _on_session_input_audio_buffer_append(self, event: Event) -> list[Event]:
        return self._on_input_audio_buffer_append(event)

    def _on_input_audio_buffer_append(self, event: Event) -> list[Event]:
        b64 = event["audio"]
        if len(b64) * 3 // 4 > MAX_APPEND_BYTES:
            raise EventError("invalid_value", "Audio content of an input_audio_buffer.append event is too "
                             f"large: at most {MAX_APPEND_BYTES} bytes (15 MiB) are allowed per event.", "audio")
        try:
            raw = au.b64decode(b64)
        except ValueError:
            raise EventError("invalid_value", "Invalid 'audio': expected base64-encoded audio.", "audio") from None
        if len(raw) > MAX_APPEND_BYTES:
            raise EventError("invalid_value", "Audio content of an input_audio_buffer.append event is too "
                             f"large: at most {MAX_APPEND_BYTES} bytes (15 MiB) are allowed per event.", "audio")
        fmt = self.session["audio"]["input"]["format"]
        if fmt["type"] == "audio/pcm" and len(raw) % 2:
            raise EventError("invalid_value", "Invalid 'audio': 16-bit PCM needs an even number of bytes.",
                             "audio")
        return self.append_pcm(au.decode_audio(raw, fmt))

    def append_pcm(self, pcm: np.ndarray) -> list[Event]:
        """Add decoded 24 kHz input audio; returns VAD-driven events (speech, commit, response)."""
        if len(pcm) == 0:
            return []
        self._buf.append(pcm)
        self._buf_len += len(pcm)
        self._timeline += len(pcm)
        if self._vad is None:
            return []
        out: list[Event] = []
        for vad_event in self._vad.feed(pcm):
            ms = self._vad_base // SPM + vad_event.audio_ms
            if vad_event.kind == "speech_started":
                out.extend(self._speech_started(ms))
            else:
                out.extend(self._speech_stopped(ms))
        return out

    def _speech_started(self, ms: int) -> list[Event]:
        ms = max(ms, self._buf_start // SPM)
        self._speech_item = new_item_id()
        self._speech_start_ms = ms
        out = [ev("input_audio_buffer.speech_started", audio_start_ms=ms, item_id=self._speech_item)]
        td = self.session["audio"]["input"]["turn_detection"] or {}
        if td.get("interrupt_response") and self.inband is not None and not self.inband.finished:
            out.extend(self.inband.cancel("turn_detected"))
        return out

    def _speech_stopped(self, ms: int) -> list[Event]:
        item_id = self._speech_item or new_item_id()
        out = [ev("input_audio_buffer.speech_stopped", audio_end_ms=ms, item_id=item_id)]
        pcm = self._take_buffer(self._speech_start_ms * SPM, ms * SPM)
        self._speech_item = None
        self._last_activity = self.clock()
        out.extend(self._commit(item_id, pcm, event_id=None))
        td = self.session["audio"]["input"]["turn_detection"] or {}
        if td.get("create_response") and (self.inband is None or self.inband.finished):
            out.extend(self.create_response({}, event_id=None))
        return out

    def _take_buffer(self, start: int, end: int) -> np.ndarray:
        """Samples [start, end) of the session timeline; the buffer keeps what follows ``end``."""
        joined = np.concatenate(self._buf) if self._buf else np.zeros(0, np.int16)
        lo = max(0, start - self._buf_start)
        hi = max(lo, min(len(joined), end - self._buf_start))
        taken: np.ndarray = joined[lo:hi].copy()
        rest = joined[hi:]
        self._buf = [rest] if len(rest) else []
        self._buf_len = len(rest)
        self._buf_start = self._timeline - len(rest)
        return taken

    def _commit(self, item_id: str, pcm: np.ndarray, event_id: str | None) -> list[Event]:
        item = {"id": item_id, "type": "message", "status": "completed", "role": "user",
                "content": [{"type": "input_audio", "transcript": None}]}
        prev = self.conversation.insert(item)
        self.conversation.set_audio(item_id, pcm)
        out = [ev("input_audio_buffer.committed", previous_item_id=prev, item_id=item_id),
               ev("conversation.item.added", previous_item_id=prev, item=copy.deepcopy(item)),
               ev("conversation.item.done", previous_item_id=prev, item=copy.deepcopy(item))]
        config = self.session["audio"]["input"]["transcription"]
        if config:
            job = TranscriptionJob(item_id, pcm, dict(config), include=list(self.session.get("include") or []),
                                   stt_model=self.stt_model)
            self._transcribing[item_id] = job
            self.new_jobs.append(job)
        return out

    def transcription_finished(self, job: TranscriptionJob) -> list[Event]:
        """Store a finished job's transcript on its user item and report it (see ``transcription.py``)."""
        self._transcribing.pop(job.item_id, None)
        if job.item_id not in self.conversation:
            return []  # deleted meanwhile: nothing left to describe
        if job.transcript is not None:
            item = self.conversation.get(job.item_id)
            content = [{**p, "transcript": job.transcript} if p.get("type") == "input_audio" else p
                       for p in item.get("content") or []]
            self.conversation.update(job.item_id, content=content)
        return transcription_events(job, ev)

    def _on_input_audio_buffer_commit(self, event: Event) -> list[Event]:
        ms = self._buf_len / SPM
        if ms < MIN_COMMIT_MS:
            raise EventError("input_audio_buffer_commit_empty",
                             "Error committing input audio buffer: buffer too small. Expected at least 100ms "
                             f"of audio, but buffer only has {ms:.2f}ms of audio.", None)
        item_id = self._speech_item or new_item_id()
        pcm = self._take_buffer(self._buf_start, self._timeline)
        self._speech_item = None
        self._reset_vad()
        return self._commit(item_id, pcm, event.get("event_id"))

    def _on_input_audio_buffer_clear(self, event: Event) -> list[Event]:
        self._buf, self._buf_len, self._buf_start = [], 0, self._timeline
        self._speech_item = None
        self._reset_vad()
        return [ev("input_audio_buffer.cleared")]

    def _reset_vad(self) -> None:
        td = self.session["audio"]["input"]["turn_detection"]
        self._vad = create_vad(td, backend=self.vad_backend) if td else None  # type: ignore[arg-type]
        self._vad_base = self._timeline

    # -- timers --------------------------------------------------------------------------------
    def tick(self) -> list[Event]:
        """Called periodically by the I/O layer: idle timeout (server_vad ``idle_timeout_ms``)."""
        td = self.session["audio"]["input"]["turn_detection"] or {}
        idle = td.get("idle_timeout_ms")
        if not idle or self._speech_item is not None or (self.inband and not self.inband.finished):
            return []
        now = self.clock()
        if now - self._last_activity < idle / 1000 or self._buf_len == 0:
            return []
        self._last_activity = now
        item_id = new_item_id()
        start_ms, end_ms = self._buf_start // SPM, self._timeline // SPM
        out = [ev("input_audio_buffer.timeout_triggered", audio_start_ms=start_ms, audio_end_ms=end_ms,
                  item_id=item_id)]
        out.extend(self._commit(item_id, self._take_buffer(self._buf_start, self._timeline), None))
        self._reset_vad()
        if td.get("create_response", True):
            out.extend(self.create_response({}, None))
        return out

