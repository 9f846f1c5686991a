"""Exceptions raised by realtime-nb.

::

    RealtimeNBError                 base of everything raised here
    ├── RealtimeError               the server answered a client event with an ``error`` event
    │                               (type, code, message, param, event_id)
    ├── ConnectionClosed            the websocket closed; pending calls fail with it (code, reason,
    │   │                           reconnecting: True when the session is reconnecting meanwhile)
    │   └── SessionExpired          the server ended the session at its maximum length (close 1001)
    ├── RealtimeTimeout             a bounded wait ran out (also a ``TimeoutError``): what was awaited,
    │                               for which event / response id, and what to try
    ├── ClassificationError         an out-of-band classification returned no allowed label (raw text)
    └── ToolError                   a tool could not be registered or called as declared
"""

from __future__ import annotations

from typing import Any


class RealtimeNBError(Exception):
    """Base class of realtime-nb exceptions."""


class RealtimeError(RealtimeNBError):
    """An ``error`` event from the server, raised in the call whose event caused it."""

    def __init__(self, message: str, *, type: str | None = None, code: str | None = None,
                 param: str | None = None, event_id: str | None = None) -> None:
        super().__init__(message)
        self.message, self.type, self.code, self.param, self.event_id = message, type, code, param, event_id

    @classmethod
    def from_event(cls, event: dict[str, Any]) -> RealtimeError:
        err = event.get("error") or {}
        return cls(str(err.get("message", "")), type=err.get("type"), code=err.get("code"),
                   param=err.get("param"), event_id=err.get("event_id"))

    def __str__(self) -> str:
        where = f" (param {self.param})" if self.param else ""
        return f"[{self.code or self.type}] {self.message}{where}"


class ConnectionClosed(RealtimeNBError):
    """The connection closed; ``code`` and ``reason`` are the websocket close code and reason.

    ``reconnecting`` is True when the session lost its connection without being closed and is
    reconnecting: the call failed, but the session (and its conversation) carries on once it is back.
    """

    def __init__(self, code: int | None, reason: str = "", *, reconnecting: bool = False) -> None:
        super().__init__(f"connection closed (code {code}{': ' + reason if reason else ''})")
        self.code, self.reason, self.reconnecting = code, reason, reconnecting


class SessionExpired(ConnectionClosed):
    """The server ended the session at its maximum duration."""


class ClassificationError(RealtimeNBError):
    """The model's answer matched none of the allowed labels; ``raw`` is what it said."""

    def __init__(self, message: str, *, raw: str, labels: list[str]) -> None:
        super().__init__(message)
        self.raw, self.labels = raw, labels


class ToolError(RealtimeNBError):
    """A Python callable could not be turned into a tool, or a tool call could not be dispatched."""


class RealtimeTimeout(RealtimeNBError, TimeoutError):
    """A bounded wait ran out. ``what`` is what was awaited, ``event_id`` / ``response_id`` what it was
    for (when known), ``timeout`` the bound in seconds. The session stays usable.

    >>> str(RealtimeTimeout("session.updated", 15, event_id="rtnb_3", hint="try again"))
    'no session.updated within 15 s (for event rtnb_3); try again'
    """

    def __init__(self, what: str, timeout: float | None, *, event_id: str | None = None,
                 response_id: str | None = None, hint: str = "") -> None:
        ids = [f"event {event_id}" if event_id else "", f"response {response_id}" if response_id else ""]
        shown = ", ".join(i for i in ids if i)
        message = f"no {what} within {timeout:g} s" if timeout is not None else f"no {what}"
        message += f" (for {shown})" if shown else ""
        super().__init__(message + (f"; {hint}" if hint else ""))
        self.what, self.timeout, self.event_id, self.response_id = what, timeout, event_id, response_id
