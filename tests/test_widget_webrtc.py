"""The widget's webrtc transport, kernel side (``notebook/_webrtc.py``): the ``call`` and ``hangup``
requests through the widget's real comm handler (``test_widget.FakeBrowser``), an aiortc peer
(``rtcpeer.Browser``) standing in for the page's ``RTCPeerConnection``, the real local server.

The browser test (``tests/browser/test_browser_webrtc.py``) runs the same with Chromium and the fake mic."""

from __future__ import annotations

from typing import Any

import pytest

pytest.importorskip("aiortc")

from rtcpeer import Browser
from test_widget import FakeBrowser, settle, wait_for

import realtime_nb as rt
from realtime_nb.client import _loop
from realtime_nb.client._target import Target
from realtime_nb.client.calls import ahangup_call
from realtime_nb.notebook._webrtc import unreachable, webrtc_support
from realtime_nb.notebook.widget import RealtimeWidget


def _request(fb: FakeBrowser, view: str, rtype: str, timeout: float = 30.0, **content: Any) -> dict[str, Any]:
    fb.next_id += 1
    rid = fb.next_id
    fb.deliver({"type": rtype, "view": view, "id": rid, **content})
    return wait_for(lambda: [c for c, _ in fb.comm.custom("reply") if c["view"] == view and c["id"] == rid],
                    timeout)[0]


@pytest.fixture
def session(server):
    with rt.connect(url=server.url, instructions="Be brief.") as s:
        yield s


@pytest.fixture
def fb(session):
    w = RealtimeWidget(session, transport="webrtc")
    yield FakeBrowser(w)
    w.close()


def test_which_targets_auto_calls():
    assert webrtc_support(Target("wss://api.openai.com/v1", "openai", "k"))[0] is True
    # the embedded server answers calls (the dev extra has aiortc), but on 127.0.0.1 only, which a normal
    # browser does not reach, and inside the kernel: auto keeps the relay
    supported, reason = webrtc_support(Target("ws://127.0.0.1:1/v1", "local", "k"))
    assert supported is False and "--allow-loopback-in-peer-connection" in reason and "transport='webrtc'" in reason
    supported, reason = webrtc_support(Target("ws://127.0.0.1:1/v1", "url", "k"))
    assert supported is False and "transport='webrtc'" in reason


def test_auto_on_the_embedded_server_is_the_relay_and_webrtc_still_calls_it(monkeypatch):
    for var in ("REALTIME_NB_URL", "OPENAI_API_KEY"):
        monkeypatch.delenv(var, raising=False)
    with rt.connect() as s:
        assert s._client.target.kind == "local"
        w = RealtimeWidget(s)                                            # transport="auto"
        fb = FakeBrowser(w)
        try:
            info = fb.ready("v1")["transport"]
            assert info["setting"] == "auto" and info["supported"] is False
            assert "127.0.0.1" in info["reason"]
            w.transport = "webrtc"                                       # asked for: the call is made
            peers: list[Browser] = []

            async def offer() -> str:
                peers.append(Browser())
                return await peers[0].offer()

            reply = _request(fb, "v1", "call", sdp=_loop.run_sync(offer(), 10))
            assert reply["ok"], reply
            _loop.run_sync(peers[0].accept(reply["result"]["sdp"]), 10)
            assert "call_id=" + reply["result"]["call_id"] in s.url
            _request(fb, "v1", "hangup")
            _loop.run_sync(peers[0].close(), 10)
        finally:
            w.close()


def test_the_ready_reply_says_which_transport(session, fb):
    info = fb.ready("v1")["transport"]
    assert info["setting"] == "webrtc" and info["supported"] is False   # a URL target: auto keeps the relay
    with pytest.raises(Exception, match="transport"):
        fb.w.transport = "carrier-pigeon"


def test_a_call_from_the_view_makes_the_session_its_sideband_and_hangup_brings_it_home(session, fb):
    fb.ready("v1")
    session.say("Remember the word teapot.")
    settle()
    relayed = len(fb.audio_out())                                    # before the call: the relay's audio
    home = session.url
    peers: list[Browser] = []

    async def offer() -> str:
        peers.append(Browser())
        return await peers[0].offer()

    reply = _request(fb, "v1", "call", sdp=_loop.run_sync(offer(), 10))
    assert reply["ok"], reply
    call_id = reply["result"]["call_id"]
    assert call_id.startswith("rtc_") and "a=fingerprint" in reply["result"]["sdp"]
    _loop.run_sync(peers[0].accept(reply["result"]["sdp"]), 10)
    assert "call_id=" + call_id in session.url
    assert fb.w.stats()["call_id"] == call_id
    assert session.config["instructions"] == "Be brief."          # the config went with the offer
    assert not fb.comm.custom("reconnected")                        # onto a call is not a reconnect to show

    # a typed turn on the call: the reply's voice goes to the peer's track, nothing to the view
    fb.deliver({"type": "text", "view": "v1", "text": "And now?"})
    wait_for(lambda: len(session.items) >= 4, 15)
    _loop.run_sync(peers[0].until("output_audio_buffer.started"), 20)
    # "Stop reply" on a call asks the server to cut its voice
    fb.deliver({"type": "stop", "view": "v1"})
    wait_for(lambda: "output_audio_buffer.clear" in set(session.events["type"]), 10)
    settle()
    assert len(fb.audio_out()) == relayed
    sent = set(session.events[session.events.direction == "sent"]["type"])
    assert "input_audio_buffer.append" not in sent

    reply = _request(fb, "v1", "hangup")
    assert reply["ok"] and session.url == home and not session.closed
    assert fb.w.stats()["call_id"] is None
    r = session.say("Still there?")                                 # home, with the call's turns replayed
    assert r.transcript == "You said: Still there?" and len(r.audio) > 0
    _loop.run_sync(peers[0].close(), 10)


