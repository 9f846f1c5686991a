"""``Response``: one model response, pending until ``response.done``, then a frozen snapshot.

A ``Response`` is created when the session sends ``response.create`` (or when the server starts one by
itself, e.g. server VAD). Its fields read the live reducer state while it streams and a snapshot taken
on the loop thread at ``response.done`` afterwards, so what you read later does not change when the
conversation does (a truncation, a deletion).

Tool calls chain responses: a response that calls your ``@s.tool`` functions is followed by the
response that reads their outputs. ``r.follow_up`` / ``r.previous`` link them and ``r.final()`` walks
to the end of the chain; ``s.say(...)`` returns that final response by default.

>>> r = s.say("What is my horoscope? I am an aquarius.")      # doctest: +SKIP
>>> r.text, r.previous.tool_calls[0]["name"]                   # doctest: +SKIP
('generate_horoscope returned: ...', 'generate_horoscope')
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import os
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

import numpy as np

from .. import audio as _audio
from ..errors import ConnectionClosed, RealtimeTimeout
from ..protocol.reducer import ConversationState, ResponseState
from . import _loop


class ResponseHost(Protocol):
    """What a ``Response`` needs of the connection it came from (``_connection.Client`` is one): the
    state it reads its audio from, on the loop thread. A protocol, so that responses — built on the
    connection — do not tie the connection's module to theirs."""

    state: ConversationState
    reply_timeout: float        # seconds for response.created, the reply to response.create
    response_timeout: float     # seconds without any event of a running response
    tool_timeout: float

    def call_on_loop(self, fn: Callable[[], Any]) -> Any: ...

    def give_up(self, resp: Response, exc: RealtimeTimeout) -> None:
        """The response went silent past its bound: fail it locally (and ask the server to cancel it)."""

__all__ = ["Response", "ref"]


def ref(item: str | dict[str, Any]) -> dict[str, Any]:
    """An ``item_reference`` to an existing conversation item, for ``respond(input=[...])``.

    >>> ref("item_123")
    {'type': 'item_reference', 'id': 'item_123'}
    """
    item_id = item.get("id") if isinstance(item, dict) else item
    if not isinstance(item_id, str) or not item_id:
        raise TypeError(f"ref() needs an item id (str) or an item dict with an 'id', got {item!r}")
    return {"type": "item_reference", "id": item_id}


_EMPTY = np.zeros(0, dtype=np.int16)

# What a Response reports, read from the reducer's ResponseState (live) or copied at response.done.
_FIELDS: dict[str, Callable[[ResponseState], Any]] = {
    "status": lambda st: st.status,
    "status_details": lambda st: st.status_details,
    "text": lambda st: st.full_text(),
    "transcript": lambda st: st.full_transcript(),
    "output": lambda st: list((st.raw or {}).get("output") or []),
    "usage": lambda st: st.usage,
    "metadata": lambda st: st.metadata,
    "conversation_id": lambda st: st.conversation_id,
    "out_of_band": lambda st: st.out_of_band,
    "created_at": lambda st: st.created_at,
    "first_delta_at": lambda st: st.first_delta_at,
    "first_audio_at": lambda st: st.first_audio_at,
    "done_at": lambda st: st.done_at,
}


