"""The chat brain against a real local chat-completions streaming server (tests/fakellm.py)."""

from __future__ import annotations

import socket
import subprocess
import sys

import pytest
from fakellm import FakeLLM
from rtclient import RawClient, types, user_text

from realtime_nb.server import BrainError, BrainRequest, CallPart, ChatBrain, LocalServer, SayPart
from realtime_nb.server.brains import make_brain
from realtime_nb.server.chat_brain import chat_tools, messages_from_context

WEATHER = {"type": "function", "name": "get_weather", "description": "Weather for a city.",
           "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}


@pytest.fixture(scope="module")
def llm():
    with FakeLLM() as fake:
        yield fake


@pytest.fixture(scope="module")
def chat_server(llm):
    with LocalServer(brain="chat", llm_url=llm.url, llm_model="fake-model") as srv:
        yield srv


@pytest.fixture
def client(chat_server):
    with RawClient(chat_server.url) as c:
        assert c.recv()["type"] == "session.created"
        yield c


def text_only(c: RawClient, **session) -> None:
    c.send({"type": "session.update", "session": {"type": "realtime", "output_modalities": ["text"], **session}})
    c.until("session.updated")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# -- building the request -------------------------------------------------------------------------------

def test_messages_from_context_covers_every_item_kind():
    context = [
        {"type": "message", "role": "system", "content": [{"type": "input_text", "text": "Be kind."}]},
        {"type": "message", "role": "user", "content": [{"type": "input_audio", "transcript": "weather in Paris"}]},
        {"type": "function_call", "name": "get_weather", "call_id": "c1", "arguments": '{"city": "Paris"}'},
        {"type": "function_call", "name": "get_weather", "call_id": "c2", "arguments": '{"city": "Rome"}'},
        {"type": "function_call_output", "call_id": "c1", "output": "sunny"},
        {"type": "function_call_output", "call_id": "c2", "output": "rainy"},
        {"type": "message", "role": "assistant", "content": [{"type": "output_audio", "transcript": "Sunny."}]},
        {"type": "message", "role": "user", "content": [{"type": "input_audio", "transcript": None}]},
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "and"},
                                                        {"type": "input_text", "text": "tomorrow?"}]},
    ]
    messages = messages_from_context(context, "Answer briefly.")
    assert messages[0] == {"role": "system", "content": "Answer briefly."}
    assert messages[1] == {"role": "system", "content": "Be kind."}
    assert messages[2] == {"role": "user", "content": "weather in Paris"}
    assert messages[3]["role"] == "assistant" and messages[3]["content"] is None
    assert [c["id"] for c in messages[3]["tool_calls"]] == ["c1", "c2"]
    assert messages[3]["tool_calls"][0]["function"] == {"name": "get_weather", "arguments": '{"city": "Paris"}'}
    assert messages[4:6] == [{"role": "tool", "tool_call_id": "c1", "content": "sunny"},
                             {"role": "tool", "tool_call_id": "c2", "content": "rainy"}]
    assert messages[6] == {"role": "assistant", "content": "Sunny."}
    assert messages[7] == {"role": "user", "content": "[inaudible audio]"}
    assert messages[8] == {"role": "user", "content": "and tomorrow?"}
    assert messages_from_context([], "") == []


def test_tools_and_tool_choice_translate():
    assert chat_tools([], "auto") == {}
    out = chat_tools([WEATHER], {"type": "function", "name": "get_weather"})
    assert out["tools"] == [{"type": "function", "function": {
        "name": "get_weather", "description": "Weather for a city.", "parameters": WEATHER["parameters"]}}]
    assert out["tool_choice"] == {"type": "function", "function": {"name": "get_weather"}}
    assert chat_tools([WEATHER], "required")["tool_choice"] == "required"


def test_request_body_maps_max_output_tokens():
    brain = ChatBrain("http://127.0.0.1:1/v1", "m")
    body = brain.request_body(BrainRequest(context=[], max_output_tokens=42, instructions="x"))
    assert body["max_tokens"] == 42 and body["stream"] is True and body["model"] == "m"
    assert "max_tokens" not in brain.request_body(BrainRequest(context=[]))
    assert "tools" not in body