def test_a_call_the_server_ends_tells_the_view_and_the_session_goes_home(session, fb, server):
    fb.ready("v1")
    home = session.url
    peers: list[Browser] = []

    async def offer() -> str:
        peers.append(Browser())
        return await peers[0].offer()

    reply = _request(fb, "v1", "call", sdp=_loop.run_sync(offer(), 10))
    assert reply["ok"], reply
    _loop.run_sync(peers[0].accept(reply["result"]["sdp"]), 10)
    _loop.run_sync(ahangup_call(reply["result"]["call_id"], url=server.url), 10)   # not the view's doing
    ended = wait_for(lambda: fb.comm.custom("call_ended"), 10)
    assert ended[0][0]["view"] == "v1"
    wait_for(lambda: session.url == home and session._client.gate is None, 10)
    assert fb.w.stats()["call_id"] is None and not fb.comm.custom("reconnecting")
    assert session.say("Hello again").transcript == "You said: Hello again"
    _loop.run_sync(peers[0].close(), 10)


def test_a_refused_offer_is_an_error_reply_and_the_session_stays_on_the_relay(session, fb):
    fb.ready("v1")
    home = session.url
    reply = _request(fb, "v1", "call", sdp="v=0\r\na=candidate:1 1 udp 1 127.0.0.1 9 typ host\r\nnot an offer\r\n")
    assert reply["ok"] is False and "RealtimeError" in reply["error"], reply    # the server refused it
    assert session.url == home and fb.w.stats()["call_id"] is None
    assert session.say("Hello").transcript == "You said: Hello"


def test_an_offer_without_loopback_candidates_is_refused_at_once_for_a_loopback_server(session, fb):
    fb.ready("v1")
    offer = "v=0\r\na=candidate:1 1 udp 2122 192.0.2.2 5000 typ host\r\n"   # Chromium without the flag
    reply = _request(fb, "v1", "call", sdp=offer)
    assert reply["ok"] is False and "--allow-loopback-in-peer-connection" in reply["error"], reply
    assert unreachable(offer, Target("wss://api.openai.com/v1", "openai", "k")) is None


def test_only_the_audio_owner_may_call(session, fb):
    fb.ready("v1")
    fb.ready("v2")
    reply = _request(fb, "v2", "call", sdp="v=0\r\n")
    assert reply["ok"] is False and "owns audio" in reply["error"]


def test_closing_the_session_hangs_the_call_up(server):
    s = rt.connect(url=server.url)
    w = RealtimeWidget(s, transport="webrtc")
    fb = FakeBrowser(w)
    try:
        fb.ready("v1")
        peers: list[Browser] = []

        async def offer() -> str:
            peers.append(Browser())
            return await peers[0].offer()

        reply = _request(fb, "v1", "call", sdp=_loop.run_sync(offer(), 10))
        assert reply["ok"], reply
        _loop.run_sync(peers[0].accept(reply["result"]["sdp"]), 10)
        call_id = reply["result"]["call_id"]
        s.close()
        wait_for(lambda: fb.comm.custom("session_closed"), 10)
        wait_for(lambda: server.calls.get(call_id) is None, 10)            # the kernel hung up
        _loop.run_sync(peers[0].close(), 10)
    finally:
        w.close()


def test_a_spoken_turn_on_a_call_shows_its_latency_from_the_calls_first_audio(session, fb, speech_wav):
    fb.ready("v1")
    peers: list[Browser] = []

    async def offer() -> str:
        peers.append(Browser())
        return await peers[0].offer()

    reply = _request(fb, "v1", "call", sdp=_loop.run_sync(offer(), 10))
    assert reply["ok"], reply
    _loop.run_sync(peers[0].accept(reply["result"]["sdp"]), 10)
    pcm, _truth = speech_wav
    peers[0].mic.say(pcm)                                  # on the call's track: nothing through the kernel
    started = _loop.run_sync(peers[0].until("output_audio_buffer.started", timeout=30), 35)

    def latency() -> list[Any]:
        return [e["latency_ms"] for c, _ in fb.comm.custom("update") for e in c.get("entries", [])
                if e.get("response_id") == started["response_id"] and "latency_ms" in e]

    # speech end (the sideband's speech_stopped) -> the call's first audio out (output_audio_buffer.started)
    assert wait_for(latency, 10)[-1] > 0
    assert fb.w.stats()["audio_messages"] == 0
    _request(fb, "v1", "hangup")
    _loop.run_sync(peers[0].close(), 10)
