"""Session against the local server: text turns, responses, context, items, raw events, config."""

from __future__ import annotations

import threading
import warnings

import numpy as np
import pytest

import realtime_nb as rt
from realtime_nb.audio import read_wav
from realtime_nb.client import _target


def test_text_turn_with_audio_output(rt_session):
    r = rt_session.say("What Prince album sold the most copies?")
    assert r.status == "completed" and r.done
    assert r.transcript == "You said: What Prince album sold the most copies?"
    assert r.audio.dtype == np.int16 and len(r.audio) > 24000 // 2
    assert r.conversation == "auto" and r.conversation_id
    assert r.usage["output_tokens"] > 0
    assert r.sent_at <= r.created_at <= r.first_delta_at <= r.done_at
    assert 0 <= r.time_to_first_delta <= r.time_to_done
    items = rt_session.items
    assert list(items["role"]) == ["user", "assistant"]
    assert items["text"].iloc[0] == "What Prince album sold the most copies?"
    assert items["audio_ms"].iloc[1] == pytest.approx(len(r.audio) / 24)


def test_text_only_response(rt_session):
    r = rt_session.say("hello", output_modalities=["text"])
    assert r.text == "You said: hello" and r.transcript == ""
    assert len(r.audio) == 0
    assert r.output[0]["content"][0]["type"] == "output_text"
    frame = rt_session.responses
    assert frame["output_modalities"].iloc[-1] == ["text"]
    assert frame["text"].iloc[-1] == "You said: hello"


def test_wait_false_and_response_display(rt_session, tmp_path):
    r = rt_session.say("play it back", wait=False)
    assert isinstance(r, rt.Response)
    assert r.wait(10) is r
    assert "play it back" in repr(r) and "sk-" not in repr(r)
    html = r._repr_html_()
    assert "You said: play it back" in html and "<audio controls src='data:audio/wav;base64," in html
    bundle = r._repr_mimebundle_()
    assert set(bundle) == {"text/plain", "text/html"}
    path = r.save_wav(tmp_path / "out.wav")
    pcm, rate = read_wav(path)
    assert rate == 24000 and np.array_equal(pcm, r.audio)
    assert rt_session.last_response is r and rt_session.get_response(r.id) is r


def test_update_returns_effective_config(rt_session):
    config = rt_session.update(instructions="Never use the word 'moist'", output_modalities=["text"])
    assert config["instructions"] == "Never use the word 'moist'"
    assert rt_session.config["output_modalities"] == ["text"]
    assert rt_session.say("hi").text == "You said: hi"  # the session default now applies


def test_beta_session_fields_are_translated(server, caplog):
    caplog.set_level("INFO", logger="realtime_nb")
    with pytest.warns(UserWarning, match="temperature"):
        s = rt.connect(url=server.url, voice="ash", modalities=["text"], turn_detection=None,
                       input_audio_format="pcm16", temperature=0.7, instructions="Be brief.")
    with s:
        cfg = s.config
        assert cfg["audio"]["output"]["voice"] == "ash"
        assert cfg["output_modalities"] == ["text"]
        assert cfg["audio"]["input"]["turn_detection"] is None
        assert cfg["audio"]["input"]["format"] == {"type": "audio/pcm", "rate": 24000}
        assert cfg["instructions"] == "Be brief."
        seen = []
        s.on("response.text.delta", seen.append)   # a beta name: an alias of response.output_text.delta
        r = s.respond(modalities=["text"], max_response_output_tokens=200, input=["beta style"])
        assert r.text == "You said: beta style"
        assert seen and all(e["type"] == "response.output_text.delta" for e in seen)
    assert "translated beta session fields" in caplog.text


def test_out_of_band_respond_with_item_reference_and_metadata(rt_session):
    first = rt_session.add_item({"type": "message", "role": "user",
                                 "content": [{"type": "input_text", "text": "I love pizza"}]})
    rt_session.say("something else", output_modalities=["text"])
    before = list(rt_session.items["item_id"])
    r = rt_session.respond(conversation="none", metadata={"topic": "pizza"}, output_modalities=["text"],
                           input=[rt.ref(first)])
    assert r.text == "You said: I love pizza"        # only the referenced item was the context
    assert r.metadata == {"topic": "pizza"} and r.conversation == "none" and r.conversation_id is None
    r2 = rt_session.respond(conversation="none", output_modalities=["text"],
                            input=[rt.ref(first), "Is pineapple ok?"])
    assert r2.text == "You said: Is pineapple ok?"
    assert list(rt_session.items["item_id"]) == before   # out-of-band adds nothing
    frame = rt_session.responses.set_index("response_id")
    assert frame.loc[r.id, "conversation"] == "none" and frame.loc[r.id, "metadata"] == {"topic": "pizza"}


