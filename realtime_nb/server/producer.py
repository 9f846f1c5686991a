"""The worker-thread half of a response: brain outputs → ``Piece``\\ s (text with its speech, call parts).

``produce(run)`` waits (bounded) for the transcripts the response's context is still missing, then
consumes the brain's outputs lazily, so a streaming brain's first words are spoken while it is still
generating. In audio mode, text is synthesized **per sentence** (or per long clause) as soon as the
sentence is complete; in text mode each piece of text is passed on as it comes. The loop-thread half
(``ResponseRun.steps_for``) turns pieces into protocol events.

The ``max_output_tokens`` budget is counted here, at four characters per token (the runner's estimate):
text past the budget is cut, the response becomes ``incomplete`` and the brain is not asked for more.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from . import tts
from .brain_api import Brain, BrainRequest, Call, CallPart, Incomplete, Say, SayPart

if TYPE_CHECKING:
    from .transcription import TranscriptionJob


class ResponseRun(Protocol):
    """What the producer reads and writes of its response (``runner.ResponseRun`` is the one): a protocol,
    so the worker-thread half does not depend on the loop-thread half that consumes its pieces."""

    params: dict[str, Any]
    request: BrainRequest
    brain: Brain
    waits: list[TranscriptionJob]
    transcript_wait_s: float
    stop_reason: str | None
    finished: bool

    @property
    def audio_out(self) -> bool: ...

    def voice_name(self) -> str: ...

__all__ = ["Piece", "produce", "split_sentences"]

CLAUSE_CHARS = 80
"""A streamed clause longer than this is spoken at its next comma/semicolon instead of waiting for the
sentence end (keeps the time to first audio short when a model writes long sentences)."""

_SENTENCE_END = re.compile(r"[.!?…]+[\"')\]]*\s+|\n+")
_CLAUSE_END = re.compile(r"[,;:]\s+")


@dataclass
class Piece:
    """One step of a response, produced in the worker thread.

    ``kind``: ``"message"`` (start a message item), ``"text"`` (``text`` and, in audio mode, its
    ``pcm``), ``"call"`` (start a function_call item named ``text``), ``"args"`` (arguments delta in
    ``text``), ``"end"`` (close the open item).
    """

    kind: str
    text: str = ""
    pcm: np.ndarray | None = None


def split_sentences(text: str) -> list[str]:
    """Split text into sentences that concatenate back to it (each keeps its trailing space).

    >>> split_sentences("Hi there. How are you? Fine")
    ['Hi there. ', 'How are you? ', 'Fine']
    """
    out, pos = [], 0
    for m in _SENTENCE_END.finditer(text):
        out.append(text[pos:m.end()])
        pos = m.end()
    if pos < len(text):
        out.append(text[pos:])
    return out


class _Speaker:
    """Holds streamed text until a sentence (or long clause) is complete, then speaks it."""

    def __init__(self, run: ResponseRun) -> None:
        self.run = run
        self.buf = ""

    def piece(self, text: str) -> Piece:
        pcm = None
        if self.run.audio_out:
            pcm = tts.synthesize(text, voice=self.run.voice_name(), speed=self.run.params["speed"])
        return Piece("text", text, pcm)

    def feed(self, text: str) -> Iterator[Piece]:
        if not self.run.audio_out:
            if text:
                yield Piece("text", text)
            return
        self.buf += text
        while True:
            m = _SENTENCE_END.search(self.buf)
            if m is None and len(self.buf) > CLAUSE_CHARS:
                m = _CLAUSE_END.search(self.buf, CLAUSE_CHARS // 2)
            if m is None:
                return
            cut, self.buf = self.buf[:m.end()], self.buf[m.end():]
            yield self.piece(cut)

    def flush(self) -> Iterator[Piece]:
        if self.buf:
            text, self.buf = self.buf, ""
            yield self.piece(text)


def _await_transcripts(run: ResponseRun) -> None:
    """Wait for pending transcripts of context items: ``run.transcript_wait_s`` for each to start decoding,
    then as long as a decode of its audio can take (``TranscriptionJob.wait``)."""
    for job in run.waits:
        job.wait(run.transcript_wait_s)
        if job.transcript is None:
            continue
        for item in run.request.context:
            if item.get("id") == job.item_id:
                for part in item.get("content") or []:
                    if part.get("type") == "input_audio":
                        part["transcript"] = job.transcript


def produce(run: ResponseRun) -> Iterator[Piece]:
    """Pieces of ``run``'s response, in order; stops early once the run is finished (cancelled)."""
    _await_transcripts(run)
    budget = run.params["max_output_tokens"]
    chars_left: float = math.inf if budget == "inf" else int(budget) * 4
    speaker = _Speaker(run)
    open_kind: str | None = None
    outputs = iter(run.brain.respond(run.request))

    def close() -> Iterator[Piece]:
        nonlocal open_kind
        if open_kind == "message":
            yield from speaker.flush()
        if open_kind is not None:
            yield Piece("end")
        open_kind = None

    def start(kind: str, name: str = "") -> Iterator[Piece]:
        nonlocal open_kind
        yield from close()
        open_kind = kind
        yield Piece(kind, name)

    def say(text: str) -> Iterator[Piece]:
        nonlocal chars_left
        if len(text) > chars_left:
            text = text[: int(chars_left)].rstrip()
            run.stop_reason = "max_output_tokens"
        chars_left -= len(text)
        yield from speaker.feed(text)

    try:
        for out in outputs:
            if run.finished:
                return
            if isinstance(out, str):
                out = Say(out)
            if isinstance(out, Say):
                yield from start("message")
                for sentence in split_sentences(out.text) if run.audio_out else [out.text]:
                    yield from say(sentence)
                    yield from speaker.flush()
                yield from close()
            elif isinstance(out, SayPart):
                if open_kind != "message":
                    yield from start("message")
                yield from say(out.text)
            elif isinstance(out, Call):
                yield from start("call", out.name)
                yield Piece("args", out.arguments)
                yield from close()
            elif isinstance(out, CallPart):
                if out.name is not None or open_kind != "call":
                    yield from start("call", out.name or "")
                if out.arguments:
                    yield Piece("args", out.arguments)
            elif isinstance(out, Incomplete):
                run.stop_reason = out.reason
            else:
                raise TypeError(f"a brain yielded {type(out).__name__}; expected Say, SayPart, Call, "
                                "CallPart or Incomplete")
            if run.stop_reason is not None or chars_left <= 0:
                if chars_left <= 0 and run.stop_reason is None and _has_more(outputs):
                    run.stop_reason = "max_output_tokens"
                break
        yield from close()
    finally:
        closer = getattr(outputs, "close", None)
        if closer is not None:
            closer()  # a streaming brain closes its HTTP response


def _has_more(outputs: Iterator[Any]) -> bool:
    """Whether the brain had more to say (consumes one output; only used when stopping anyway)."""
    return next(outputs, None) is not None
