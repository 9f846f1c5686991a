"""Audio turns against the local server: VAD, push-to-talk, formats, truncate, retrieve, barge-in."""

from __future__ import annotations

import base64

import numpy as np
import pytest
from rtclient import RawClient, types, user_text

from realtime_nb import audio as au

SPEECH_TAIL = ["response.output_audio.done", "response.output_audio_transcript.done",
               "response.content_part.done", "conversation.item.done", "response.output_item.done",
               "response.done", "rate_limits.updated"]


def tone(ms: int, freq: float = 220.0, level: float = 0.3) -> np.ndarray:
    """A voiced-like harmonic tone (the VAD treats it as speech) as 24 kHz int16."""
    t = np.arange(ms * 24) / 24000
    sig = sum(np.sin(2 * np.pi * freq * k * t) / k for k in range(1, 8))
    return au.float_to_pcm16(level * sig / np.max(np.abs(sig)))


def silence(ms: int) -> np.ndarray:
    return np.zeros(ms * 24, dtype=np.int16)


@pytest.fixture
def client(server):
    with RawClient(server.url) as c:
        assert c.recv()["type"] == "session.created"
        yield c


def append(c: RawClient, pcm: np.ndarray, chunk_ms: int = 100) -> None:
    step = chunk_ms * 24
    for i in range(0, len(pcm), step):
        c.send({"type": "input_audio_buffer.append", "audio": au.b64encode_pcm16(pcm[i:i + step])})


def no_vad(c: RawClient, **extra) -> dict:
    c.send({"type": "session.update", "session": {"type": "realtime",
                                                  "audio": {"input": {"turn_detection": None}}, **extra}})
    return c.until("session.updated")[-1]["session"]


def test_audio_turn_with_server_vad_exact_order(client, speech_wav):
    pcm, truth = speech_wav
    append(client, pcm)
    events = client.until("rate_limits.updated", timeout=30)
    names = [n for n in types(events) if not n.endswith(".delta")]
    assert names == [
        "input_audio_buffer.speech_started", "input_audio_buffer.speech_stopped", "input_audio_buffer.committed",
        "conversation.item.added", "conversation.item.done", "response.created", "response.output_item.added",
        "conversation.item.added", "response.content_part.added", *SPEECH_TAIL]
    started, stopped, committed = events[0], events[1], events[2]
    assert started["item_id"] == stopped["item_id"] == committed["item_id"]
    (t0, t1), = truth
    assert abs(started["audio_start_ms"] - (t0 - 300)) <= 40
    assert abs(stopped["audio_end_ms"] - (t1 + 200)) <= 40
    user = events[3]["item"]
    assert user["content"] == [{"type": "input_audio", "transcript": None}]
    audio = b"".join(base64.b64decode(e["delta"]) for e in events if e["type"] == "response.output_audio.delta")
    assert len(audio) > 24000  # more than half a second of reply audio
    transcript = "".join(e["delta"] for e in events if e["type"] == "response.output_audio_transcript.delta")
    assert transcript == events[-2]["response"]["output"][0]["content"][0]["transcript"]
    assert transcript.startswith("I heard ")
    # the committed user audio is retrievable and spans speech_started..speech_stopped
    client.send({"type": "conversation.item.retrieve", "item_id": user["id"]})
    item = client.until("conversation.item.retrieved")[-1]["item"]
    got = au.b64decode_pcm16(item["content"][0]["audio"])
    assert abs(len(got) / 24 - (stopped["audio_end_ms"] - started["audio_start_ms"])) <= 1


def test_vad_off_commit_and_respond(client):
    no_vad(client)
    append(client, tone(600))
    assert client.quiet(0.3) == []  # no VAD events with turn_detection null
    client.send({"type": "input_audio_buffer.commit"})
    events = client.until("conversation.item.done")
    assert types(events) == ["input_audio_buffer.committed", "conversation.item.added", "conversation.item.done"]
    assert client.quiet(0.3) == []  # a commit alone never creates a response
    client.send({"type": "response.create", "response": {"output_modalities": ["text"]}})
    done = client.until("response.done")[-1]["response"]
    assert done["output"][0]["content"][0]["text"] == "I heard 0.6 seconds of audio."


def test_commit_under_100ms_is_an_error(client):
    no_vad(client)
    append(client, tone(50))
    client.send({"type": "input_audio_buffer.commit", "event_id": "commit-1"})
    err = client.until("error")[-1]["error"]
    assert err["code"] == "input_audio_buffer_commit_empty" and err["event_id"] == "commit-1"
    assert "buffer only has 50.00ms of audio" in err["message"]
    client.send({"type": "input_audio_buffer.clear"})
    assert types(client.until("input_audio_buffer.cleared")) == ["input_audio_buffer.cleared"]


