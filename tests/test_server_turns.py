"""The local server's event orders for text, tool and out-of-band turns (docs/protocol.md §4 b, e, f)."""

from __future__ import annotations

import json

import pytest
from rtclient import RawClient, types, user_text

SIGNS = ["Aries", "Taurus", "Gemini", "Cancer", "Leo", "Virgo", "Libra", "Scorpio", "Sagittarius",
         "Capricorn", "Aquarius", "Pisces"]
HOROSCOPE_TOOL = {
    "type": "function",
    "name": "generate_horoscope",
    "description": "Give today's horoscope for an astrological sign.",
    "parameters": {"type": "object", "properties": {"sign": {
        "type": "string", "description": "The sign for the horoscope.", "enum": SIGNS}}, "required": ["sign"]},
}

TEXT_TURN = [
    "conversation.item.added", "conversation.item.done", "response.created", "response.output_item.added",
    "conversation.item.added", "response.content_part.added",
]
TEXT_TAIL = ["response.output_text.done", "response.content_part.done", "conversation.item.done",
             "response.output_item.done", "response.done", "rate_limits.updated"]


@pytest.fixture
def client(server):
    with RawClient(server.url) as c:
        first = c.recv()
        assert first["type"] == "session.created"
        yield c


def text_session(c: RawClient, **extra):
    c.send({"type": "session.update", "session": {"type": "realtime", "output_modalities": ["text"], **extra}})
    return c.until("session.updated")[-1]["session"]


def strip_deltas(names):
    return [n for n in names if not n.endswith(".delta")]


def test_session_created_has_live_defaults(server):
    with RawClient(server.url, model="gpt-realtime-mini") as c:
        s = c.recv()["session"]
    assert s["model"] == "gpt-realtime-mini" and s["id"].startswith("sess_")
    assert s["output_modalities"] == ["audio"] and s["tool_choice"] == "auto" and s["tools"] == []
    assert s["audio"]["output"] == {"format": {"type": "audio/pcm", "rate": 24000}, "voice": "alloy", "speed": 1.0}
    assert s["audio"]["input"]["turn_detection"] == {
        "type": "server_vad", "threshold": 0.5, "prefix_padding_ms": 300, "silence_duration_ms": 200,
        "idle_timeout_ms": None, "create_response": True, "interrupt_response": True}
    assert s["max_output_tokens"] == "inf" and s["truncation"] == "auto" and s["expires_at"] > 0


def test_text_turn_exact_order(client):
    text_session(client)
    client.send(user_text("What Prince album sold the most copies?"))
    client.send({"type": "response.create"})
    events = client.until("rate_limits.updated")
    names = types(events)
    assert strip_deltas(names) == TEXT_TURN + TEXT_TAIL
    deltas = [e["delta"] for e in events if e["type"] == "response.output_text.delta"]
    assert len(deltas) > 1
    assert "".join(deltas) == "You said: What Prince album sold the most copies?"
    done = next(e for e in events if e["type"] == "response.done")["response"]
    assert done["status"] == "completed" and done["conversation_id"].startswith("conv_")
    assert done["output"][0]["content"] == [{"type": "output_text", "text": "".join(deltas)}]
    usage = done["usage"]
    assert usage["total_tokens"] == usage["input_tokens"] + usage["output_tokens"] > 0
    assert set(usage["input_token_details"]) >= {"text_tokens", "audio_tokens", "cached_tokens",
                                                 "cached_tokens_details"}
    user_added, assistant_added = events[0], events[4]
    assert assistant_added["previous_item_id"] == user_added["item"]["id"]


def test_response_level_text_only_modality(client):
    client.send(user_text("hello there"))
    client.send({"type": "response.create", "response": {"output_modalities": ["text"]}})
    events = client.until("response.done")
    assert "response.output_audio.delta" not in types(events)
    assert events[-1]["response"]["output_modalities"] == ["text"]


