"""A running ``Session`` moves onto a WebRTC call's sideband and back (``_resume.join_call``): the
conversation is replayed into the call (the model keeps its context), turns on the call show in
``s.items``, and when the call is hung up the session reconnects to its own ``?model=`` connection with
the call's turns replayed there. The browser is ``rtcpeer.Browser`` (aiortc, loopback)."""

from __future__ import annotations

import time

import pytest

pytest.importorskip("aiortc")

from rtcpeer import Browser

import realtime_nb as rt
from realtime_nb.client import _loop, _resume
from realtime_nb.client.calls import acreate_call, ahangup_call


def _on_loop(coro, timeout: float = 30.0):
    return _loop.run_sync(coro, timeout)


def _wait(check, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise AssertionError("timed out")


def test_a_session_joins_a_call_with_its_conversation_and_comes_back_after_the_hangup(server):
    s = rt.connect(url=server.url, instructions="Be brief.")
    notices: list[dict] = []
    s.on("reconnected", notices.append)
    try:
        s.say("Remember the word teapot.")
        home = s.url
        browsers: list[Browser] = []

        async def call() -> tuple[str, dict]:
            b = Browser()
            browsers.append(b)
            client = s._client
            answer = await acreate_call(await b.offer(), client.model, url=server.url, **client.sent_config)
            stats = await _resume.join_call(client, answer.call_id)
            await b.accept(answer.sdp)
            return answer.call_id, stats

        call_id, stats = _on_loop(call())
        assert "call_id=" + call_id in s.url and s._client.call_id == call_id
        assert stats["items"] == 2 and stats["not_replayed"] == []
        engine = next(e for e in list(server.engines) if s.items["item_id"].iloc[0] in e.conversation)
        assert all(i in engine.conversation for i in s.items["item_id"])      # replayed, same ids
        assert s.config["instructions"] == "Be brief."
        assert notices[-1]["cause"] == "call" and notices[-1]["call_id"] == call_id

        r = s.say("And now?")                      # a turn on the call, through the sideband
        assert r.transcript == "You said: And now?" and len(r.audio) == 0   # the voice went to the call's track
        assert len(s.items) == 4
        sent = set(s.events[s.events.direction == "sent"]["type"])
        assert "input_audio_buffer.append" not in sent

        _on_loop(ahangup_call(call_id, url=server.url))
        _wait(lambda: s._client.call_id is None and s._client.gate is None and notices[-1]["cause"] == "call_ended")
        assert s.url == home and not s.closed
        assert len(s.items) == 4
        r = s.say("Still there?")                  # home again, with the call's turns in the conversation
        assert r.transcript == "You said: Still there?"
        engine = next(e for e in list(server.engines) if s.items["item_id"].iloc[-1] in e.conversation)
        assert all(i in engine.conversation for i in s.items["item_id"])
        _on_loop(browsers[0].close())
    finally:
        s.close()


def test_a_session_closed_while_on_a_call_reconnects_to_its_own_url(server):
    s = rt.connect(url=server.url)
    try:
        s.say("Hello")
        home = s.url

        async def call() -> Browser:
            b = Browser()
            answer = await acreate_call(await b.offer(), s._client.model, url=server.url)
            await _resume.join_call(s._client, answer.call_id)
            await b.accept(answer.sdp)
            return b

        b = _on_loop(call())
        assert s._client.call_id is not None and s.can_reconnect
        s.close()
        assert s.can_reconnect
        s.reconnect()
        assert s.url == home and s._client.call_id is None
        assert s.say("Back?").transcript == "You said: Back?"
        _on_loop(b.close())
    finally:
        s.close()
