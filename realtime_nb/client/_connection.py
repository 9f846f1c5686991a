"""The I/O core of a Session: one websocket on the shared loop, the reducer, and reply correlation.

Everything here runs on the loop thread (``_loop``); ``Session`` is the thread-safe face over it.

Receive path (kept lean): decode → ``ConversationState.apply`` (audio deltas decoded from base64 once)
→ event log → internal routing (a dict keyed by type) → user handlers.

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
import re
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol
from urllib.parse import urlsplit

from websockets.asyncio.client import ClientConnection
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import ConnectionClosed as WSClosed

from .. import audio as _audio
from ..errors import ConnectionClosed, RealtimeError, SessionExpired
from ..protocol.codec import decode, encode
from ..protocol.dialect import ga_event_type
from ..protocol.errors import EventError
from ..protocol.reducer import ConversationState
from . import _loop
from ._eventlog import EventLog
from ._pending import Op, Pending, tag_request, untag
from ._target import Target, ws_logger
from ._wsnow import can_write_now, write, write_now
from .response import Response, fail_all
from .tools import ToolRegistry

log = logging.getLogger("realtime_nb")

Event = dict[str, Any]
Handler = Callable[[Event], Any]

# Client event types the GA server accepts (docs/protocol.md §2); anything else is answered with an error.
KNOWN_CLIENT_TYPES = frozenset({
    "session.update", "input_audio_buffer.append", "input_audio_buffer.commit", "input_audio_buffer.clear",
    "conversation.item.create", "conversation.item.retrieve", "conversation.item.truncate",
    "conversation.item.delete", "response.create", "response.cancel", "output_audio_buffer.clear",
    "session.close", "session.input_audio_buffer.append",
})
_EXPIRED_HINT = "maximum duration"
# How often a say()/respond() is sent when each time a response the server started is in the way.
MAX_CREATE_ATTEMPTS = 4
_RESPONSE_ID = re.compile(r"\bresp_[A-Za-z0-9_-]+")


class TurnWatcher(Protocol):
    """Someone waiting for what the server's VAD does with audio we sent (``_audio_in.AudioTurn``)."""

    def on_committed(self, item_id: str) -> None: ...

    def on_item_added(self, item_id: str) -> None: ...

    def on_response(self, resp: Response) -> None: ...

    def fail(self, exc: BaseException) -> None: ...


ToolRunner = Callable[["Client", Response], Awaitable[None]]


