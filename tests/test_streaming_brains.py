"""Streaming brains through the server: SayPart pieces form one message, CallPart streams a call, Incomplete."""

from __future__ import annotations

import threading

from rtclient import RawClient, types, user_text

from realtime_nb.server import CallPart, Incomplete, LocalServer, Say, SayPart, ScriptedBrain
from realtime_nb.server.producer import split_sentences


def run(brain, modality: str = "text", **response) -> list[dict]:
    with LocalServer(brain=brain) as srv, RawClient(srv.url) as c:
        c.recv()
        c.send(user_text("go"))
        c.send({"type": "response.create", "response": {"output_modalities": [modality], **response}})
        return c.until("response.done", timeout=30)


def test_parts_form_one_message_then_a_streamed_call_then_a_whole_message():
    def stream(request):
        yield SayPart("Let me ")
        yield SayPart("check.")
        yield CallPart('{"city": ', name="get_weather")
        yield CallPart('"Oslo"}')
        yield Say("Done.")

    events = run(ScriptedBrain(respond_fn=stream))
    output = events[-1]["response"]["output"]
    assert [o["type"] for o in output] == ["message", "function_call", "message"]
    assert output[0]["content"][0]["text"] == "Let me check."
    assert output[1]["name"] == "get_weather" and output[1]["arguments"] == '{"city": "Oslo"}'
    assert output[2]["content"][0]["text"] == "Done."
    assert [e["output_index"] for e in events if e["type"] == "response.output_item.added"] == [0, 1, 2]


def test_audio_starts_before_a_slow_brain_finishes():
    release = threading.Event()

    def slow(request):
        yield SayPart("The first sentence is ready. ")
        release.wait(10)  # the first sentence must be spoken before this returns
        yield SayPart("The second one came later.")

    with LocalServer(brain=ScriptedBrain(respond_fn=slow)) as srv, RawClient(srv.url) as c:
        c.recv()
        c.send({"type": "response.create"})
        first = c.until("response.output_audio.delta", timeout=10)
        assert "response.done" not in types(first)
        release.set()
        events = c.until("response.done", timeout=30)
        transcript = events[-1]["response"]["output"][0]["content"][0]["transcript"]
        assert transcript == "The first sentence is ready. The second one came later."


def test_incomplete_ends_the_response_incomplete():
    events = run(ScriptedBrain(respond_fn=lambda r: iter([SayPart("Cut sh"), Incomplete()])))
    done = events[-1]["response"]
    assert done["status"] == "incomplete" and done["status_details"]["reason"] == "max_output_tokens"
    assert done["output"][0]["content"][0]["text"] == "Cut sh"


def test_the_token_budget_cuts_streamed_text():
    parts = iter([SayPart("abcd"), SayPart("efgh"), SayPart("ijkl")])
    events = run(ScriptedBrain(respond_fn=lambda r: parts), max_output_tokens=2)
    done = events[-1]["response"]
    assert done["status"] == "incomplete" and done["output"][0]["content"][0]["text"] == "abcdefgh"


def test_split_sentences_round_trips():
    text = "Hi there. How are you?\nFine! (Really.) ok"
    assert "".join(split_sentences(text)) == text
    assert split_sentences(text)[:2] == ["Hi there. ", "How are you?\n"]
