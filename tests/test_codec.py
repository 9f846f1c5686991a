"""The JSON codec: ``decode`` (fast path and errors) and ``clone`` (the reducer's copy of JSON values)."""

from __future__ import annotations

import copy
import json
import math
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from realtime_nb.protocol.codec import clone, decode, encode
from realtime_nb.protocol.errors import EventError

_leaves = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8)
json_values = st.recursive(_leaves, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(st.text(max_size=6), inner, max_size=4), max_leaves=30)


def _containers(value: Any) -> list[Any]:
    """Every dict and list in a tree, the root first."""
    if isinstance(value, dict):
        return [value, *(c for v in value.values() for c in _containers(v))]
    if isinstance(value, list):
        return [value, *(c for v in value for c in _containers(v))]
    return []


# -- clone ----------------------------------------------------------------------------------------------

@settings(max_examples=300, deadline=None)
@given(json_values)
def test_property_clone_equals_deepcopy_and_shares_no_container(value: Any) -> None:
    copied = clone(value)
    assert copied == value == copy.deepcopy(value)
    assert json.dumps(copied) == json.dumps(value)  # same key order too
    originals = {id(c) for c in _containers(value)}
    assert not any(id(c) in originals for c in _containers(copied))


def test_clone_cannot_reach_the_original() -> None:
    event = {"type": "response.done", "response": {"output": [{"id": "i", "content": [{"text": "hi"}]}],
                                                   "metadata": {"k": "v"}}}
    frozen = copy.deepcopy(event)
    copied = clone(event)
    copied["response"]["output"][0]["content"][0]["text"] = "changed"
    copied["response"]["metadata"].clear()
    copied["response"]["output"].append({"id": "j"})
    assert event == frozen


def test_clone_falls_back_to_deepcopy_outside_json() -> None:
    arr = np.arange(3)
    value = {"pcm": arr, "pair": ([1], 2), "nested": [{"x": arr}]}
    copied = clone(value)
    assert copied["pcm"] is not arr and np.array_equal(copied["pcm"], arr)
    assert copied["pair"] == ([1], 2) and copied["pair"][0] is not value["pair"][0]
    assert copied["nested"][0]["x"] is not arr

    class Tagged(dict):  # type: ignore[type-arg]
        pass

    tagged = Tagged(a=[1])
    assert type(clone(tagged)) is Tagged and clone(tagged)["a"] is not tagged["a"]
    cyclic: dict[str, Any] = {"a": [1]}
    cyclic["self"] = cyclic  # no JSON, but deepcopy's answer (the cycle kept) rather than a RecursionError
    copied = clone(cyclic)
    assert copied["self"] is copied and copied is not cyclic


# -- decode ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("text", ['{"type":"x","n":1}', '  {"type": "x"}\n', '{"a":NaN,"b":-Infinity}',
                                  '{"s":"\\ud800 lone surrogate"}', '{"a":1,"a":2}', '{"big":123456789012345678901234}',
                                  '{"f":0.1,"e":1e400,"u":"\\u00e9\\n"}'])
def test_decode_equals_json_loads(text: str) -> None:
    got, want = decode(text), json.loads(text)
    assert repr(got) == repr(want) and list(got) == list(want)
    if "NaN" in text:
        assert math.isnan(got["a"])


@pytest.mark.parametrize(("frame", "code", "message"), [
    (b'{"type":"x"}', "invalid_event", "binary message"),
    ('[1, 2]', "invalid_json", "got an array"),
    ('"text"', "invalid_json", "got a string"),
    ('{"a":1} {"b":2}', "invalid_json", "Extra data"),
    ('{"a":1', "invalid_json", "Expecting"),
    ('', "invalid_json", "Expecting value"),
    ('\ufeff{"a":1}', "invalid_json", "BOM"),
    ('[' * 100_000, "invalid_json", "RecursionError"),
])
def test_decode_errors(frame: Any, code: str, message: str) -> None:
    with pytest.raises(EventError, match=message) as info:
        decode(frame)
    assert info.value.code == code


def test_encode_decode_round_trip() -> None:
    event = {"type": "conversation.item.create", "item": {"content": [{"text": "héllo ✓"}]}}
    frame = encode(event)
    assert "✓" in frame and " " not in frame.replace("héllo ✓", "")
    assert decode(frame) == event


def test_encode_never_fails_on_a_lone_surrogate() -> None:
    """UTF-8 cannot carry a lone surrogate: such an event goes out escaped, and decodes back the same."""
    event = {"type": "x", "text": "caf\u00e9 \ud800"}
    frame = encode(event)
    frame.encode("utf-8")  # what the websocket does with a text frame
    assert json.loads(frame) == event
    assert encode({"text": "caf\u00e9"}) == '{"text":"caf\u00e9"}'  # valid text stays unescaped
