"""One response's event stream, produced step by step (sans-I/O).

``ResponseRun.prepare()`` asks the brain and synthesizes speech (CPU work: the I/O layer runs it in a
worker thread). ``steps()`` then yields batches of server events in the exact order of PROTOCOL.md §4;
the I/O layer sends each batch and may pause between them (pacing). ``cancel(reason)`` closes whatever
is open and returns the closing events and ``response.done`` at once.

Token accounting is an estimate, documented so the numbers are explainable: one text token per four
characters (rounded up), one audio token per 50 ms of audio.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import audio as au
from ..protocol.ids import call_id as new_call_id
from ..protocol.ids import event_id as new_event_id
from ..protocol.ids import item_id as new_item_id
from . import tts
from .brains import Brain, BrainRequest, Call, Say

if TYPE_CHECKING:
    from .engine import Engine


def text_tokens(text: str) -> int:
    return math.ceil(len(text) / 4) if text else 0


def audio_tokens(samples: int) -> int:
    return math.ceil(samples / (au.SAMPLE_RATE * 0.05)) if samples else 0


def ev(type_: str, **fields: Any) -> dict[str, Any]:
    return {"type": type_, "event_id": new_event_id(), **fields}


@dataclass
class _Plan:
    item_id: str
    kind: str                     # "message" | "function_call"
    text: str = ""
    pcm: np.ndarray | None = None
    name: str = ""
    arguments: str = ""
    call_id: str = ""


@dataclass
class ResponseRun:
    engine: Engine
    id: str
    params: dict[str, Any]        # effective parameters (session defaults merged with response.create)
    request: BrainRequest
    conversation_id: str | None   # None for out-of-band
    brain: Brain
    chunk_ms: int = 100
    plans: list[_Plan] = field(default_factory=list)
    status: str = "in_progress"
    status_details: dict[str, Any] | None = None
    finished: bool = False
    prepared: bool = False
    output: list[dict[str, Any]] = field(default_factory=list)
    _open: dict[str, Any] | None = None   # the item being streamed: item, index, part kind, text so far
    _out_samples: int = 0
    usage: dict[str, Any] | None = None

    @property
    def in_band(self) -> bool:
        return self.conversation_id is not None

    @property
    def audio_out(self) -> bool:
        return self.params["output_modalities"] == ["audio"]

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

    # -- planning (worker thread) ---------------------------------------------------------------
    def prepare(self) -> None:
        """Ask the brain and synthesize speech. Touches only this run's fields."""
        outputs = list(self.brain.respond(self.request))
        budget = self.params["max_output_tokens"]
        remaining = math.inf if budget == "inf" else int(budget)
        for out in outputs:
            if isinstance(out, Say):
                text = out.text
                if text_tokens(text) > remaining:
                    text = text[: int(remaining) * 4].rstrip()
                    self.status_details = {"type": "incomplete", "reason": "max_output_tokens"}
                remaining -= text_tokens(text)
                pcm = None
                if self.audio_out:
                    pcm = tts.synthesize(text, voice=self._voice_name(), speed=self.params["speed"])
                self.plans.append(_Plan(new_item_id(), "message", text=text, pcm=pcm))
            elif isinstance(out, Call):
                self.plans.append(_Plan(new_item_id(), "function_call", name=out.name,
                                        arguments=out.arguments, call_id=new_call_id()))
            if remaining <= 0:
                if self.status_details is None and len(self.plans) < len(outputs):
                    self.status_details = {"type": "incomplete", "reason": "max_output_tokens"}
                break
        self.prepared = True

    def _voice_name(self) -> str:
        voice = self.params["voice"]
        return voice if isinstance(voice, str) else "alloy"

    # -- streaming -----------------------------------------------------------------------------
    def steps(self) -> Iterator[list[dict[str, Any]]]:
        """Yield batches of events; stops early (without further output) once cancelled."""
        for index, plan in enumerate(self.plans):
            if self.finished:
                return
            yield from (self._message(index, plan) if plan.kind == "message" else self._call(index, plan))
        if self.finished:
            return
        if self.status_details is not None:
            self.status = "incomplete"
        else:
            self.status = "completed"
        yield self._finish()

    def _start_item(self, index: int, item: dict[str, Any]) -> list[dict[str, Any]]:
        self.output.append(item)
        self._open = {"item": item, "index": index, "part": None, "text": "", "audio_done": False}
        events = [ev("response.output_item.added", response_id=self.id, output_index=index, item=dict(item))]
        if self.in_band:
            prev = self.engine.add_output_item(dict(item))
            events.append(ev("conversation.item.added", previous_item_id=prev, item=dict(item)))
        return events

    def _message(self, index: int, plan: _Plan) -> Iterator[list[dict[str, Any]]]:
        item = {"id": plan.item_id, "type": "message", "status": "in_progress", "role": "assistant",
                "content": []}
        events = self._start_item(index, item)
        part = {"type": "audio", "transcript": ""} if self.audio_out else {"type": "text", "text": ""}
        assert self._open is not None
        self._open["part"] = part["type"]
        events.append(ev("response.content_part.added", response_id=self.id, item_id=plan.item_id,
                         output_index=index, content_index=0, part=part))
        yield events
        ids = {"response_id": self.id, "item_id": plan.item_id, "output_index": index, "content_index": 0}
        if self.audio_out:
            pcm = plan.pcm if plan.pcm is not None else np.zeros(0, np.int16)
            chunk = max(1, au.SAMPLE_RATE * self.chunk_ms // 1000)
            cuts = list(range(0, len(pcm), chunk)) or [0]
            words = _word_starts(plan.text, len(pcm))
            w = 0
            for start in cuts:
                if self.finished:
                    return
                end = start + chunk if start + chunk < len(pcm) else len(pcm)
                batch = []
                said = []
                while w < len(words) and (words[w][1] < end or start + chunk >= len(pcm)):
                    said.append(words[w][0])
                    w += 1
                if said:
                    delta = "".join(said)
                    self._open["text"] += delta
                    batch.append(ev("response.output_audio_transcript.delta", **ids, delta=delta))
                piece = pcm[start:end]
                if len(piece):
                    self.engine.on_output_audio(plan.item_id, piece, in_band=self.in_band)
                    self._out_samples += len(piece)
                    batch.append(ev("response.output_audio.delta", **ids,
                                    delta=au.b64encode(au.encode_audio(piece, self.params["format"]))))
                if batch:
                    yield batch
            rest = plan.text[len(self._open["text"]):]
            if rest:
                self._open["text"] += rest
                yield [ev("response.output_audio_transcript.delta", **ids, delta=rest)]
        else:
            for word in _split_words(plan.text):
                if self.finished:
                    return
                self._open["text"] += word
                yield [ev("response.output_text.delta", **ids, delta=word)]
        if self.finished:
            return
        yield self._close_open("completed")

    def _call(self, index: int, plan: _Plan) -> Iterator[list[dict[str, Any]]]:
        item = {"id": plan.item_id, "type": "function_call", "status": "in_progress", "name": plan.name,
                "call_id": plan.call_id, "arguments": ""}
        yield self._start_item(index, item)
        ids = {"response_id": self.id, "item_id": plan.item_id, "output_index": index, "call_id": plan.call_id}
        step = 16
        for i in range(0, len(plan.arguments), step):
            if self.finished:
                return
            delta = plan.arguments[i:i + step]
            assert self._open is not None
            self._open["text"] += delta
            yield [ev("response.function_call_arguments.delta", **ids, delta=delta)]
        if self.finished:
            return
        yield self._close_open("completed")

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


def _word_starts(text: str, n_samples: int) -> list[tuple[str, int]]:
    """Words of ``text`` with the sample where each starts, spread over the audio by character count."""
    out, pos = [], 0
    for word in _split_words(text):
        out.append((word, pos * n_samples // max(1, len(text))))
        pos += len(word)
    return out


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
