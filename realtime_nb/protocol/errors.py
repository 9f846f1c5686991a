"""Protocol-level errors, shaped like the service's ``error`` event.

``EventError`` is raised by the sans-I/O core when a client event is invalid; the server turns it into
an ``error`` event (``to_event``), the client raises it as ``realtime_nb.RealtimeError``.
"""

from __future__ import annotations

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


def invalid_type(param: str, expected: str, got: Any, event_id: str | None = None) -> EventError:
    return EventError(
        "invalid_type",
        f"Invalid type for '{param}': expected {expected}, but got {type(got).__name__} value instead.",
        param,
        event_id,
    )


def invalid_value(param: str, value: Any, allowed: list[str] | None = None,
                  event_id: str | None = None) -> EventError:
    msg = f"Invalid value: '{value}'."
    if allowed:
        quoted = [f"'{a}'" for a in allowed]
        listed = ", ".join(quoted[:-1]) + f", and {quoted[-1]}" if len(quoted) > 1 else quoted[0]
        msg += f" Supported values are: {listed}."
    return EventError("invalid_value", msg, param, event_id)
