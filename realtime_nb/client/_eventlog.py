"""An append-only log of every event a session sends and receives, kept as columns.

Only named columns are stored (time, direction, type, ids, size, error code), never the event itself:
no audio, no base64, nothing a stray field could smuggle in (an API key, say). At 50 events/s for an
hour (~180k rows) the log stays in the tens of megabytes: times and sizes live in ``array``s, and the
strings that repeat (types, directions, response and item ids, codes) are shared, not copied.

>>> log = EventLog()
>>> log.record(0.5, "received", {"type": "response.created", "event_id": "event_1",
...                              "response": {"id": "resp_1", "output": []}}, nbytes=120)
0
>>> row = next(log.rows())
>>> row.type, row.response_id, row.bytes
('response.created', 'resp_1', 120)
"""

from __future__ import annotations

import bisect
import threading
from array import array
from collections.abc import Iterator
from typing import Any, NamedTuple

__all__ = ["COLUMNS", "EventLog", "EventRow"]

COLUMNS = ("t", "direction", "type", "event_id", "response_id", "item_id", "bytes", "error_code")
_DIRECTIONS = ("sent", "received", "local")


class EventRow(NamedTuple):
    """One logged event."""

    t: float
    direction: str
    type: str
    event_id: str | None
    response_id: str | None
    item_id: str | None
    bytes: int
    error_code: str | None


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _nested_id(event: dict[str, Any], obj: str) -> str | None:
    """``event[obj]["id"]`` (``item.id``, ``response.id``): where an event without ``item_id`` /
    ``response_id`` names its item or response."""
    inner = event.get(obj)
    found = inner.get("id") if isinstance(inner, dict) else None
    return found if isinstance(found, str) else None


def _error_code(event: dict[str, Any], err: Any) -> str | None:
    """The code of an ``error`` object (error events, failed transcriptions, failed responses);
    ``err`` is ``event.get("error")``."""
    if not isinstance(err, dict):
        resp = event.get("response")
        details = resp.get("status_details") if isinstance(resp, dict) else None
        err = details.get("error") if isinstance(details, dict) else None
        if not isinstance(err, dict):
            return None
    return _str(err.get("code")) or _str(err.get("type"))


