"""What the client refuses to take from a server: frames too large or nested too deep, malformed
``response.done`` objects. Pure functions; ``_connection.Client.receive`` calls them per frame.

Outgoing, ``encode_checked`` refuses text that cannot be sent (lone surrogates) before anything is
tracked or logged.

A frame above ``max_bytes`` or nested deeper than ``max_depth`` is dropped and noted (``s.events``, type
``anomaly``), so a broken or hostile server cannot exhaust memory or recursion (Python's JSON decoder
takes ~1000 levels; copying and translating events recurses too). Frames beyond ``HARD_FACTOR`` times
``max_bytes`` are refused by websockets itself (close 1009; the session then reconnects), so memory
stays bounded by that.

>>> import json
>>> frame = '{"type":"x","a":[[[[]]]]}'
>>> frame_problem(frame, json.loads(frame), max_bytes=1 << 20, max_depth=3)
('frame_too_deep', 'a x frame nested 5 deep (more than max_json_depth=3) was dropped')
"""

from __future__ import annotations

from typing import Any

from ..protocol.codec import encode

HARD_FACTOR = 4
DONE_STATUSES = frozenset({"completed", "cancelled", "failed", "incomplete"})


def depth(value: Any) -> int:
    """Nesting depth of a JSON value (a scalar is 0, ``[]`` is 1), without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        node, level = stack.pop()
        if isinstance(node, dict):
            children: Any = node.values()
        elif isinstance(node, list):
            children = node
        else:
            continue
        deepest = max(deepest, level)
        stack.extend((child, level + 1) for child in children if isinstance(child, (dict, list)))
    return deepest


def size_problem(frame: str | bytes, max_bytes: int) -> tuple[str, str] | None:
    """``(code, message)`` when the frame is larger than ``max_bytes`` (characters of a text frame)."""
    if len(frame) <= max_bytes:
        return None
    return "frame_too_large", f"a frame of {len(frame)} bytes (more than max_frame_bytes={max_bytes}) was dropped"


def frame_problem(frame: str, event: Any, max_bytes: int, max_depth: int) -> tuple[str, str] | None:
    """``(code, message)`` when a text frame (decoded: ``event``) is over a limit, else ``None``.

    The depth is only measured when the frame holds more brackets than ``max_depth`` (a C-speed count),
    so ordinary frames pay two ``str.count`` calls."""
    too_big = size_problem(frame, max_bytes)
    if too_big is not None:
        return too_big
    if frame.count("{") + frame.count("[") <= max_depth:
        return None
    found = depth(event)
    if found <= max_depth:
        return None
    etype = event.get("type") if isinstance(event, dict) else None
    return "frame_too_deep", (f"a {etype if isinstance(etype, str) else 'server'} frame nested {found} deep "
                              f"(more than max_json_depth={max_depth}) was dropped")


def done_problem(obj: Any) -> str | None:
    """What is wrong with the ``response`` of a ``response.done`` (``None``: nothing)."""
    if not isinstance(obj, dict):
        return f"its response is {type(obj).__name__}, not an object"
    if not isinstance(obj.get("id"), str):
        return "its response has no id"
    if obj.get("status") not in DONE_STATUSES:
        return f"its response status is {obj.get('status')!r}, not one of {', '.join(sorted(DONE_STATUSES))}"
    output = obj.get("output", [])
    if not isinstance(output, list) or not all(isinstance(o, dict) for o in output):
        return "its response output is not a list of items"
    return None


def encode_checked(event: dict[str, Any]) -> str:
    """The frame of ``event``; ``ValueError`` naming the field when a string in it cannot be sent as
    UTF-8 (a lone surrogate such as ``"\\ud800"``, e.g. from a bad decode or a sliced emoji)."""
    try:
        return encode(event, strict=True)
    except UnicodeEncodeError as exc:
        where = _bad_text_path(event) or "a string"
        raise ValueError(f"{event.get('type')}: {where} contains {exc.object[exc.start:exc.end]!r}, a lone "
                         "surrogate, which is not valid Unicode and cannot be sent; nothing was sent. Remove "
                         "it, e.g. text.encode('utf-8', 'replace').decode()") from None


def _bad_text_path(value: Any, path: str = "") -> str | None:
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return path or "the text"
        return None
    children = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, child in children:
        found = _bad_text_path(child, f"{path}[{key}]" if isinstance(key, int) else f"{path}.{key}".lstrip("."))
        if found:
            return found
    return None