def test_empty_input_means_no_context(rt_session):
    rt_session.say("remember this", output_modalities=["text"])
    r = rt_session.respond(input=[], output_modalities=["text"])
    assert r.text == "Hello! I am the realtime-nb local echo brain."
    assert r.conversation == "auto"
    assert rt_session.items["item_id"].iloc[-1] == r.output[0]["id"]   # but its output joins the conversation


def test_say_out_of_band_keeps_text_out_of_the_conversation(rt_session):
    rt_session.say("in band", output_modalities=["text"])
    n = len(rt_session.items)
    r = rt_session.say("out of band", conversation="none", output_modalities=["text"])
    assert r.text == "You said: out of band" and len(rt_session.items) == n


def test_items_add_retrieve_delete_and_item_audio(rt_session):
    tone = (np.sin(np.arange(24000) / 24000 * 2 * np.pi * 440) * 8000).astype(np.int16)
    audio_id = rt_session.add_audio_message(tone)
    text_id = rt_session.add_item({"type": "message", "role": "user",
                                   "content": [{"type": "input_text", "text": "first"}]}, previous_item_id="root")
    assert list(rt_session.items["item_id"]) == [text_id, audio_id]
    assert np.array_equal(rt_session.item_audio(audio_id), tone)
    item = rt_session.retrieve(audio_id)
    assert item["id"] == audio_id and "audio" not in item["content"][0]
    assert np.array_equal(rt_session.item_audio(audio_id), tone)
    rt_session.delete_item(text_id)
    assert list(rt_session.items["item_id"]) == [audio_id]
    r = rt_session.respond(output_modalities=["text"])
    assert r.text == "I heard 1.0 seconds of audio."


def test_truncate_assistant_audio(rt_session):
    r = rt_session.say("a reply long enough to cut")
    item_id = r.output[0]["id"]
    assert len(rt_session.item_audio(item_id)) > 500 * 24
    rt_session.truncate(item_id, 500)
    assert len(rt_session.item_audio(item_id)) == 500 * 24
    row = rt_session.items.set_index("item_id").loc[item_id]
    assert row["truncated_at_ms"] == 500
    assert len(r.audio) > 500 * 24            # the Response keeps what was said
    with pytest.raises(rt.RealtimeError) as info:
        rt_session.truncate(item_id, 10_000)
    assert info.value.param == "audio_end_ms"


def test_cancel_active_response(slow_server):
    with rt.connect(url=slow_server.url) as s:
        assert s.cancel() is None                  # nothing active: harmless
        r = s.say("please talk for a while so that I can interrupt you", wait=False)
        started = threading.Event()
        s.on("response.output_audio.delta", lambda e: started.set())
        assert started.wait(10)
        cancelled = s.cancel()
        assert cancelled is r
        assert r.status == "cancelled"
        assert r.status_details["reason"] == "client_cancelled"
        assert len(r.audio) < 24000 * 3
        assert s.say("still fine?", output_modalities=["text"]).text == "You said: still fine?"


def test_raw_send_and_scooby_dooby_doo_error(rt_session):
    with pytest.raises(rt.RealtimeError) as info:
        rt_session.send({"event_id": "my_awesome_event", "type": "scooby.dooby.doo"})
    err = info.value
    assert err.event_id == "my_awesome_event" and err.code == "invalid_value" and err.param == "type"
    assert err.type == "invalid_request_error"
    events = rt_session.events
    row = events[(events["type"] == "error")].iloc[-1]
    assert row["error_code"] == "invalid_value"
    # raw events in beta shape are translated; the reply is awaited
    eid = rt_session.send({"type": "session.update", "session": {"instructions": "raw"}})
    assert eid.startswith("rtnb_") and rt_session.config["instructions"] == "raw"
    eid = rt_session.send({"type": "response.create", "response": {"modalities": ["text"]}})
    assert rt_session.last_response.wait(10).text.startswith("Hello!")
    # fire and forget: the error goes to handlers and the log, not to the call
    errors = []
    rt_session.on("error", errors.append)
    assert rt_session.send({"type": "scooby.dooby.doo"}, wait=False)
    rt_session.say("sync", output_modalities=["text"])
    assert errors and errors[-1]["error"]["code"] == "invalid_value"


def test_errors_raise_in_the_call_that_caused_them(rt_session):
    with pytest.raises(rt.RealtimeError) as info:
        rt_session.update(voice="not-a-voice")
    assert info.value.event_id.startswith("rtnb_") and "voice" in info.value.param
    with pytest.raises(rt.RealtimeError):
        rt_session.delete_item("item_does_not_exist")
    with pytest.raises(rt.RealtimeError) as info:
        rt_session.commit()                                   # empty buffer
    assert info.value.code == "input_audio_buffer_commit_empty"
    with pytest.raises(rt.RealtimeError):
        rt_session.respond(input=[rt.ref("item_missing")])
    assert rt_session.say("ok", output_modalities=["text"]).text == "You said: ok"


