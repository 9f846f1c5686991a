"""Every input gets an answer and the connection stays open: faults become ``error`` events.

Each root cause a fuzzer found (lone surrogates, unhashable roles, odd-length PCM in items, JSON nested
hundreds of levels deep) gets its own error with the exact ``param``; anything else that goes wrong
while handling one event is a ``server_error`` naming the client's ``event_id``, logged once.
"""

from __future__ import annotations

import base64
import json
import logging

import pytest
from rtclient import RawClient, user_text

from realtime_nb.server import LocalServer
from realtime_nb.server.engine import Engine


@pytest.fixture
def client(server):
    with RawClient(server.url) as c:
        assert c.recv()["type"] == "session.created"
        yield c


def still_alive(c: RawClient) -> None:
    c.send({"type": "session.update", "session": {"type": "realtime", "instructions": "ok"}})
    assert c.until("session.updated")[-1]["session"]["instructions"] == "ok"


def send_raw(c: RawClient, event: dict) -> dict:
    """Send ``event`` as JSON text (surrogates escaped, as any JSON encoder may), return the error."""
    c.send(json.dumps({**event, "event_id": "ev-1"}))
    return c.until("error")[-1]["error"]


def nested(depth: int) -> object:
    value: object = "x"
    for i in range(depth):
        value = {"a": value} if i % 2 else [value]
    return value


@pytest.mark.parametrize(("event", "param"), [
    ({"type": "session.update", "session": {"type": "realtime", "instructions": "hi \ud800"}},
     "session.instructions"),
    ({"type": "conversation.item.create", "item": {"type": "message", "role": "user", "content": [
        {"type": "input_text", "text": "a\udfffb"}]}}, "item.content[0].text"),
    ({"type": "response.create", "response": {"metadata": {"k": "\ud800"}}}, "response.metadata.k"),
    ({"type": "conversation.item.create", "item": {"type": "function_call_output", "call_id": "c",
                                                   "output": "\udc00"}}, "item.output"),
])
def test_lone_surrogates_are_refused_naming_the_param(client, event, param):
    err = send_raw(client, event)
    assert (err["code"], err["param"], err["event_id"]) == ("invalid_value", param, "ev-1"), err
    assert "surrogate" in err["message"]
    still_alive(client)


@pytest.mark.parametrize("role", [[], {}, ["user"], {"a": 1}, 5, None])
def test_an_unhashable_or_mistyped_role_is_an_error_not_a_drop(client, role):
    err = send_raw(client, {"type": "conversation.item.create",
                            "item": {"type": "message", "role": role, "content": []}})
    code = "missing_required_parameter" if role is None else "invalid_type"
    assert (err["code"], err["param"], err["event_id"]) == (code, "item.role", "ev-1"), err
    still_alive(client)


def test_odd_length_pcm_in_an_item_is_invalid_value(client):
    audio = base64.b64encode(b"\x01\x02\x03").decode()
    err = send_raw(client, {"type": "conversation.item.create", "item": {"type": "message", "role": "user",
                            "content": [{"type": "input_audio", "audio": audio}]}})
    assert (err["code"], err["param"], err["event_id"]) == ("invalid_value", "item.content[0].audio", "ev-1")
    still_alive(client)


@pytest.mark.parametrize(("session", "param"), [
    ({"prompt": {"id": "p", "variables": {"v": nested(500)}}}, "session.prompt.variables.v"),
    ({"tracing": {"metadata": nested(500)}}, "session.tracing.metadata"),
    ({"tools": [{"type": "function", "name": "f", "parameters": nested(500)}]}, "session.tools[0].parameters"),
])
def test_deep_nesting_is_refused(client, session, param):
    err = send_raw(client, {"type": "session.update", "session": {"type": "realtime", **session}})
    assert err["code"] == "invalid_value" and err["event_id"] == "ev-1", err
    assert err["param"].startswith(param) and "nested more than" in err["message"], err
    still_alive(client)


def test_deep_nesting_in_a_response_input_is_refused(client):
    err = send_raw(client, {"type": "response.create", "response": {"metadata": nested(500)}})
    assert err["code"] == "invalid_value" and err["param"].startswith("response.metadata"), err
    still_alive(client)


