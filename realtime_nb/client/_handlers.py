"""Handlers: the user's ``s.on(type, fn)`` table, and calling them so that none can hurt the session.

A handler that raises (or an async one whose task raises) is logged (event log row ``handler_error`` +
``logging``) and never stops the session. ``Client`` inherits this.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..protocol.dialect import ga_event_type

if TYPE_CHECKING:
    import asyncio

    from ._eventlog import EventLog

log = logging.getLogger("realtime_nb")

Event = dict[str, Any]
Handler = Callable[[Event], Any]


class HandlerTable:
    """``handlers`` by GA event type (``"*"``: all) and their safe calling. Loop thread only."""

    handlers: dict[str, list[Handler]]

    if TYPE_CHECKING:  # provided by Client
        log: EventLog

        def now(self) -> float: ...
        def spawn(self, coro: Any) -> asyncio.Task[Any]: ...

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
