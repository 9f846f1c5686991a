"""Turn-detection options on the local server: create/interrupt flags, idle timeout, semantic VAD."""

from __future__ import annotations

import time

import pytest
from rtclient import RawClient, types, user_text
from test_server_audio import append, silence

from realtime_nb.server import LocalServer


@pytest.fixture
def client(server):
    with RawClient(server.url) as c:
        assert c.recv()["type"] == "session.created"
        yield c


def set_vad(c: RawClient, **td) -> dict:
    c.send({"type": "session.update", "session": {"type": "realtime", "output_modalities": ["text"],
                                                  "audio": {"input": {"turn_detection": td}}}})
    return c.until("session.updated")[-1]["session"]["audio"]["input"]["turn_detection"]


def test_vad_without_automatic_response(client, speech_wav):
    td = set_vad(client, type="server_vad", create_response=False)
    assert td["create_response"] is False and td["silence_duration_ms"] == 200  # defaults kept
    pcm, _ = speech_wav
    append(client, pcm)
    events = client.until("conversation.item.done")
    assert types(events)[:3] == ["input_audio_buffer.speech_started", "input_audio_buffer.speech_stopped",
                                 "input_audio_buffer.committed"]
    assert client.quiet(0.5) == []  # no response.created
    client.send({"type": "response.create"})
    done = client.until("response.done")[-1]["response"]
    assert done["output"][0]["content"][0]["text"].startswith("I heard ")


@pytest.mark.parametrize(("silence_ms", "padding_ms"), [(500, 100), (800, 0)])
def test_padding_and_silence_shift_the_stamps(client, speech_wav, silence_ms, padding_ms):
    set_vad(client, type="server_vad", silence_duration_ms=silence_ms, prefix_padding_ms=padding_ms,
            create_response=False)
    pcm, [(t0, t1)] = speech_wav
    append(client, pcm)
    started, stopped = client.until("input_audio_buffer.speech_stopped")[-2:]
    assert abs(started["audio_start_ms"] - (t0 - padding_ms)) <= 40
    assert abs(stopped["audio_end_ms"] - (t1 + silence_ms)) <= 40


def test_interrupt_response_false_keeps_the_response(slow_server, speech_wav):
    pcm, _ = speech_wav
    with RawClient(slow_server.url) as c:
        c.recv()
        c.send({"type": "session.update", "session": {"type": "realtime", "audio": {"input": {"turn_detection": {
            "type": "server_vad", "interrupt_response": False, "create_response": False}}}}})
        c.until("session.updated")
        c.send(user_text("please talk for a while about anything at all, for quite a long time indeed"))
        c.send({"type": "response.create"})
        c.until("response.output_audio.delta", timeout=30)
        append(c, pcm)
        events = c.until("response.done", timeout=60)
        assert "input_audio_buffer.speech_started" in types(events)
        assert events[-1]["response"]["status"] == "completed"


def test_idle_timeout_triggers_a_response():
    with LocalServer() as srv, RawClient(srv.url) as c:
        c.recv()
        set_vad(c, type="server_vad", idle_timeout_ms=5000)
        t0 = time.monotonic()
        for _ in range(80):  # up to 8 s of silence, sent in real time
            append(c, silence(100))
            time.sleep(0.1)
            c.quiet(0.001)
            if "response.done" in types(c.received):
                break
        events = c.received
        names = types(events)
        assert "response.done" in names
        i = names.index("input_audio_buffer.timeout_triggered")
        assert names[i + 1:i + 4] == ["input_audio_buffer.committed", "conversation.item.added",
                                      "conversation.item.done"]
        assert time.monotonic() - t0 >= 4.9
        trig = events[i]
        assert trig["audio_end_ms"] > trig["audio_start_ms"] and trig["item_id"] == events[i + 1]["item_id"]


def test_semantic_vad_is_accepted_and_ends_turns(client, speech_wav):
    td = set_vad(client, type="semantic_vad", eagerness="high")
    assert td == {"type": "semantic_vad", "eagerness": "high", "create_response": True, "interrupt_response": True}
    pcm, _ = speech_wav
    append(client, pcm)
    append(client, silence(1500))
    names = types(client.until("response.done", timeout=30))
    assert names[:3] == ["input_audio_buffer.speech_started", "input_audio_buffer.speech_stopped",
                         "input_audio_buffer.committed"]