def test_voice_is_locked_after_audio(rt_session):
    rt_session.update(voice="marin")
    rt_session.say("speak once")
    with pytest.raises(rt.RealtimeError) as info:
        rt_session.update(voice="cedar")
    assert info.value.code == "cannot_update_voice"
    assert rt_session.config["audio"]["output"]["voice"] == "marin"


def test_sync_methods_from_many_threads(rt_session):
    results: dict[int, str] = {}

    def worker(i: int) -> None:
        results[i] = rt_session.say(f"thread {i}", conversation="none", output_modalities=["text"]).text

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert results == {i: f"You said: thread {i}" for i in range(6)}


def test_respond_rejects_unknown_parameters(rt_session):
    with pytest.raises(TypeError, match="unknown response parameter"):
        rt_session.respond(modalitiez=["text"])
    with pytest.raises(TypeError, match="input= takes a list"):
        rt_session.respond(input="just a string")


def test_ref():
    assert rt.ref("item_1") == {"type": "item_reference", "id": "item_1"}
    assert rt.ref({"id": "item_2", "type": "message"}) == {"type": "item_reference", "id": "item_2"}
    with pytest.raises(TypeError):
        rt.ref(3)


def test_target_resolution(monkeypatch):
    for var in ("REALTIME_NB_URL", "OPENAI_API_KEY", "REALTIME_NB_API_KEY"):
        monkeypatch.delenv(var, raising=False)
    assert _target.resolve(None, None).kind == "local"
    monkeypatch.setenv("OPENAI_API_KEY", "sk-env")
    t = _target.resolve(None, None)
    assert (t.kind, t.base_url, t.api_key) == ("openai", "wss://api.openai.com/v1", "sk-env")
    assert "sk-env" not in repr(t)
    assert t.realtime_url("gpt-realtime") == "wss://api.openai.com/v1/realtime?model=gpt-realtime"
    monkeypatch.setenv("REALTIME_NB_URL", "ws://127.0.0.1:9/v1")
    t = _target.resolve(None, None)
    assert t.kind == "env" and t.api_key == _target.PLACEHOLDER_KEY   # the OpenAI key stays with OpenAI
    t = _target.resolve("ws://h:1/v1/realtime?x=1", "sk-arg")
    assert t.kind == "url" and t.api_key == "sk-arg"
    assert t.realtime_url("m") == "ws://h:1/v1/realtime?x=1&model=m"


def test_embedded_server_is_shared_and_stopped(monkeypatch):
    for var in ("REALTIME_NB_URL", "OPENAI_API_KEY"):
        monkeypatch.delenv(var, raising=False)
    a = rt.connect()
    b = rt.connect()
    try:
        assert a.url == b.url and a.url.startswith("ws://127.0.0.1:") and a.model == "gpt-realtime-2.1"
        assert "embedded local server" in repr(a)
        assert a.say("hi", output_modalities=["text"]).text == "You said: hi"
        a.close()
        a.close()                                       # idempotent
        assert b.say("still", output_modalities=["text"]).text == "You said: still"
        assert _target._server is not None
    finally:
        a.close()
        b.close()
    assert _target._server is None
    with pytest.raises(rt.ConnectionClosed):
        b.say("closed")


def test_model_and_context_manager(server):
    with rt.connect("gpt-realtime-mini", url=server.url) as s:
        assert s.config["model"] == "gpt-realtime-mini" and "model=gpt-realtime-mini" in s.url
    assert s.closed and "closed" in repr(s)


def test_no_warnings_for_plain_ga_fields(server):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with rt.connect(url=server.url, output_modalities=["text"],
                        audio={"output": {"voice": "marin"}}) as s:
            assert s.config["audio"]["output"]["voice"] == "marin"


def test_callables_in_tools_are_registered_and_run(server):
    def get_weather(city: str) -> str:
        """The weather in a city."""
        return f"sunny in {city}"

    with rt.connect(url=server.url, output_modalities=["text"]) as s:
        r = s.say("get weather please", tools=[get_weather])
        assert r.previous.tool_calls[0]["name"] == "get_weather"
        assert r.text == "get_weather returned: sunny in get weather please"
        assert r.request["tools"][0]["name"] == "get_weather"       # sent as a schema
    with rt.connect(url=server.url, output_modalities=["text"], tools=[get_weather]) as s:
        assert [t["name"] for t in s.config["tools"]] == ["get_weather"]
        assert s.say("get weather now").text == "get_weather returned: sunny in get weather now"


def test_raw_sends_without_wait_keep_replies_aligned(rt_session, caplog):
    rt_session.send({"type": "session.update", "session": {"instructions": "first"}}, wait=False)
    config = rt_session.update(instructions="second")
    assert config["instructions"] == "second"
    with caplog.at_level("WARNING", logger="realtime_nb"):
        rt_session.send({"type": "conversation.item.delete", "item_id": "item_nope"}, wait=False)
        rt_session.say("sync", output_modalities=["text"])
    assert "item_nope" in caplog.text          # a detached call's error is reported, not lost
