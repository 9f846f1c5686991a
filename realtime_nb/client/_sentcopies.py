"""Bounded, readable copies of the events a session sent, for the widget's event log (click a sent row).

The event log (``_eventlog``) keeps columns, never events. This keeps the last ``KEEP`` sent events apart
from it, by log row, made for a person to read: never ``input_audio_buffer.append`` (the mic's 25
events a second: audio only), base64 audio elsewhere (``conversation.item.create`` of a spoken turn)
replaced by its size, and anything shaped like a key masked (``sk-…``, ``ek_…``, ``Bearer …``, fields
named like a secret). The key itself is never in an event (it goes in the handshake's headers); the mask
is for what a user might paste into instructions or a tool's output.

>>> c = SentCopies()
>>> c.keep(3, {"type": "session.update", "session": {"instructions": "use sk-abcdefghijklmnop"}})
>>> c.get(3)["session"]["instructions"]
'use sk-***'
>>> c.keep(4, {"type": "input_audio_buffer.append", "audio": "AAAA"}); c.get(4) is None
True
"""

from __future__ import annotations

import re
from collections import OrderedDict
from typing import Any

KEEP = 256
_NOT_KEPT = frozenset({"input_audio_buffer.append"})
_KEYISH = re.compile(r"\b(sk-|ek_)[A-Za-z0-9_\-]{8,}|\b(Bearer )\S+", re.IGNORECASE)
_SECRET_FIELDS = frozenset({"api_key", "apikey", "authorization", "client_secret", "password"})


def readable(value: Any, key: str = "") -> Any:
    """A copy of ``value`` with base64 audio replaced by its size and key-like strings masked."""
    if isinstance(value, dict):
        return {k: readable(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [readable(v, key) for v in value]
    if isinstance(value, str):
        if key.lower() in _SECRET_FIELDS:
            return "***"
        if key in ("audio", "delta") and len(value) > 64 and " " not in value:
            return f"<{len(value) * 3 // 4} bytes of audio>"
        return _KEYISH.sub(lambda m: f"{m.group(1) or m.group(2)}***", value)
    return value


class SentCopies:
    """The last ``keep`` sent events (not audio appends) by event-log row. Loop thread writes; a read is
    one dict lookup."""

    def __init__(self, keep: int = KEEP) -> None:
        self.limit = keep
        self._copies: OrderedDict[int, dict[str, Any]] = OrderedDict()

    def keep(self, row: int, event: dict[str, Any]) -> None:
        if event.get("type") in _NOT_KEPT:
            return
        self._copies[row] = readable(event)
        while len(self._copies) > self.limit:
            self._copies.popitem(last=False)

    def get(self, row: int) -> dict[str, Any] | None:
        return self._copies.get(row)
