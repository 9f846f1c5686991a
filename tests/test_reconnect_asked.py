"""``Session.reconnect()``: a closed session is connected again on demand — after ``resume_failed``, a drop
with ``reconnect=False``, or ``close()`` — with its config and conversation (real local server, stopped and
started again on the same port)."""

from __future__ import annotations

import asyncio
import socket
import time

import pytest

import realtime_nb as rt
from realtime_nb.server import ScriptedBrain

TEXT = {"output_modalities": ["text"]}


class Context:
    """Answers with the number of context items it sees; keeps each request."""

    def __init__(self) -> None:
        self.requests: list = []

    def __call__(self, request):
        self.requests.append(request)
        return f"I see {len(request.context)} items"


def _wait(cond, timeout: float = 10.0) -> None:
    end = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > end:
            raise AssertionError("condition not met in time")
        time.sleep(0.02)


def _notices(s):
    seen: list[dict] = []
    s.on("*", lambda e: seen.append(e) if e["type"] in ("reconnecting", "reconnected", "resume_failed") else None)
    return seen


def test_a_dropped_session_without_auto_reconnect_comes_back_with_its_conversation():
    srv = rt.LocalServer().start()
    port = srv.port
    s = rt.connect(url=srv.url, reconnect=False, instructions="Be brief.")
    again = None
    try:
        seen = _notices(s)
        s.say("one", **TEXT)
        s.say("two", **TEXT)
        before = list(s.items["item_id"])
        srv.stop()
        _wait(lambda: s.closed)
        with pytest.raises(rt.ConnectionClosed, match=r"could not reconnect.*still closed"):
            s.reconnect(timeout=5)        # nobody listens on the port: a clear error, still closed
        assert s.closed
        brain = Context()
        again = rt.LocalServer(port=port, brain=ScriptedBrain(respond_fn=brain)).start()
        stats = s.reconnect(timeout=10)
        assert stats is not None and stats["connection"] == 2 and stats["items"] == 4 and stats["not_replayed"] == []
        assert not s.closed
        r = s.say("three", **TEXT)
        assert r.text == "I see 5 items"                   # the conversation goes on
        (request,) = brain.requests
        assert [i["id"] for i in request.context[:4]] == before
        assert request.instructions == "Be brief."          # the config was restored
        assert list(s.items["connection"]) == [1, 1, 1, 1, 2, 2]
        assert [n["type"] for n in seen][-2:] == ["reconnecting", "reconnected"]
        assert seen[-1]["cause"] == "asked"
        assert s.reconnect() is None                        # open: nothing to do
    finally:
        s.close()
        if again is not None:
            again.stop()


def test_after_resume_failed_and_after_close():
    srv = rt.LocalServer().start()
    port = srv.port
    s = rt.connect(url=srv.url, reconnect_delays=(0.05, 0.05))
    again = None
    try:
        seen = _notices(s)
        s.say("hello", **TEXT)
        srv.stop()
        _wait(lambda: s.closed)
        assert "resume_failed" in [n["type"] for n in seen]
        again = rt.LocalServer(port=port).start()
        s.reconnect(timeout=10)
        assert s.say("back?", **TEXT).text == "You said: back?"
        # the automatic reconnect is on again for the new connection: a drop now resumes by itself
        again.stop()
        again = rt.LocalServer(port=port).start()
        _wait(lambda: any(n["type"] == "reconnected" and n["cause"] == "drop" for n in seen) or s.closed, 15)
        assert not s.closed and s.say("still?", **TEXT).text == "You said: still?"
        # and after the user's own close() too
        s.close()
        assert s.closed
        s.reconnect(timeout=10)
        assert len(s.items) == 6 and s.say("once more", **TEXT).text == "You said: once more"
    finally:
        s.close()
        if again is not None:
            again.stop()


def test_reconnect_is_bounded(server):
    """A port that accepts but never answers the handshake: ``RealtimeTimeout`` after ``timeout``."""
    s = rt.connect(url=server.url, reconnect=False)
    mute = socket.socket()
    mute.bind(("127.0.0.1", 0))
    mute.listen(4)
    try:
        s.close()
        s._client.url = s._client.url.replace(f":{server.port}/", f":{mute.getsockname()[1]}/")
        t0 = time.monotonic()
        with pytest.raises(rt.RealtimeTimeout, match="reconnecting to"):
            s.reconnect(timeout=0.5)
        assert time.monotonic() - t0 < 5
        assert s.closed
    finally:
        mute.close()
        s.close()


def test_areconnect_from_another_loop(server):
    async def main() -> str:
        s = await rt.aconnect(url=server.url, reconnect=False)
        try:
            await s.asay("first", **TEXT)
            await s.aclose()
            stats = await s.areconnect()
            assert stats is not None and stats["items"] == 2
            return (await s.asay("second", **TEXT)).text
        finally:
            await s.aclose()

    assert asyncio.run(main()) == "You said: second"