def test_bad_configuration_is_refused():
    with pytest.raises(ValueError, match="model"):
        ChatBrain("http://127.0.0.1:1/v1", "")
    with pytest.raises(ValueError, match="http"):
        ChatBrain("ftp://example/v1", "m")
    with pytest.raises(ValueError, match="llm_model"):
        make_brain("chat", llm_url="http://127.0.0.1:1/v1")


def test_the_brain_streams_parts(llm):
    brain = ChatBrain(llm.url, "fake-model")
    out = list(brain.respond(BrainRequest(context=[
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hi"}]}])))
    assert all(isinstance(o, SayPart) for o in out) and len(out) > 3
    assert "".join(o.text for o in out) == "You asked: hi. I am the fake model."
    calls = list(brain.respond(BrainRequest(context=[], tools=[WEATHER], tool_choice="required")))
    assert calls[0] == CallPart("", name="get_weather") and all(c.name is None for c in calls[1:])


# -- through the server ---------------------------------------------------------------------------------

def test_text_streams_into_text_deltas(client, llm):
    text_only(client, instructions="You are terse.")
    client.send(user_text("Tell me about the sea"))
    client.send({"type": "response.create"})
    events = client.until("response.done")
    deltas = [e["delta"] for e in events if e["type"] == "response.output_text.delta"]
    expected = "You asked: Tell me about the sea. I am the fake model."
    assert len(deltas) > 3 and "".join(deltas) == expected
    assert events[-1]["response"]["status"] == "completed"
    assert events[-1]["response"]["output"][0]["content"][0]["text"] == expected
    body = llm.requests[-1]
    assert body["model"] == "fake-model" and body["stream"] is True
    assert body["messages"][0] == {"role": "system", "content": "You are terse."}
    assert body["messages"][-1] == {"role": "user", "content": "Tell me about the sea"}


def test_audio_mode_speaks_sentence_by_sentence(client):
    client.send(user_text("Sing"))
    client.send({"type": "response.create"})
    events = client.until("response.done", timeout=30)
    audio = [e for e in events if e["type"] == "response.output_audio.delta"]
    transcript = "".join(e["delta"] for e in events if e["type"] == "response.output_audio_transcript.delta")
    assert transcript == "You asked: Sing. I am the fake model." and len(audio) > 5
    names = [n for n in types(events) if not n.endswith(".delta")]
    assert names[-6:] == ["response.output_audio.done", "response.output_audio_transcript.done",
                          "response.content_part.done", "conversation.item.done", "response.output_item.done",
                          "response.done"]


def test_tool_calls_become_function_call_items_with_argument_deltas(client, llm):
    text_only(client, tools=[WEATHER])
    client.send(user_text("get weather in Paris"))
    client.send({"type": "response.create"})
    events = client.until("response.done")
    names = [n for n in types(events) if n != "response.function_call_arguments.delta"]
    assert names[-6:] == ["response.output_item.added", "conversation.item.added",
                          "response.function_call_arguments.done", "conversation.item.done",
                          "response.output_item.done", "response.done"]
    deltas = [e["delta"] for e in events if e["type"] == "response.function_call_arguments.delta"]
    call = events[-1]["response"]["output"][0]
    assert len(deltas) > 1 and "".join(deltas) == call["arguments"] == '{"city": "Paris"}'
    assert call["type"] == "function_call" and call["name"] == "get_weather"
    # the output goes back as a tool message, the call as an assistant tool_calls message
    client.send({"type": "conversation.item.create", "item": {"type": "function_call_output",
                                                              "call_id": call["call_id"], "output": "sunny"}})
    client.send({"type": "response.create"})
    done = client.until("response.done")[-1]["response"]
    assert done["output"][0]["content"][0]["text"] == "The tool said sunny."
    messages = llm.requests[-1]["messages"]
    assert messages[-2]["tool_calls"][0]["id"] == call["call_id"]
    assert messages[-1] == {"role": "tool", "tool_call_id": call["call_id"], "content": "sunny"}
    assert llm.requests[-1]["tool_choice"] == "auto"


def test_out_of_band_response_uses_only_its_input(client, llm):
    text_only(client)
    client.send(user_text("first message"))
    added = client.until("conversation.item.done")[-1]["item"]
    client.send({"type": "response.create", "response": {
        "conversation": "none", "instructions": "Classify.", "metadata": {"topic": "x"},
        "input": [{"type": "item_reference", "id": added["id"]},
                  {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "second"}]}]}})
    events = client.until("response.done")
    assert not any(n.startswith("conversation.item.") for n in types(events))
    assert events[-1]["response"]["conversation_id"] is None
    assert llm.requests[-1]["messages"] == [{"role": "system", "content": "Classify."},
                                            {"role": "user", "content": "first message"},
                                            {"role": "user", "content": "second"}]


def test_max_output_tokens_reaches_the_model_and_ends_incomplete(client, llm):
    text_only(client)
    client.send(user_text("long answer please"))
    client.send({"type": "response.create", "response": {"max_output_tokens": 2}})
    done = client.until("response.done")[-1]["response"]
    assert llm.requests[-1]["max_tokens"] == 2
    assert done["status"] == "incomplete"
    assert done["status_details"] == {"type": "incomplete", "reason": "max_output_tokens"}


def test_a_down_endpoint_fails_the_response_with_the_url():
    url = f"http://127.0.0.1:{free_port()}/v1"
    with LocalServer(brain=ChatBrain(url, "m")) as srv, RawClient(srv.url) as c:
        c.recv()
        c.send({"type": "response.create"})
        events = c.until("rate_limits.updated")
        assert types(events) == ["response.created", "response.done", "rate_limits.updated"]
        response = events[1]["response"]
        assert response["status"] == "failed"
        error = response["status_details"]["error"]
        assert f"{url}/chat/completions" in error["message"] and "cannot reach" in error["message"]
        c.send({"type": "session.update", "session": {"type": "realtime"}})
        assert c.until("session.updated")  # the session lives on


def test_an_http_error_is_reported(llm):
    with LocalServer(brain=ChatBrain(llm.url.replace("/v1", "/v2"), "m")) as srv, RawClient(srv.url) as c:
        c.recv()
        c.send({"type": "response.create"})
        error = c.until("response.done")[-1]["response"]["status_details"]["error"]
        assert "HTTP 404" in error["message"] and "no route" in error["message"]


def test_serve_needs_a_model_for_the_chat_brain():
    out = subprocess.run([sys.executable, "-m", "realtime_nb.cli", "serve", "--port", "0", "--brain", "chat"],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 2 and "llm_model" in out.stderr


def test_stream_lines_that_are_not_json_fail_clearly(monkeypatch, llm):
    monkeypatch.setattr(FakeLLM, "chunks", lambda self, body: ["oops"])
    with pytest.raises(BrainError, match="not JSON"):
        list(ChatBrain(llm.url, "fake-model").respond(BrainRequest(context=[])))


def test_serve_with_the_chat_brain(llm):
    import os
    import re
    import signal

    proc = subprocess.Popen([sys.executable, "-m", "realtime_nb.cli", "serve", "--port", "0", "--brain", "chat",
                             "--llm-url", llm.url, "--llm-model", "fake-model", "--vad", "energy"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        line = proc.stdout.readline()
        assert f"brain: chat fake-model at {llm.url}" in line and "vad: energy" in line
        url = re.search(r"(ws://127\.0\.0\.1:\d+/v1)", line).group(1)
        with RawClient(url) as c:
            c.recv()
            text_only(c)
            c.send(user_text("ping"))
            c.send({"type": "response.create"})
            done = c.until("response.done")[-1]["response"]
        assert done["output"][0]["content"][0]["text"] == "You asked: ping. I am the fake model."
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(10) == 0


def test_incomplete_reasons_are_the_protocol_s():
    from realtime_nb.server import Incomplete

    assert Incomplete("content_filter").reason == "content_filter"
    with pytest.raises(ValueError):
        Incomplete("tired")
