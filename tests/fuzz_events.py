"""Hypothesis strategies for client events: every type and field, valid values mixed with the hostile.

Shared by the fuzz tests (tests/test_server_fuzz.py) and the long opt-in run (bench/fuzz_server.py).
Each field draws a valid value most of the time, else ``null``, a value of the wrong JSON type, a lone
UTF-16 surrogate, an unhashable value, or JSON nested hundreds of levels deep.
"""

from __future__ import annotations

import base64
from typing import Any

from hypothesis import strategies as st

from realtime_nb.protocol.events import ACCEPTED_CLIENT_TYPES, VOICES

SURROGATES = st.sampled_from(["\ud800", "a\udfffb", "\udc00\ud800"])


def nested(depth: int) -> Any:
    value: Any = "leaf"
    for i in range(depth):
        value = {"a": value} if i % 2 else [value]
    return value


json_leaf = (st.none() | st.booleans() | st.integers(-2**40, 2**40) | st.floats(allow_nan=False)
             | st.text(max_size=12) | SURROGATES)
json_values = st.recursive(json_leaf, lambda inner: st.lists(inner, max_size=3)
                           | st.dictionaries(st.text(max_size=6), inner, max_size=3), max_leaves=8)
hostile = json_values | st.integers(400, 600).map(nested) | st.just([]) | st.just({})


def weighted(choices: list[tuple[int, st.SearchStrategy[Any]]]) -> st.SearchStrategy[Any]:
    """Draw from one of ``choices`` with the given odds (``one_of`` would merge repeated branches)."""
    table = [strategy for weight, strategy in choices for _ in range(weight)]
    return st.integers(0, len(table) - 1).flatmap(lambda i: table[i])


