"""Function tools end to end (the seed's horoscope) and out-of-band classification."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Literal

import numpy as np
import pytest
from speechgen import make_utterance

import realtime_nb as rt
from realtime_nb.server import Call, ScriptedBrain

Sign = Literal["Aries", "Taurus", "Gemini", "Cancer", "Leo", "Virgo", "Libra", "Scorpio", "Sagittarius",
               "Capricorn", "Aquarius", "Pisces"]


def horoscope_tool(s: rt.Session, calls: list[str]) -> None:
    @s.tool
    def generate_horoscope(sign: Sign) -> dict:
        """Give today's horoscope for an astrological sign.

        Args:
            sign: The sign for the horoscope.
        """
        calls.append(sign)
        return {"horoscope": f"{sign}: next Tuesday you will befriend a baby otter."}


def test_horoscope_end_to_end(rt_session):
    calls: list[str] = []
    horoscope_tool(rt_session, calls)
    tools = rt_session.config["tools"]
    assert [t["name"] for t in tools] == ["generate_horoscope"]
    assert "Aquarius" in tools[0]["parameters"]["properties"]["sign"]["enum"]

    r = rt_session.say("What is my horoscope? I am an aquarius.")
    assert calls == ["Aquarius"]
    # say() returns the final response: the one that read the tool's output
    assert r.transcript.startswith("generate_horoscope returned: ")
    assert "baby otter" in r.transcript and len(r.audio) > 0
    first = r.previous
    assert first is not None and first.follow_up is r and first.final() is r
    assert first.tool_calls == [{
        "call_id": first.tool_calls[0]["call_id"], "name": "generate_horoscope", "arguments": '{"sign": "Aquarius"}',
        "item_id": first.output[0]["id"], "ok": True,
        "output": '{"horoscope": "Aquarius: next Tuesday you will befriend a baby otter."}'}]
    items = rt_session.items
    assert items["type"].tolist() == ["message", "function_call", "function_call_output", "message"]
    assert items["name"].iloc[1] == "generate_horoscope"
    assert items["call_id"].iloc[1] == items["call_id"].iloc[2]
    events = rt_session.events
    assert (events["type"] == "response.create").sum() == 2
    assert not events["error_code"].notna().any()


def test_follow_tools_false_returns_the_first_response(rt_session):
    horoscope_tool(rt_session, [])
    r = rt_session.say("Horoscope for a leo please", follow_tools=False, output_modalities=["text"])
    assert r.tool_calls and r.tool_calls[0]["name"] == "generate_horoscope"
    final = r.final(10)
    assert final is r.follow_up and final.text.startswith("generate_horoscope returned:")
    assert rt_session.responses["output_modalities"].tolist() == [["text"], ["text"]]   # carried over


def test_tool_errors_become_outputs(rt_session):
    @rt_session.tool(name="lookup", description="Look up a sign.")
    def failing(sign: Sign) -> str:
        raise ValueError("the stars are cloudy")

    r = rt_session.say("lookup for pisces", output_modalities=["text"])
    call = r.previous.tool_calls[0]
    assert call["ok"] is False and "the stars are cloudy" in call["output"]
    assert "the stars are cloudy" in r.text
    assert "tool_call" in rt_session.events["type"].tolist()


def test_async_tool_with_timeout(rt_session):
    rt_session.tool_timeout = 0.2

    async def slow_sign(sign: Sign) -> str:
        """A slow tool."""
        await asyncio.sleep(5)
        return "never"

    rt_session.tool(slow_sign)
    r = rt_session.say("slow sign for virgo", output_modalities=["text"])
    assert r.previous.tool_calls[0]["ok"] is False and "timed out" in r.text


def test_follow_up_waits_for_a_vad_response_instead_of_colliding(slow_server, speech_wav):
    """A VAD turn starts a response while the tool runs: the follow-up must not provoke
    conversation_already_has_active_response."""
    pcm, _ = speech_wav
    release = threading.Event()
    with rt.connect(url=slow_server.url) as s:
        @s.tool
        def generate_horoscope(sign: Sign) -> str:
            """Horoscope."""
            release.wait(20)
            return "a good day"

        first = s.say("What is my horoscope? I am an aquarius.", follow_tools=False, output_modalities=["text"])
        assert first.tool_calls
        s.append_audio(np.concatenate([pcm, np.zeros(24000, np.int16)]))   # VAD starts an audio response
        for _ in range(200):
            if s.last_response is not first:
                break
            threading.Event().wait(0.05)
        vad = s.last_response
        assert vad is not first and vad.automatic and not vad.done
        release.set()
        final = first.final(30)
        assert final is not vad and final.previous is first and not final.automatic
        assert vad.status == "completed" and final.created_at >= vad.done_at   # it waited for the VAD one
        # (what the echo brain answers depends on where the server put the VAD reply: before or after
        # the tool output; either way the tool output is in the conversation before the follow-up)
        types = s.items["type"].tolist()
        assert types.index("function_call_output") < s.items["item_id"].tolist().index(final.output[0]["id"])
        assert not (s.events["error_code"] == "conversation_already_has_active_response").any()


def test_out_of_band_classification(rt_session):
    rt_session.say("I would like to talk to sales about forty licenses", output_modalities=["text"])
    rt_session.say("and what is the price for them", output_modalities=["text"])
    n_items = len(rt_session.items)
    label = rt_session.classify("Is the user asking about support or sales? Answer support or sales.",
                                ["Support", "Sales"], metadata={"purpose": "routing"})
    assert label == "Sales"           # the echo brain picks the label the context mentions
    assert len(rt_session.items) == n_items
    r = rt_session.last_response
    assert r.conversation == "none" and r.metadata["purpose"] == "routing"
    assert r.metadata["realtime_nb"] == "classify" and r.metadata["classify_id"]
    assert "Labels: Support, Sales" in r.request["instructions"]
    assert r.request["input"][0]["type"] == "item_reference"
    assert len(r.request["input"]) == n_items + 1


def test_classification_context_options(rt_session):
    a = rt_session.add_item({"type": "message", "role": "user",
                             "content": [{"type": "input_text", "text": "I need support, my printer broke"}]})
    rt_session.add_item({"type": "message", "role": "user",
                         "content": [{"type": "input_text", "text": "I want to upgrade my plan"}]})
    labels = ["support", "upgrade"]
    assert rt_session.classify("Which one?", labels[::-1], context=[a]) == "support"
    assert rt_session.classify("Which one?", labels, context=1) == "upgrade"      # the last item
    assert rt_session.classify("Which one?", labels) == "upgrade"                 # whole conversation
    assert rt_session.classify("Which one?", labels[::-1], context=None) == "upgrade"   # no context
    with pytest.raises(ValueError):
        rt_session.classify("x", ["only one"])
    with pytest.raises(TypeError):
        rt_session.classify("x", "support")


def test_classification_error_carries_the_raw_text(server):
    brain = ScriptedBrain(respond_fn=lambda request: "I am not sure, maybe both?")
    with rt.LocalServer(brain=brain) as srv, rt.connect(url=srv.url) as s:
        with pytest.raises(rt.ClassificationError) as info:
            s.classify("support or sales?", ["support", "sales"])
        assert info.value.raw == "I am not sure, maybe both?" and info.value.labels == ["support", "sales"]


def test_labels_match_case_and_space_insensitively(server):
    brain = ScriptedBrain(respond_fn=lambda request: "  SALES.\n")
    with rt.LocalServer(brain=brain) as srv, rt.connect(url=srv.url) as s:
        assert s.classify("support or sales?", ["support", "sales"]) == "sales"


def test_concurrent_classifications_are_routed_by_response(rt_session):
    questions = {f"question {i}: is it {lab}?": lab for i, lab in enumerate(["alpha", "beta", "gamma"] * 3)}

    def classify(q: str) -> str:
        return rt_session.classify(q, ["alpha", "beta", "gamma"], context=None, metadata={"q": q})

    with ThreadPoolExecutor(9) as pool:
        got = dict(zip(questions, pool.map(classify, questions), strict=True))
    assert got == questions
    by_q = {r.metadata["q"]: r.text for r in rt_session._client.responses}
    assert by_q == questions
    assert len(rt_session.items) == 0


def test_async_concurrent_classifications(server):
    async def main() -> list[str]:
        async with await rt.aconnect(url=server.url) as s:
            return await asyncio.gather(*(s.aclassify(f"is it {x}?", ["yes", "no"], context=None)
                                          for x in ["yes", "no", "no", "yes"]))

    assert asyncio.run(main()) == ["yes", "no", "no", "yes"]


def test_tool_calls_on_out_of_band_responses_are_not_run(server):
    brain = ScriptedBrain([(r"call", Call("generate_horoscope", '{"sign": "Leo"}'))])
    calls: list[str] = []
    with rt.LocalServer(brain=brain) as srv, rt.connect(url=srv.url) as s:
        horoscope_tool(s, calls)
        r = s.say("call it", conversation="none", output_modalities=["text"])
        assert r.tool_calls and r.follow_up is None and calls == []


def test_vad_tool_turn(server):
    brain = ScriptedBrain(respond_fn=lambda request: (
        Call("generate_horoscope", '{"sign": "Aries"}')
        if request.context and request.context[-1].get("role") == "user" else None) or "fine")
    calls: list[str] = []
    pcm, _ = make_utterance([("silence", 300), ("speech", "horoscope please"), ("silence", 300)])
    with rt.LocalServer(brain=brain) as srv, rt.connect(url=srv.url, output_modalities=["text"]) as s:
        horoscope_tool(s, calls)
        r = s.send_audio(pcm)
        assert calls == ["Aries"] and r.previous is not None and r.previous.automatic
        assert r.text == "fine"