class EventLog:
    """Columns of logged events; thread-safe appends, snapshot reads.

    ``t`` is the session clock (seconds since connect) and should not decrease; ``last_time`` relies
    on it (it falls back to a scan if it ever does).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._t = array("d")
        self._bytes = array("q")
        self._direction: list[str] = []
        self._type: list[str] = []
        self._event_id: list[str | None] = []
        self._response_id: list[str | None] = []
        self._item_id: list[str | None] = []
        self._error_code: list[str | None] = []
        self._shared: dict[str, str] = {}  # one copy of each repeated string
        self._times_by_type: dict[tuple[str, str], array[float]] = {}
        self._sorted = True
        self._first_item: dict[str, float] = {}
        self._first_response: dict[str, float] = {}
        self.messages: dict[int, str] = {}
        """Row index → message, for local notes."""
        self.error_event_ids: dict[int, str] = {}
        """Row index → the client ``event_id`` a received ``error`` refers to (``error.event_id``)."""

    def _append(self, t: float, direction: str, etype: str, event_id: str | None, response_id: str | None,
                item_id: str | None, nbytes: int, error_code: str | None) -> int:
        # Once per event on the receive path: locals, no helper calls.
        if direction not in _DIRECTIONS:
            raise ValueError(f"direction must be one of {_DIRECTIONS}, not {direction!r}")
        t = float(t)
        share = self._shared.setdefault  # one copy of each repeated string
        with self._lock:
            row = len(self._type)
            if row and t < self._t[-1]:
                self._sorted = False
            etype = share(etype, etype)
            if response_id is not None:
                response_id = share(response_id, response_id)
            if item_id is not None:
                item_id = share(item_id, item_id)
            if error_code is not None:
                error_code = share(error_code, error_code)
            self._t.append(t)
            self._bytes.append(int(nbytes))
            self._direction.append(direction)
            self._type.append(etype)
            self._event_id.append(event_id)
            self._response_id.append(response_id)
            self._item_id.append(item_id)
            self._error_code.append(error_code)
            times = self._times_by_type.get((direction, etype))
            if times is None:
                times = self._times_by_type[(direction, etype)] = array("d")
            times.append(t)
            if direction == "received":
                if item_id is not None and item_id not in self._first_item:
                    self._first_item[item_id] = t
                if response_id is not None and response_id not in self._first_response:
                    self._first_response[response_id] = t
            return row

    def record(self, t: float, direction: str, event: dict[str, Any], nbytes: int = 0) -> int:
        """Log ``event`` ("sent" or "received") at session time ``t`` with its wire size; return the row.

        Extracts ``type``, ``event_id`` (the server's, for received errors), ``response_id``
        (``response_id`` or ``response.id``), ``item_id`` (``item_id`` or ``item.id``) and
        ``error_code`` (``error.code``, else ``error.type``; also for failed transcriptions and
        failed responses). Nothing else of the event is kept.
        """
        get = event.get
        etype = get("type")
        event_id = get("event_id")
        response_id = get("response_id")
        item_id = get("item_id")
        err = get("error")
        row = self._append(t, direction, etype if isinstance(etype, str) else repr(etype),
                           event_id if isinstance(event_id, str) else None,
                           response_id if isinstance(response_id, str) else _nested_id(event, "response"),
                           item_id if isinstance(item_id, str) else _nested_id(event, "item"),
                           nbytes, None if err is None and "response" not in event else _error_code(event, err))
        caused_by = err.get("event_id") if isinstance(err, dict) else None
        if isinstance(caused_by, str):
            with self._lock:
                self.error_event_ids[row] = caused_by
        return row

    def note(self, t: float, kind: str, message: str, *, code: str | None = None) -> int:
        """Log something that happened locally (direction "local", type ``kind``, e.g.
        ``"handler_error"``); ``message`` is kept in ``messages``, ``code`` in ``error_code``."""
        row = self._append(t, "local", kind, None, None, None, 0, code)
        with self._lock:
            self.messages[row] = str(message)
        return row

    def __len__(self) -> int:
        return len(self._type)

    def columns(self) -> dict[str, list[Any]]:
        """A snapshot of all columns, as lists keyed by ``COLUMNS`` (what ``frames`` builds from)."""
        with self._lock:
            return {"t": self._t.tolist(), "direction": list(self._direction), "type": list(self._type),
                    "event_id": list(self._event_id), "response_id": list(self._response_id),
                    "item_id": list(self._item_id), "bytes": self._bytes.tolist(),
                    "error_code": list(self._error_code)}

    def rows(self) -> Iterator[EventRow]:
        """The rows logged so far, oldest first (rows appended while iterating are not included)."""
        cols = self.columns()
        return (EventRow(*r) for r in zip(*(cols[c] for c in COLUMNS), strict=True))

    def rows_since(self, start: int) -> list[EventRow]:
        """The rows from index ``start`` on, oldest first: for tailing the log without copying all of it
        (the widget's event list reads only what is new)."""
        with self._lock:
            return [EventRow(self._t[i], self._direction[i], self._type[i], self._event_id[i],
                             self._response_id[i], self._item_id[i], self._bytes[i], self._error_code[i])
                    for i in range(max(0, start), len(self._type))]

    def last_time(self, type: str, before: float | None = None, *, direction: str = "received") -> float | None:
        """The time of the last ``type`` event (received, by default) at or before ``before`` (or the
        last one at all), else ``None``. Equal times count as before: events logged in the same clock
        tick keep their log order.

        >>> log = EventLog()
        >>> for t in (1.0, 2.0, 3.0):
        ...     _ = log.record(t, "received", {"type": "input_audio_buffer.speech_stopped"})
        >>> log.last_time("input_audio_buffer.speech_stopped", before=2.5)
        2.0
        """
        with self._lock:
            times = self._times_by_type.get((direction, type))
            if not times:
                return None
            if before is None:
                return max(times) if not self._sorted else times[-1]
            if self._sorted:
                k = bisect.bisect_right(times, before)
                return times[k - 1] if k else None
            earlier = [x for x in times if x <= before]
            return max(earlier) if earlier else None

    def first_seen(self, item_id: str) -> float | None:
        """When a received event first carried ``item_id``."""
        with self._lock:
            return self._first_item.get(item_id)

    def first_seen_items(self) -> dict[str, float]:
        """``{item_id: time of the first received event carrying it}`` (a copy)."""
        with self._lock:
            return dict(self._first_item)

    def first_seen_responses(self) -> dict[str, float]:
        """``{response_id: time of the first received event carrying it}`` (a copy)."""
        with self._lock:
            return dict(self._first_response)
