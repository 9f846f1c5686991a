"""Every leaf of a full, valid event, replaced by each JSON type in turn: the SDK's schema is the oracle.

For ``session.update``, ``response.create`` and ``conversation.item.create`` events that use every field
the server knows, each leaf (and each object and array on the way) is replaced by ``5``, ``1.5``, ``"x"``,
``true``, ``[]``, ``{}`` and ``null``. Whatever the openai SDK's client-event model rejects, the engine
must refuse with an ``error`` and leave its session unchanged; whatever it accepts and echoes must
validate with the SDK's server-event types. Runs on the sans-I/O engine, so all ~2,000 cases take a
second or two.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any

import pytest
from openai.types.realtime import ConversationItemCreateEvent, ResponseCreateEvent, SessionUpdateEvent
from pydantic import TypeAdapter, ValidationError
from rtclient import check_schema

from realtime_nb.protocol.codec import encode
from realtime_nb.server.brains import make_brain
from realtime_nb.server.engine import Engine

FUNC = {"type": "function", "name": "lookup", "description": "Look a word up.",
        "parameters": {"type": "object", "properties": {"word": {"type": "string", "enum": ["a", "b"]}},
                       "required": ["word"]}}
MCP = {"type": "mcp", "server_label": "docs", "server_url": "https://example.invalid/mcp", "authorization": "t",
       "server_description": "d", "headers": {"X-A": "b"}, "allowed_tools": ["search"], "defer_loading": False,
       "require_approval": {"never": {"tool_names": ["search"], "read_only": True}},
       "allowed_callers": ["direct"], "connector_id": "connector_gmail"}
SESSION = {
    "type": "realtime", "output_modalities": ["text"], "instructions": "Be brief.",
    "audio": {
        "input": {"format": {"type": "audio/pcm", "rate": 24000},
                  "transcription": {"model": "whisper-1", "language": "en", "prompt": "p", "keywords": ["k"],
                                    "languages": ["en"], "delay": "low"},
                  "noise_reduction": {"type": "near_field", "strength": 0.5},
                  "turn_detection": {"type": "server_vad", "threshold": 0.5, "prefix_padding_ms": 300,
                                     "silence_duration_ms": 200, "idle_timeout_ms": 6000, "create_response": True,
                                     "interrupt_response": True}},
        "output": {"format": {"type": "audio/pcmu"}, "voice": "alloy", "speed": 1.0}},
    "tools": [FUNC, MCP], "tool_choice": {"type": "function", "name": "lookup"}, "max_output_tokens": 100,
    "truncation": {"type": "retention_ratio", "retention_ratio": 0.5, "token_limits": {"post_instructions": 100}},
    "tracing": {"workflow_name": "w", "group_id": "g", "metadata": {"a": 1}},
    "prompt": {"id": "pmpt_1", "version": "1", "variables": {"v": "x", "w": {"type": "input_text", "text": "t"}}},
    "include": ["item.input_audio_transcription.logprobs"], "parallel_tool_calls": True,
    "reasoning": {"effort": "low"},
}
USER_ITEM = {"type": "message", "role": "user", "id": "item_user_1", "status": "completed", "object": "realtime.item",
             "content": [{"type": "input_text", "text": "hi"},
                         {"type": "input_image", "image_url": "data:image/png;base64,AAAA", "detail": "low"}]}
CALL_ITEM = {"type": "function_call", "name": "lookup", "arguments": "{}", "call_id": "call_1", "id": "item_c1"}
RESPONSE = {
    "conversation": "none", "instructions": "x", "output_modalities": ["text"], "max_output_tokens": 50,
    "audio": {"output": {"format": {"type": "audio/pcm", "rate": 24000}, "voice": "ash"}},
    "tools": [FUNC, MCP], "tool_choice": {"type": "mcp", "server_label": "docs", "name": "search"},
    "metadata": {"topic": "t"}, "parallel_tool_calls": False,
    "prompt": {"id": "pmpt_1"}, "reasoning": {"effort": "minimal"},
    "input": [{"type": "message", "role": "system", "content": [{"type": "input_text", "text": "s"}]},
              {"type": "function_call_output", "call_id": "call_1", "output": "{}"}],
}
EVENTS = {
    "session.update": ({"type": "session.update", "session": SESSION}, TypeAdapter(SessionUpdateEvent)),
    "response.create": ({"type": "response.create", "response": RESPONSE}, TypeAdapter(ResponseCreateEvent)),
    "session.update (semantic VAD)": ({"type": "session.update", "session": {
        "type": "realtime", "audio": {"input": {"format": {"type": "audio/pcma"}, "turn_detection": {
            "type": "semantic_vad", "eagerness": "high", "create_response": False, "interrupt_response": False}},
            "output": {"voice": {"id": "voice_custom"}}},
        "tool_choice": "required", "truncation": "disabled", "tracing": "auto", "max_output_tokens": "inf"}},
        TypeAdapter(SessionUpdateEvent)),
    "conversation.item.create (message)": ({"type": "conversation.item.create", "item": USER_ITEM},
                                           TypeAdapter(ConversationItemCreateEvent)),
    "conversation.item.create (call)": ({"type": "conversation.item.create", "item": CALL_ITEM},
                                        TypeAdapter(ConversationItemCreateEvent)),
}
REPLACEMENTS = [5, 1.5, "x", True, [], {}, None]
# Free-form JSON: any value is valid there for the SDK (and the server keeps it as given) …
FREE_FORM = ("metadata", "parameters")


def paths(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every path into ``value`` (objects' keys, arrays' indices), outside free-form JSON."""
    if path:
        yield path
    if path and path[-1] in FREE_FORM:
        return
    if isinstance(value, dict):
        for k, v in value.items():
            yield from paths(v, (*path, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from paths(v, (*path, i))


def replaced(event: dict[str, Any], path: tuple[Any, ...], new: Any) -> dict[str, Any]:
    out = copy.deepcopy(event)
    target = out
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = new
    return out


def cases() -> Iterator[Any]:
    for name, (event, _) in EVENTS.items():
        for path in paths(event):
            if path == ("type",):
                continue
            yield pytest.param(name, path, id=f"{name}:{'.'.join(map(str, path))}")


def engine() -> Engine:
    e = Engine(model="gpt-realtime", brain=make_brain(None))
    e.receive({"type": "conversation.item.create", "item": {"type": "message", "role": "user", "id": "item_x",
                                                            "content": [{"type": "input_text", "text": "x"}]}})
    return e


def echoed_valid(events: list[dict[str, Any]]) -> None:
    for e in events:
        check_schema(json.loads(encode(e)))


def test_the_full_events_are_valid_and_accepted():
    for name, (event, oracle) in EVENTS.items():
        oracle.validate_python(event, strict=True)
        out = engine().receive(copy.deepcopy(event))
        assert out and out[0]["type"] != "error", (name, out)
        echoed_valid(out)


@pytest.mark.parametrize(("name", "path"), list(cases()))
def test_each_leaf_of_each_type(name, path):
    event, oracle = EVENTS[name]
    for new in REPLACEMENTS:
        mutated = replaced(event, path, new)
        e = engine()
        before = copy.deepcopy(e.session)
        out = e.receive(copy.deepcopy(mutated))
        try:
            oracle.validate_python(mutated, strict=True)
        except ValidationError:
            assert out and out[0]["type"] == "error", f"the SDK rejects {path} = {new!r}; the server accepted it"
        if out and out[0]["type"] == "error":
            assert e.session == before
        else:
            echoed_valid(out)
