"""Transcription sessions on the client: ``rt.transcribe(...)`` and ``TranscriptionSession``.

A transcription session (``?intent=transcription``, no model) turns speech into text and never answers.
``rt.transcribe()`` opens one (same target rules as ``rt.connect``: ``url`` > ``REALTIME_NB_URL`` > OpenAI
> the embedded local server) and configures its ``audio.input.transcription``; ``rt.transcribe(path)``
also sends that file and waits for its transcripts. ``s.transcripts`` is a DataFrame with one row per
utterance: ``item_id``, ``start_ms`` / ``end_ms`` (position in the session's input audio), ``text``,
``status`` (``in_progress``, ``completed``, ``failed``), ``latency_ms`` (commit to final transcript),
``error``.

>>> s = rt.transcribe("meeting.mp3")            # doctest: +SKIP
>>> s.transcripts[["start_ms", "end_ms", "text"]]  # doctest: +SKIP
>>> s.text                                      # doctest: +SKIP
'Turn on the lights in the kitchen. …'

With server VAD on (the default) a long file becomes one row per spoken turn; ``turn_detection=None``
sends each ``send_audio`` as one utterance (append + commit).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import numpy as np

from ..errors import RealtimeError
from . import _audio_in, _hooks, _loop, _ops, _target
from ._connection import Client
from .session import Session

__all__ = ["TranscriptionSession", "transcribe"]

Event = dict[str, Any]
_DEFAULT_VAD: dict[str, Any] = {"type": "server_vad"}
_COLUMNS = ["item_id", "start_ms", "end_ms", "text", "status", "latency_ms", "error"]


@dataclass
class _Row:
    item_id: str
    start_ms: float | None = None
    end_ms: float | None = None
    text: str = ""
    status: str = "in_progress"
    committed_at: float | None = None
    latency_ms: float | None = None
    error: str | None = None


class _Tracker:
    """Builds the transcript rows from the server's events (loop thread only)."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self.rows: dict[str, _Row] = {}
        self.finished: dict[str, asyncio.Future[_Row]] = {}
        self.pending_span: tuple[float, float] | None = None  # a manual commit's span, set before it is sent
        for etype, fn in (("input_audio_buffer.speech_started", self._started),
                          ("input_audio_buffer.speech_stopped", self._stopped),
                          ("input_audio_buffer.committed", self._committed),
                          ("conversation.item.input_audio_transcription.delta", self._delta),
                          ("conversation.item.input_audio_transcription.completed", self._completed),
                          ("conversation.item.input_audio_transcription.failed", self._failed)):
            client.add_handler(etype, fn)

    def row(self, item_id: str) -> _Row:
        if item_id not in self.rows:
            self.rows[item_id] = _Row(item_id)
        return self.rows[item_id]

    def future(self, item_id: str) -> asyncio.Future[_Row]:
        if item_id not in self.finished:
            self.finished[item_id] = self.client.loop.create_future()
        return self.finished[item_id]

    def _started(self, e: Event) -> None:
        self.row(str(e["item_id"])).start_ms = e.get("audio_start_ms")

    def _stopped(self, e: Event) -> None:
        self.row(str(e["item_id"])).end_ms = e.get("audio_end_ms")

    def _committed(self, e: Event) -> None:
        r = self.row(str(e["item_id"]))
        r.committed_at = self.client.now()
        if r.start_ms is None and self.pending_span is not None:
            r.start_ms, r.end_ms = self.pending_span
            self.pending_span = None
        self.future(r.item_id)

    def _delta(self, e: Event) -> None:
        r = self.row(str(e["item_id"]))
        r.text += e.get("delta") or ""

    def _finish(self, r: _Row) -> None:
        if r.committed_at is not None:
            r.latency_ms = round((self.client.now() - r.committed_at) * 1000, 1)
        fut = self.future(r.item_id)
        if not fut.done():
            fut.set_result(r)

    def _completed(self, e: Event) -> None:
        r = self.row(str(e["item_id"]))
        r.text, r.status = str(e.get("transcript") or ""), "completed"
        self._finish(r)

    def _failed(self, e: Event) -> None:
        r = self.row(str(e["item_id"]))
        r.status, r.error = "failed", str((e.get("error") or {}).get("message") or "transcription failed")
        self._finish(r)

    def frame(self) -> Any:
        import pandas as pd

        data = [{"item_id": r.item_id, "start_ms": r.start_ms, "end_ms": r.end_ms, "text": r.text,
                 "status": r.status, "latency_ms": r.latency_ms, "error": r.error}
                for r in self.rows.values() if r.committed_at is not None or r.status != "in_progress"]
        return pd.DataFrame(data, columns=_COLUMNS)


