"""How replies about responses are routed: ``response.created`` to the request it answers,
``response.done`` to its ``Response`` (a malformed one fails it with the reason), errors to the call
that caused them, a request that lost the race to a server-started response sent again, a response
that went silent given up. ``Client`` inherits this (see ``_connection`` for the whole picture).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from ..errors import RealtimeError, RealtimeTimeout
from . import _limits
from ._pending import Op
from .response import Response

if TYPE_CHECKING:
    from ..protocol.reducer import ConversationState
    from ._eventlog import EventLog
    from ._pending import Pending
    from .tools import ToolRegistry

log = logging.getLogger("realtime_nb")

Event = dict[str, Any]
# How often a say()/respond() is sent when each time a response the server started is in the way.
MAX_CREATE_ATTEMPTS = 4
_RESPONSE_ID = re.compile(r"\bresp_[A-Za-z0-9_-]+")


class ResponseRoutes:
    """The routes for ``error``, ``response.created`` and ``response.done``. Loop thread only."""

    if TYPE_CHECKING:  # provided by Client
        state: ConversationState
        log: EventLog
        pending: Pending
        tools: ToolRegistry
        responses: list[Response]
        inband: list[Response]
        active_inband: Response | None
        audio_turns: list[Any]
        closed: Any
        tool_runner: Callable[[Any, Response], Awaitable[None]] | None
        _by_id: dict[str, Response]
        _tag: str | None
        _seq: int
        _expired: Event | None
        _last_error: Event | None
        _done_anomaly: str | None

        reply_timeout: float
        response_timeout: float
        tool_timeout: float
        send: Callable[..., Awaitable[Op | None]]

        def now(self) -> float: ...
        def spawn(self, coro: Any) -> asyncio.Task[Any]: ...
        def call_on_loop(self, fn: Callable[[], Any]) -> Any: ...

    def give_up(self, resp: Response, exc: RealtimeTimeout) -> None:
        """``resp`` went silent past its bound: it fails with ``exc`` here, and the server is asked to
        cancel it (without waiting) so that it does not block the next response."""
        self.log.note(self.now(), "timeout", str(exc), code="response_timeout")
        self.pending.forget_response(resp)
        if self.active_inband is resp:
            self.active_inband = None
        resp._fail_details = {"type": "failed", "reason": "timeout",
                              "error": {"type": "client_error", "code": "response_timeout", "message": str(exc)}}
        resp._finish(None, self.state.conversation, exc)
        if resp.id is not None and self.closed is None:
            self.spawn(self._cancel_quietly(resp.id))

    async def _cancel_quietly(self, response_id: str) -> None:
        with contextlib.suppress(Exception):
            await self.send({"type": "response.cancel", "response_id": response_id})

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
        resp._blocker = blocker  # its inactivity bound counts from the blocker's events meanwhile
        self.log.note(self.now(), "create_retry", f"response.create {op.event_id} is sent again after "
                      f"{blocker.id}, which the server started by itself", code=exc.code)
        self.spawn(self._send_again(op, resp, blocker))
        return True

    async def _send_again(self, op: Op, resp: Response, blocker: Response) -> None:
        assert op.resend is not None
        try:
            await blocker._wait_done(raise_error=False)
            resp._blocker = None
            resp._last_activity = time.monotonic()
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
        obj = event.get("response")
        rid = obj.get("id") if isinstance(obj, dict) else None
        resp = self._by_id.get(rid) if isinstance(rid, str) else None
        problem = _limits.done_problem(obj) or self._done_anomaly
        if resp is None and problem is not None:
            # no usable id: it can only be about the one response still running, if there is one
            running = [r for r in self.responses if r.id is not None and not r.done]
            resp = running[0] if len(running) == 1 else None
        state = self.state.responses.get(rid) if isinstance(rid, str) else None
        if resp is not None and (problem is not None or state is None):
            self._fail_malformed(resp, problem or "its response is unknown")
            return
        if resp is None or state is None:
            if problem is not None:
                self.log.note(self.now(), "anomaly", f"malformed response.done: {problem}", code="malformed_event")
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

    def _fail_malformed(self, resp: Response, problem: str) -> None:
        """A ``response.done`` we cannot read ends its response as ``failed``, with the reason."""
        message = f"malformed response.done from the server: {problem}"
        self.log.note(self.now(), "anomaly", message, code="malformed_response_done")
        exc = RealtimeError(message, type="client_error", code="malformed_response_done")
        self.pending.forget_response(resp)
        if self.active_inband is resp:
            self.active_inband = None
        resp._fail_details = {"type": "failed", "reason": "malformed_response_done",
                              "error": {"type": "client_error", "code": "malformed_response_done", "message": message}}
        resp._finish(None, self.state.conversation, exc)