class Client:
    """One Realtime connection: send, receive, correlate, dispatch. Loop thread only."""

    def __init__(self, target: Target, model: str, url: str) -> None:
        self.target, self.model, self.url = target, model, url
        self.state = ConversationState()
        self.log = EventLog()
        self.tools = ToolRegistry()
        self.tool_timeout: float = 30.0
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

    async def open(self, timeout: float = 20.0) -> None:
        headers = {"Authorization": f"Bearer {self.target.api_key}"}
        kwargs: dict[str, Any] = {"additional_headers": headers, "max_size": None, "compression": None,
                                  "logger": ws_logger, "open_timeout": timeout}
        host = urlsplit(self.url).hostname or ""
        if host in ("127.0.0.1", "localhost", "::1") and "proxy" in inspect.signature(ws_connect).parameters:
            kwargs["proxy"] = None  # never send loopback traffic through an HTTP proxy from the environment
        self._ws = await ws_connect(self.url, **kwargs)
        self._t0 = time.monotonic()
        self._reader = self.loop.create_task(self._read())
        try:
            await asyncio.wait_for(asyncio.shield(self._session_ready), timeout)
        except BaseException:
            await self.close()
            raise

    async def close(self) -> None:
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
            raise type(self.closed)(self.closed.code, self.closed.reason) from None

    # -- sending -----------------------------------------------------------------------------------
    def next_event_id(self) -> str:
        return f"rtnb_{next(self._ids)}"

    def send_now(self, event: Event, *, pcm: Any = None) -> bool:
        """Send ``event`` at once, without awaiting, when the socket is free (a mic chunk from the
        widget, say); False when nothing was done and ``send`` must be awaited instead. No reply is
        awaited for what goes this way."""
        if self.closed is not None or self._ws is None or not can_write_now(self._ws):
            return False
        event_id = self.next_event_id()
        write(self._ws, self._record_sent({"event_id": event_id, **event}, event_id, pcm))
        return True

    def _record_sent(self, event: Event, event_id: str, pcm: Any) -> str:
        """The frame of ``event``, after the bookkeeping every send does (state, event log)."""
        self.last_event_id = event_id
        frame = encode(event)
        if event.get("type") in ("input_audio_buffer.append", "input_audio_buffer.clear", "conversation.item.create"):
            self.state.apply_client(event, pcm=pcm)
        self.log.record(self.now(), "sent", event, len(frame))
        return frame

    async def send(self, event: Event, *, expect: str | None = None, key: str | None = None,
                   response: Response | None = None, pcm: Any = None, metadata: Any = None,
                   detached: bool = False, after: Sequence[Op] = (), retry_busy: bool = False,
                   attempt: int = 1) -> Op | None:
        """Send ``event`` (adding a client ``event_id``). ``expect`` names the reply to wait for:
        a reply type from the tables above, ``"response.created"``, or ``"error"`` (only an error
        can answer it). Returns the pending ``Op`` (await ``op.future``).

        A ``response.create`` is tagged (``_pending.tag_request``); ``after``: the item ops sent with it;
        ``retry_busy``: send it again when a response the server started is in the way."""
        self.check_open()
        assert self._ws is not None
        event_id = event.get("event_id")
        if not isinstance(event_id, str):
            event_id = self.next_event_id()
            event = {"event_id": event_id, **event}
        op = None
        if expect is not None:
            op = Op(event_id, self.loop.create_future(), expect, key, response, metadata, detached)
            if expect == "response.created":
                if retry_busy:
                    op.resend = {k: v for k, v in event.items() if k != "event_id"}
                op.attempt, op.after = attempt, tuple(after)
                event, op.tag = tag_request(event, event_id)
            band = "none" if (event.get("response") or {}).get("conversation") == "none" else "auto"
            self.pending.add(op, band)
        frame = self._record_sent(event, event_id, pcm)
        try:
            if not write_now(self._ws, frame):  # at once when the socket is free, else through send()
                await self._ws.send(frame)
        except WSClosed:
            self.pending.forget(op)
            await asyncio.sleep(0)  # let the reader report the close code
            self.check_open()
            raise ConnectionClosed(None, "the connection closed while sending") from None
        return op

    async def wait(self, op: Op | None, timeout: float | None = None) -> Any:
        """The reply an op was waiting for; ``RealtimeError`` / ``ConnectionClosed`` / ``TimeoutError``."""
        if op is None:
            return None
        try:
            return await asyncio.wait_for(asyncio.shield(op.future), timeout)
        except asyncio.TimeoutError:
            self.pending.forget(op)
            raise TimeoutError(f"no reply to {op.reply or 'the event'} {op.event_id} within {timeout} s") from None

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
        except Exception:  # a bug of ours must not hang every pending call
            log.exception("realtime-nb: the receive loop failed")
            with contextlib.suppress(Exception):
                await ws.close(1011, "client receive loop failed")
        finally:
            rcvd = ws.protocol.close_rcvd
            code, reason = (rcvd.code, rcvd.reason) if rcvd is not None else (1006, "connection lost")
            self._closed(self._close_exception(code, reason))

    def receive(self, frame: str | bytes) -> None:
        """Handle one frame: decode, reduce, log, route, dispatch."""
        t = time.monotonic() - self._t0  # self.now(), without the call
        try:
            event = decode(frame)
        except EventError as err:
            self.log.note(t, "decode_error", str(err))
            return
        self._seq += 1
        etype = event.get("type")
        pcm = None
        if etype == "response.output_audio.delta":
            pcm = self._decode_audio(event)
        elif etype == "response.created" or etype == "response.done":
            self._tag = untag(event)  # before anyone sees the event: the tag is ours, not the user's
        elif self.root_inserts and etype == "conversation.item.added":
            self._mark_root(event)
        self.state.apply(event, now=t, pcm=pcm, take_pcm=True)  # the state keeps the decoded array itself
        self.log.record(t, "received", event, len(frame))
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

    def _call_safely(self, fn: Callable[..., Any], args: tuple[Any, ...], etype: Any) -> None:
        try:
            result = fn(*args)
            if inspect.isawaitable(result):
                self.spawn(self._await_handler(result, fn, etype))
        except Exception as exc:
            self._handler_failed(fn, etype, exc)

    async def _await_handler(self, awaitable: Any, fn: Callable[..., Any], etype: Any) -> None:
        try:
            await awaitable
        except Exception as exc:
            self._handler_failed(fn, etype, exc)

    def _handler_failed(self, fn: Callable[..., Any], etype: Any, exc: BaseException) -> None:
        name = getattr(fn, "__qualname__", repr(fn))
        message = f"handler {name} for {etype} raised {type(exc).__name__}: {exc}"
        self.log.note(self.now(), "handler_error", message, code=type(exc).__name__)
        log.error("realtime-nb: %s", message, exc_info=exc)

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
        self.pending.on_item_reply(event, item_id, self._seq)
        for turn in self.audio_turns:
            turn.on_item_added(item_id)

    def _on_error(self, event: Event) -> None:
        err = event.get("error") or {}
        op = self.pending.by_event_id.get(err.get("event_id") or "")
        if op is not None:
            exc = RealtimeError.from_event(event)
            bound = op.response
            if bound is not None and bound.id is not None:
                self._unbind(bound)  # a response.created we matched to this request was not its
            if self._retry_create(op, exc):
                return
            self.pending.fail(op, exc)
            if bound is not None and not bound.done:
                bound._finish(None, self.state.conversation, exc)
            if not op.detached:
                return
        if err.get("code") == "session_expired":
            self._expired = event
        self._last_error = event
        log.warning("realtime-nb: server error %s: %s", err.get("code") or err.get("type"), err.get("message"))

    def _retry_create(self, op: Op, exc: RealtimeError) -> bool:
        """Our ``response.create`` lost the race to a response the server started by itself (VAD, say,
        while the user spoke): send it again once that one is done. True when it will be."""
        resp = op.response
        if (op.resend is None or resp is None or exc.code != "conversation_already_has_active_response"
                or op.attempt >= MAX_CREATE_ATTEMPTS):
            return False
        named = _RESPONSE_ID.search(exc.message or "")
        blocker = self._by_id.get(named.group(0)) if named else None
        blocker = blocker or self.active_inband
        if blocker is None or not blocker.automatic or blocker.done:
            return False
        self.pending.forget(op)
        self.log.note(self.now(), "create_retry", f"response.create {op.event_id} is sent again after "
                      f"{blocker.id}, which the server started by itself", code=exc.code)
        self.spawn(self._send_again(op, resp, blocker))
        return True

    async def _send_again(self, op: Op, resp: Response, blocker: Response) -> None:
        assert op.resend is not None
        try:
            await asyncio.shield(blocker._done_fut)
            await self.send(dict(op.resend), expect="response.created", response=resp, metadata=op.metadata,
                            detached=op.detached, retry_busy=True, attempt=op.attempt + 1)
        except Exception as exc:  # the connection closed meanwhile
            resp._finish(None, self.state.conversation, exc)

    def _on_response_created(self, event: Event) -> None:
        obj = event["response"]
        oob = "conversation_id" in obj and obj["conversation_id"] is None
        op = self.pending.take_create(oob, obj.get("metadata"), self._tag)
        resp = op.response if op is not None else None
        if resp is not None and resp.id is not None and resp.id != obj["id"]:
            # matched by order to a response the server had started, before it showed it echoes our tag
            if resp.done:
                resp = Response(self, request=resp.request, sent_at=resp.sent_at)  # too late to move it
            else:
                self._unbind(resp)
        if resp is None:
            ours = self._tag is not None  # tagged by us, but nobody waits for it any more (timed out)
            resp = Response(self, automatic=not ours)
            if not oob and not ours:
                for turn in self.audio_turns:
                    turn.on_response(resp)
        self._bind(resp, obj["id"], oob)

    def _bind(self, resp: Response, rid: str, oob: bool) -> None:
        resp._bind(self.state.responses[rid], self._seq)
        self._by_id[rid] = resp
        if resp not in self.responses:
            self.responses.append(resp)
        if not oob:
            self.inband.append(resp)
            self.active_inband = resp

    def _unbind(self, wrong: Response) -> None:
        """The response we matched our request to was started by the server: rewrap it."""
        rid = wrong.id
        assert rid is not None
        auto = Response(self, automatic=True)
        self.responses = [r for r in self.responses if r is not wrong]
        self.inband = [auto if r is wrong else r for r in self.inband]
        if self.active_inband is wrong:
            self.active_inband = auto
        auto._bind(self.state.responses[rid], wrong.created_seq)
        self._by_id[rid] = auto
        self.responses.append(auto)
        wrong.id, wrong._live = None, None
        if self.state.responses[rid].done:
            auto._finish(self.state.responses[rid], self.state.conversation)
            auto._settle()

    def _on_response_done(self, event: Event) -> None:
        rid = event["response"]["id"]
        resp = self._by_id.get(rid)
        state = self.state.responses.get(rid)
        if resp is None or state is None:
            return
        self.pending.forget_response(resp)
        if self.active_inband is resp:
            self.active_inband = None
        resp._finish(state, self.state.conversation)
        if self.tool_runner is not None and self.closed is None and not state.out_of_band and any(
                c["name"] in self.tools for c in resp.tool_calls):
            self.spawn(self.tool_runner(self, resp))
        else:
            resp._settle()

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
        for op in self.pending.fail_all(exc):
            if op.response is not None and not op.response.done:
                op.response._finish(None, self.state.conversation, exc)
        fail_all(self.responses, exc, self.state.conversation)
        for turn in self.audio_turns:
            turn.fail(exc)

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

    def add_handler(self, etype: str, handler: Handler) -> None:
        name = "*" if etype == "*" else ga_event_type(etype)
        self.handlers[name] = [*self.handlers.get(name, []), handler]

    def remove_handler(self, etype: str | None, handler: Handler | None) -> None:
        names = list(self.handlers) if etype is None else ["*" if etype == "*" else ga_event_type(etype)]
        for name in names:
            if handler is None:
                self.handlers.pop(name, None)
            else:
                self.handlers[name] = [h for h in self.handlers.get(name, []) if h is not handler]
