"""JSON codec for Realtime frames: one JSON object per text frame, both ways."""

from __future__ import annotations

import json
from typing import Any

from .errors import EventError

_encoder = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def encode(event: dict[str, Any]) -> str:
    """Serialize one event for a text frame."""
    return _encoder.encode(event)


def decode(frame: str | bytes) -> dict[str, Any]:
    """Parse one frame into an event dict.

    Raises ``EventError`` with the codes the service uses: ``invalid_event`` for a binary frame,
    ``invalid_json`` for text that is not a JSON object.
    """
    if isinstance(frame, (bytes, bytearray, memoryview)):
        raise EventError(
            "invalid_event",
            "Expected a text WebSocket message containing a JSON event, but received a binary message.",
        )
    try:
        value = json.loads(frame)
    except (ValueError, RecursionError) as exc:
        raise EventError(
            "invalid_json",
            f"We could not parse the JSON body of your request. ({exc.__class__.__name__}: {exc})",
        ) from None
    if not isinstance(value, dict):
        raise EventError(
            "invalid_json",
            f"Expected a JSON object for the event, but got {type(value).__name__}.",
        )
    return value
