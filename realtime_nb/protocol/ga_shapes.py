"""Which received events need the beta → GA translation: a cheap check, so GA events skip its copies.

``dialect.server_event_to_ga`` deep-copies the items, session and response objects it translates. Most
events a GA server sends would come out equal, so the reducer translates an event only when its name is
one ``dialect`` renames (``_RENAMED``) or it is shaped by the dialect (``_DIALECT_SHAPED``) and
``_already_ga`` cannot tell that the translation would change nothing.
"""

from __future__ import annotations

from typing import Any

from .dialect import (
    _ALIASES,
    _CONTENT_TO_GA,
    _RESPONSE_OBJECT_DROPS,
    _RESPONSE_OBJECT_MOVES,
    BETA_TO_GA_EVENT,
    ga_event_type,
)
from .events import Event

# Events whose names beta and GA share but whose items / session / response objects differ; these go
# through ``dialect.server_event_to_ga`` (which leaves GA shapes unchanged) unless ``_already_ga`` says
# the translation would change nothing.
_DIALECT_SHAPED = frozenset({
    "session.created", "session.updated", "response.created", "response.done",
    "conversation.item.added", "conversation.item.done", "conversation.item.retrieved",
    "response.output_item.added", "response.output_item.done",
})
_ITEM_SHAPED = frozenset({
    "conversation.item.added", "conversation.item.done", "conversation.item.retrieved",
    "response.output_item.added", "response.output_item.done",
})
_BETA_RESPONSE_KEYS = (*_RESPONSE_OBJECT_MOVES, *_RESPONSE_OBJECT_DROPS)
# The names ``ga_event_type`` changes (beta names, aliases): one set lookup per event instead of a call.
_RENAMED = frozenset(name for name in (*BETA_TO_GA_EVENT, *_ALIASES) if ga_event_type(name) != name)


def _ga_item(item: Any) -> bool:
    """True when ``dialect.item_to_ga`` would return an equal item (or the value is no item at all)."""
    if not isinstance(item, dict):
        return True
    if item.get("object") == "realtime.item":
        return False
    content = item.get("content")
    return not (item.get("role") == "assistant" and isinstance(content, list)
                and any(isinstance(p, dict) and p.get("type") in _CONTENT_TO_GA for p in content))


def _already_ga(event: Event, etype: str) -> bool:
    """True when ``server_event_to_ga(event)`` would equal ``event``, for the frequent response and item
    events: they then skip the translation's deep copies (the handlers copy whatever they keep).
    Session events (two per session) always take the translation."""
    if etype in ("response.created", "response.done"):
        obj = event.get("response")
        if not isinstance(obj, dict):
            return True
        if any(key in obj for key in _BETA_RESPONSE_KEYS):
            return False
        output = obj.get("output")
        return not isinstance(output, list) or all(_ga_item(item) for item in output)
    if etype in _ITEM_SHAPED:
        return _ga_item(event.get("item"))
    return False
