"""The seed guide's own payloads, sent over a beta-dialect connection (``LocalServer(beta_dialect=True)``),
get the responses it describes."""

from __future__ import annotations

import json

from rtclient import RawClient, types
from test_server_turns import HOROSCOPE_TOOL

BETA = {"Authorization": "Bearer x", "OpenAI-Beta": "realtime=v1"}


def message(text: str) -> dict:
    return {"type": "conversation.item.create", "item": {"type": "message", "role": "user",
                                                         "content": [{"type": "input_text", "text": text}]}}


def test_seed_flows_over_beta(beta_server):
    with RawClient(beta_server.url, headers=BETA, validate=False) as c:
        c.recv()
        # function calling: the seed's session.update (tools + tool_choice) and user message
        c.send({"type": "session.update", "session": {"tools": [HOROSCOPE_TOOL], "tool_choice": "auto",
                                                      "modalities": ["text"]}})
        session = c.until("session.updated")[-1]["session"]
        assert session["tools"][0]["name"] == "generate_horoscope" and session["modalities"] == ["text"]
        c.send(message("What is my horoscope? I am an aquarius."))
        c.send({"type": "response.create"})
        done = c.until("response.done")[-1]
        out = done["response"]["output"][0]
        assert (out["type"], out["name"], json.loads(out["arguments"])) == (
            "function_call", "generate_horoscope", {"sign": "Aquarius"})
        assert out["object"] == "realtime.item" and out["call_id"].startswith("call_")
        usage = done["response"]["usage"]
        assert {"cached_tokens", "text_tokens", "audio_tokens"} <= set(usage["input_token_details"])
        c.send({"type": "conversation.item.create", "item": {
            "type": "function_call_output", "call_id": out["call_id"],
            "output": "{\"horoscope\": \"You will soon meet a new friend.\"}"}})
        c.send({"type": "response.create"})
        reply = c.until("response.done")[-1]["response"]["output"][0]["content"][0]
        assert reply["type"] == "text" and "You will soon meet a new friend." in reply["text"]

        # out-of-band classification with metadata, found by topic in response.done
        c.send(message("My order never arrived and I need help with it. This is a support question."))
        c.send({"type": "response.create", "response": {
            "conversation": "none", "metadata": {"topic": "classification"}, "modalities": ["text"],
            "instructions": '\nAnalyze the conversation so far. If it is related to support, output "support". '
                            'If it is related to sales, output "sales".\n'}})
        events = c.until("response.done")
        done = events[-1]["response"]
        assert done["metadata"] == {"topic": "classification"}
        assert done["output"][0]["content"][0]["text"] == "support"
        names = types(events)
        assert "conversation.item.created" not in names[names.index("response.created"):]

        # custom context with item_reference
        c.send(message("We are talking about pizza toppings."))
        ref = c.until("conversation.item.created")[-1]["item"]["id"]
        c.send({"type": "response.create", "response": {
            "conversation": "none", "metadata": {"topic": "pizza"}, "modalities": ["text"],
            "input": [{"type": "item_reference", "id": ref},
                      {"type": "message", "role": "user",
                       "content": [{"type": "input_text", "text": "Is it okay to put pineapple on pizza?"}]}]}})
        done = c.until("response.done")[-1]["response"]
        assert done["metadata"] == {"topic": "pizza"}
        assert done["output"][0]["content"][0]["text"] == "You said: Is it okay to put pineapple on pizza?"

        # no-context response inserted into the default conversation
        c.send({"type": "response.create", "response": {"input": [], "instructions": (
            "\nSay exactly the following:\nI'm a little teapot, short and stout!\n"
            "This is my handle, this is my spout!\n")}})
        events = c.until("response.done")
        assert "conversation.item.created" in types(events)
        assert events[-1]["response"]["output"][0]["content"][0]["text"] == (
            "I'm a little teapot, short and stout!\nThis is my handle, this is my spout!")

        # error handling
        c.send({"event_id": "my_awesome_event", "type": "scooby.dooby.doo"})
        err = c.until("error")[-1]["error"]
        assert (err["type"], err["code"], err["param"], err["event_id"]) == (
            "invalid_request_error", "invalid_value", "type", "my_awesome_event")