def test_a_fault_while_handling_one_event_is_a_server_error_and_the_session_goes_on(monkeypatch, caplog):
    def broken(self, event):
        raise RuntimeError("simulated bug")

    monkeypatch.setattr(Engine, "_on_conversation_item_retrieve", broken)
    with caplog.at_level(logging.ERROR, logger="realtime_nb.server"), LocalServer() as srv, \
            RawClient(srv.url) as c:
        assert c.recv()["type"] == "session.created"
        c.send({"type": "conversation.item.retrieve", "item_id": "x", "event_id": "boom-1"})
        event = c.until("error")[-1]
        err = event["error"]
        assert (err["type"], err["code"], err["event_id"]) == ("server_error", "server_error", "boom-1"), err
        assert "simulated bug" not in err["message"]  # our internals stay in our log
        c.send(user_text("still there?"))
        c.send({"type": "response.create", "response": {"output_modalities": ["text"]}})
        done = c.until("response.done")[-1]
        assert done["response"]["output"][0]["content"][0]["text"] == "You said: still there?"
    faults = [r for r in caplog.records if r.exc_info and "boom-1" in r.getMessage()]
    assert len(faults) == 1 and "simulated bug" in str(faults[0].exc_info[1])


def test_a_bad_item_through_a_session_does_not_end_it(server):
    import realtime_nb as rt

    s = rt.connect(url=server.url)
    try:
        with pytest.raises(rt.RealtimeError):
            s.add_item({"type": "message", "role": [], "content": []})
        assert s.say("hello", output_modalities=["text"]).text == "You said: hello"
    finally:
        s.close()


def test_a_fault_while_streaming_fails_that_response_only(monkeypatch, caplog):
    from realtime_nb.server.runner import ResponseRun

    real = ResponseRun.steps_for

    def broken(self, piece):
        if self.params.get("metadata") == {"break": "yes"}:
            raise RuntimeError("simulated streaming bug")
        return real(self, piece)

    monkeypatch.setattr(ResponseRun, "steps_for", broken)
    with caplog.at_level(logging.ERROR, logger="realtime_nb.server"), LocalServer() as srv, \
            RawClient(srv.url) as c:
        assert c.recv()["type"] == "session.created"
        c.send(user_text("first"))
        c.send({"type": "response.create", "response": {"output_modalities": ["text"], "metadata": {"break": "yes"}}})
        done = c.until("response.done")[-1]["response"]
        assert done["status"] == "failed" and done["status_details"]["error"]["type"] == "server_error"
        c.send({"type": "response.create", "response": {"output_modalities": ["text"]}})
        done = c.until("response.done")[-1]["response"]
        assert done["status"] == "completed"
    assert len([r for r in caplog.records if r.exc_info]) == 1


def test_a_beta_connection_gets_validation_errors_for_hostile_shapes(beta_server, caplog):
    headers = {"Authorization": "Bearer x", "OpenAI-Beta": "realtime=v1"}
    with caplog.at_level(logging.ERROR, logger="realtime_nb.server"), \
            RawClient(beta_server.url, headers=headers, validate=False) as c:
        assert c.recv()["type"] == "session.created"
        c.send({"type": "response.create", "event_id": "b-1", "response": {"input": [
            {"type": "message", "role": "assistant", "content": [{"type": [], "text": "x"}]}]}})
        err = c.until("error")[-1]["error"]
        assert (err["type"], err["code"], err["event_id"]) == ("invalid_request_error", "invalid_value", "b-1"), err
        assert err["param"] == "response.input[0].content[0].type"
    assert not [r for r in caplog.records if r.exc_info]


@pytest.mark.parametrize("extra", [{}, {"event_id": "bye"}, {"zzz": 1}])
def test_session_close_is_the_one_event_that_closes(server, extra):
    """The fuzz suites leave ``session.close`` out: closing on it is the protocol's rule (unless invalid)."""
    with RawClient(server.url) as c:
        assert c.recv()["type"] == "session.created"
        c.send({"type": "session.close", **extra})
        if "zzz" in extra:
            assert c.until("error")[-1]["error"]["code"] == "unknown_parameter"
            still_alive(c)
        else:
            assert c.wait_closed() == (1000, "")
