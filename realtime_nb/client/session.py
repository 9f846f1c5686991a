"""``Session``: the object notebook users hold. Blocking methods and their ``a``-prefixed async twins.

>>> import realtime_nb as rt
>>> s = rt.connect()                                   # doctest: +SKIP
>>> s.say("What Prince album sold the most copies?").text    # doctest: +SKIP
'You said: What Prince album sold the most copies?'

Every method works from any thread. The websocket lives on one shared daemon-thread loop (``_loop``),
so a blocking call in a cell never stalls audio or handlers. Handlers run on that loop thread; a
blocking method called from inside one raises a clear ``RuntimeError`` (use the async twin).

Tool calls: ``say``/``respond``/``send_audio`` return the *final* response of a tool chain by default
(``follow_tools=True``): when the model calls an ``@s.tool`` function, the tool runs, its output is
sent, and the response that reads it is what you get back; ``r.previous.tool_calls`` shows the call.
Pass ``follow_tools=False`` to get the first response (``r.follow_up`` / ``r.final()`` continue).
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import dataclasses
import threading
import weakref
from collections.abc import Callable
from typing import Any

from . import _hooks, _loop, _ops, _params, _resume, _target, _toolrun
from ._connection import Client
from ._handlers import Handler
from ._options import Options
from ._reopen import Reconnect
from ._session_io import _FOREVER, AudioAndItems, _run
from .response import Response

__all__ = ["Session", "aconnect", "connect"]

class Session(AudioAndItems, Reconnect):
    """A Realtime conversation. Create it with ``rt.connect(...)`` / ``await rt.aconnect(...)``.

    State as DataFrames: ``items``, ``events``, ``responses``. Latest config: ``config``. Each blocking
    method has an async twin (``say`` / ``asay`` …). Use as a context manager (``with`` or
    ``async with``) or call ``close()``; ``reconnect()`` brings a closed session back, conversation and all.
    """

    def __init__(self, client: Client, *, uses_local: bool) -> None:
        self._client = client
        self._uses_local = uses_local
        self._released = False
        self._release_lock = threading.Lock()
        # A session dropped without close() (a re-run cell) still closes its socket.
        weakref.finalize(self, _close_soon, client)

    # -- identity ----------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        """The websocket URL (``…/realtime?model=…``); never contains the key."""
        return self._client.url

    @property
    def model(self) -> str:
        return self._client.model

    @property
    def closed(self) -> bool:
        return self._client.closed is not None

    def __repr__(self) -> str:
        c = self._client
        where = "embedded local server" if self._uses_local else self._client.target.base_url
        state = f"closed (code {c.closed.code})" if c.closed else "open"
        return (f"<realtime_nb.Session {self.model} at {where}: {state}, "
                f"{len(c.state.conversation)} items, {len(c.responses)} responses>")

    # -- the browser widget (realtime_nb/notebook/widget.py) ------------------------------------------------
    @property
    def widget(self) -> Any:
        """The ``RealtimeWidget`` of this session (one per session): mic, speaker, transcript, status.
        ``display(s)`` (or ``s`` as a cell's last line) shows it too."""
        return _hooks.widget_for(self)

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> Any:
        if not _hooks.in_kernel():
            return None  # a terminal: the text repr
        bundle = self.widget._repr_mimebundle_(include=include, exclude=exclude)
        data = bundle[0] if isinstance(bundle, tuple) else bundle  # anywidget: (data, metadata)
        if isinstance(data, dict):
            data["text/plain"] = repr(self)  # what non-widget front ends show
        return bundle

    def _display_(self) -> Any:
        """marimo's display protocol (it does not use ``_repr_mimebundle_``): a session that is a cell's
        last expression shows as its widget there too."""
        try:
            return self.widget
        except ImportError:  # no notebook extra: the text repr
            return repr(self)

    # -- configuration -----------------------------------------------------------------------------
    @property
    def config(self) -> dict[str, Any]:
        """The latest effective session config (from ``session.created`` / ``session.updated``)."""
        return copy.deepcopy(self._client.state.session or {})

    def update(self, **fields: Any) -> dict[str, Any]:
        """Change session fields (GA or beta names); waits for ``session.updated``, returns the config.

        >>> s.update(instructions="Never use the word 'moist'", voice="marin")   # doctest: +SKIP
        """
        return _run(_ops.update(self._client, _params.session_update(fields)), _FOREVER, "Session.update()")

    async def aupdate(self, **fields: Any) -> dict[str, Any]:
        return await _loop.run_async(_ops.update(self._client, _params.session_update(fields)))

    @property
    def tool_timeout(self) -> float:
        """Seconds a tool may run before the model gets a timeout error as its output (default 30)."""
        return self._client.tool_timeout

    @tool_timeout.setter
    def tool_timeout(self, value: float) -> None:
        self._client.tool_timeout = float(value)

    @property
    def reply_timeout(self) -> float:
        """Seconds to wait for the reply to a client event (``session.updated``, ``conversation.item.added``,
        ``response.created`` …) before ``rt.RealtimeTimeout`` (default 15)."""
        return self._client.reply_timeout

    @reply_timeout.setter
    def reply_timeout(self, value: float) -> None:
        self._client.reply_timeout = Options(reply_timeout=value).reply_timeout

    @property
    def response_timeout(self) -> float:
        """Seconds a running response may go without any event before it is given up (cancelled) and the
        call waiting for it raises ``rt.RealtimeTimeout`` (default 30). Inactivity, not total length: a
        long spoken answer streams events all along."""
        return self._client.response_timeout

    @response_timeout.setter
    def response_timeout(self, value: float) -> None:
        self._client.response_timeout = Options(response_timeout=value).response_timeout

    @property
    def max_tool_rounds(self) -> int:
        """How many tool responses may follow each other before the session stops asking (default 8)."""
        return self._client.max_tool_rounds

    @max_tool_rounds.setter
    def max_tool_rounds(self, value: int) -> None:
        self._client.max_tool_rounds = int(value)

    # -- talking -----------------------------------------------------------------------------------
    def say(self, text: str, wait: bool = True, *, follow_tools: bool = True, timeout: float | None = None,
            **response_params: Any) -> Response:
        """Add a user text message and ask for a response; returns it once done (``wait=False``: at once).

        ``response_params`` are those of ``respond``. With ``conversation="none"`` the text is not added to
        the conversation: it goes into the response's ``input`` after the context.

        With server VAD on, the server may start a response to the user's speech at the same moment: the
        returned response is still the one that answers this text (a response the server started is never
        taken for it), and if the server's response was in the way (``conversation_already_has_active_response``)
        the request is sent again once that response is done.
        """
        params = _params.response_params(response_params)
        return _run(_ops.say(self._client, text, params, wait=wait, follow_tools=follow_tools), timeout,
                    "Session.say()")

    async def asay(self, text: str, wait: bool = True, *, follow_tools: bool = True,
                   **response_params: Any) -> Response:
        params = _params.response_params(response_params)
        return await _loop.run_async(_ops.say(self._client, text, params, wait=wait, follow_tools=follow_tools))

    def respond(self, wait: bool = True, *, follow_tools: bool = True, timeout: float | None = None,
                **response_params: Any) -> Response:
        """Send ``response.create`` and return the ``Response`` (once done unless ``wait=False``).

        Parameters (GA names; beta ``modalities``/``voice``/``max_response_output_tokens`` accepted):
        ``output_modalities`` (``["text"]`` or ``["audio"]``), ``instructions``, ``voice``, ``tools``,
        ``tool_choice``, ``conversation`` (``"auto"``/``"none"``), ``metadata``, ``max_output_tokens``,
        ``input`` (a list of ``rt.ref(item_id)``, strings = user text messages, or item dicts; ``[]``
        means no context). To tell its response from one the server starts by itself (server VAD), the
        request carries a ``realtime_nb_request`` entry in ``metadata``; it is removed from what the
        server echoes, so ``r.metadata`` is what you passed. Like ``say``, it is sent again when a
        response the server started is in the way.

        >>> s.respond(conversation="none", metadata={"topic": "pizza"},
        ...           input=[rt.ref(item_id), "Is pineapple ok?"])           # doctest: +SKIP
        """
        params = _params.response_params(response_params)
        return _run(_ops.respond(self._client, params, wait=wait, follow_tools=follow_tools), timeout,
                    "Session.respond()")

    async def arespond(self, wait: bool = True, *, follow_tools: bool = True, **response_params: Any) -> Response:
        params = _params.response_params(response_params)
        return await _loop.run_async(_ops.respond(self._client, params, wait=wait, follow_tools=follow_tools))

    def cancel(self, response_id: str | None = None, timeout: float | None = 30.0) -> Response | None:
        """Cancel a response (default: the active one in the conversation); returns it once done, or
        ``None`` when nothing was active."""
        return _run(_ops.cancel(self._client, response_id, timeout), _FOREVER, "Session.cancel()")

    async def acancel(self, response_id: str | None = None, timeout: float | None = 30.0) -> Response | None:
        return await _loop.run_async(_ops.cancel(self._client, response_id, timeout))

    @property
    def last_response(self) -> Response | None:
        """The most recently created response (any conversation), or ``None``."""
        responses = self._client.responses
        return responses[-1] if responses else None

    def get_response(self, response_id: str) -> Response | None:
        """The ``Response`` with this id, if the session saw it."""
        return self._client.get_response(response_id)

    # -- classification ----------------------------------------------------------------------------
    def classify(self, prompt: str, labels: list[str], *, context: Any = "conversation",
                 metadata: dict[str, Any] | None = None, timeout: float | None = None) -> str:
        """Out-of-band classification: returns one of ``labels`` (matched ignoring case and spaces).

        ``context``: ``"conversation"`` (all items), an int N (the last N items), a list of item ids, or
        ``None``. The response runs with ``conversation="none"``, so nothing is added to the
        conversation, and carries ``metadata`` (plus ``realtime_nb: "classify"`` and a
        ``classify_id``). Raises ``rt.ClassificationError`` (with ``.raw``) if the answer is no label.

        >>> s.classify("Is the user asking for support or sales?", ["support", "sales"])  # doctest: +SKIP
        'support'
        """
        labels = self._labels(labels)
        return _run(_ops.classify(self._client, prompt, labels, context, metadata), timeout, "Session.classify()")

    async def aclassify(self, prompt: str, labels: list[str], *, context: Any = "conversation",
                        metadata: dict[str, Any] | None = None) -> str:
        labels = self._labels(labels)
        return await _loop.run_async(_ops.classify(self._client, prompt, labels, context, metadata))

    @staticmethod
    def _labels(labels: Any) -> list[str]:
        if isinstance(labels, str) or not all(isinstance(x, str) and x.strip() for x in labels):
            raise TypeError("labels must be a list of non-empty strings, e.g. ['support', 'sales']")
        chosen: list[str] = list(labels)
        if len(chosen) < 2:
            raise ValueError("classify() needs at least two labels")
        return chosen

    # -- raw events --------------------------------------------------------------------------------
    def send(self, event: dict[str, Any], *, wait: bool = True, timeout: float | None = None) -> str:
        """Send a raw client event (GA or beta shape); returns its ``event_id`` (one is added if missing).

        With ``wait`` (default) it waits for the event's reply where it has one, and for an unknown
        type for the error the server must answer (up to 10 s); an error caused by this event raises
        ``RealtimeError``. ``response.create`` sent this way is tracked (see ``last_response``), with
        the metadata entry ``respond`` describes.
        """
        return _run(_ops.send(self._client, event, wait, timeout), _FOREVER, "Session.send()")

    async def asend(self, event: dict[str, Any], *, wait: bool = True, timeout: float | None = None) -> str:
        return await _loop.run_async(_ops.send(self._client, event, wait, timeout))

    def on(self, event_type: str, handler: Handler | None = None) -> Any:
        """Call ``handler(event)`` for each received event of ``event_type`` (GA or beta name; ``"*"``
        for all). Usable as a decorator. Handlers run on the session's loop thread; they may be async.
        A handler that raises is logged (event log + ``logging``) and never stops the session."""
        if handler is None:
            def decorator(fn: Handler) -> Handler:
                self._client.add_handler(event_type, fn)
                return fn
            return decorator
        self._client.add_handler(event_type, handler)
        return handler

    def off(self, event_type: str | None = None, handler: Handler | None = None) -> None:
        """Remove ``handler`` (or all handlers) for ``event_type`` (or for every type)."""
        self._client.remove_handler(event_type, handler)

    # -- tools -------------------------------------------------------------------------------------
    def tool(self, fn: Callable[..., Any] | None = None, *, name: str | None = None,
             description: str | None = None) -> Any:
        """Register a Python function as a tool the model may call (``@s.tool`` or ``s.tool(fn)``).

        The schema comes from type hints and the docstring; the session's tools are updated at once
        (``session.update``). When the model calls it, it runs (sync functions in a worker thread,
        async ones on the loop, ``tool_timeout`` seconds at most), and its result is sent back.
        """
        if fn is None:
            return lambda f: self.tool(f, name=name, description=description)
        self._client.tools.add(fn, name, description)
        self.update(tools=self._merged_tools())
        return fn

    async def atool(self, fn: Callable[..., Any], *, name: str | None = None,
                    description: str | None = None) -> Callable[..., Any]:
        self._client.tools.add(fn, name, description)
        await self.aupdate(tools=self._merged_tools())
        return fn

    def _merged_tools(self) -> list[dict[str, Any]]:
        registry = self._client.tools
        current = (self._client.state.session or {}).get("tools") or []
        keep = [t for t in current if not (t.get("type") == "function" and t.get("name") in registry)]
        return [*keep, *registry.schemas()]

    # -- state as DataFrames -----------------------------------------------------------------------
    @property
    def items(self) -> Any:
        """Conversation items, one row each, in conversation order (a fresh pandas snapshot)."""
        from . import frames

        c = self._client
        return c.call_on_loop(lambda: frames.items_frame(c.state, c.log, c.item_connection))

    @property
    def events(self) -> Any:
        """Every event sent and received (no payloads), one row each (a fresh pandas snapshot)."""
        from . import frames

        return frames.events_frame(self._client.log)

    @property
    def responses(self) -> Any:
        """One row per response: status, text, token counts, timings (a fresh pandas snapshot)."""
        from . import frames

        c = self._client
        return c.call_on_loop(lambda: frames.responses_frame(c.state, c.log))

    # -- closing -----------------------------------------------------------------------------------
    def close(self) -> None:
        """Close the connection (idempotent). Pending calls fail with ``ConnectionClosed``."""
        if not _loop.in_loop_thread():
            _run(self._client.close(), 15, "Session.close()")
            self._release()
        else:  # from a handler: never block the loop (stopping the embedded server waits for its close)
            self._client.spawn(self._client.close())
            self._client.loop.run_in_executor(None, self._release)

    async def aclose(self) -> None:
        await _loop.run_async(self._client.close())
        await asyncio.to_thread(self._release)

    def _release(self) -> None:
        with self._release_lock:
            if not self._uses_local or self._released:
                return
            self._released = True
        _target.release_local()

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    async def __aenter__(self) -> Session:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


def _close_soon(client: Client) -> None:
    if client.closed is None:
        with contextlib.suppress(RuntimeError):  # the loop may be gone at interpreter exit
            client.loop.call_soon_threadsafe(lambda: client.spawn(client.close()))


# -- connecting ------------------------------------------------------------------------------------------

def _prepare(model: str | None, url: str | None, api_key: str | None, fields: dict[str, Any]
             ) -> tuple[_target.Target, str, dict[str, Any] | None, Options]:
    options, fields = Options.pick(fields)
    target = _target.resolve(url, api_key)
    session = _params.session_update(fields) if fields else None
    return target, _target.choose_model(model), session, options


async def _open(target: _target.Target, model: str, session: dict[str, Any] | None, timeout: float,
                options: Options, call_id: str | None = None) -> Client:
    if call_id is not None:  # a sideband: the conversation lives on the call, nothing to replay or hand over
        options = dataclasses.replace(options, reconnect=False, handover=False)
    client = Client(target, model, target.realtime_url(model, call_id), options)
    client.tool_runner = _toolrun.follow_tools
    await client.open(timeout)
    _resume.install(client)
    if session is not None:
        try:
            await _ops.update(client, session)
        except BaseException:
            await client.close()
            raise
    return client


def connect(model: str | None = None, *, url: str | None = None, api_key: str | None = None,
            timeout: float = 20.0, call_id: str | None = None, intent: str | None = None,
            **session_fields: Any) -> Session:
    """Open a Realtime session; returns once ``session.created`` (and ``session.updated``) arrived.

    ``intent="transcription"``: a transcription session instead of a conversation, exactly as
    ``rt.transcribe(...)`` opens it (a ``TranscriptionSession``; ``model`` is then the transcription model,
    and the keyword arguments are ``rt.transcribe``'s: ``source``, ``language``, ``prompt``,
    ``turn_detection``, ``logprobs``).

    Target: ``url`` > ``REALTIME_NB_URL`` > OpenAI GA (``api_key`` or ``OPENAI_API_KEY``) > an embedded
    local server (offline, started on demand). ``model`` defaults to ``REALTIME_NB_MODEL``, else
    ``"gpt-realtime-2.1"``; a model with an announced shutdown date warns once (``FutureWarning``).
    ``session_fields`` are session fields in GA names, GA leaf names (``voice``, ``speed``,
    ``turn_detection``, ``transcription``, ``noise_reduction``) or beta names (``modalities``,
    ``input_audio_format`` …). ``timeout`` bounds the handshake and the wait for ``session.created``.
    ``call_id``: attach as the sideband of that WebRTC call (``?call_id=``; the call's audio stays on
    its peer connection; a sideband does not reconnect or hand over).

    Options (not session fields): ``reply_timeout`` (15 s, the reply to a client event),
    ``response_timeout`` (30 s without any event of a running response), ``reconnect`` (True: after a
    drop, reconnect and restore the conversation), ``reconnect_delays`` (seconds before each attempt),
    ``max_frame_bytes`` (16 MiB) and ``max_json_depth`` (100): received frames beyond them are dropped
    and noted in ``s.events``; ``handover`` (True: move to a fresh connection before the server's
    session limit).

    >>> s = rt.connect(url="ws://127.0.0.1:8765/v1", voice="marin", instructions="Be brief.")  # doctest: +SKIP
    >>> t = rt.connect(intent="transcription", language="en")  # doctest: +SKIP
    """
    if intent is not None:
        return _connect_for(intent, model, url, api_key, timeout, call_id, session_fields)
    target, model, session, options = _prepare(model, url, api_key, session_fields)
    uses_local = target.kind == "local"
    if uses_local:
        target = _target.Target(_target.acquire_local(), "local", target.api_key)
    try:
        client = _run(_open(target, model, session, timeout, options, call_id), _FOREVER, "realtime_nb.connect()")
    except BaseException:
        if uses_local:
            _target.release_local()
        raise
    return Session(client, uses_local=uses_local)


_TRANSCRIBE_KWARGS = ("source", "language", "prompt", "turn_detection", "logprobs")


def _connect_for(intent: str, model: str | None, url: str | None, api_key: str | None, timeout: float,
                 call_id: str | None, kwargs: dict[str, Any]) -> Session:
    """``connect(intent=…)``: only ``"transcription"``, which is ``rt.transcribe`` under another name."""
    if intent != "transcription":
        raise ValueError(f"intent must be 'transcription' (or None for a conversation), not {intent!r}")
    if call_id is not None:
        raise TypeError("connect(intent='transcription') cannot attach to a WebRTC call (call_id)")
    unknown = sorted(k for k in kwargs if k not in _TRANSCRIBE_KWARGS)
    if unknown:
        raise TypeError(f"connect(intent='transcription') takes rt.transcribe's arguments "
                        f"({', '.join(_TRANSCRIBE_KWARGS)}), not {unknown}")
    if model is not None:
        kwargs = {**kwargs, "model": model}
    session: Session = _hooks.transcribe(url=url, api_key=api_key, timeout=timeout, **kwargs)
    return session


async def aconnect(model: str | None = None, *, url: str | None = None, api_key: str | None = None,
                   timeout: float = 20.0, call_id: str | None = None, **session_fields: Any) -> Session:
    """The async ``connect``: ``async with await rt.aconnect() as s: ...``."""
    target, model, session, options = _prepare(model, url, api_key, session_fields)
    uses_local = target.kind == "local"
    if uses_local:
        target = _target.Target(await asyncio.to_thread(_target.acquire_local), "local", target.api_key)
    try:
        client = await _loop.run_async(_open(target, model, session, timeout, options, call_id))
    except BaseException:
        if uses_local:
            await asyncio.to_thread(_target.release_local)
        raise
    return Session(client, uses_local=uses_local)

