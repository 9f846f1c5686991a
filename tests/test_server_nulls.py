"""``null`` means "not given" for every optional field of every client event, as on the live service.

Clients send explicit nulls for fields they leave unset (livekit's ``generate_reply()`` sends
``response.create`` with ``"instructions": null``); the session's value applies. Error messages name
JSON types (``null``, ``an integer`` …), never Python's.
"""

from __future__ import annotations

import pytest
from rtclient import RawClient, user_text

from realtime_nb.protocol.errors import invalid_type, invalid_value


@pytest.fixture
def client(server):
    with RawClient(server.url) as c:
        assert c.recv()["type"] == "session.created"
        c.send({"type": "session.update", "session": {"type": "realtime", "output_modalities": ["text"],
                                                      "instructions": "Be brief."}})
        c.until("session.updated")
        yield c


def test_livekit_generate_reply_with_null_instructions_gets_an_answer(client):
    client.send(user_text("hello there"))
    client.send({"type": "response.create", "event_id": "lk-1",
                 "response": {"instructions": None}})
    events = client.until("response.done")
    assert not [e for e in events if e["type"] == "error"]
    assert events[-1]["response"]["output"][0]["content"][0]["text"] == "You said: hello there"


def test_every_optional_response_field_may_be_null(client):
    client.send(user_text("all nulls"))
    client.send({"type": "response.create", "event_id": None, "response": {
        "conversation": None, "input": None, "instructions": None, "output_modalities": None,
        "audio": {"output": {"format": None, "voice": None}}, "tools": None, "tool_choice": None,
        "max_output_tokens": None, "metadata": None, "prompt": None, "parallel_tool_calls": None,
        "reasoning": None}})
    events = client.until("response.done")
    assert not [e for e in events if e["type"] == "error"]
    done = events[-1]["response"]
    assert done["output_modalities"] == ["text"]  # the session's value applied
    assert done["conversation_id"] is not None and done["metadata"] is None
    assert done["output"][0]["content"][0]["text"] == "You said: all nulls"


def test_null_session_fields_keep_the_session_value(client):
    client.send({"type": "session.update", "session": {
        "type": "realtime", "instructions": None, "output_modalities": None, "tools": None, "tool_choice": None,
        "max_output_tokens": None, "truncation": None, "reasoning": None, "parallel_tool_calls": None,
        "audio": {"input": {"format": None}, "output": {"voice": None, "speed": None, "format": None}}}})
    session = client.until("session.updated")[-1]["session"]
    assert session["instructions"] == "Be brief." and session["output_modalities"] == ["text"]
    assert session["audio"]["output"]["voice"] == "alloy" and session["audio"]["output"]["speed"] == 1.0
    assert session["tool_choice"] == "auto" and session["truncation"] == "auto"


def test_null_that_is_a_value_still_switches_things_off(client):
    client.send({"type": "session.update", "session": {
        "type": "realtime", "tracing": None, "audio": {"input": {"turn_detection": None, "transcription": None}}}})
    session = client.until("session.updated")[-1]["session"]
    assert session["audio"]["input"]["turn_detection"] is None and session["tracing"] is None


def test_null_item_fields_are_not_given(client):
    client.send({"type": "conversation.item.create", "previous_item_id": None, "item": {
        "id": None, "object": None, "status": None, "type": "message", "role": "user",
        "content": [{"type": "input_text", "text": "hi"}]}})
    added = client.until("conversation.item.added")[-1]["item"]
    assert added["id"].startswith("item_") and added["status"] == "completed"


def test_a_required_field_given_as_null_is_missing(client):
    client.send({"type": "conversation.item.delete", "item_id": None, "event_id": "e-1"})
    err = client.until("error")[-1]["error"]
    assert (err["code"], err["param"], err["event_id"]) == ("missing_required_parameter", "item_id", "e-1")


@pytest.mark.parametrize(("event", "param", "words"), [
    ({"type": "session.update", "session": {"type": "realtime", "instructions": 5}}, "session.instructions",
     "expected a string, but got an integer instead"),
    ({"type": "input_audio_buffer.append", "audio": [1]}, "audio", "but got an array instead"),
    ({"type": "response.create", "response": {"instructions": {"a": 1}}}, "response.instructions",
     "but got an object instead"),
    ({"type": "session.update", "session": {"type": "realtime", "audio": {"output": {"speed": True}}}},
     "session.audio.output.speed", "expected a number, but got a boolean instead"),
])
def test_error_messages_speak_json(client, event, param, words):
    client.send({**event, "event_id": "j-1"})
    err = client.until("error")[-1]["error"]
    assert (err["param"], err["event_id"]) == (param, "j-1")
    assert words in err["message"] and "NoneType" not in err["message"], err["message"]


def test_messages_for_null_say_null():
    assert "but got null instead" in invalid_type("x", "a string", None).message
    assert invalid_value("x", None).message == "Invalid value: 'null'."
    assert invalid_value("x", [1, "a"]).message == "Invalid value: '[1, \"a\"]'."


def test_a_beta_client_can_still_switch_vad_off_with_null(beta_server):
    headers = {"Authorization": "Bearer x", "OpenAI-Beta": "realtime=v1"}
    with RawClient(beta_server.url, headers=headers, validate=False) as c:
        assert c.recv()["type"] == "session.created"
        c.send({"type": "session.update", "session": {"turn_detection": None, "instructions": None}})
        session = c.until("session.updated")[-1]["session"]
        assert session["turn_detection"] is None and session["instructions"]


def test_nulls_inside_free_form_json_are_data(client):
    params = {"type": "object", "properties": {"x": {"type": ["string", "null"], "default": None}}}
    client.send({"type": "session.update", "session": {
        "type": "realtime", "tools": [{"type": "function", "name": "f", "parameters": params}],
        "tracing": {"workflow_name": "w", "metadata": {"k": None}}}})
    session = client.until("session.updated")[-1]["session"]
    assert session["tools"][0]["parameters"] == params and session["tracing"]["metadata"] == {"k": None}
