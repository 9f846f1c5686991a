"""WebRTC calls of the local server: ``POST /v1/realtime/calls``, the ``?call_id=`` sideband, hang-up.

A call is one engine driven by the same ``_Connection`` as a WebSocket session (``app.py``), over a
``CallSocket`` instead of a websocket:

- frames in: the ``oai-events`` data channel's messages and those of every sideband WebSocket joined
  with ``?call_id=`` (in arrival order); the mic track's audio goes straight into the engine's input
  buffer (``Engine.append_pcm``), so VAD, transcription and the brain are the WebSocket ones;
- frames out: every event to the data channel and to every sideband, except the audio deltas, whose PCM
  goes to the peer's voice track (played in real time, as on the live service, where audio never
  travels as events on a call);
- the WebRTC-only events: ``output_audio_buffer.started`` when a response's first sample goes out,
  ``.stopped`` when it has all been sent (after ``response.done``), ``.cleared`` when the buffer is cut —
  by the client's ``output_audio_buffer.clear`` or by the user speaking while ``interrupt_response`` is
  on. A cut truncates the assistant item at the audio actually sent (``conversation.item.truncated``).

aiortc is optional (``realtime-nb[webrtc]``): without it ``create`` answers 501 with the reason.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import importlib.util
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from .. import audio as au
from ..protocol.codec import decode, encode
from ..protocol.errors import EventError
from ..protocol.ids import new_id
from .runner import ev
from .secrets import Grant, session_for

if TYPE_CHECKING:
    from .engine import Engine
    from .webrtc import Peer

log = logging.getLogger("realtime_nb.server.calls")

CONNECT_TIMEOUT_S = 30.0   # an answered call whose peer never connects is dropped after this
SPM = au.SAMPLE_RATE // 1000


class CallError(Exception):
    """An HTTP error for a calls request: the status and the JSON error body."""

    def __init__(self, status: int, error: EventError) -> None:
        super().__init__(error.message)
        self.status, self.error = status, error


class Socket(Protocol):
    """A websocket as the server uses it: an aiohttp one (``http.WebSocketAdapter``) or a call's."""

    async def send(self, message: str | bytes) -> None: ...

    async def close(self, code: int = 1000, reason: str = "") -> None: ...

    def __aiter__(self) -> AsyncIterator[str | bytes]: ...


class ConnectionLike(Protocol):
    """What a call needs of the ``_Connection`` that drives its engine."""

    engine: Engine

    def emit(self, events: Any) -> None: ...


# LocalServer's side: make the engine and its connection over a socket; run() serves until it closes.
ConnectionFactory = Callable[["CallSocket", str, dict[str, Any]], tuple[ConnectionLike, Awaitable[None]]]


def webrtc_missing() -> str | None:
    """Why WebRTC calls cannot be served here, or None."""
    missing = [name for name in ("aiortc", "av") if importlib.util.find_spec(name) is None]
    if missing:
        return (f"WebRTC calls need {' and '.join(missing)}, which are not installed: "
                "pip install 'realtime-nb[webrtc]'")
    return None


class CallSocket:
    """The call as the ``_Connection`` sees it: a websocket-like object (``send``, ``close``, ``async for``)."""

    def __init__(self, call: Call) -> None:
        self.call = call
        self.inbox: asyncio.Queue[str | bytes | None] = asyncio.Queue()

    async def send(self, message: str | bytes) -> None:
        await self.call.broadcast(message)

    async def close(self, code: int = 1000, reason: str = "") -> None:
        await self.call.end(code, reason)

    async def __aiter__(self) -> AsyncIterator[str | bytes]:
        while (frame := await self.inbox.get()) is not None:
            if isinstance(frame, str) and '"output_audio_buffer.clear"' in frame[:80]:
                with contextlib.suppress(EventError):
                    if decode(frame).get("type") == "output_audio_buffer.clear":
                        self.call.cut()
                        continue
            yield frame