def mix(valid: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Mostly ``valid`` (so that whole events often pass and get echoed), sometimes ``null`` or hostile."""
    return weighted([(10, valid), (1, st.none()), (1, hostile)])


def obj(required: dict[str, st.SearchStrategy[Any]] | None = None,
        optional: dict[str, st.SearchStrategy[Any]] | None = None) -> st.SearchStrategy[dict[str, Any]]:
    """An object whose fields are each drawn with ``mix``; now and then an unknown key too."""
    base = st.fixed_dictionaries({k: mix(v) for k, v in (required or {}).items()},
                                 optional={k: mix(v) for k, v in (optional or {}).items()})
    extra = st.dictionaries(st.sampled_from(["zzz", "modalities", "voice", "temperature"]), json_leaf, max_size=1)
    return weighted([(8, base), (1, st.builds(lambda a, b: {**a, **b}, base, extra))])


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


text = weighted([(8, st.text(max_size=40)), (1, SURROGATES)])
audio_b64 = st.one_of(
    st.binary(max_size=4800).map(b64),                        # any length: odd lengths are invalid PCM
    st.integers(1, 40).map(lambda n: b64(b"\x00\x01" * 240 * n)),
    st.sampled_from(["", "%%%", "AAA", "////"]),
)
audio_format = obj({"type": st.sampled_from(["audio/pcm", "audio/pcmu", "audio/pcma", "audio/x"])},
                   {"rate": st.sampled_from([24000, 16000, 48000])})
schema = st.recursive(
    st.fixed_dictionaries({}, optional={"type": st.sampled_from(["string", "number", "integer", "boolean"]),
                                        "enum": st.lists(st.text(max_size=6), max_size=3),
                                        "description": text}),
    lambda inner: st.fixed_dictionaries({"type": st.just("object")},
                                        optional={"properties": st.dictionaries(st.text(max_size=6), inner,
                                                                                max_size=3),
                                                  "required": st.lists(st.text(max_size=6), max_size=2)}),
    max_leaves=6)
function_tool = obj({"type": st.just("function"), "name": st.text(min_size=1, max_size=12)},
                    {"description": text, "parameters": schema | json_values})
mcp_tool = obj({"type": st.just("mcp"), "server_label": st.text(min_size=1, max_size=12)},
               {"server_url": text, "require_approval": st.sampled_from(["always", "never"]),
                "allowed_tools": st.lists(st.text(max_size=6), max_size=2), "headers": st.dictionaries(
                    st.text(max_size=6), st.text(max_size=6), max_size=2)})
tools = st.lists(function_tool | mcp_tool, max_size=3)
tool_choice = st.one_of(st.sampled_from(["auto", "none", "required", "bogus"]),
                        obj({"type": st.just("function")}, {"name": st.text(max_size=8)}),
                        obj({"type": st.just("mcp")}, {"server_label": st.text(max_size=8), "name": text}))
voice = st.sampled_from([*VOICES, "nobody"]) | obj({"id": st.text(max_size=8)})
turn_detection = st.none() | obj({"type": st.sampled_from(["server_vad", "semantic_vad", "other"])}, {
    "threshold": st.floats(0, 1), "prefix_padding_ms": st.integers(0, 1000),
    "silence_duration_ms": st.integers(0, 2000), "idle_timeout_ms": st.none() | st.integers(4000, 31000),
    "create_response": st.booleans(), "interrupt_response": st.booleans(),
    "eagerness": st.sampled_from(["low", "high", "auto", "x"])})
session = obj({"type": st.sampled_from(["realtime"] * 8 + ["transcription", "x"])}, {
    "instructions": text,
    "output_modalities": st.sampled_from([["text"]] * 3 + [["audio"], ["text", "audio"], []]),
    "audio": obj(None, {
        "input": obj(None, {"format": audio_format, "turn_detection": turn_detection,
                            "transcription": st.none() | obj(None, {"model": st.sampled_from(
                                ["whisper-1", "gpt-4o-transcribe", "nope"]), "language": text, "prompt": text}),
                            "noise_reduction": st.none() | obj({"type": st.sampled_from(["near_field", "x"])})}),
        "output": obj(None, {"format": audio_format, "voice": voice, "speed": st.floats(0.2, 1.6)})}),
    "tools": tools, "tool_choice": tool_choice,
    "max_output_tokens": st.integers(0, 4200) | st.just("inf"),
    "truncation": st.sampled_from(["auto", "disabled", "x"]) | obj(
        {"type": st.just("retention_ratio")}, {"retention_ratio": st.floats(0, 1.5)}),
    "tracing": st.none() | st.just("auto") | obj(None, {"workflow_name": text, "group_id": text,
                                                         "metadata": json_values}),
    "prompt": st.none() | obj({"id": st.text(max_size=8)}, {"version": text, "variables": st.dictionaries(
        st.text(max_size=6), text | obj({"type": st.just("input_text"), "text": text}), max_size=2)}),
    "include": st.none() | st.just(["item.input_audio_transcription.logprobs"]),
    "parallel_tool_calls": st.booleans(),
    "reasoning": obj(None, {"effort": st.sampled_from(["minimal", "low", "medium", "high", "xhigh", "bogus"])}),
})
content_part = st.one_of(
    obj({"type": st.just("input_text"), "text": text}),
    obj({"type": st.just("input_audio"), "audio": audio_b64}, {"transcript": text}),
    obj({"type": st.just("input_image"), "image_url": st.just("data:image/png;base64,AAAA")},
        {"detail": st.sampled_from(["auto", "low", "high", "x"])}),
    obj({"type": st.sampled_from(["output_text", "text"]), "text": text}),
    obj({"type": st.just("output_audio")}, {"transcript": text}),
)
role = st.sampled_from(["user", "assistant", "system", "robot"]) | st.just([]) | st.just({})
item = st.one_of(
    obj({"type": st.just("message"), "role": role, "content": st.lists(content_part, max_size=3)},
        {"id": st.text(max_size=8), "status": st.sampled_from(["completed", "in_progress", "x"]),
         "object": st.just("realtime.item")}),
    obj({"type": st.just("function_call"), "name": st.text(max_size=8), "arguments": text},
        {"call_id": st.text(max_size=8), "id": st.text(max_size=8)}),
    obj({"type": st.just("function_call_output"), "call_id": st.text(max_size=8), "output": text},
        {"id": st.text(max_size=8)}),
    obj({"type": st.just("item_reference"), "id": st.text(max_size=8)}),
)
response = obj(None, {
    "conversation": st.sampled_from(["auto", "none", "other"]),
    "input": st.lists(item, max_size=3), "instructions": text,
    "output_modalities": st.sampled_from([["text"], ["audio"], ["x"]]),
    "audio": obj(None, {"output": obj(None, {"format": audio_format, "voice": voice})}),
    "tools": tools, "tool_choice": tool_choice, "max_output_tokens": st.integers(0, 5000) | st.just("inf"),
    "metadata": st.dictionaries(st.text(max_size=6), text, max_size=3),
    "prompt": obj({"id": st.text(max_size=8)}), "parallel_tool_calls": st.booleans(),
    "reasoning": obj(None, {"effort": st.sampled_from(["low", "bogus"])}),
})
item_id = st.text(max_size=8) | st.sampled_from(["root", "item_missing"])

FIELDS: dict[str, tuple[dict[str, st.SearchStrategy[Any]], dict[str, st.SearchStrategy[Any]]]] = {
    "session.update": ({"session": session}, {}),
    "input_audio_buffer.append": ({"audio": audio_b64}, {}),
    "session.input_audio_buffer.append": ({"audio": audio_b64}, {}),
    "input_audio_buffer.commit": ({}, {}),
    "input_audio_buffer.clear": ({}, {}),
    "conversation.item.create": ({"item": item}, {"previous_item_id": item_id}),
    "conversation.item.truncate": ({"item_id": item_id, "content_index": st.integers(-1, 2),
                                    "audio_end_ms": st.integers(-10, 5000)}, {}),
    "conversation.item.delete": ({"item_id": item_id}, {}),
    "conversation.item.retrieve": ({"item_id": item_id}, {}),
    "response.create": ({}, {"response": response}),
    "response.cancel": ({}, {"response_id": st.text(max_size=8)}),
}
assert set(FIELDS) == set(ACCEPTED_CLIENT_TYPES) - {"session.close"}


def client_event(types: list[str] | None = None) -> st.SearchStrategy[dict[str, Any]]:
    """One client event of ``types`` (all but ``session.close`` by default), without ``event_id``."""
    names = types or sorted(FIELDS)
    return st.one_of(*[st.builds(lambda body, t=t: {"type": t, **body}, obj(*FIELDS[t])) for t in names])


odd_types = st.sampled_from(["x.y", "response.done", "output_audio_buffer.clear", "transcription_session.update"])
any_event = client_event() | st.builds(lambda t, body: {"type": t, **body}, odd_types,
                                       st.dictionaries(st.sampled_from(["session", "item"]), json_values, max_size=2))
