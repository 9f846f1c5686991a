"""JSON codec for Realtime frames: one JSON object per text frame, both ways; ``clone`` copies JSON values."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any, TypeVar

from .errors import EventError, json_type

_encoder = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
_ascii_encoder = json.JSONEncoder(ensure_ascii=True, separators=(",", ":"))
# What ``json.loads`` runs on a str once it has checked for a BOM and skipped leading whitespace.
_scan_once: Callable[[str, int], tuple[Any, int]] = json.JSONDecoder().scan_once  # type: ignore[attr-defined]


def encode(event: dict[str, Any], *, strict: bool = False) -> str:
    """Serialize one event for a text frame; the result always encodes as UTF-8.

    Non-ASCII text goes out as is (shorter frames), except when a string holds a lone UTF-16
    surrogate, which UTF-8 cannot carry: then the whole event is written with ``\\u`` escapes, which
    any JSON decoder reads back to the same value. (The server refuses such strings on input; this
    keeps a surrogate that reaches an event any other way from failing the send.) With ``strict``
    (the client: such text is the user's mistake, to be reported before anything is sent) the
    ``UnicodeEncodeError`` is raised instead.
    """
    text: str = _encoder.encode(event)
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            if strict:
                raise
            return str(_ascii_encoder.encode(event))
    return text


_T = TypeVar("_T")
_ATOMIC = frozenset({str, int, float, bool, type(None)})  # immutable JSON leaves: shared, not copied


def clone(value: _T) -> _T:
    """A deep copy of a JSON value: new dicts and lists all the way down, the immutable leaves shared.

    What ``copy.deepcopy`` returns for a decoded JSON tree, ~5x faster (no memo, no dispatch per
    leaf). Anything else inside (a tuple, a numpy array, a dict subclass) goes through ``copy.deepcopy``,
    and so does a value holding itself (which JSON cannot express).

    >>> event = {"type": "response.done", "response": {"output": [{"id": "item_1"}]}}
    >>> copied = clone(event)
    >>> copied == event, copied["response"]["output"][0] is event["response"]["output"][0]
    (True, False)
    """
    try:
        copied: _T = _clone(value)
    except RecursionError:  # a cycle: deepcopy's memo reproduces it
        return copy.deepcopy(value)
    return copied


def _clone(value: Any) -> Any:
    cls = type(value)
    if cls is dict:
        return {k: v if type(v) in _ATOMIC else _clone(v) for k, v in value.items()}
    if cls is list:
        return [v if type(v) in _ATOMIC else _clone(v) for v in value]
    if cls in _ATOMIC:
        return value
    return copy.deepcopy(value)


def decode(frame: str | bytes) -> dict[str, Any]:
    """Parse one frame into an event dict.

    Raises ``EventError`` with the codes the service uses: ``invalid_event`` for a binary frame,
    ``invalid_json`` for text that is not a JSON object.
    """
    if type(frame) is str:  # the usual frame: the C scanner straight away (json.loads adds ~1 µs around it)
        try:
            value, end = _scan_once(frame, 0)
        except Exception:  # json.loads below raises the proper error (or accepts, e.g. leading spaces)
            pass
        else:
            if end == len(frame) and type(value) is dict:
                return value
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
            f"Expected a JSON object for the event, but got {json_type(value)}.",
        )
    return value
