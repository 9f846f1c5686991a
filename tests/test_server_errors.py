"""Bad input, auth, model, dialect and session-length behaviour of the local server."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rtclient import RawClient, types, user_text

from realtime_nb.protocol.events import ACCEPTED_CLIENT_TYPES
from realtime_nb.server import LocalServer


@pytest.fixture
def client(server):
    with RawClient(server.url) as c:
        assert c.recv()["type"] == "session.created"
        yield c


def still_alive(c: RawClient) -> None:
    c.send({"type": "session.update", "session": {"type": "realtime", "instructions": "ok"}})
    assert c.until("session.updated")[-1]["session"]["instructions"] == "ok"


def test_seed_scooby_dooby_doo(client):
    client.send({"event_id": "my_awesome_event", "type": "scooby.dooby.doo"})
    event = client.until("error")[-1]
    assert event["event_id"].startswith("event_") and event["event_id"] != "my_awesome_event"
    err = event["error"]
    assert err["type"] == "invalid_request_error" and err["code"] == "invalid_value"
    assert err["param"] == "type" and err["event_id"] == "my_awesome_event"
    assert err["message"].startswith("Invalid value: 'scooby.dooby.doo'. Supported values are: 'session.update'")
    assert err["message"].endswith("and 'response.cancel'.")
    for name in ACCEPTED_CLIENT_TYPES:
        assert f"'{name}'" in err["message"]
    still_alive(client)


@pytest.mark.parametrize(("frame", "code"), [
    ("{not json", "invalid_json"),
    ("[1, 2, 3]", "invalid_json"),
    (b"\x00\x01binary", "invalid_event"),
])
def test_malformed_frames(client, frame, code):
    client.send(frame)
    err = client.until("error")[-1]["error"]
    assert err["code"] == code and err["event_id"] is None
    still_alive(client)


@pytest.mark.parametrize(("event", "code", "param"), [
    ({"type": "session.update"}, "missing_required_parameter", "session"),
    ({"type": "session.update", "session": {"instructions": "x"}}, "missing_required_parameter", "session.type"),
    ({"type": "session.update", "session": {"type": "realtime", "modalities": ["text"]}}, "unknown_parameter",
     "session.modalities"),
    ({"type": "session.update", "session": {"type": "realtime", "audio": {"input": {"format": {
        "type": "audio/pcm", "rate": 16000}}}}}, "integer_below_min_value", "session.audio.input.format.rate"),
    ({"type": "session.update", "session": {"type": "realtime", "output_modalities": ["text", "audio"]}},
     "invalid_value", "session.output_modalities"),
    ({"type": "input_audio_buffer.append", "audio": 12}, "invalid_type", "audio"),
    ({"type": "input_audio_buffer.append", "audio": "%%%not base64"}, "invalid_value", "audio"),
    ({"type": "conversation.item.create", "item": {"type": "message", "role": "user"}},
     "missing_required_parameter", "item.content"),
    ({"type": "conversation.item.create", "item": {"type": "message", "role": "robot", "content": []}},
     "invalid_value", "item.role"),
    ({"type": "conversation.item.truncate", "item_id": "x", "content_index": 0}, "missing_required_parameter",
     "audio_end_ms"),
    ({"type": "conversation.item.delete", "item_id": "item_missing"}, "item_delete_invalid_item_id", "item_id"),
    ({"type": "response.create", "response": {"conversation": "other"}}, "invalid_value", "response.conversation"),
    ({"type": "response.create", "response": {"temperature": 0.8}}, "unknown_parameter", "response.temperature"),
    ({"type": "response.create", "surprise": 1}, "unknown_parameter", "surprise"),
    ({"type": "output_audio_buffer.clear"}, "invalid_value", "type"),
    ({"type": "transcription_session.update", "session": {}}, "invalid_value", "type"),
])
def test_invalid_events_get_the_right_error(client, event, code, param):
    client.send({**event, "event_id": "bad-1"})
    err = client.until("error")[-1]["error"]
    assert (err["code"], err["param"], err["event_id"]) == (code, param, "bad-1"), err
    still_alive(client)


def test_rejected_session_update_changes_nothing(client):
    client.send({"type": "session.update", "session": {"type": "realtime", "instructions": "first"}})
    client.until("session.updated")
    client.send({"type": "session.update", "session": {"type": "realtime", "instructions": "second",
                                                       "audio": {"output": {"voice": "nobody"}}}})
    assert client.until("error")[-1]["error"]["param"] == "session.audio.output.voice"
    client.send({"type": "session.update", "session": {"type": "realtime"}})
    assert client.until("session.updated")[-1]["session"]["instructions"] == "first"


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=8)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(etype=st.sampled_from([*ACCEPTED_CLIENT_TYPES, "x.y", "response.done"]),
       fields=st.dictionaries(st.sampled_from(["session", "item", "audio", "response", "item_id", "content_index",
                                               "audio_end_ms", "previous_item_id", "response_id", "zzz"]),
                              json_values, max_size=3))
def test_generated_events_never_break_the_session(client, etype, fields):
    if etype in ("session.close",):
        return
    client.send({"type": etype, "event_id": "gen", **fields})
    # whatever happens, the session answers the next well-formed event
    client.send({"type": "input_audio_buffer.clear", "event_id": "probe"})
    events = client.until("input_audio_buffer.cleared", timeout=20)
    for e in events:
        if e["type"] == "error":
            assert e["error"]["event_id"] in ("gen", None) and e["error"]["code"]


def test_api_key_required_when_configured():
    with LocalServer(api_key="sk-right") as srv:
        with RawClient(srv.url, headers={"Authorization": "Bearer sk-wrong"}) as c:
            err = c.recv()["error"]
            assert err["code"] == "invalid_api_key"
            assert c.wait_closed() == (3000, "invalid_request_error.invalid_api_key")
        with RawClient(srv.url, headers={}) as c:
            assert c.recv()["error"]["code"] == "invalid_api_key"
            assert c.wait_closed()[0] == 3000
        with RawClient(srv.url, headers={"Authorization": "Bearer sk-right"}) as c:
            assert c.recv()["type"] == "session.created"


def test_missing_model_closes_4000(server):
    with RawClient(server.url, model=None) as c:
        assert c.recv()["error"]["code"] == "missing_model"
        assert c.wait_closed() == (4000, "invalid_request_error.missing_model")


def test_session_expires_with_1001():
    with LocalServer(max_session_s=1.0) as srv, RawClient(srv.url) as c:
        assert c.recv()["type"] == "session.created"
        err = c.until("error", timeout=5)[-1]["error"]
        assert err["code"] == "session_expired"
        assert err["message"] == "Your session hit the maximum duration of 1 seconds."
        code, reason = c.wait_closed()
        assert code == 1001 and "maximum duration" in reason


@pytest.mark.parametrize(("headers", "subprotocols"), [
    ({"Authorization": "Bearer x", "OpenAI-Beta": "realtime=v1"}, None),
    ({}, ["realtime", "openai-insecure-api-key.x", "openai-beta.realtime-v1"]),
])
def test_beta_client_is_refused_as_live_by_default(server, headers, subprotocols):
    with RawClient(server.url, headers=headers, subprotocols=subprotocols) as c:
        err = c.recv()["error"]
        assert (err["type"], err["code"]) == ("invalid_request_error", "beta_api_shape_disabled")
        assert c.wait_closed() == (4000, "invalid_request_error.beta_api_shape_disabled")
        assert [e["type"] for e in c.received] == ["error"]  # no session.created


def test_beta_client_is_served_the_beta_dialect_on_request(beta_server):
    """The seed's own payloads over a beta connection get the events the seed describes."""
    headers = {"Authorization": "Bearer x", "OpenAI-Beta": "realtime=v1"}
    with RawClient(beta_server.url, headers=headers, validate=False) as c:
        created = c.recv()
        assert created["type"] == "session.created" and created["session"]["voice"] == "alloy"
        assert created["session"]["modalities"] == ["text", "audio"]
        c.send({"type": "session.update", "session": {"instructions": "Never use the word 'moist' in your responses!"}})
        assert c.until("session.updated")[-1]["session"]["instructions"].startswith("Never use")
        c.send(user_text("What Prince album sold the most copies?"))
        c.send({"type": "response.create", "response": {"modalities": ["text"]}})
        events = c.until("response.done")
        names = types(events)
        assert "conversation.item.created" in names and "response.text.delta" in names
        assert "conversation.item.added" not in names and "response.output_text.delta" not in names
        text = "".join(e["delta"] for e in events if e["type"] == "response.text.delta")
        assert text == "You said: What Prince album sold the most copies?"
        output = events[-1]["response"]["output"][0]
        assert output["content"][0]["type"] == "text" and output["object"] == "realtime.item"
        assert events[-1]["response"]["modalities"] == ["text"]
        c.send({"event_id": "my_awesome_event", "type": "scooby.dooby.doo"})
        assert c.until("error")[-1]["error"]["event_id"] == "my_awesome_event"


def test_unknown_path_is_404(server):
    import urllib.error
    import urllib.request

    http = server.url.replace("ws://", "http://").replace("/v1", "/nope")
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(http, timeout=5)
    assert info.value.code == 404


def test_server_debug_logs_never_show_the_key(caplog):
    import logging

    secret = "sk-very-secret-123"
    with caplog.at_level(logging.DEBUG, logger="realtime_nb.server.websocket"):
        with LocalServer(api_key=secret) as srv:
            with RawClient(srv.url, headers={"Authorization": f"Bearer {secret}"}) as c:
                assert c.recv()["type"] == "session.created"
            with RawClient(srv.url, headers={}, subprotocols=["realtime", f"openai-insecure-api-key.{secret}"]) as c:
                assert c.recv()["type"] == "session.created"
    # the test's own raw client logs through websockets.client; the server logs under realtime_nb.server
    text = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("realtime_nb.server"))
    assert "authorization" in text.lower() and "openai-insecure-api-key.***" in text  # the handshake was logged …
    assert secret not in text  # … with the key masked
