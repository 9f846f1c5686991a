"""What the server checks and normalizes in a decoded client event before validating its fields.

Three rules that hold for every field of every client event, so they live in one walk here rather
than in each check:

- **Bounded nesting.** Prompts, tracing metadata and tool parameter schemas are free-form JSON; a
  value nested hundreds of levels deep would exhaust the interpreter's recursion limit in every later
  copy. Nesting deeper than ``MAX_DEPTH`` is refused as ``invalid_value`` naming the param.
- **Valid Unicode.** JSON may spell a lone UTF-16 surrogate (``"\\ud800"``); Python decodes it into a
  ``str`` that cannot be encoded as UTF-8, so echoing it (``session.updated``, an item) would fail.
  Refused as ``invalid_value`` naming the param, as the live service refuses invalid text.
- **``null`` means "not given".** Clients (livekit, pydantic ``model_dump`` without ``exclude_none``)
  send explicit ``null`` for optional fields they leave unset; the live service applies the session's
  value. Keys whose ``null`` is a value of its own (``tracing``, ``turn_detection``, … see
  ``NULL_IS_A_VALUE``) keep it; free-form JSON (tool ``parameters``, ``metadata``) is left as given.
"""

from __future__ import annotations

from typing import Any

from .errors import EventError

MAX_DEPTH = 48  # nesting levels of one event; deep JSON schemas of real tools stay well under 20

# session fields where ``null`` switches something off (the SDK documents each as nullable).
NULL_IS_A_VALUE: frozenset[tuple[str, ...]] = frozenset({
    ("session", "tracing"),
    ("session", "prompt"),
    ("session", "include"),
    ("session", "audio", "input", "transcription"),
    ("session", "audio", "input", "noise_reduction"),
    ("session", "audio", "input", "turn_detection"),
    ("session", "audio", "input", "turn_detection", "idle_timeout_ms"),
})
# Free-form JSON owned by the user: kept exactly as given (its nulls are data).
_OPAQUE = frozenset({"parameters", "metadata", "variables", "headers"})


def prepare_client_event(event: dict[str, Any], *, drop_nulls: bool = True) -> dict[str, Any]:
    """Check nesting and Unicode of a decoded client event and drop its ``null`` optional fields.

    Returns a new event (the given one is not changed) or raises ``EventError`` (``invalid_value``,
    with the client's ``event_id`` when it is a string). ``drop_nulls=False`` only checks (and copies):
    for beta-shaped events, whose nulls mean something at other paths until they are translated to GA.
    """
    raw_id = event.get("event_id")
    eid = raw_id if isinstance(raw_id, str) and _valid_text(raw_id) else None
    try:
        out: dict[str, Any] = _walk(event, () if drop_nulls else None, "", 0)
    except EventError as err:
        raise err.with_event_id(eid) from None
    return out


def check_json_value(value: Any, path: str) -> None:
    """Raise ``invalid_value`` at ``path`` if ``value`` nests too deeply or holds a lone surrogate."""
    _walk(value, None, path, 0)


def _valid_text(s: str) -> bool:
    if s.isascii():
        return True
    try:
        s.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _bad_text(param: str) -> EventError:
    return EventError("invalid_value", f"Invalid '{param or 'event'}': the string contains a lone UTF-16 "
                      "surrogate (such as \\ud800), which is not valid Unicode text.", param or None)


def _walk(value: Any, keys: tuple[str, ...] | None, param: str, depth: int) -> Any:
    """Copy ``value``; ``keys`` is the dict-key path (``None`` inside opaque JSON: keep nulls)."""
    if depth > MAX_DEPTH:
        raise EventError("invalid_value", f"Invalid '{param}': nested more than {MAX_DEPTH} levels deep.",
                         param or None)
    if isinstance(value, str):
        if not _valid_text(value):
            raise _bad_text(param)
        return value
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            p = f"{param}.{k}" if param else str(k)
            if not _valid_text(k):
                raise _bad_text(param)
            sub = None if keys is None or k in _OPAQUE else (*keys, k)
            if v is None and sub is not None and sub not in NULL_IS_A_VALUE:
                continue
            out[k] = _walk(v, sub, p, depth + 1)
        return out
    if isinstance(value, list):
        return [_walk(v, keys, f"{param}[{i}]", depth + 1) for i, v in enumerate(value)]
    return value
