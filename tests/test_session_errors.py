"""Handlers, threads, connection loss, session expiry and secrets."""

from __future__ import annotations

import logging
import threading
import time

import pytest

import realtime_nb as rt
from realtime_nb.client import _loop


def test_handlers_get_events_and_can_be_removed(rt_session):
    seen: list[str] = []

    @rt_session.on("response.done")
    def on_done(event):
        seen.append(event["response"]["id"])

    everything: list[str] = []
    rt_session.on("*", lambda e: everything.append(e["type"]))
    r = rt_session.say("hi", output_modalities=["text"])
    assert seen == [r.id]
    assert "response.output_text.delta" in everything and "conversation.item.added" in everything
    rt_session.off("response.done", on_done)
    rt_session.say("again", output_modalities=["text"])
    assert seen == [r.id]
    rt_session.off()
    n = len(everything)
    rt_session.say("and again", output_modalities=["text"])
    assert len(everything) == n


def test_async_handlers_run_on_the_loop(rt_session):
    got = threading.Event()

    async def handler(event):
        got.set()

    rt_session.on("response.created", handler)
    rt_session.say("hi", output_modalities=["text"])
    assert got.wait(5)


def test_a_raising_handler_never_kills_the_session(rt_session, caplog):
    def broken(event):
        raise ZeroDivisionError("handler bug")

    async def broken_async(event):
        raise KeyError("async handler bug")

    rt_session.on("response.output_text.delta", broken)
    rt_session.on("response.done", broken_async)
    with caplog.at_level(logging.ERROR, logger="realtime_nb"):
        r = rt_session.say("still works", output_modalities=["text"])
        assert r.text == "You said: still works"
        assert rt_session.say("twice", output_modalities=["text"]).text == "You said: twice"
        time.sleep(0.1)
    events = rt_session.events
    errors = events[events["type"] == "handler_error"]
    assert set(errors["error_code"]) == {"ZeroDivisionError", "KeyError"}
    assert errors["direction"].eq("local").all()
    assert "handler bug" in caplog.text


def test_sync_call_from_a_handler_raises_a_clear_error(rt_session):
    caught: list[BaseException] = []
    done = threading.Event()

    def handler(event):
        try:
            rt_session.say("nested")
        except RuntimeError as exc:
            caught.append(exc)
        try:
            rt_session.last_response.wait()
        except RuntimeError as exc:
            caught.append(exc)
        done.set()

    rt_session.on("response.done", handler)
    rt_session.say("outer", output_modalities=["text"])
    assert done.wait(5)
    assert len(caught) == 2
    assert "event loop thread" in str(caught[0]) and "await s.asay(" in str(caught[0])
    assert "Response.wait()" in str(caught[1])
    rt_session.off("response.done", handler)
    assert rt_session.say("after", output_modalities=["text"]).text == "You said: after"


def test_async_method_from_an_async_handler_works(rt_session):
    replies: list[str] = []
    done = threading.Event()

    async def handler(event):
        if event["response"]["metadata"] == {"outer": "1"}:
            r = await rt_session.asay("from a handler", conversation="none", output_modalities=["text"])
            replies.append(r.text)
            done.set()

    rt_session.on("response.done", handler)
    rt_session.say("outer", output_modalities=["text"], metadata={"outer": "1"})
    assert done.wait(10) and replies == ["You said: from a handler"]


def test_run_sync_refuses_the_loop_thread():
    async def inner():
        async def nothing():
            return 1

        with pytest.raises(RuntimeError, match="event loop thread"):
            _loop.run_sync(nothing())
        return "ok"

    assert _loop.run_sync(inner()) == "ok"


def test_connection_drop_fails_pending_calls():
    srv = rt.LocalServer(pace="realtime").start()
    s = rt.connect(url=srv.url)
    try:
        r = s.say("a long enough answer to still be speaking when the server goes away", wait=False)
        outcome: list[BaseException] = []

        def wait_for_it() -> None:
            try:
                r.wait(20)
            except BaseException as exc:
                outcome.append(exc)

        waiter = threading.Thread(target=wait_for_it)
        waiter.start()
        time.sleep(0.3)
        srv.stop()
        waiter.join(20)
        assert len(outcome) == 1 and isinstance(outcome[0], rt.ConnectionClosed)
        assert not isinstance(outcome[0], rt.SessionExpired)
        assert outcome[0].code is not None
        assert r.status == "failed"
        with pytest.raises(rt.ConnectionClosed):
            s.say("anyone there?")
        assert s.closed
    finally:
        s.close()
        srv.stop()


def test_session_expired():
    with rt.LocalServer(max_session_s=1, pace="realtime") as srv:
        s = rt.connect(url=srv.url)
        r = s.say("talk slowly for a long while so the session runs out of time meanwhile", wait=False)
        with pytest.raises(rt.SessionExpired) as info:
            r.wait(10)
        assert info.value.code == 1001 and "maximum duration" in info.value.reason
        with pytest.raises(rt.SessionExpired):
            s.say("too late")
        s.close()
        assert "session_expired" in s.events["error_code"].tolist()


def test_api_key_never_leaks(caplog):
    key = "sk-test-SECRET-9f8e7d6c5b4a"
    caplog.set_level(logging.DEBUG)
    with rt.LocalServer(api_key=key) as srv:   # the server checks the bearer: proves the key was sent
        with rt.connect(url=srv.url, api_key=key, instructions="hello") as s:
            r = s.say("hi", output_modalities=["text"])
            s.classify("yes or no?", ["yes", "no"])
            shown = [repr(s), str(s), repr(r), r._repr_html_(), repr(s._client.target), s.url,
                     s.items.to_string(), s.events.to_string(), s.responses.to_string(), str(s.config)]
            assert not any(key in text for text in shown)
        # the client side logs (ours and websockets' client handshake at DEBUG) never show it
        client_logs = [r.getMessage() for r in caplog.records if not r.name.startswith("websockets.server")]
        assert client_logs and not any(key in m for m in client_logs)
        assert any("Authorization: ***" in m for m in client_logs)
        with pytest.raises(rt.ConnectionClosed) as info:
            rt.connect(url=srv.url, api_key="sk-wrong")
        assert info.value.code == 3000


def test_connect_errors_are_clear():
    with pytest.raises(OSError):
        rt.connect(url="ws://127.0.0.1:9/v1", timeout=2)


def test_close_from_a_handler(server):
    s = rt.connect(url=server.url)
    closed = threading.Event()

    def handler(event):
        s.close()
        closed.set()

    s.on("response.done", handler)
    s.say("bye", output_modalities=["text"])
    assert closed.wait(5)
    for _ in range(100):
        if s.closed:
            break
        time.sleep(0.02)
    assert s.closed
    s.close()
