"""The I/O core of a Session: one websocket on the shared loop, the reducer, and reply correlation.

Everything here runs on the loop thread (``_loop``); ``Session`` is the thread-safe face over it.

Receive path (kept lean): size check → decode → depth check (``_limits``; not for audio deltas) →
``ConversationState.apply`` (audio deltas decoded from base64 once) → event log → internal routing (a
dict keyed by type; the response routes are in ``_routes``) → user handlers (``_handlers``).

The socket can change under the same ``Client`` (a reconnect, a hand-over): ``_resilience`` holds that
mechanism, ``_resume`` the policy.

Replies are matched to the calls that caused them by ``_pending.Pending`` (client ``event_id`` for
errors, our own item ids, first-in first-out order, a tag in each ``response.create``'s metadata). An
in-band ``response.created`` that no request claims was started by the server (VAD): it goes to whoever
waits for a spoken turn. A ``say()``/``respond()`` whose ``response.create`` lost the race to such a
response (``conversation_already_has_active_response``) is sent again once that response is done.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import itertools
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol
from urllib.parse import urlsplit

from websockets.asyncio.client import ClientConnection
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import ConnectionClosed as WSClosed

from .. import audio as _audio
from ..errors import ConnectionClosed, RealtimeTimeout, SessionExpired
from ..protocol.codec import decode
from ..protocol.errors import EventError
from ..protocol.reducer import ConversationState
from . import _limits, _loop
from ._eventlog import EventLog
from ._handlers import Handler, HandlerTable
from ._options import Options
from ._pending import Op, Pending, tag_request, untag
from ._resilience import Resilience
from ._routes import ResponseRoutes
from ._sentcopies import SentCopies
from ._target import Target, ws_logger
from ._wsnow import can_write_now, write, write_now
from .response import Response
from .tools import ToolRegistry

log = logging.getLogger("realtime_nb")

Event = dict[str, Any]

# Client event types the GA server accepts (docs/protocol.md §2); anything else is answered with an error.
KNOWN_CLIENT_TYPES = frozenset({
    "session.update", "input_audio_buffer.append", "input_audio_buffer.commit", "input_audio_buffer.clear",
    "conversation.item.create", "conversation.item.retrieve", "conversation.item.truncate",
    "conversation.item.delete", "response.create", "response.cancel", "output_audio_buffer.clear",
    "session.close", "session.input_audio_buffer.append",
})
_EXPIRED_HINT = "maximum duration"


class TurnWatcher(Protocol):
    """Someone waiting for what the server's VAD does with audio we sent (``_audio_in.AudioTurn``)."""

    def on_committed(self, item_id: str) -> None: ...

    def on_item_added(self, item_id: str) -> None: ...

    def on_response(self, resp: Response) -> None: ...

    def fail(self, exc: BaseException) -> None: ...


ToolRunner = Callable[["Client", Response], Awaitable[None]]