class Response:
    """A model response. Fields fill in as events arrive; ``wait()`` blocks until ``response.done``.

    Fields: ``id``, ``status`` (``"pending"`` before the server created it, then the server's status),
    ``status_details``, ``text`` (output text), ``transcript`` (of output audio), ``audio`` (numpy int16,
    24 kHz), ``output`` (items, without audio bytes), ``usage``, ``metadata``, ``conversation``
    (``"auto"``/``"none"``), ``conversation_id``, ``tool_calls``, ``previous``/``follow_up``, and
    timings in seconds since the session connected: ``sent_at``, ``created_at``, ``first_delta_at``,
    ``first_audio_at``, ``done_at`` (plus ``time_to_first_delta`` and ``time_to_done`` from ``sent_at``
    or ``created_at``).
    """

    def __init__(self, client: ResponseHost, *, request: dict[str, Any] | None = None, sent_at: float | None = None,
                 automatic: bool = False) -> None:
        self._client = client
        self.request = request           # the GA response.create params we sent (None: server-started)
        self.automatic = automatic       # started by the server (VAD), not by response.create
        self.sent_at = sent_at
        self.id: str | None = None
        self.created_seq = -1            # receive order of response.created (tool follow-up logic)
        self.previous: Response | None = None
        self.follow_up: Response | None = None
        self.tool_calls: list[dict[str, Any]] = []
        self._live: ResponseState | None = None
        self._snap: dict[str, Any] | None = None
        self._error: BaseException | None = None
        self._chain_error: BaseException | None = None
        self._done = threading.Event()
        self._settled = threading.Event()   # done, and any tool follow-up has been started or ruled out
        loop = asyncio.get_running_loop()   # responses are made on the session loop
        self._done_fut: asyncio.Future[None] = loop.create_future()
        self._settled_fut: asyncio.Future[None] = loop.create_future()
        # monotonic time of the last event of this response (its inactivity bound counts from there)
        self._last_activity = time.monotonic()
        self._blocker: Response | None = None   # a server-started response our request waits behind
        self._fail_details: dict[str, Any] | None = None   # status_details of a locally failed response

    # -- lifecycle (loop thread) -------------------------------------------------------------------
    def _bind(self, state: ResponseState, seq: int) -> None:
        self.id, self._live, self.created_seq = state.id, state, seq

    def _finish(self, state: ResponseState | None, conversation: Any, error: BaseException | None = None) -> None:
        if self._done.is_set():
            return
        if state is not None:
            self._snap = {key: get(state) for key, get in _FIELDS.items()}
            self._snap["audio"] = state.audio_pcm(conversation)
            self.tool_calls = [
                {"call_id": item.get("call_id"), "name": item.get("name"), "arguments": item.get("arguments"),
                 "item_id": item.get("id"), "output": None, "ok": None}
                for item in self._snap["output"] if item.get("type") == "function_call"
            ]
        self._error = error
        self._done.set()
        if not self._done_fut.done():
            self._done_fut.set_result(None)
        if error is not None:
            self._settle(error)

    def _settle(self, error: BaseException | None = None) -> None:
        """The tool chain after this response is decided (``error``: it could not be continued)."""
        if self._settled.is_set():
            return
        self._chain_error = error
        self._settled.set()
        if not self._settled_fut.done():
            self._settled_fut.set_result(None)

    # -- waiting -----------------------------------------------------------------------------------
    @property
    def done(self) -> bool:
        """True once ``response.done`` arrived (or the response failed locally)."""
        return self._done.is_set()

    def wait(self, timeout: float | None = None) -> Response:
        """Block until ``response.done`` and return ``self``; raises the error that ended it, if any.

        ``timeout``: seconds in all, then ``rt.RealtimeTimeout`` (the response keeps running). Without
        it the wait is bounded by inactivity: ``rt.RealtimeTimeout`` when no event of the response
        arrived for ``s.response_timeout`` seconds (then the response is given up: cancelled, failed).
        """
        _loop.check_not_loop_thread("Response.wait()")
        if timeout is None:
            return _loop.run_sync(self.await_done(), None, what="Response.wait()")
        if not self._done.wait(timeout):
            raise RealtimeTimeout("response.done", timeout, response_id=self.id,
                                  hint="the response keeps running: wait again, or s.cancel() it")
        if self._error is not None:
            raise self._error
        return self

    async def await_done(self) -> Response:
        """``await r.await_done()`` (or ``await r``): the async ``wait()`` (bounded by inactivity)."""
        if not _loop.in_loop_thread():
            return await _loop.wrap_future(_loop.submit(self.await_done()))
        await self._wait_done()
        return self

    async def _wait_done(self, raise_error: bool = True) -> None:
        """Loop side: until ``response.done``, bounded by inactivity. Before ``response.created`` the
        bound is the host's ``reply_timeout`` (it is the reply to ``response.create``), after it
        ``response_timeout`` since the response's last event (or, while our request waits behind a
        response the server started, since that one's last event). Past the bound the host gives the
        response up and ``RealtimeTimeout`` is raised."""
        host = self._client
        while not self._done_fut.done():
            blocker = self._blocker
            last = self._last_activity if blocker is None else max(self._last_activity, blocker._last_activity)
            waiting_reply = self.id is None and blocker is None
            bound = host.reply_timeout if waiting_reply else host.response_timeout
            left = last + bound - time.monotonic()
            if left <= 0:
                if waiting_reply:
                    exc = RealtimeTimeout("response.created (the reply to response.create)", bound,
                                          hint="the server did not start the response; the session is still "
                                               "usable: try again, or raise s.reply_timeout")
                else:
                    exc = RealtimeTimeout("event of the running response", bound, response_id=self.id,
                                          hint="the response went silent and was given up (a response.cancel "
                                               "was sent); try again, or raise s.response_timeout for models "
                                               "that pause longer")
                host.give_up(self, exc)
                break
            # in slices: the bound that applies changes when response.created (or a blocker) comes
            step = min(left, host.reply_timeout, host.response_timeout, 1.0)
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(asyncio.shield(self._done_fut), step)
        if raise_error and self._error is not None:
            raise self._error

    async def _wait_settled(self) -> None:
        """Loop side: until the tool chain after this (done) response is decided. The tools run at most
        ``tool_timeout`` s and each reply of the follow-up is bounded, so this bound is only a backstop."""
        host = self._client
        limit = host.tool_timeout + 3 * host.reply_timeout
        try:
            await asyncio.wait_for(asyncio.shield(self._settled_fut), limit)
        except asyncio.TimeoutError:
            raise RealtimeTimeout("end of the tool calls of the response", limit, response_id=self.id,
                                  hint="a tool or its follow-up response did not finish; see s.events") from None

    def __await__(self) -> Any:
        return self.await_done().__await__()

    async def _await_final(self) -> Response:
        """Loop side of ``final()``: follow the tool chain to its last response."""
        r = self
        while True:
            await r._wait_done(raise_error=False)
            await r._wait_settled()
            if r._error is not None:
                raise r._error
            if r._chain_error is not None:
                raise r._chain_error
            if r.follow_up is None:
                return r
            r = r.follow_up

    def final(self, timeout: float | None = None) -> Response:
        """The last response of this tool chain (``self`` if no tool was called), once it is done."""
        return _loop.run_sync(self._await_final(), timeout, what="Response.final()")

    async def afinal(self) -> Response:
        """The async ``final()``."""
        return await _loop.run_async(self._await_final())

    # -- fields ------------------------------------------------------------------------------------
    def _read(self, key: str) -> Any:
        if self._snap is not None:
            return self._snap[key]
        return None if self._live is None else _FIELDS[key](self._live)

    @property
    def status(self) -> str:
        """``pending`` (not created yet), ``in_progress``, ``completed``, ``cancelled``, ``incomplete``,
        ``failed`` (also when the connection dropped before ``response.done``)."""
        if (self._snap is None or self._fail_details is not None) and self._error is not None:
            return "failed"
        return str(self._read("status") or "pending")

    @property
    def status_details(self) -> dict[str, Any] | None:
        """The server's ``status_details``; for a response that failed here (a malformed
        ``response.done``, a timeout) ``{"type": "failed", "reason": …, "error": {...}}``."""
        if self._fail_details is not None:
            return self._fail_details
        return self._read("status_details")  # type: ignore[no-any-return]

    @property
    def text(self) -> str:
        """All output text (``output_modalities=["text"]``), or "" so far."""
        return self._read("text") or ""

    @property
    def transcript(self) -> str:
        """The transcript of the output audio (``output_modalities=["audio"]``), or "" so far."""
        return self._read("transcript") or ""

    @property
    def audio(self) -> np.ndarray:
        """The output audio as int16 samples at 24 kHz (empty for text responses)."""
        if self._snap is not None:
            snapped: np.ndarray = self._snap["audio"]
            return snapped
        live = self._live
        if live is None:
            empty: np.ndarray = _EMPTY.copy()
            return empty
        conversation = self._client.state.conversation
        pcm: np.ndarray = self._client.call_on_loop(lambda: live.audio_pcm(conversation).copy())
        return pcm

    @property
    def output(self) -> list[dict[str, Any]]:
        """The output items as ``response.done`` reported them (no audio bytes)."""
        return list(self._read("output") or [])

    @property
    def usage(self) -> dict[str, Any] | None:
        return self._read("usage")  # type: ignore[no-any-return]

    @property
    def metadata(self) -> dict[str, Any] | None:
        return self._read("metadata")  # type: ignore[no-any-return]

    @property
    def conversation_id(self) -> str | None:
        return self._read("conversation_id")  # type: ignore[no-any-return]

    @property
    def conversation(self) -> str:
        """``"none"`` for an out-of-band response, ``"auto"`` for the default conversation."""
        if self._live is None and self._snap is None:
            return str((self.request or {}).get("conversation", "auto"))
        return "none" if self._read("out_of_band") else "auto"

    @property
    def created_at(self) -> float | None:
        return self._read("created_at")  # type: ignore[no-any-return]

    @property
    def first_delta_at(self) -> float | None:
        return self._read("first_delta_at")  # type: ignore[no-any-return]

    @property
    def first_audio_at(self) -> float | None:
        return self._read("first_audio_at")  # type: ignore[no-any-return]

    @property
    def done_at(self) -> float | None:
        return self._read("done_at")  # type: ignore[no-any-return]

    def _since_start(self, t: float | None) -> float | None:
        start = self.sent_at if self.sent_at is not None else self.created_at
        return None if t is None or start is None else t - start

    @property
    def time_to_first_delta(self) -> float | None:
        """Seconds from sending ``response.create`` (or from ``response.created``) to the first delta."""
        return self._since_start(self.first_delta_at)

    @property
    def time_to_done(self) -> float | None:
        """Seconds from sending ``response.create`` (or from ``response.created``) to ``response.done``."""
        return self._since_start(self.done_at)

    @property
    def audio_seconds(self) -> float:
        return len(self.audio) / _audio.SAMPLE_RATE

    def save_wav(self, path: str | os.PathLike[str]) -> str:
        """Write the output audio to a 24 kHz 16-bit WAV file; returns the path."""
        _audio.write_wav(path, self.audio)
        return os.fspath(path)

    # -- display -----------------------------------------------------------------------------------
    def _shown_text(self) -> str:
        return self.text or self.transcript

    def __repr__(self) -> str:
        text = self._shown_text()
        shown = repr(text if len(text) <= 80 else text[:77] + "...")
        extra = f", {self.audio_seconds:.1f} s audio" if self.done and len(self.audio) else ""
        calls = f", {len(self.tool_calls)} tool call(s)" if self.tool_calls else ""
        return f"<Response {self.id or '(pending)'} {self.status}: {shown}{extra}{calls}>"

    def _repr_html_(self) -> str:
        text = html.escape(self._shown_text()) or "<i>(no text)</i>"
        head = html.escape(f"Response {self.id or '(pending)'} · {self.status}")
        parts = [f"<div><small style='color:gray'>{head}</small><div>{text}</div>"]
        for call in self.tool_calls:
            parts.append(f"<div><small>tool call: {html.escape(str(call['name']))}"
                         f"({html.escape(str(call['arguments']))}) → {html.escape(str(call['output']))}</small></div>")
        pcm = self.audio if self.done else _EMPTY
        if len(pcm):
            b64 = _audio.b64encode(_audio.wav_bytes(pcm))
            parts.append(f"<audio controls src='data:audio/wav;base64,{b64}'></audio>")
        parts.append("</div>")
        return "".join(parts)

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        return {"text/plain": repr(self), "text/html": self._repr_html_()}


def fail_all(responses: list[Response], exc: ConnectionClosed, conversation: Any) -> None:
    """Fail every unfinished response (the connection is gone). Loop thread only."""
    for r in responses:
        if not r.done:
            r._finish(None, conversation, exc)
        else:
            r._settle(exc)
