"""The part of a connection that lets it outlive its websocket: suspend on a drop, adopt a new socket.

``Client`` (``_connection``) inherits this. The policy — when to reconnect, how to restore the
conversation, when to hand over — lives in ``_resume``; this is the mechanism it drives:

- ``suspend(exc)``: the socket dropped and a reconnect is under way. Pending calls fail with a
  ``ConnectionClosed`` whose ``reconnecting`` is True; new calls wait at the *gate* (bounded) and then
  run on the new connection, or raise when the reconnect failed. Input audio appended meanwhile is kept
  in the state's input timeline (not sent) and sent once the new connection is in place.
- ``adopt(aux, ...)``: a replica connection (``_resume.open_replica``: config restored, conversation
  replayed) becomes this connection's socket; the old one, if any, is closed after.
- ``notice(kind, **payload)``: ``reconnecting`` / ``reconnected`` / ``resume_failed`` for handlers (as
  events of that type, also to ``"*"`` handlers) and the event log (local rows).
- ``remember_config(session)``: what the user set with ``session.update`` (deep-merged), to restore it.
- ``connection`` numbers the connections (1, 2, …); ``item_connection`` says where each item came from.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import audio as _audio
from ..errors import ConnectionClosed, RealtimeTimeout
from ..protocol.codec import clone
from ..protocol.timeline import _InputTimeline
from .response import Response, fail_all

if TYPE_CHECKING:
    from websockets.asyncio.client import ClientConnection

    from ..protocol.reducer import ConversationState
    from ._eventlog import EventLog
    from ._options import Options
    from ._pending import Pending

Event = dict[str, Any]
# Input audio kept across a reconnect (appended but uncommitted before the drop, and during the gap):
# the last this many seconds are sent to the new connection, anything older is dropped and reported.
GAP_AUDIO_S = 10.0


def merge(base: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    """``update`` deep-merged into a copy of ``base`` (dicts merge, everything else is replaced).

    >>> merge({"audio": {"output": {"voice": "ash"}}, "tools": [1]}, {"audio": {"input": {"x": None}}, "tools": []})
    {'audio': {'output': {'voice': 'ash'}, 'input': {'x': None}}, 'tools': []}
    """
    out = clone(base)
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = clone(value)
    return out


class Resilience:
    """Suspend / adopt / notices for ``Client`` (see the module docstring). Loop thread only."""

    if TYPE_CHECKING:  # provided by Client
        loop: asyncio.AbstractEventLoop
        options: Options
        state: ConversationState
        log: EventLog
        pending: Pending
        responses: list[Response]
        audio_turns: list[Any]
        active_inband: Response | None
        root_inserts: set[str]
        closed: ConnectionClosed | None
        handlers: dict[str, list[Callable[[Event], Any]]]
        _ws: ClientConnection | None
        _reader: asyncio.Task[None] | None
        _expired: Event | None
        _last_error: Event | None

        def now(self) -> float: ...
        async def _read(self) -> None: ...
        def _call_safely(self, fn: Callable[..., Any], args: tuple[Any, ...], etype: Any) -> None: ...

    def _init_resilience(self) -> None:
        self.connection = 1
        self.item_connection: dict[str, int] = {}
        self.sent_config: dict[str, Any] = {}
        self.user_closed = False
        self.connect_timeout = 20.0
        self.drop_times: list[float] = []                # monotonic times of recent drops (_resume)
        self.adopted_at = 0.0                            # session time the current socket was adopted
        self.gate: asyncio.Future[None] | None = None   # set while the connection is being replaced
        self.gate_bound = 60.0                           # the longest a call waits at the gate
        # The policy on a drop (``_resume``): True when it reconnects; None/False: the session closes.
        self.on_drop: Callable[[ConnectionClosed], bool] | None = None
        # Called after each received event while a hand-over waits for a pause between turns (_resume).
        self.after_receive: Callable[[], None] | None = None
        self.switching = False                           # a hand-over is replacing the socket
        self.handover_task: asyncio.Task[None] | None = None
        self.gap_audio: deque[np.ndarray] = deque()     # input audio appended while the gate was closed
        self.gap_samples = 0
        self.gap_dropped = 0                             # samples of it dropped (over GAP_AUDIO_S)
        self.call_id: str | None = None                  # on a WebRTC call's sideband (_resume.join_call)
        self.home_url: str | None = None                 # then: the session's own URL, to go back to

    def remember_config(self, session: dict[str, Any]) -> None:
        """A ``session.update`` the server accepted: part of what a new connection is set up with."""
        self.sent_config = merge(self.sent_config, session)

    def notice(self, kind: str, message: str, **payload: Any) -> None:
        """Tell handlers (``s.on(kind, fn)`` and ``"*"``) and the event log about the connection."""
        event = {"type": kind, "message": message, **payload}
        self.log.note(self.now(), kind, message, code=str(payload.get("code")) if "code" in payload else None)
        for handler in [*self.handlers.get(kind, ()), *self.handlers.get("*", ())]:
            self._call_safely(handler, (dict(event),), kind)

    # -- a drop --------------------------------------------------------------------------------------
    def suspend(self, exc: ConnectionClosed) -> ConnectionClosed:
        """The socket dropped; a reconnect follows. Fails what was pending, closes the gate; returns the
        exception the pending calls got."""
        told = ConnectionClosed(exc.code, f"{exc.reason or 'connection lost'}; reconnecting, the conversation "
                                "will be restored (calls made now wait for it)", reconnecting=True)
        self.log.note(self.now(), "dropped", str(told), code=str(exc.code))
        if self.gate is None or self.gate.done():
            self.gate = self.loop.create_future()
        self._fail_pending(told)
        return told

    def _fail_pending(self, exc: ConnectionClosed) -> None:
        for op in self.pending.fail_all(exc):
            if op.response is not None and not op.response.done:
                op.response._finish(None, self.state.conversation, exc)
        fail_all(self.responses, exc, self.state.conversation)
        for turn in list(self.audio_turns):
            turn.fail(exc)
        self.active_inband = None
        self.root_inserts.clear()

    def keep_gap_audio(self, event: Event, pcm: Any) -> None:
        """An append while the gate is closed: kept (the last ``GAP_AUDIO_S`` seconds) for the new socket."""
        if pcm is None:
            fmt = ((self.state.session or {}).get("audio") or {}).get("input", {}).get("format") or "pcm16"
            pcm = _audio.decode_audio(_audio.b64decode(event["audio"]), fmt)
        chunk = np.asarray(pcm, dtype=np.int16).reshape(-1).copy()
        self.gap_audio.append(chunk)
        self.gap_samples += len(chunk)
        limit = int(GAP_AUDIO_S * _audio.SAMPLE_RATE)
        while self.gap_samples - len(self.gap_audio[0]) >= limit:
            old = self.gap_audio.popleft()
            self.gap_samples -= len(old)
            self.gap_dropped += len(old)

    def take_gap_audio(self) -> np.ndarray:
        chunks = list(self.gap_audio)
        self.gap_audio.clear()
        self.gap_samples = 0
        return np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.int16)

    async def wait_gate(self) -> None:
        """Wait while the connection is being replaced (bounded); raises if that failed."""
        gate = self.gate
        if gate is None:
            return
        try:
            await asyncio.wait_for(asyncio.shield(gate), self.gate_bound)
        except asyncio.TimeoutError:
            raise RealtimeTimeout("reconnection", self.gate_bound,
                                  hint="the session is still trying to reconnect; try again later") from None

    def open_gate(self, error: BaseException | None = None) -> None:
        gate, self.gate = self.gate, None
        if gate is not None and not gate.done():
            if error is None:
                gate.set_result(None)
            else:
                gate.set_exception(error)
                gate.exception()

    # -- a new socket ----------------------------------------------------------------------------------
    async def adopt(self, aux: Any) -> tuple[Any, Any]:
        """Make the replica ``aux`` (a ``Client`` whose socket is set up) this connection's socket;
        returns the old socket (for the caller to close) and the uncommitted input audio to send again."""
        old, new = self._ws, aux._ws
        reader = aux._reader
        aux._ws = None                       # its reader sees it lost the socket and ends quietly
        if reader is not None:
            reader.cancel()
            await asyncio.gather(reader, return_exceptions=True)
        self._ws = new
        previous_reader = self._reader
        self._reader = self.loop.create_task(self._read())
        if previous_reader is not None and not previous_reader.done():
            previous_reader.cancel()
        self.state.session = aux.state.session
        self.state.conversation_id = aux.state.conversation_id
        self._expired = self._last_error = None
        self.connection += 1
        # The new server's input buffer starts empty, at time 0: what was appended but not committed
        # (before the drop, or during the gap) is sent again and the timeline starts over with it.
        timeline = self.state._input
        uncommitted = timeline.take()
        self.state._input = _InputTimeline()
        self.state._pending_clears = 0
        return old, uncommitted