def test_horoscope_function_call_turn(client):
    text_session(client, tools=[HOROSCOPE_TOOL], tool_choice="auto")
    client.send(user_text("What is my horoscope? I am an aquarius."))
    client.send({"type": "response.create"})
    events = client.until("rate_limits.updated")
    assert strip_deltas(types(events)) == [
        "conversation.item.added", "conversation.item.done", "response.created", "response.output_item.added",
        "conversation.item.added", "response.function_call_arguments.done", "conversation.item.done",
        "response.output_item.done", "response.done", "rate_limits.updated"]
    call = events[-2]["response"]["output"][0]
    assert call["type"] == "function_call" and call["name"] == "generate_horoscope"
    assert json.loads(call["arguments"]) == {"sign": "Aquarius"} and call["call_id"].startswith("call_")
    client.send({"type": "conversation.item.create", "item": {
        "type": "function_call_output", "call_id": call["call_id"],
        "output": json.dumps({"horoscope": "You will soon meet a new friend."})}})
    client.send({"type": "response.create"})
    events = client.until("response.done")
    text = events[-1]["response"]["output"][0]["content"][0]["text"]
    assert text == 'generate_horoscope returned: {"horoscope": "You will soon meet a new friend."}'


def test_out_of_band_response_adds_nothing(client):
    text_session(client)
    client.send(user_text("My printer is broken, I need support."))
    client.send({"type": "response.create"})
    client.until("rate_limits.updated")
    client.send({"type": "response.create", "response": {
        "conversation": "none", "metadata": {"topic": "classification"}, "output_modalities": ["text"],
        "instructions": 'If it is related to support, output "support". If it is related to sales, output "sales".'}})
    events = client.until("rate_limits.updated")
    assert not [e for e in events if e["type"].startswith("conversation.item")]
    assert strip_deltas(types(events)) == [
        "response.created", "response.output_item.added", "response.content_part.added",
        "response.output_text.done", "response.content_part.done", "response.output_item.done",
        "response.done", "rate_limits.updated"]
    created, done = events[0]["response"], events[-2]["response"]
    assert created["conversation_id"] is None and created["metadata"] == {"topic": "classification"}
    assert done["metadata"] == {"topic": "classification"}
    assert done["output"][0]["content"][0]["text"] == "support"


def test_concurrent_out_of_band_responses_and_custom_context(client):
    text_session(client)
    client.send(user_text("I want to buy pizza with pineapple"))
    added = client.until("conversation.item.done")[-1]["item"]
    for topic in ("pizza", "other"):
        client.send({"type": "response.create", "response": {
            "conversation": "none", "metadata": {"topic": topic}, "output_modalities": ["text"],
            "input": [{"type": "item_reference", "id": added["id"]},
                      {"type": "message", "role": "user",
                       "content": [{"type": "input_text", "text": f"Is it okay to put pineapple on {topic}?"}]}]}})
    events = client.until("rate_limits.updated")
    events += client.until("rate_limits.updated")
    dones = {e["response"]["metadata"]["topic"]: e["response"] for e in events if e["type"] == "response.done"}
    assert dones["pizza"]["output"][0]["content"][0]["text"] == "You said: Is it okay to put pineapple on pizza?"
    assert dones["other"]["output"][0]["content"][0]["text"] == "You said: Is it okay to put pineapple on other?"
    assert dones["pizza"]["id"] != dones["other"]["id"]
    # neither the input items nor the outputs were added: retrieve shows only the one user item
    client.send({"type": "conversation.item.retrieve", "item_id": added["id"]})
    assert client.until("conversation.item.retrieved")[-1]["item"]["id"] == added["id"]
    assert not [e for e in events if e["type"].startswith("conversation.item")]


def test_no_context_response_is_added_to_conversation(client):
    text_session(client)
    client.send(user_text("something unrelated"))
    client.until("conversation.item.done")
    client.send({"type": "response.create", "response": {"input": [], "instructions": (
        "Say exactly the following:\nI'm a little teapot, short and stout! This is my handle, this is my spout!")}})
    events = client.until("response.done")
    assert "conversation.item.added" in types(events)
    assert events[-1]["response"]["output"][0]["content"][0]["text"] == (
        "I'm a little teapot, short and stout! This is my handle, this is my spout!")


