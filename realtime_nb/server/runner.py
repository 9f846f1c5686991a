"""One response's event stream, produced step by step (sans-I/O).

Two halves. ``ResponseRun.pieces()`` asks the brain and synthesizes speech (blocking, CPU and maybe
network work: the I/O layer runs it in a worker thread; see ``producer.py``). On the loop thread,
``steps_for(piece)`` turns each piece into batches of server events in the exact order of docs/protocol.md
§4 and ``complete()`` ends the response; the I/O layer sends each batch and may pause between them
(pacing). ``steps()`` runs both halves inline. ``cancel(reason)`` closes whatever is open and returns
the closing events and ``response.done`` at once; ``fail(message)`` does the same with ``failed``.

Speech goes out in ``chunk_ms`` audio deltas per sentence; each word's transcript delta is sent in the
same batch as the audio chunk its word starts in (word starts from ``tts.words_timing``).

Token accounting is an estimate, documented so the numbers are explainable: one text token per four
characters (rounded up), one audio token per 50 ms of audio.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from .. import audio as au
from ..protocol.ids import call_id as new_call_id
from ..protocol.ids import event_id as new_event_id
from ..protocol.ids import item_id as new_item_id
from . import tts
from .brain_api import Brain, BrainRequest
from .producer import Piece, produce

if TYPE_CHECKING:
    from .transcription import TranscriptionJob


class RunHost(Protocol):
    """What a response needs of its connection's state (``Engine`` is one): the conversation it writes
    its output items into, and the bookkeeping at its end. A protocol, so this module does not depend on
    the engine that drives it."""

    def add_output_item(self, item: dict[str, Any]) -> str | None: ...

    def finish_output_item(self, item: dict[str, Any]) -> None: ...

    def previous_item_id(self, item_id: str) -> str | None: ...

    def on_output_audio(self, item_id: str, pcm: np.ndarray, *, in_band: bool) -> None: ...

    def cached_tokens(self, input_tokens: int) -> int: ...

    def on_response_done(self, run: ResponseRun) -> list[dict[str, Any]]: ...


def text_tokens(text: str) -> int:
    return math.ceil(len(text) / 4) if text else 0


def audio_tokens(samples: int) -> int:
    return math.ceil(samples / (au.SAMPLE_RATE * 0.05)) if samples else 0


def ev(type_: str, **fields: Any) -> dict[str, Any]:
    return {"type": type_, "event_id": new_event_id(), **fields}


@dataclass
class ResponseRun:
    engine: RunHost
    id: str
    params: dict[str, Any]        # effective parameters (session defaults merged with response.create)
    request: BrainRequest
    conversation_id: str | None   # None for out-of-band
    brain: Brain
    chunk_ms: int = 100
    waits: list[TranscriptionJob] = field(default_factory=list)  # transcripts the context still lacks
    transcript_wait_s: float = 3.0
    status: str = "in_progress"
    status_details: dict[str, Any] | None = None
    stop_reason: str | None = None  # set by the producer: why the brain stopped early
    finished: bool = False
    output: list[dict[str, Any]] = field(default_factory=list)
    _open: dict[str, Any] | None = None   # the item being streamed: item, index, part kind, text so far
    _out_samples: int = 0
    usage: dict[str, Any] | None = None

    @property
    def in_band(self) -> bool:
        return self.conversation_id is not None

    @property
    def audio_out(self) -> bool:
        return bool(self.params["output_modalities"] == ["audio"])

    # -- objects -------------------------------------------------------------------------------
    def response_object(self, usage: dict[str, Any] | None = None) -> dict[str, Any]:
        return {
            "object": "realtime.response",
            "id": self.id,
            "status": self.status,
            "status_details": self.status_details,
            "output": [dict(i) for i in self.output],
            "conversation_id": self.conversation_id,
            "output_modalities": list(self.params["output_modalities"]),
            "max_output_tokens": self.params["max_output_tokens"],
            "audio": {"output": {"format": dict(self.params["format"]), "voice": self.params["voice"]}},
            "usage": usage,
            "metadata": self.params.get("metadata"),
        }

    def created_event(self) -> dict[str, Any]:
        return ev("response.created", response=self.response_object())

    def voice_name(self) -> str:
        voice = self.params["voice"]
        return voice if isinstance(voice, str) else "alloy"

    # -- worker thread -----------------------------------------------------------------------------
    def pieces(self) -> Iterator[Piece]:
        """Ask the brain and synthesize speech, piece by piece (blocking: run it in a worker thread).

        Touches only this run's fields and its request; see ``producer.produce``.
        """
        return produce(self)

    # -- loop thread: streaming ------------------------------------------------------------------
    def steps_for(self, piece: Piece) -> Iterator[list[dict[str, Any]]]:
        """Batches of events for one piece; nothing once the run is finished (cancelled or failed)."""
        if self.finished:
            return
        if piece.kind == "message":
            yield self._start_message()
        elif piece.kind == "call":
            yield self._start_call(piece.text)
        elif piece.kind == "text" and self._open is not None:
            yield from (self._speech(piece) if self.audio_out else self._text(piece.text))
        elif piece.kind == "args" and self._open is not None:
            yield from self._args(piece.text)
        elif piece.kind == "end" and self._open is not None:
            yield self._close_open("completed")

    def complete(self) -> list[dict[str, Any]]:
        """Close whatever is open and finish ``completed`` (or ``incomplete``): ``response.done``."""
        if self.finished:
            return []
        events = self._close_open("completed")
        if self.stop_reason is not None:
            self.status = "incomplete"
            self.status_details = {"type": "incomplete", "reason": self.stop_reason}
        else:
            self.status = "completed"
        events.extend(self._finish())
        return events

    def steps(self) -> Iterator[list[dict[str, Any]]]:
        """All batches of the response, producing pieces inline (for tests and simple drivers)."""
        for piece in self.pieces():
            yield from self.steps_for(piece)
        if not self.finished:
            yield self.complete()

    def _start_item(self, item: dict[str, Any]) -> list[dict[str, Any]]:
        index = len(self.output)
        self.output.append(item)
        self._open = {"item": item, "index": index, "part": None, "text": ""}
        events = [ev("response.output_item.added", response_id=self.id, output_index=index, item=dict(item))]
        if self.in_band:
            prev = self.engine.add_output_item(dict(item))
            events.append(ev("conversation.item.added", previous_item_id=prev, item=dict(item)))
        return events

    def _start_message(self) -> list[dict[str, Any]]:
        item = {"id": new_item_id(), "type": "message", "status": "in_progress", "role": "assistant",
                "content": []}
        events = self._start_item(item)
        part = {"type": "audio", "transcript": ""} if self.audio_out else {"type": "text", "text": ""}
        assert self._open is not None
        self._open["part"] = part["type"]
        events.append(ev("response.content_part.added", response_id=self.id, item_id=item["id"],
                         output_index=self._open["index"], content_index=0, part=part))
        return events

    def _start_call(self, name: str) -> list[dict[str, Any]]:
        item = {"id": new_item_id(), "type": "function_call", "status": "in_progress", "name": name,
                "call_id": new_call_id(), "arguments": ""}
        return self._start_item(item)

    def _ids(self) -> dict[str, Any]:
        assert self._open is not None
        return {"response_id": self.id, "item_id": self._open["item"]["id"], "output_index": self._open["index"],
                "content_index": 0}

    def _text(self, text: str) -> Iterator[list[dict[str, Any]]]:
        ids = self._ids()
        for word in _split_words(text):
            if self.finished or self._open is None:
                return
            self._open["text"] += word
            yield [ev("response.output_text.delta", **ids, delta=word)]

    def _speech(self, piece: Piece) -> Iterator[list[dict[str, Any]]]:
        """Audio chunks of one sentence; each word's transcript delta rides with the chunk it starts in."""
        ids = self._ids()
        item_id = ids["item_id"]
        pcm = piece.pcm if piece.pcm is not None else np.zeros(0, np.int16)
        chunk = max(1, au.SAMPLE_RATE * self.chunk_ms // 1000)
        words = tts.words_timing(piece.text, len(pcm))
        w = 0
        for start in range(0, len(pcm), chunk):
            if self.finished or self._open is None:
                return
            end = min(start + chunk, len(pcm))
            last = end == len(pcm)
            said = []
            while w < len(words) and (words[w][1] < end or last):
                said.append(words[w][0])
                w += 1
            batch = []
            if said:
                delta = "".join(said)
                self._open["text"] += delta
                batch.append(ev("response.output_audio_transcript.delta", **ids, delta=delta))
            piece_pcm = pcm[start:end]
            self.engine.on_output_audio(item_id, piece_pcm, in_band=self.in_band)
            self._out_samples += len(piece_pcm)
            batch.append(ev("response.output_audio.delta", **ids,
                            delta=au.b64encode(au.encode_audio(piece_pcm, self.params["format"]))))
            yield batch
        rest = "".join(word for word, _ in words[w:])
        if rest and not self.finished and self._open is not None:  # silent text (no audio at all)
            self._open["text"] += rest
            yield [ev("response.output_audio_transcript.delta", **ids, delta=rest)]

    def _args(self, arguments: str) -> Iterator[list[dict[str, Any]]]:
        assert self._open is not None
        ids = {"response_id": self.id, "item_id": self._open["item"]["id"], "output_index": self._open["index"],
               "call_id": self._open["item"]["call_id"]}
        step = 16
        for i in range(0, len(arguments), step):
            if self.finished or self._open is None:
                return
            delta = arguments[i:i + step]
            self._open["text"] += delta
            yield [ev("response.function_call_arguments.delta", **ids, delta=delta)]

    def _close_open(self, status: str) -> list[dict[str, Any]]:
        """Done events for the open part and item (used on completion and on cancellation)."""
        if self._open is None:
            return []
        item, index, text = self._open["item"], self._open["index"], self._open["text"]
        ids = {"response_id": self.id, "item_id": item["id"], "output_index": index}
        events = []
        if item["type"] == "message":
            kind = self._open["part"]
            if kind == "audio":
                events.append(ev("response.output_audio.done", **ids, content_index=0))
                events.append(ev("response.output_audio_transcript.done", **ids, content_index=0,
                                 transcript=text))
                part = {"type": "audio", "transcript": text}
                content = [{"type": "output_audio", "transcript": text}]
            else:
                events.append(ev("response.output_text.done", **ids, content_index=0, text=text))
                part = {"type": "text", "text": text}
                content = [{"type": "output_text", "text": text}]
            events.append(ev("response.content_part.done", **ids, content_index=0, part=part))
            done = {**item, "status": status, "content": content}
        else:
            if status == "completed":
                events.append(ev("response.function_call_arguments.done", **ids, call_id=item["call_id"],
                                 name=item["name"], arguments=text))
            done = {**item, "status": status, "arguments": text}
        self.output[index] = done
        if self.in_band:
            self.engine.finish_output_item(dict(done))
            prev = self.engine.previous_item_id(done["id"])
            events.append(ev("conversation.item.done", previous_item_id=prev, item=dict(done)))
        events.append(ev("response.output_item.done", response_id=self.id, output_index=index, item=dict(done)))
        self._open = None
        return events

    def cancel(self, reason: str) -> list[dict[str, Any]]:
        """Close open parts/items as incomplete and finish with ``status: cancelled``."""
        if self.finished:
            return []
        events = self._close_open("incomplete")
        self.status = "cancelled"
        self.status_details = {"type": "cancelled", "reason": reason}
        events.extend(self._finish())
        return events

    def fail(self, message: str) -> list[dict[str, Any]]:
        if self.finished:
            return []
        events = self._close_open("incomplete")
        self.status = "failed"
        self.status_details = {"type": "failed", "error": {"type": "server_error", "code": "brain_error",
                                                           "message": message}}
        events.extend(self._finish())
        return events

    def _finish(self) -> list[dict[str, Any]]:
        self.finished = True
        self.usage = self._usage()
        events = [ev("response.done", response=self.response_object(self.usage))]
        events.extend(self.engine.on_response_done(self))
        return events

    def _usage(self) -> dict[str, Any]:
        in_text = text_tokens(self.params.get("instructions") or "")
        in_audio = 0
        for item in self.request.context:
            for part in item.get("content") or []:
                in_text += text_tokens(part.get("text") or part.get("transcript") or "")
            in_text += text_tokens(item.get("arguments", "") + item.get("output", ""))
            in_audio += audio_tokens(int(self.request.audio_ms.get(item.get("id", ""), 0) * 24))
        out_text = sum(text_tokens(i.get("arguments", "")) for i in self.output)
        for i in self.output:
            for part in i.get("content") or []:
                out_text += text_tokens(part.get("text") or part.get("transcript") or "")
        out_audio = audio_tokens(self._out_samples)
        inp = in_text + in_audio
        cached = self.engine.cached_tokens(inp)
        cached_audio = min(cached, in_audio)
        return {
            "total_tokens": inp + out_text + out_audio,
            "input_tokens": inp,
            "output_tokens": out_text + out_audio,
            "input_token_details": {
                "text_tokens": in_text, "audio_tokens": in_audio, "image_tokens": 0, "cached_tokens": cached,
                "cached_tokens_details": {"text_tokens": cached - cached_audio, "audio_tokens": cached_audio,
                                          "image_tokens": 0},
            },
            "output_token_details": {"text_tokens": out_text, "audio_tokens": out_audio},
        }


def _split_words(text: str) -> list[str]:
    """Split into deltas that concatenate back to ``text`` exactly (word plus its trailing space)."""
    out, cur = [], ""
    for ch in text:
        cur += ch
        if ch.isspace():
            out.append(cur)
            cur = ""
    if cur:
        out.append(cur)
    return out
