"""As strict as the schema: what the openai SDK's types forbid, the server refuses with the exact param.

Every case here is first checked against the SDK's own client-event model (the oracle), so the table
cannot drift from the schema; then the server must answer ``error`` with the code and ``param`` and
leave the session exactly as it was. What it accepts, it echoes back valid (``RawClient`` checks every
event it receives against ``openai.types.realtime.RealtimeServerEvent``).
"""

from __future__ import annotations

import pytest
from openai.types.realtime import ConversationItemCreateEvent, ResponseCreateEvent, SessionUpdateEvent
from pydantic import TypeAdapter, ValidationError
from rtclient import RawClient, user_text

ORACLE = {"session.update": TypeAdapter(SessionUpdateEvent), "response.create": TypeAdapter(ResponseCreateEvent),
          "conversation.item.create": TypeAdapter(ConversationItemCreateEvent)}


@pytest.fixture
def client(server):
    with RawClient(server.url) as c:
        assert c.recv()["type"] == "session.created"
        c.send({"type": "session.update", "session": {"type": "realtime", "output_modalities": ["text"]}})
        c.until("session.updated")
        yield c


def session_now(c: RawClient) -> dict:
    c.send({"type": "session.update", "session": {"type": "realtime"}})
    return {k: v for k, v in c.until("session.updated")[-1]["session"].items() if k != "expires_at"}


def upd(**fields) -> dict:
    return {"type": "session.update", "session": {"type": "realtime", **fields}}


FUNC = {"type": "function", "name": "f", "parameters": {"type": "object", "properties": {}}}
FORBIDDEN = [
    (upd(prompt="p-1"), "invalid_type", "session.prompt"),
    (upd(prompt={"version": "1"}), "missing_required_parameter", "session.prompt.id"),
    (upd(prompt={"id": "p", "variables": {"a": 5}}), "invalid_type", "session.prompt.variables.a"),
    (upd(truncation={"type": "retention_ratio"}), "missing_required_parameter", "session.truncation.retention_ratio"),
    (upd(truncation={"type": "retention_ratio", "retention_ratio": "half"}), "invalid_type",
     "session.truncation.retention_ratio"),
    (upd(truncation="sometimes"), "invalid_value", "session.truncation"),
    (upd(reasoning={"effort": "bogus"}), "invalid_value", "session.reasoning.effort"),
    (upd(reasoning="high"), "invalid_type", "session.reasoning"),
    (upd(tool_choice={"type": "function"}), "missing_required_parameter", "session.tool_choice.name"),
    (upd(tool_choice={"type": "mcp"}), "missing_required_parameter", "session.tool_choice.server_label"),
    (upd(tools=[{"type": "mcp", "server_url": "http://x"}]), "missing_required_parameter",
     "session.tools[0].server_label"),
    (upd(tools=[{**FUNC, "description": 5}]), "invalid_type", "session.tools[0].description"),
    (upd(tools=[{"type": "mcp", "server_label": "s", "require_approval": "sometimes"}]), "invalid_value",
     "session.tools[0].require_approval"),
    (upd(tracing={"workflow_name": 3}), "invalid_type", "session.tracing.workflow_name"),
    (upd(tracing="manual"), "invalid_value", "session.tracing"),
    (upd(parallel_tool_calls="yes"), "invalid_type", "session.parallel_tool_calls"),
    (upd(audio={"input": {"transcription": {"language": [None]}}}), "invalid_type",
     "session.audio.input.transcription.language"),
    (upd(audio={"input": {"transcription": {"keywords": "a b"}}}), "invalid_type",
     "session.audio.input.transcription.keywords"),
    (upd(include=["everything"]), "invalid_value", "session.include[0]"),
    ({"type": "response.create", "response": {"prompt": "p"}}, "invalid_type", "response.prompt"),
    ({"type": "response.create", "response": {"reasoning": {"effort": "max"}}}, "invalid_value",
     "response.reasoning.effort"),
    ({"type": "response.create", "response": {"tool_choice": {"type": "function"}}}, "missing_required_parameter",
     "response.tool_choice.name"),
    ({"type": "response.create", "response": {"parallel_tool_calls": 1}}, "invalid_type",
     "response.parallel_tool_calls"),
    ({"type": "conversation.item.create", "item": {"type": "function_call", "name": "f", "arguments": "{}",
                                                   "call_id": 7}}, "invalid_type", "item.call_id"),
    ({"type": "conversation.item.create", "item": {"type": "function_call_output", "call_id": ["c"],
                                                   "output": "x"}}, "invalid_type", "item.call_id"),
    ({"type": "conversation.item.create", "item": {"type": "message", "role": "user", "status": "done",
                                                   "content": []}}, "invalid_value", "item.status"),
    ({"type": "conversation.item.create", "item": {"type": "message", "role": "assistant",
                                                   "content": [{"type": "text", "text": "beta shape"}]}},
     "invalid_value", "item.content[0].type"),
    ({"type": "conversation.item.create", "item": {"type": "message", "role": "user", "content": [
        {"type": "input_audio", "audio": "", "transcript": 5}]}}, "invalid_type", "item.content[0].transcript"),
]


