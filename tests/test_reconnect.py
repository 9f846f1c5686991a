"""Reconnect and resume: the local server is killed and restarted on the same port mid-conversation (or a
misbehaving proxy drops the connection), and the session carries on with its conversation restored."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
from badserver import BadServer

import realtime_nb as rt
from realtime_nb.server import Call, ScriptedBrain

TEXT = {"output_modalities": ["text"]}


class Context:
    """A brain that answers with what it sees: the number of context items; it keeps each request."""

    def __init__(self) -> None:
        self.requests: list = []

    def __call__(self, request):
        self.requests.append(request)
        if request.context and request.context[-1].get("type") == "function_call_output":
            return "noted"
        if request.tools and "horoscope" in (request.user_text(request.last_user()) or ""):
            return Call("horoscope", '{"sign": "Aquarius"}')
        return f"I see {len(request.context)} items"


def _restart(srv: rt.LocalServer, brain=None, **kw) -> rt.LocalServer:
    port = srv.port
    srv.stop()
    return rt.LocalServer(port=port, brain=brain, **kw).start()


def _notices(s):
    seen: list[dict] = []
    s.on("*", lambda e: seen.append(e) if e["type"] in ("reconnecting", "reconnected", "resume_failed") else None)
    return seen


def test_server_restart_mid_conversation_resumes_with_the_conversation():
    srv = rt.LocalServer().start()
    brain = Context()
    s = rt.connect(url=srv.url, instructions="Be brief.", reconnect_delays=(0.05, 0.2, 0.5, 1.0))
    try:
        seen = _notices(s)
        s.say("one", **TEXT)
        s.say("two", **TEXT)
        before = list(s.items["item_id"])
        srv = _restart(srv, ScriptedBrain(respond_fn=brain))
        r = s.say("three", **TEXT)
        assert r.text == "I see 5 items"          # the 4 replayed items and the new question
        (request,) = brain.requests
        assert [i["id"] for i in request.context[:4]] == before   # same ids, same order
        assert [request.user_text(i) for i in request.context if i.get("role") == "user"] == ["one", "two", "three"]
        assert request.instructions == "Be brief."                 # the config was restored
        items = s.items
        assert list(items["item_id"][:4]) == before and len(items) == 6
        assert list(items["connection"]) == [1, 1, 1, 1, 2, 2]
        kinds = [n["type"] for n in seen]
        assert kinds[0] == "reconnecting" and kinds[-1] == "reconnected" and "resume_failed" not in kinds
        done = seen[-1]
        assert done["connection"] == 2 and done["items"] == 4 and done["not_replayed"] == [] and done["cause"] == "drop"
        assert {"reconnecting", "reconnected", "dropped"} <= set(s.events["type"])
        assert not s.closed
    finally:
        s.close()
        srv.stop()


def test_calls_pending_at_the_drop_fail_saying_a_reconnect_is_under_way():
    srv = rt.LocalServer(pace="realtime").start()
    s = rt.connect(url=srv.url, reconnect_delays=(0.3, 0.5, 1.0))
    try:
        r = s.say("a long answer that is still being spoken when the server goes away", wait=False)
        outcome: list[BaseException] = []
        waiter = threading.Thread(target=lambda: outcome.append(_raised(r.wait)))
        waiter.start()
        time.sleep(0.3)
        srv = _restart(srv, pace="fast")
        waiter.join(10)
        (exc,) = outcome
        assert isinstance(exc, rt.ConnectionClosed) and exc.reconnecting and "reconnecting" in str(exc)
        assert r.status == "failed"
        assert s.say("and now?", **TEXT).text == "You said: and now?"   # waits for the reconnect, then runs
    finally:
        s.close()
        srv.stop()


def _raised(fn) -> BaseException | None:
    try:
        fn()
    except BaseException as exc:
        return exc
    return None


def test_function_calls_and_outputs_are_replayed():
    brain = Context()
    srv = rt.LocalServer(brain=ScriptedBrain(respond_fn=brain)).start()
    s = rt.connect(url=srv.url)
    try:
        @s.tool
        def horoscope(sign: str) -> str:
            """The horoscope of a sign."""
            return f"{sign}: a good day"

        r = s.say("my horoscope please", **TEXT)
        assert r.previous is not None and r.previous.tool_calls[0]["output"] == "Aquarius: a good day"
        srv = _restart(srv, ScriptedBrain(respond_fn=brain))
        brain.requests.clear()
        s.say("thanks", **TEXT)
        context = brain.requests[-1].context
        kinds = [i["type"] for i in context]
        assert kinds[:3] == ["message", "function_call", "function_call_output"]
        assert context[1]["name"] == "horoscope" and context[2]["output"] == "Aquarius: a good day"
        assert [t["name"] for t in brain.requests[-1].tools] == ["horoscope"]   # the tools came back too
    finally:
        s.close()
        srv.stop()


def test_audio_turns_are_replayed_as_audio_without_a_transcript_and_gap_audio_is_sent_after():
    brain = Context()
    srv = rt.LocalServer().start()
    s = rt.connect(url=srv.url, turn_detection=None, reconnect_delays=(0.2, 0.5, 1.0))
    try:
        seen = _notices(s)
        tone = (np.sin(np.arange(24000) / 10) * 8000).astype(np.int16)
        item = s.add_audio_message(tone)                # 1 s user audio, no transcription configured
        s.append_audio(tone[:12000])                    # 0.5 s appended, not committed
        srv = _restart(srv, ScriptedBrain(respond_fn=brain))
        time.sleep(0.05)
        s.append_audio(tone[:6000])                     # 0.25 s during the gap (or just after)
        committed = s.commit()
        s.respond(**TEXT)
        request = brain.requests[-1]
        assert request.context[0]["id"] == item and request.audio_ms[item] == pytest.approx(1000, abs=1)
        assert request.audio_ms[committed] == pytest.approx(750, abs=1)     # nothing appended was lost
        done = next(n for n in seen if n["type"] == "reconnected")
        assert done["audio_dropped_ms"] == 0 and done["audio_resent_ms"] in (500, 750)
        assert s.items.set_index("item_id").loc[committed, "audio_ms"] == pytest.approx(750, abs=1)
    finally:
        s.close()
        srv.stop()


def test_reconnect_gives_up_and_says_so():
    srv = rt.LocalServer().start()
    s = rt.connect(url=srv.url, reconnect_delays=(0.05, 0.05))
    seen = _notices(s)
    s.say("hello", **TEXT)
    srv.stop()
    with pytest.raises(rt.ConnectionClosed, match="could not reconnect"):
        s.say("anyone?", **TEXT)
    assert s.closed
    kinds = [n["type"] for n in seen]
    assert kinds == ["reconnecting", "reconnecting", "resume_failed"]
    assert seen[-1]["attempts"] == 2 and seen[-1]["error"]
    s.close()


def test_reconnect_false_closes_and_reports_lost_audio():
    srv = rt.LocalServer().start()
    s = rt.connect(url=srv.url, reconnect=False, turn_detection=None)
    s.append_audio(np.zeros(4800, dtype=np.int16))   # 200 ms, never committed
    srv.stop()
    with pytest.raises(rt.ConnectionClosed) as info:
        s.say("anyone?", **TEXT)
    assert not info.value.reconnecting and s.closed
    lost = s.events.query("type == 'audio_lost'")
    assert len(lost) == 1 and lost["error_code"].iloc[0] == "audio_lost"
    s.close()


@pytest.mark.parametrize("fault", ["close", "abort"])
def test_a_connection_lost_mid_response_resumes(server, fault):
    with BadServer(server.url) as bad:
        s = rt.connect(url=bad.url, reconnect_delays=(0.05, 0.2))
        try:
            s.say("first", **TEXT)
            if fault == "close":
                bad.close_after = ("response.output_text.delta", 1, 1011)
            else:
                bad.abort_after = ("response.output_text.delta", 1)
            with pytest.raises(rt.ConnectionClosed) as info:
                s.say("second, cut off", **TEXT)
            assert info.value.reconnecting
            bad.close_after = bad.abort_after = None
            r = s.say("third", **TEXT)
            assert r.text == "You said: third" and bad.connections == 2
            texts = list(s.items["text"])
            assert texts[:2] == ["first", "You said: first"] and "third" in texts
        finally:
            s.close()


def test_close_during_a_reconnect_stops_it():
    srv = rt.LocalServer().start()
    s = rt.connect(url=srv.url, reconnect_delays=(0.5, 0.5))
    seen = _notices(s)
    waiter_outcome: list[BaseException | None] = []
    srv.stop()
    time.sleep(0.1)                                   # the drop is seen; the first attempt waits 0.5 s
    waiter = threading.Thread(target=lambda: waiter_outcome.append(_raised(lambda: s.say("waiting", **TEXT))))
    waiter.start()
    time.sleep(0.05)
    s.close()                                         # releases the waiting call at once
    waiter.join(5)
    assert isinstance(waiter_outcome[0], rt.ConnectionClosed) and s.closed
    time.sleep(1.2)
    assert [n["type"] for n in seen] == ["reconnecting"]   # no further attempt, no resume_failed


def test_a_server_that_drops_every_new_connection_ends_in_resume_failed(server):
    with BadServer(server.url) as bad:
        s = rt.connect(url=bad.url, reconnect_delays=(0.01, 0.01, 0.01), reply_timeout=2)
        seen = _notices(s)
        try:
            s.say("works once", **TEXT)
            bad.abort_after = ("conversation.item.added", 2)   # each connection dies after its 2nd item
            assert isinstance(_raised(lambda: s.say("again", **TEXT)), rt.ConnectionClosed)
            deadline = time.monotonic() + 20
            while not s.closed and time.monotonic() < deadline:
                time.sleep(0.05)
            assert s.closed and seen[-1]["type"] == "resume_failed"
            assert bad.connections <= 1 + 2 * 3           # a bounded number of attempts, then it stops
            with pytest.raises(rt.ConnectionClosed):
                s.say("anyone?", **TEXT)
        finally:
            s.close()
