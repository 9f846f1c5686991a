"""The echo brain's documented rules and the scripted brain, directly and through the server."""

from __future__ import annotations

import json

import pytest
from rtclient import RawClient, user_text
from test_server_turns import HOROSCOPE_TOOL

from realtime_nb.server import BrainRequest, Call, EchoBrain, LocalServer, Say, ScriptedBrain
from realtime_nb.server.brains import find_labels, make_brain


def user(text: str | None = None, transcript: str | None = None, id: str = "item_u") -> dict:
    part = {"type": "input_text", "text": text} if text is not None else {"type": "input_audio",
                                                                          "transcript": transcript}
    return {"id": id, "type": "message", "role": "user", "content": [part]}


def reply(request: BrainRequest) -> list:
    return list(EchoBrain().respond(request))


def test_say_exactly_wins_over_everything():
    r = BrainRequest(context=[user("aquarius")], tools=[HOROSCOPE_TOOL],
                     instructions="Say exactly the following:  Hello, class!  ")
    assert reply(r) == [Say("Hello, class!")]


@pytest.mark.parametrize(("instructions", "labels"), [
    ('If it is related to support, output "support". If it is related to sales, output "sales".',
     ["support", "sales"]),
    ("Classify.\nLabels: billing, tech support, other\nAnswer with one label.", ["billing", "tech support", "other"]),
    ('Only one "quoted" word', []),
])
def test_find_labels(instructions, labels):
    assert find_labels(instructions) == labels


def test_label_choice_is_last_mentioned_else_first():
    instructions = "Labels: sales, support"
    assert reply(BrainRequest([user("I want to buy; actually I need SUPPORT!")], instructions)) == [Say("support")]
    assert reply(BrainRequest([user("support first, then sales")], instructions)) == [Say("sales")]
    assert reply(BrainRequest([user("nothing relevant")], instructions)) == [Say("sales")]


def test_tool_call_by_enum_value_and_by_name():
    r = BrainRequest([user("What is my horoscope? I am an aquarius.")], tools=[HOROSCOPE_TOOL])
    assert reply(r) == [Call("generate_horoscope", json.dumps({"sign": "Aquarius"}))]
    r = BrainRequest([user("please generate horoscope")], tools=[HOROSCOPE_TOOL])
    assert reply(r) == [Call("generate_horoscope", json.dumps({"sign": "Aries"}))]
    r = BrainRequest([user("I am an aquarius")], tools=[HOROSCOPE_TOOL], tool_choice="none")
    assert reply(r) == [Say("You said: I am an aquarius")]


def test_tool_choice_required_forces_a_call():
    r = BrainRequest([user("hello")], tools=[HOROSCOPE_TOOL], tool_choice="required")
    assert reply(r)[0].name == "generate_horoscope"


def test_after_a_tool_output_and_echo_fallbacks():
    call = {"id": "item_c", "type": "function_call", "name": "generate_horoscope", "call_id": "call_1",
            "arguments": "{}"}
    out = {"id": "item_o", "type": "function_call_output", "call_id": "call_1", "output": '{"h": 1}'}
    r = BrainRequest([user("aquarius"), call, out], tools=[HOROSCOPE_TOOL])
    assert reply(r) == [Say('generate_horoscope returned: {"h": 1}')]
    assert reply(BrainRequest([user(transcript="spoken words")])) == [Say("You said: spoken words")]
    assert reply(BrainRequest([user(transcript=None)], audio_ms={"item_u": 1530.0})) == [
        Say("I heard 1.5 seconds of audio.")]
    assert reply(BrainRequest([])) == [Say("Hello! I am the realtime-nb local echo brain.")]


def test_scripted_brain_rules_callable_and_fallback():
    brain = ScriptedBrain([(r"\bweather\b", "It is sunny in the notebook."),
                           (r"call (\w+)", lambda m, req: Call("lookup", json.dumps({"who": m.group(1)})))])
    assert list(brain.respond(BrainRequest([user("How is the weather?")]))) == [Say("It is sunny in the notebook.")]
    assert list(brain.respond(BrainRequest([user("call Ada")]))) == [Call("lookup", '{"who": "Ada"}')]
    assert list(brain.respond(BrainRequest([user("other")]))) == [Say("You said: other")]
    fn = ScriptedBrain(respond_fn=lambda req: ["one", Say("two")])
    assert list(fn.respond(BrainRequest([]))) == [Say("one"), Say("two")]
    with pytest.raises(ValueError, match="needs rules"):
        ScriptedBrain()
    with pytest.raises(ValueError, match="unknown brain"):
        make_brain("gpt")


def test_scripted_brain_through_the_server():
    brain = ScriptedBrain([(r"weather", "It is always sunny in the notebook.")])
    with LocalServer(brain=brain) as srv, RawClient(srv.url) as c:
        c.recv()
        c.send(user_text("what's the weather like?"))
        c.send({"type": "response.create", "response": {"output_modalities": ["text"]}})
        done = c.until("response.done")[-1]["response"]
        assert done["output"][0]["content"][0]["text"] == "It is always sunny in the notebook."


def test_a_failing_brain_fails_the_response_not_the_session():
    def broken(request):
        raise RuntimeError("the brain fell over")

    with LocalServer(brain=broken) as srv, RawClient(srv.url) as c:
        c.recv()
        c.send({"type": "response.create"})
        done = c.until("response.done")[-1]["response"]
        assert done["status"] == "failed"
        assert "the brain fell over" in done["status_details"]["error"]["message"]
        c.send({"type": "session.update", "session": {"type": "realtime"}})
        assert c.until("session.updated")


def test_label_questions_are_not_evidence():
    context = [user("My printer is broken", id="a"), user("Is this about support or sales?", id="b")]
    assert reply(BrainRequest(context, "Labels: sales, support")) == [Say("sales")]  # nothing says either: first
    context.insert(1, user("I need support", id="c"))
    assert reply(BrainRequest(context, "Labels: sales, support")) == [Say("support")]