def test_unknown_item_reference_is_an_error(client):
    client.send({"type": "response.create", "event_id": "ev1", "response": {
        "conversation": "none", "input": [{"type": "item_reference", "id": "item_nope"}]}})
    err = client.until("error")[-1]["error"]
    assert err["code"] == "invalid_value" and err["event_id"] == "ev1" and "item_nope" in err["message"]


def test_cancel_and_cancel_not_active(client):
    client.send({"type": "response.cancel", "event_id": "c1"})
    err = client.until("error")[-1]["error"]
    assert err == {"type": "invalid_request_error", "code": "response_cancel_not_active",
                   "message": "Cancellation failed: no active response found", "param": None, "event_id": "c1"}
    client.send(user_text("say something long"))
    client.send({"type": "response.create"})
    client.send({"type": "response.cancel"})
    events = client.until("response.done")
    done = events[-1]["response"]
    assert done["status"] == "cancelled"
    assert done["status_details"] == {"type": "cancelled", "reason": "client_cancelled"}


def test_rate_limits_after_each_response_done(client):
    text_session(client)
    client.send(user_text("one"))
    client.send({"type": "response.create"})
    events = client.until("rate_limits.updated")
    assert types(events)[-2:] == ["response.done", "rate_limits.updated"]
    limits = events[-1]["rate_limits"]
    assert limits[0]["name"] == "tokens" and limits[0]["remaining"] <= limits[0]["limit"]


def test_max_output_tokens_makes_response_incomplete(client):
    text_session(client)
    client.send(user_text("a rather long sentence that will not fit into three tokens at all"))
    client.send({"type": "response.create", "response": {"max_output_tokens": 3}})
    done = client.until("response.done")[-1]["response"]
    assert done["status"] == "incomplete"
    assert done["status_details"] == {"type": "incomplete", "reason": "max_output_tokens"}
    assert len(done["output"][0]["content"][0]["text"]) <= 12


def test_item_create_positions_and_errors(client):
    client.send(user_text("second"))
    second = client.until("conversation.item.done")[-1]["item"]["id"]
    client.send(user_text("first", previous_item_id="root"))
    added = client.until("conversation.item.done")
    assert added[0]["previous_item_id"] is None
    first = added[0]["item"]["id"]
    client.send({**user_text("between"), "previous_item_id": first})
    assert client.until("conversation.item.done")[0]["previous_item_id"] == first
    client.send({**user_text("nowhere"), "previous_item_id": "item_missing", "event_id": "p1"})
    err = client.until("error")[-1]["error"]
    assert (err["code"], err["param"], err["event_id"]) == ("invalid_value", "previous_item_id", "p1")
    client.send({"type": "conversation.item.create", "event_id": "dup",
                 "item": {"id": second, "type": "message", "role": "user",
                          "content": [{"type": "input_text", "text": "again"}]}})
    assert client.until("error")[-1]["error"]["param"] == "item.id"
    client.send({"type": "conversation.item.truncate", "item_id": second, "content_index": 0, "audio_end_ms": 0,
                 "event_id": "t1"})
    err = client.until("error")[-1]["error"]
    assert err["event_id"] == "t1" and "assistant" in err["message"]
    # the echo brain sees the conversation in order: root-inserted "first" comes before "second"
    client.send({"type": "response.create", "response": {"output_modalities": ["text"]}})
    assert client.until("response.done")[-1]["response"]["output"][0]["content"][0]["text"] == "You said: second"


def test_in_band_response_echoes_metadata(client):
    """The Session tells its responses from VAD ones by a metadata entry: echoed in both response events
    in band too, as the GA server does."""
    text_session(client)
    client.send(user_text("hello"))
    client.send({"type": "response.create", "response": {"metadata": {"realtime_nb_request": "rtnb_1"}}})
    events = client.until("response.done")
    created, done = events[types(events).index("response.created")]["response"], events[-1]["response"]
    assert created["conversation_id"] is not None
    assert created["metadata"] == done["metadata"] == {"realtime_nb_request": "rtnb_1"}