class TranscriptionSession(Session):
    """A transcription-only Realtime session (``rt.transcribe()``): audio in, transcripts out, no responses.

    ``send_audio(source)`` sends a file (WAV, MP3, M4A, OGG, FLAC …), bytes or an array and waits for its
    transcripts; ``transcripts`` (a DataFrame, one row per utterance) and ``text`` read them. The widget and
    ``append_audio`` work as in a ``Session``; ``events`` and ``items`` too.
    """

    def __init__(self, client: Client, *, uses_local: bool) -> None:
        super().__init__(client, uses_local=uses_local)
        self._tracker = _Tracker(client)
        self._sent_ms = 0.0  # input audio sent so far (the session's audio timeline)

    def __repr__(self) -> str:
        return f"<TranscriptionSession {self.url} {len(self._tracker.rows)} utterances>"

    @property
    def transcripts(self) -> Any:
        """One row per utterance: item_id, start_ms, end_ms, text, status, latency_ms, error (a fresh snapshot)."""
        return self._client.call_on_loop(self._tracker.frame)

    @property
    def text(self) -> str:
        """Every completed transcript so far, in order, joined by spaces."""
        frame = self.transcripts
        return " ".join(t for t, s in zip(frame["text"], frame["status"], strict=True) if s == "completed" and t)

    def send_audio(self, source: Any, sample_rate: int | None = None, *, wait: bool = True,
                   timeout: float | None = None, **unused: Any) -> Any:
        """Send speech (a path to any audio file, bytes or an array) and, with ``wait``, return its transcript rows.

        Server VAD splits it into utterances (trailing silence is added so the last one ends); without VAD
        it is one utterance (append + commit). ``timeout`` bounds the wait for the transcripts (default:
        30 s plus the audio's length). Raises ``RealtimeError`` if the server refuses the audio.
        """
        if unused:
            raise TypeError(f"send_audio() of a transcription session takes no response parameters: {sorted(unused)}")
        pcm = _audio_in.load(source, sample_rate)
        limit = timeout if timeout is not None else 30.0 + len(pcm) / 24000
        ids = _loop.run_sync(self._send(pcm, wait, limit), None, what="TranscriptionSession.send_audio()")
        frame = self.transcripts
        return frame[frame["item_id"].isin(ids)].reset_index(drop=True)

    async def _send(self, pcm: np.ndarray, wait: bool, timeout: float) -> list[str]:
        client, tracker = self._client, self._tracker
        td = _audio_in.turn_detection(client)
        before = set(tracker.finished)
        start = self._sent_ms
        if td is None:
            self._sent_ms += len(pcm) / 24
            tracker.pending_span = (start, self._sent_ms)
            await _audio_in.append(client, pcm)
            ids = [await _ops.commit(client)]
        else:
            silence = np.zeros(24 * _audio_in.trailing_silence_ms(td), np.int16)
            full = np.concatenate([pcm, silence])
            self._sent_ms += len(full) / 24
            await _audio_in.append(client, full)
            # The reply to a no-op update comes after the server's VAD has seen all of that audio: every
            # turn it found is committed by then.
            await _ops.send(client, {"type": "session.update", "session": {"type": "transcription"}}, True, timeout)
            ids = [i for i in tracker.finished if i not in before]
        if wait and ids:
            try:
                await asyncio.wait_for(asyncio.gather(*(tracker.future(i) for i in ids)), timeout)
            except asyncio.TimeoutError:
                raise RealtimeError(f"No transcript within {timeout:.0f} s for {len(ids)} utterance(s)") from None
        return ids


def transcription_url(base_url: str) -> str:
    """``<base>/realtime?intent=transcription`` (keeps any other query the base had, drops ``model``)."""
    parts = urlsplit(base_url)
    path = parts.path.rstrip("/")
    if not path.endswith("/realtime"):
        path += "/realtime"
    query = [(k, v) for k, v in parse_qsl(parts.query) if k not in ("model", "intent")] + [("intent", "transcription")]
    return urlunsplit((parts.scheme, parts.netloc, path, urlencode(query), ""))


def _session_update(model: str, language: str | None, prompt: str | None, turn_detection: Any,
                    logprobs: bool) -> dict[str, Any]:
    transcription: dict[str, Any] = {"model": model}
    if language is not None:
        transcription["language"] = language
    if prompt is not None:
        transcription["prompt"] = prompt
    session: dict[str, Any] = {"type": "transcription", "audio": {"input": {
        "transcription": transcription, "turn_detection": turn_detection}}}
    if logprobs:
        session["include"] = ["item.input_audio_transcription.logprobs"]
    return session


async def _open(target: _target.Target, session: dict[str, Any], timeout: float) -> Client:
    client = Client(target, "", transcription_url(target.base_url))
    await client.open(timeout)
    try:
        await _ops.send(client, {"type": "session.update", "session": session}, True, timeout)
    except BaseException:
        await client.close()
        raise
    return client


def transcribe(source: Any = None, *, url: str | None = None, api_key: str | None = None,
               model: str = "gpt-4o-transcribe", language: str | None = None, prompt: str | None = None,
               turn_detection: Any = _DEFAULT_VAD, logprobs: bool = False, timeout: float = 20.0
               ) -> TranscriptionSession:
    """Open a transcription session; with ``source`` (a file path, bytes or an array), transcribe it first.

    ``model``: the transcription model (``whisper-1``, ``gpt-4o-transcribe`` …; the local server always uses
    its own recognizer); ``language`` (ISO-639-1) and ``prompt`` steer it; ``turn_detection``: server VAD
    (default; a dict to tune it) or ``None`` for one utterance per ``send_audio``; ``logprobs``: ask for
    log probabilities. ``timeout`` bounds connecting. Close the session when done (``with`` works).

    >>> with rt.transcribe("memo.m4a") as s:       # doctest: +SKIP
    ...     print(s.text)
    """
    if isinstance(turn_detection, dict) and "type" not in turn_detection:
        turn_detection = {"type": "server_vad", **turn_detection}
    session = _session_update(model, language, prompt, turn_detection, logprobs)
    target = _target.resolve(url, api_key)
    uses_local = target.kind == "local"
    if uses_local:
        target = _target.Target(_target.acquire_local(), "local", target.api_key)
    try:
        client = _loop.run_sync(_open(target, session, timeout), None, what="realtime_nb.transcribe()")
    except BaseException:
        if uses_local:
            _target.release_local()
        raise
    s = TranscriptionSession(client, uses_local=uses_local)
    if source is not None:
        try:
            s.send_audio(source)
        except BaseException:
            s.close()
            raise
    return s


_hooks.transcribe = transcribe  # rt.connect(intent="transcription")