@pytest.mark.parametrize("fmt", ["audio/pcmu", "audio/pcma"])
def test_g711_in_and_out(client, fmt):
    no_vad(client, audio={"input": {"format": {"type": fmt}, "turn_detection": None},
                          "output": {"format": {"type": fmt}}})
    pcm8k = au.resample(tone(500), 24000, 8000)
    encoded = au.ulaw_encode(pcm8k) if fmt == "audio/pcmu" else au.alaw_encode(pcm8k)
    client.send({"type": "input_audio_buffer.append", "audio": base64.b64encode(encoded).decode()})
    client.send({"type": "input_audio_buffer.commit"})
    client.send({"type": "response.create"})
    events = client.until("response.done", timeout=30)
    assert events[-1]["response"]["audio"]["output"]["format"] == {"type": fmt}
    out = b"".join(base64.b64decode(e["delta"]) for e in events if e["type"] == "response.output_audio.delta")
    pcm = au.decode_audio(out, {"type": fmt})
    assert len(out) > 4000 and au.rms_dbfs(pcm) > -40  # 8 kHz G.711 bytes carrying real audio
    assert events[-1]["response"]["output"][0]["content"][0]["transcript"] == "I heard 0.5 seconds of audio."


def test_truncate_retrieve_delete(client):
    client.send(user_text("tell me a story"))
    client.send({"type": "response.create"})
    events = client.until("response.done", timeout=30)
    item_id = events[-1]["response"]["output"][0]["id"]
    audio_ms = sum(len(base64.b64decode(e["delta"])) for e in events
                   if e["type"] == "response.output_audio.delta") / 48
    client.send({"type": "conversation.item.truncate", "item_id": item_id, "content_index": 0,
                 "audio_end_ms": int(audio_ms) + 500, "event_id": "too-far"})
    err = client.until("error")[-1]["error"]
    assert err["event_id"] == "too-far" and err["param"] == "audio_end_ms"
    client.send({"type": "conversation.item.truncate", "item_id": item_id, "content_index": 0, "audio_end_ms": 300})
    assert client.until("conversation.item.truncated")[-1] | {"event_id": None} == {
        "type": "conversation.item.truncated", "event_id": None, "item_id": item_id, "content_index": 0,
        "audio_end_ms": 300}
    client.send({"type": "conversation.item.retrieve", "item_id": item_id})
    item = client.until("conversation.item.retrieved")[-1]["item"]
    assert len(au.b64decode_pcm16(item["content"][0]["audio"])) == 300 * 24
    client.send({"type": "conversation.item.delete", "item_id": item_id})
    assert client.until("conversation.item.deleted")[-1]["item_id"] == item_id
    client.send({"type": "conversation.item.retrieve", "item_id": item_id, "event_id": "gone"})
    err = client.until("error")[-1]["error"]
    assert err["event_id"] == "gone" and err["code"] == "item_retrieve_invalid_item_id"


def test_voice_locked_after_first_audio(client):
    client.send({"type": "session.update", "session": {"type": "realtime", "audio": {"output": {"voice": "marin"}}}})
    assert client.until("session.updated")[-1]["session"]["audio"]["output"]["voice"] == "marin"
    client.send(user_text("hi"))
    client.send({"type": "response.create"})
    client.until("response.done", timeout=30)
    client.send({"type": "session.update", "event_id": "v2",
                 "session": {"type": "realtime", "audio": {"output": {"voice": "cedar"}}}})
    err = client.until("error")[-1]["error"]
    assert err["event_id"] == "v2" and err["param"] == "session.audio.output.voice"
    assert "voice" in err["message"]
    client.send({"type": "session.update", "session": {"type": "realtime", "instructions": "still works"}})
    session = client.until("session.updated")[-1]["session"]
    assert session["audio"]["output"]["voice"] == "marin" and session["instructions"] == "still works"


def test_conversation_already_has_active_response(slow_server):
    with RawClient(slow_server.url) as c:
        c.recv()
        c.send(user_text("please talk for a while about anything"))
        c.send({"type": "response.create"})
        c.until("response.output_audio.delta", timeout=30)
        c.send({"type": "response.create", "event_id": "second"})
        err = c.until("error")[-1]["error"]
        assert err["code"] == "conversation_already_has_active_response" and err["event_id"] == "second"
        assert "resp_" in err["message"]
        # an out-of-band response may run alongside it
        c.send({"type": "response.create", "response": {"conversation": "none", "output_modalities": ["text"]}})
        oob = c.until("response.done", timeout=30)[-1]["response"]
        assert oob["conversation_id"] is None and oob["status"] == "completed"


def test_barge_in_cancels_with_turn_detected(slow_server, speech_wav):
    pcm, _ = speech_wav
    with RawClient(slow_server.url) as c:
        c.recv()
        c.send(user_text("please talk for a while about anything at all, for a long time"))
        c.send({"type": "response.create"})
        c.until("response.output_audio.delta", timeout=30)
        append(c, pcm[: len(pcm) // 2])  # the user starts talking over the assistant
        events = c.until("response.done", timeout=30)
        names = types(events)
        assert "input_audio_buffer.speech_started" in names
        assert names.index("input_audio_buffer.speech_started") < names.index("response.done")
        done = events[-1]["response"]
        assert done["status"] == "cancelled"
        assert done["status_details"] == {"type": "cancelled", "reason": "turn_detected"}
        assert done["output"][0]["status"] == "incomplete"


def test_append_over_15_mib_is_rejected(client):
    big = base64.b64encode(b"\0" * (15 * 1024 * 1024 + 2)).decode()
    client.send({"type": "input_audio_buffer.append", "audio": big, "event_id": "huge"})
    err = client.until("error", timeout=30)[-1]["error"]
    assert err["event_id"] == "huge" and err["param"] == "audio"
    client.send({"type": "session.update", "session": {"type": "realtime"}})
    assert client.until("session.updated")  # still alive