class Client(ResponseRoutes, HandlerTable, Resilience):
    """One Realtime connection: send, receive, correlate, dispatch. Loop thread only. It may change its
    socket (a reconnect, a hand-over: ``_resilience``) while its state, log and handlers carry on."""

    def __init__(self, target: Target, model: str, url: str, options: Options | None = None) -> None:
        self.target, self.model, self.url = target, model, url
        self.options = options = options or Options()
        self._init_resilience()
        self.state = ConversationState()
        self.log = EventLog()
        self.sent_copies = SentCopies()  # readable copies of the last sent events, for the widget's log
        self.tools = ToolRegistry()
        self.tool_timeout: float = 30.0
        self.reply_timeout: float = options.reply_timeout
        self.response_timeout: float = options.response_timeout
        self.max_tool_rounds = 8
        self.handled_calls: set[str] = set()
        self.root_inserts: set[str] = set()
        self.handlers: dict[str, list[Handler]] = {}
        self.audio_listeners: list[Callable[[str, str, Any], None]] = []
        self.responses: list[Response] = []          # every response, in creation order
        self.inband: list[Response] = []             # in-band responses, in response.created order
        self.active_inband: Response | None = None
        self.closed: ConnectionClosed | None = None
        self.loop = asyncio.get_running_loop()
        self._ws: ClientConnection | None = None
        self.last_event_id = ""
        self._t0 = time.monotonic()
        self._ids = itertools.count(1)
        self._seq = 0
        self.pending = Pending()
        self.audio_turns: list[TurnWatcher] = []    # send_audio calls waiting for VAD turns
        # Runs the registered tools a finished response called, then asks for the follow-up response
        # (``_toolrun.follow_tools``, set by the Session); None: calls are left to the user.
        self.tool_runner: ToolRunner | None = None
        self._by_id: dict[str, Response] = {}
        self._expired: Event | None = None
        self._last_error: Event | None = None
        self._done_anomaly: str | None = None        # what the reducer noted about the last response.done
        # the last received event and its event-log row, for handlers that index by row (the widget's log)
        self.last_received: tuple[int, dict[str, Any]] | None = None
        self._tag: str | None = None                 # our tag, taken out of the response event being routed
        self._reader: asyncio.Task[None] | None = None
        self._session_ready: asyncio.Future[None] = self.loop.create_future()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._routes: dict[str, Callable[[Event], None]] = {
            "error": self._on_error,
            "session.created": self._on_session_created,
            "session.updated": self._on_fifo,
            "input_audio_buffer.committed": self._on_fifo,
            "input_audio_buffer.cleared": self._on_fifo,
            "input_audio_buffer.speech_stopped": self.pending.on_auto_commit_announced,
            "input_audio_buffer.timeout_triggered": self.pending.on_auto_commit_announced,
            "conversation.item.added": self._on_keyed_item,
            "conversation.item.retrieved": self._on_keyed_item,
            "conversation.item.deleted": self._on_keyed,
            "conversation.item.truncated": self._on_keyed,
            "response.created": self._on_response_created,
            "response.done": self._on_response_done,
        }

    # -- connection --------------------------------------------------------------------------------
    def now(self) -> float:
        """Seconds since the connection was opened (the clock of events, items and responses)."""
        return time.monotonic() - self._t0

    async def open(self, timeout: float = 20.0, *, clock: float | None = None) -> None:
        """Connect and wait for ``session.created``. ``clock``: keep that session clock origin (a
        replica connection logs on its session's clock)."""
        self.connect_timeout = timeout
        headers = {"Authorization": f"Bearer {self.target.api_key}"}
        # frames up to max_frame_bytes are taken, those above it dropped and noted (receive); websockets
        # itself refuses those beyond HARD_FACTOR times that (close 1009), which bounds memory
        hard = self.options.max_frame_bytes * _limits.HARD_FACTOR
        kwargs: dict[str, Any] = {"additional_headers": headers, "max_size": hard, "compression": None,
                                  "logger": ws_logger, "open_timeout": timeout}
        host = urlsplit(self.url).hostname or ""
        if host in ("127.0.0.1", "localhost", "::1") and "proxy" in inspect.signature(ws_connect).parameters:
            kwargs["proxy"] = None  # never send loopback traffic through an HTTP proxy from the environment
        where = urlsplit(self.url)._replace(query="").geturl()  # no query: nothing of the request shown
        try:
            self._ws = await ws_connect(self.url, **kwargs)
        except (TimeoutError, asyncio.TimeoutError):
            raise RealtimeTimeout(f"websocket handshake with {where}", timeout,
                                  hint="is the server running and is this its Realtime URL? On a slow network "
                                       "raise connect(timeout=...)") from None
        self._t0 = time.monotonic() if clock is None else clock
        self._reader = self.loop.create_task(self._read())
        try:
            await asyncio.wait_for(asyncio.shield(self._session_ready), timeout)
        except (TimeoutError, asyncio.TimeoutError):
            await self.close()
            raise RealtimeTimeout(f"session.created from {where}", timeout,
                                  hint="the websocket opened but the server sent no session.created: is this a "
                                       "Realtime endpoint? On a slow network raise connect(timeout=...)") from None
        except BaseException:
            await self.close()
            raise

    async def close(self) -> None:
        self.user_closed = True
        ws = self._ws
        if ws is not None:
            with contextlib.suppress(Exception):
                await ws.close()
        if self._reader is not None:
            with contextlib.suppress(BaseException):
                await asyncio.wait_for(asyncio.shield(self._reader), 5)
        if self.closed is None:
            self._closed(ConnectionClosed(1000, "closed by the client"))
        for task in list(self._tasks):
            task.cancel()

    def spawn(self, coro: Any) -> asyncio.Task[Any]:
        """A background task kept alive until it ends (tool runs, async handlers)."""
        task = self.loop.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def check_open(self) -> None:
        if self.closed is not None:
            # a fresh exception each time: raising the stored one again would grow its traceback
            # (and chain it) with every call that hits the closed session
            c = self.closed
            raise type(c)(c.code, c.reason, reconnecting=c.reconnecting) from None

    # -- sending -----------------------------------------------------------------------------------
    def next_event_id(self) -> str:
        return f"rtnb_{next(self._ids)}"

    def send_now(self, event: Event, *, pcm: Any = None) -> bool:
        """Send ``event`` at once, without awaiting, when the socket is free (a mic chunk from the
        widget, say); False when nothing was done and ``send`` must be awaited instead. No reply is
        awaited for what goes this way."""
        if self.closed is not None or self.gate is not None or self._ws is None or not can_write_now(self._ws):
            return False
        event_id = self.next_event_id()
        event = {"event_id": event_id, **event}
        write(self._ws, self._record_sent(event, event_id, pcm, _limits.encode_checked(event)))
        return True

    def _record_sent(self, event: Event, event_id: str, pcm: Any, frame: str) -> str:
        """``frame`` (of ``event``), after the bookkeeping every send does (state, event log)."""
        self.last_event_id = event_id
        if event.get("type") in ("input_audio_buffer.append", "input_audio_buffer.clear", "conversation.item.create"):
            self.state.apply_client(event, pcm=pcm)
        self.sent_copies.keep(self.log.record(self.now(), "sent", event, len(frame)), event)  # not appends
        return frame

    async def send(self, event: Event, *, expect: str | None = None, key: str | None = None,
                   response: Response | None = None, pcm: Any = None, metadata: Any = None,
                   detached: bool = False, after: Sequence[Op] = (), retry_busy: bool = False,
                   attempt: int = 1, resuming: bool = False, _again: bool = False) -> Op | None:
        """Send ``event`` (adding a client ``event_id``). ``expect`` names the reply to wait for:
        a reply type from the tables above, ``"response.created"``, or ``"error"`` (only an error
        can answer it). Returns the pending ``Op`` (await ``op.future``).

        A ``response.create`` is tagged (``_pending.tag_request``); ``after``: the item ops sent with it;
        ``retry_busy``: send it again when a response the server started is in the way.

        While the socket is being replaced (a reconnect) it waits for the new one first, except for input
        audio, which is kept for the new connection, and the replacement's own events (``resuming``)."""
        given = event
        self.check_open()
        if self.gate is not None and not resuming:
            if event.get("type") == "input_audio_buffer.append":
                self.keep_gap_audio(event, pcm)  # sent after the reconnect, after what was uncommitted
                return None
            await self.wait_gate()
            self.check_open()
        assert self._ws is not None
        event_id = event.get("event_id")
        if not isinstance(event_id, str):
            event_id = self.next_event_id()
            event = {"event_id": event_id, **event}
        op = None
        frame = ""
        if expect is not None:
            op = Op(event_id, self.loop.create_future(), expect, key, response, metadata, detached,
                    etype=str(event.get("type")))
            if expect == "response.created":
                if retry_busy:
                    op.resend = {k: v for k, v in event.items() if k != "event_id"}
                op.attempt, op.after = attempt, tuple(after)
                event, op.tag = tag_request(event, event_id)
            frame = _limits.encode_checked(event)  # before anything is tracked, logged or sent
            band = "none" if (event.get("response") or {}).get("conversation") == "none" else "auto"
            self.pending.add(op, band)
        frame = self._record_sent(event, event_id, pcm, frame or _limits.encode_checked(event))
        try:
            if not write_now(self._ws, frame):  # at once when the socket is free, else through send()
                await self._ws.send(frame)
        except WSClosed:
            self.pending.forget(op)
            reader = self._reader
            if reader is not None and not reader.done():  # let it report the close (and start a reconnect)
                await asyncio.wait({reader}, timeout=1.0)
            if self.gate is not None and not resuming and not _again:  # it never left: send it on the new socket
                return await self.send(given, expect=expect, key=key, response=response, pcm=pcm, metadata=metadata,
                                       detached=detached, after=after, retry_busy=retry_busy, attempt=attempt,
                                       _again=True)
            self.check_open()
            raise ConnectionClosed(None, "the connection closed while sending") from None
        return op

    async def wait(self, op: Op | None, timeout: float | None = None) -> Any:
        """The reply an op was waiting for; ``RealtimeError`` / ``ConnectionClosed`` / ``RealtimeTimeout``
        (after ``timeout`` s, default ``reply_timeout``: the op is forgotten, the session stays usable)."""
        if op is None:
            return None
        limit = self.reply_timeout if timeout is None else timeout
        try:
            return await asyncio.wait_for(asyncio.shield(op.future), limit)
        except asyncio.TimeoutError:
            self.pending.forget(op)
            what = "error" if op.reply == "error" else f"{op.reply} (the reply to {op.etype or 'the event'})"
            raise RealtimeTimeout(what, limit, event_id=op.event_id,
                                  hint="the server did not answer; the session is still usable: try again, "
                                       "raise s.reply_timeout, or look at s.events") from None

    def forget(self, op: Op | None) -> None:
        """Stop waiting for ``op``'s reply (timeouts, cancellations)."""
        self.pending.forget(op)

    # -- receiving ---------------------------------------------------------------------------------
    async def _read(self) -> None:
        ws = self._ws
        assert ws is not None
        try:
            async for frame in ws:
                self.receive(frame)
        except WSClosed:
            pass
        except asyncio.CancelledError:  # the socket was handed to another Client (a replica adopted)
            raise
        except Exception:  # a bug of ours must not hang every pending call
            log.exception("realtime-nb: the receive loop failed")
            with contextlib.suppress(Exception):
                await ws.close(1011, "client receive loop failed")
        finally:
            if self._ws is ws:  # else replaced by a new connection (or handed over): not a drop
                self._socket_ended(ws)

    def _socket_ended(self, ws: ClientConnection) -> None:
        # the server's close frame; else ours (1009: websockets refused a frame over its max_size)
        rcvd = ws.protocol.close_rcvd or ws.protocol.close_sent
        code, reason = (rcvd.code, rcvd.reason) if rcvd is not None else (1006, "connection lost")
        if code == 1009:
            reason = (f"the server sent a frame over {self.options.max_frame_bytes * _limits.HARD_FACTOR} "
                      f"bytes ({_limits.HARD_FACTOR} x max_frame_bytes)")
        exc = self._close_exception(code, reason)
        if not (self.on_drop is not None and not self.user_closed and self.on_drop(exc)):
            self._closed(exc)

    def receive(self, frame: str | bytes) -> None:
        """Handle one frame: decode, reduce, log, route, dispatch."""
        t = time.monotonic() - self._t0  # self.now(), without the call
        if len(frame) > self.options.max_frame_bytes:  # before decoding it
            self._anomaly(t, *_limits.size_problem(frame, self.options.max_frame_bytes))  # type: ignore[misc]
            return
        try:
            event = decode(frame)
        except EventError as err:
            self.log.note(t, "decode_error", str(err))
            return
        etype = event.get("type")
        # Audio deltas (the hot path) are read flat by the reducer; every other event is copied and
        # translated recursively, so its depth is bounded first.
        if etype != "response.output_audio.delta" and type(frame) is str:
            problem = _limits.frame_problem(frame, event, self.options.max_frame_bytes, self.options.max_json_depth)
            if problem is not None:
                self._anomaly(t, *problem)
                return
        self._seq += 1
        pcm = None
        if etype == "response.output_audio.delta":
            pcm = self._decode_audio(event)
        elif etype == "response.created" or etype == "response.done":
            self._tag = untag(event)  # before anyone sees the event: the tag is ours, not the user's
        elif self.root_inserts and etype == "conversation.item.added":
            self._mark_root(event)
        noted = len(self.state.anomalies)
        self.state.apply(event, now=t, pcm=pcm, take_pcm=True)  # the state keeps the decoded array itself
        if etype == "response.done":
            self._done_anomaly = self.state.anomalies[-1] if len(self.state.anomalies) > noted else None
        self.last_received = (self.log.record(t, "received", event, len(frame)), event)
        rid = event.get("response_id")
        if rid is None and (etype == "response.created" or etype == "response.done"):
            obj = event.get("response")
            rid = obj.get("id") if isinstance(obj, dict) else None
        if rid is not None:
            live = self._by_id.get(rid) if isinstance(rid, str) else None
            if live is not None:
                live._last_activity = time.monotonic()  # the response's inactivity bound starts again
        route = self._routes.get(etype)  # type: ignore[arg-type]
        if route is not None:
            try:
                route(event)
            except Exception:
                log.exception("realtime-nb: internal error routing %s", etype)
        if pcm is not None and self.audio_listeners:
            heard = pcm.copy()  # the listeners' own: the state holds ``pcm``
            for listener in list(self.audio_listeners):
                self._call_safely(listener, (event.get("response_id"), event.get("item_id"), heard), etype)
        if self.handlers:
            handlers = self.handlers.get(etype)  # type: ignore[arg-type]
            if handlers:
                for handler in list(handlers):
                    self._call_safely(handler, (event,), etype)
            star = self.handlers.get("*")
            if star:
                for handler in list(star):
                    self._call_safely(handler, (event,), etype)
        if self.after_receive is not None:
            self.after_receive()

    def _anomaly(self, t: float, code: str, message: str) -> None:
        """A frame we did not take: noted in the event log (type ``anomaly``) and the state."""
        self.log.note(t, "anomaly", message, code=code)
        self.state.anomalies.append(message)
        log.warning("realtime-nb: %s", message)

    def _mark_root(self, event: Event) -> None:
        """Our item inserted with ``previous_item_id="root"`` comes back with ``previous_item_id: null``,
        which the reducer reads as "append"; say "root" so it lands first."""
        item_id = (event.get("item") or {}).get("id")
        if item_id in self.root_inserts and event.get("previous_item_id") is None:
            self.root_inserts.discard(item_id)
            event["previous_item_id"] = "root"

    def _decode_audio(self, event: Event) -> Any:
        """An audio delta as 24 kHz PCM (G.711 decoded too, so the audio listeners get every format),
        in the format the reducer would pick: the response's own, else the session's."""
        fmt = self.state.output_format(event.get("response_id"))
        try:
            if fmt.get("type", "audio/pcm") == "audio/pcm":
                return _audio.b64decode_pcm16(event["delta"])
            return _audio.decode_audio(_audio.b64decode(event["delta"]), fmt)
        except (KeyError, TypeError, ValueError):
            return None  # the reducer notes the malformed delta

    # -- routes ------------------------------------------------------------------------------------
    def _on_session_created(self, event: Event) -> None:
        if not self._session_ready.done():
            self._session_ready.set_result(None)

    def _on_fifo(self, event: Event) -> None:
        self.pending.on_fifo_reply(event)
        if event["type"] == "input_audio_buffer.committed":
            for turn in self.audio_turns:
                turn.on_committed(str(event.get("item_id")))

    def _on_keyed(self, event: Event) -> None:
        self.pending.on_item_reply(event, str(event.get("item_id", "")), self._seq)

    def _on_keyed_item(self, event: Event) -> None:
        item_id = str((event.get("item") or {}).get("id", ""))
        if event["type"] == "conversation.item.added":
            self.item_connection.setdefault(item_id, self.connection)
        self.pending.on_item_reply(event, item_id, self._seq)
        for turn in self.audio_turns:
            turn.on_item_added(item_id)

    # -- closing -----------------------------------------------------------------------------------
    def _close_exception(self, code: int, reason: str) -> ConnectionClosed:
        if self._expired is not None or (code == 1001 and _EXPIRED_HINT in reason):
            message = ((self._expired or {}).get("error") or {}).get("message") or reason
            return SessionExpired(code, message)
        if not self._session_ready.done() and self._last_error is not None:
            # refused at connect (bad key, bad model …): say why, not just the close code
            reason = f"{reason}: {(self._last_error.get('error') or {}).get('message', '')}".strip(": ")
        return ConnectionClosed(code, reason)

    def _closed(self, exc: ConnectionClosed) -> None:
        if self.closed is not None:
            return
        self.closed = exc
        self.log.note(self.now(), "closed", str(exc), code=str(exc.code))
        if not self._session_ready.done():
            self._session_ready.set_exception(exc)
            self._session_ready.exception()
        self._fail_pending(exc)
        self.open_gate(exc)
        lost = self.state._input.end - self.state._input.cut  # appended, never committed
        if lost and not self.user_closed:
            self.log.note(self.now(), "audio_lost", f"{lost / 24:.0f} ms of input audio appended but not committed "
                          "were lost with the connection", code="audio_lost")

    # -- helpers for the Session -------------------------------------------------------------------
    def call_on_loop(self, fn: Callable[[], Any]) -> Any:
        """Run a small read on the loop thread (consistent with the reducer) and return its result."""
        if _loop.in_loop_thread():
            return fn()

        async def run() -> Any:
            return fn()

        return _loop.run_sync(run())

    def get_response(self, response_id: str) -> Response | None:
        return self._by_id.get(response_id)
