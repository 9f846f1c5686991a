"""Protocol-level errors, shaped like the service's ``error`` event.

``EventError`` is raised by the sans-I/O core when a client event is invalid; the server turns it into
an ``error`` event (``to_event``), the client raises it as ``realtime_nb.RealtimeError``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from .ids import event_id as _new_event_id


@dataclass(frozen=True)
class EventError(Exception):
    """One protocol error: ``code``, human ``message``, offending ``param`` and the client's ``event_id``."""

    code: str | None
    message: str
    param: str | None = None
    event_id: str | None = None
    type: str = "invalid_request_error"

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"

    def with_event_id(self, event_id: str | None) -> EventError:
        return EventError(self.code, self.message, self.param, event_id, self.type)

    def error_object(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "code": self.code,
            "message": self.message,
            "param": self.param,
            "event_id": self.event_id,
        }

    def to_event(self) -> dict[str, Any]:
        """The server ``error`` event for this error (with a fresh server ``event_id``)."""
        return {"type": "error", "event_id": _new_event_id(), "error": self.error_object()}


def unknown_parameter(param: str, event_id: str | None = None) -> EventError:
    return EventError("unknown_parameter", f"Unknown parameter: '{param}'.", param, event_id)


def missing_parameter(param: str, event_id: str | None = None) -> EventError:
    return EventError(
        "missing_required_parameter", f"Missing required parameter: '{param}'.", param, event_id
    )


def json_type(value: Any) -> str:
    """The JSON name of a decoded value's type, with its article, as the service's messages say it."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return f"a {type(value).__name__}"  # not from JSON; only our own callers pass such values


def json_text(value: Any, limit: int = 200) -> str:
    """A value as it appears in a message: strings as they are, anything else as JSON (``null``, ``[]``)."""
    if isinstance(value, str):
        text = value
    else:
        try:
            text = json.dumps(value, ensure_ascii=True, default=repr)
        except (ValueError, RecursionError):
            text = json_type(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def server_error(event_id: str | None = None) -> EventError:
    """Our own fault while handling one client event (details go to the server log, not the client)."""
    return EventError("server_error", "The server had an error while processing your request. Sorry about "
                      "that! The local server logged the details.", None, event_id, "server_error")


def invalid_type(param: str, expected: str, got: Any, event_id: str | None = None) -> EventError:
    return EventError(
        "invalid_type",
        f"Invalid type for '{param}': expected {expected}, but got {json_type(got)} instead.",
        param,
        event_id,
    )


def invalid_value(param: str, value: Any, allowed: list[str] | None = None,
                  event_id: str | None = None) -> EventError:
    msg = f"Invalid value: '{json_text(value)}'."
    if allowed:
        quoted = [f"'{a}'" for a in allowed]
        listed = ", ".join(quoted[:-1]) + f", and {quoted[-1]}" if len(quoted) > 1 else quoted[0]
        msg += f" Supported values are: {listed}."
    return EventError("invalid_value", msg, param, event_id)