@pytest.mark.parametrize(("event", "code", "param"), FORBIDDEN)
def test_what_the_schema_forbids_is_refused_and_changes_nothing(client, event, code, param):
    with pytest.raises(ValidationError):  # the oracle agrees the event is invalid
        ORACLE[event["type"]].validate_python(event, strict=True)
    before = session_now(client)
    client.send({**event, "event_id": "s-1"})
    err = client.until("error")[-1]["error"]
    assert (err["code"], err["param"], err["event_id"]) == (code, param, "s-1"), err
    assert session_now(client) == before


@pytest.mark.parametrize("schema", [
    {"type": "object", "properties": []},
    {"type": "object", "properties": {"sign": "a string"}},
    {"type": "object", "properties": {"sign": {"type": "string", "enum": "Aries"}}},
    {"type": "object", "required": "sign"},
    {"type": 5},
])
def test_a_malformed_tool_schema_is_invalid_value_on_the_event_that_carried_it(client, schema):
    tool = {"type": "function", "name": "horoscope", "parameters": schema}
    client.send({**upd(tools=[tool]), "event_id": "t-1"})
    err = client.until("error")[-1]["error"]
    assert (err["code"], err["event_id"]) == ("invalid_value", "t-1") and err["param"].startswith(
        "session.tools[0].parameters"), err
    client.send(user_text("horoscope please"))
    client.send({"type": "response.create", "event_id": "t-2", "response": {"tools": [tool]}})
    err = client.until("error")[-1]["error"]
    assert (err["code"], err["event_id"]) == ("invalid_value", "t-2") and err["param"].startswith(
        "response.tools[0].parameters"), err


@pytest.mark.parametrize("fields", [
    {"prompt": {"id": "pmpt_1", "version": "2", "variables": {"name": "Ada", "x": {"type": "input_text",
                                                                                    "text": "t"}}}},
    {"truncation": {"type": "retention_ratio", "retention_ratio": 0.5, "token_limits": {"post_instructions": 1000}}},
    {"truncation": "disabled"},
    {"reasoning": {"effort": "low"}},
    {"tool_choice": {"type": "function", "name": "f"}, "tools": [FUNC]},
    {"tools": [{"type": "mcp", "server_label": "docs", "server_url": "https://example.invalid/mcp",
                "require_approval": {"never": {"tool_names": ["search"]}}, "allowed_tools": ["search"]}]},
    {"tool_choice": {"type": "mcp", "server_label": "docs", "name": "search"}},
    {"tracing": {"workflow_name": "class", "group_id": "g", "metadata": {"a": [1, None]}}},
    {"tracing": "auto"},
    {"audio": {"output": {"voice": {"id": "voice_custom_1"}}}},
    {"parallel_tool_calls": False},
])
def test_what_the_schema_allows_is_accepted_and_echoed_valid(client, fields):
    event = upd(**fields)
    ORACLE["session.update"].validate_python(event, strict=True)
    client.send(event)
    session = client.until("session.updated")[-1]["session"]  # RawClient validated it with the SDK types
    for key, value in fields.items():
        if key != "audio":
            assert session[key] == value


def test_a_custom_voice_in_response_create_is_echoed_as_its_id(client):
    client.send(user_text("hi"))
    client.send({"type": "response.create", "response": {"audio": {"output": {"voice": {"id": "voice_x"}}}}})
    done = client.until("response.done")[-1]  # validated: the response object's voice must be a string
    assert done["response"]["audio"]["output"]["voice"] == "voice_x"


def test_truncating_an_item_without_audio_is_unsupported_content_type(client):
    client.send(user_text("say something"))
    client.send({"type": "response.create"})
    item = client.until("response.done")[-1]["response"]["output"][0]
    assert item["content"][0]["type"] == "output_text"
    client.send({"type": "conversation.item.truncate", "item_id": item["id"], "content_index": 0,
                 "audio_end_ms": 0, "event_id": "tr-1"})
    err = client.until("error")[-1]["error"]
    assert (err["code"], err["event_id"]) == ("unsupported_content_type", "tr-1"), err