class Call:
    """One WebRTC call: its peer, its engine's connection, its sidebands."""

    def __init__(self, call_id: str, calls: Calls, *, loopback: bool) -> None:
        from .webrtc import Peer  # aiortc loads with the first call (it is an optional dependency)

        self.id, self.calls = call_id, calls
        self.socket = CallSocket(self)
        self.peer: Peer = Peer(loopback=loopback, on_message=self.socket.inbox.put_nowait, on_audio=self._mic,
                               on_closed=self._lost, on_started=self._started, on_drained=self._drained)
        self.sidebands: set[Socket] = set()
        self.conn: ConnectionLike | None = None
        self.task: asyncio.Task[None] | None = None
        self.ended = False
        self._playing: set[str] = set()    # responses whose audio started and has not stopped / cleared
        self._done: set[str] = set()       # responses whose response.done went out

    # -- lifecycle ---------------------------------------------------------------------------------
    async def start(self, offer: str, model: str, update: dict[str, Any], factory: ConnectionFactory) -> str:
        try:
            answer = await self.peer.answer(offer)
        except ValueError as exc:
            await self.peer.close()
            raise CallError(400, EventError("invalid_offer", f"Invalid SDP offer: {exc}", "sdp")) from None
        self.conn, run = factory(self.socket, model, update)
        loop = asyncio.get_running_loop()
        self.task = loop.create_task(self._serve(run))
        return answer

    async def _serve(self, run: Awaitable[None]) -> None:
        watchdog = asyncio.get_running_loop().create_task(self._connect_watchdog())
        try:
            await run
        finally:
            watchdog.cancel()
            await self.end(1000, "")

    async def _connect_watchdog(self) -> None:
        try:
            await asyncio.wait_for(self.peer.connected.wait(), CONNECT_TIMEOUT_S)
        except asyncio.TimeoutError:
            log.info("call %s: the peer did not connect within %.0f s; hanging up", self.id, CONNECT_TIMEOUT_S)
            self._lost()

    def _lost(self) -> None:
        """The peer is gone: end the connection's read loop (which then ends the call)."""
        self.socket.inbox.put_nowait(None)

    async def end(self, code: int = 1000, reason: str = "") -> None:
        if self.ended:
            return
        self.ended = True
        self.calls.forget(self)
        self.socket.inbox.put_nowait(None)
        for sideband in list(self.sidebands):
            with contextlib.suppress(Exception):
                await asyncio.wait_for(sideband.close(code, reason), 5)
        await self.peer.close()

    # -- events out --------------------------------------------------------------------------------
    async def broadcast(self, message: str | bytes) -> None:
        if isinstance(message, str):
            head = message[:72]
            try:
                if '"response.output_audio.delta"' in head:
                    self._voice(decode(message))
                    return
                if '"response.done"' in head:
                    self._response_done(decode(message))
                elif '"input_audio_buffer.speech_started"' in head:
                    self._speech_started()
                self.peer.send(message)
            except Exception:  # our own fault: log it, keep the call's event stream going
                log.exception("call %s: could not handle an outgoing event", self.id)
        for sideband in list(self.sidebands):
            try:
                await sideband.send(message)
            except Exception:  # a sideband that went away: the call goes on without it
                self.sidebands.discard(sideband)

    def _emit(self, events: list[dict[str, Any]]) -> None:
        if self.conn is not None and events and not self.ended:
            self.conn.emit(events)

    def _voice(self, event: dict[str, Any]) -> None:
        assert self.conn is not None
        fmt = self.conn.engine.session["audio"]["output"]["format"]
        pcm = au.decode_audio(au.b64decode(event["delta"]), fmt)
        self.peer.voice.push(event["response_id"], event["item_id"], pcm)

    def _started(self, response_id: str) -> None:
        self._playing.add(response_id)
        self._emit([ev("output_audio_buffer.started", response_id=response_id)])

    def _drained(self, response_id: str) -> None:
        if response_id in self._done:
            self._stopped(response_id)

    def _response_done(self, event: dict[str, Any]) -> None:
        rid = event["response"]["id"]
        self._done.add(rid)
        current = self.peer.voice.current
        if rid in self._playing and (current is None or current[0] != rid) and not self.peer.voice.busy:
            self._stopped(rid)

    def _stopped(self, response_id: str) -> None:
        if response_id in self._playing:
            self._playing.discard(response_id)
            self._done.discard(response_id)
            self._emit([ev("output_audio_buffer.stopped", response_id=response_id)])

    def _speech_started(self) -> None:
        assert self.conn is not None
        td = self.conn.engine.session["audio"]["input"]["turn_detection"] or {}
        if td.get("interrupt_response"):
            self.cut()

    def cut(self) -> None:
        """Clear the voice buffer: ``output_audio_buffer.cleared`` and the item truncated at what was sent."""
        assert self.conn is not None
        cut = self.peer.voice.clear(self._playing)
        if cut is None:
            return
        response_id, item_id, samples = cut
        self._playing.discard(response_id)
        self._done.discard(response_id)
        events = [ev("output_audio_buffer.cleared", response_id=response_id)]
        engine = self.conn.engine
        if item_id in engine.conversation:
            end_ms = min(samples // SPM, int(engine.conversation.audio_ms(item_id)))
            truncated = engine.receive({"type": "conversation.item.truncate", "item_id": item_id,
                                        "content_index": 0, "audio_end_ms": end_ms})
            events.extend(e for e in truncated if e["type"] == "conversation.item.truncated")
        self._emit(events)

    # -- audio in ----------------------------------------------------------------------------------
    def _mic(self, pcm: np.ndarray) -> None:
        if self.conn is not None and not self.ended:
            try:
                events = self.conn.engine.append_pcm(pcm.astype(np.int16, copy=False))
            except Exception:  # a VAD fault must not stop the mic track for the rest of the call
                log.exception("call %s: input audio failed", self.id)
                return
            self.conn.emit(events)

    # -- sidebands -----------------------------------------------------------------------------------
    async def attach(self, ws: Socket) -> None:
        """Serve a sideband WebSocket until it or the call closes: it gets ``session.created`` (the call's
        session as it is now), then every event of the call; what it sends goes to the call's engine."""
        assert self.conn is not None
        await ws.send(encode(ev("session.created", session=copy.deepcopy(self.conn.engine.session))))
        self.sidebands.add(ws)
        try:
            async for frame in ws:
                if self.ended:
                    break
                self.socket.inbox.put_nowait(frame)
        finally:
            self.sidebands.discard(ws)


class Calls:
    """The calls of one server, by id."""

    def __init__(self, factory: ConnectionFactory, loopback: Callable[[], bool]) -> None:
        self.factory, self.loopback = factory, loopback
        self.calls: dict[str, Call] = {}

    async def create(self, sdp: str, session: Any, grant: Grant, *, model: str | None = None) -> tuple[str, str]:
        """Answer an SDP offer; returns the call id and the answer SDP. Raises ``CallError``."""
        if not sdp.strip():
            raise CallError(400, EventError("missing_required_parameter", "The SDP offer is empty.", "sdp"))
        if model and not grant.model and not (isinstance(session, dict) and session.get("model")):
            session = {**(session if isinstance(session, dict) else {}), "model": model}
        try:
            model_id, update, _ = session_for(session, "session", grant)
        except EventError as err:
            raise CallError(400, err) from None
        reason = webrtc_missing()
        if reason is not None:
            raise CallError(501, EventError("webrtc_unavailable", reason))
        call = Call(new_id("rtc"), self, loopback=self.loopback())
        self.calls[call.id] = call  # before it starts: a call that ends at once forgets itself
        try:
            answer = await call.start(sdp, model_id, update, self.factory)
        except BaseException:
            self.forget(call)
            raise
        return call.id, answer

    def get(self, call_id: str) -> Call | None:
        return self.calls.get(call_id)

    def forget(self, call: Call) -> None:
        if self.calls.get(call.id) is call:
            del self.calls[call.id]

    async def hangup(self, call_id: str) -> bool:
        call = self.calls.get(call_id)
        if call is None:
            return False
        await call.end(1000, "")
        return True

    async def close_all(self) -> None:
        for call in list(self.calls.values()):
            with contextlib.suppress(Exception):
                await call.end(1001, "")
