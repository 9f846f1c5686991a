"""Every wait is bounded: against a misbehaving server (tests/badserver.py) each call returns or raises
``rt.RealtimeTimeout`` within its (short, configured) bound, says what it waited for, and the session
stays usable."""

from __future__ import annotations

import pytest
from badserver import BadServer

import realtime_nb as rt


@pytest.fixture
def bad(server):
    with BadServer(server.url) as b:
        yield b


def test_connect_to_a_server_that_never_sends_session_created():
    with BadServer() as b:
        b.silent = True
        with pytest.raises(rt.RealtimeTimeout) as info:
            rt.connect(url=b.url, timeout=0.5)
    assert isinstance(info.value, TimeoutError) and isinstance(info.value, rt.RealtimeNBError)
    assert "session.created" in str(info.value) and "0.5 s" in str(info.value) and "timeout=" in str(info.value)


def test_connect_to_a_server_that_never_answers_the_handshake():
    b = BadServer()
    b.no_handshake = True
    with b, pytest.raises(rt.RealtimeTimeout, match="handshake"):
        rt.connect(url=b.url, timeout=0.5)


def test_unanswered_session_update_times_out_and_the_session_stays_usable(bad):
    with rt.connect(url=bad.url, reply_timeout=0.5, reconnect=False) as s:
        bad.drop_client.add("session.update")
        with pytest.raises(rt.RealtimeTimeout) as info:
            s.update(instructions="never acknowledged")
        message = str(info.value)
        assert "session.updated" in message and info.value.event_id and info.value.event_id in message
        bad.drop_client.clear()
        assert s.say("still here", output_modalities=["text"]).text == "You said: still here"


def test_unanswered_response_create(bad):
    with rt.connect(url=bad.url, reply_timeout=0.5, reconnect=False) as s:
        bad.drop_client.add("response.create")
        with pytest.raises(rt.RealtimeTimeout, match=r"response\.created"):
            s.say("is anybody there?", output_modalities=["text"])
        bad.drop_client.clear()
        assert s.say("again", output_modalities=["text"]).text == "You said: again"


def test_a_response_that_never_ends_is_given_up_by_inactivity(bad):
    with rt.connect(url=bad.url, response_timeout=0.5, reconnect=False) as s:
        bad.drop_server.add("response.done")
        with pytest.raises(rt.RealtimeTimeout) as info:
            s.say("this answer never ends", output_modalities=["text"])
        assert "response_timeout" in str(info.value) and info.value.response_id
        r = s.last_response
        assert r.status == "failed" and r.status_details["reason"] == "timeout"
        with pytest.raises(rt.RealtimeTimeout):   # Response.wait() without a timeout is bounded too
            r.wait()
        assert "response.cancel" in s.events.query("direction == 'sent'")["type"].tolist()
        bad.drop_server.clear()
        assert s.say("next", output_modalities=["text"]).text == "You said: next"


def test_response_wait_without_timeout_is_bounded(bad):
    with rt.connect(url=bad.url, response_timeout=0.5, reconnect=False) as s:
        bad.drop_server.add("response.done")
        r = s.say("never done", wait=False, output_modalities=["text"])
        with pytest.raises(rt.RealtimeTimeout):
            r.wait()
        assert r.done and r.status == "failed"


def test_replies_out_of_order_are_matched(bad):
    import asyncio

    async def run() -> list[str]:
        async with await rt.aconnect(url=bad.url, reply_timeout=2, reconnect=False) as s:
            bad.reverse.add("conversation.item.added")
            items = [{"type": "message", "role": "user", "content": [{"type": "input_text", "text": t}]}
                     for t in ("first", "second")]
            ids = await asyncio.gather(*(s.aadd_item(item) for item in items))
            bad.reverse.clear()
            return [str(i) for i in ids] + list(s.items["text"])

    got = asyncio.run(run())
    assert got[2:] == ["first", "second"] and len(set(got[:2])) == 2


def test_user_timeout_on_a_call_says_what():
    with BadServer() as b, rt.LocalServer() as srv:
        b.upstream = srv.url
        with rt.connect(url=b.url, reconnect=False) as s:
            b.drop_client.add("response.create")
            with pytest.raises(rt.RealtimeTimeout, match=r"Session\.say\(\)"):
                s.say("hello?", timeout=0.3)
