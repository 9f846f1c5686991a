"""Transcription sessions (``?intent=transcription``) against the real local server: the session object, its
updates, VAD and manual turns, no responses, and the official SDK connecting for transcription."""

from __future__ import annotations

import asyncio

import pytest
from openai import AsyncOpenAI
from rtclient import RawClient, types
from speechgen import make_utterance

from realtime_nb import audio as au
from realtime_nb.server import stt

pytestmark = pytest.mark.skipif(not stt.available(), reason="no speech recognizer is installed")

COMPLETED = "conversation.item.input_audio_transcription.completed"


@pytest.fixture(scope="module")
def window():
    pcm, _ = make_utterance([("silence", 500), ("speech", "Please close the window in the kitchen"), ("silence", 1000)])
    return pcm


def append(c: RawClient, pcm) -> None:
    for i in range(0, len(pcm), 4800):
        c.send({"type": "input_audio_buffer.append", "audio": au.b64encode_pcm16(pcm[i:i + 4800])})


def test_no_model_is_needed_and_the_session_is_a_transcription_session(server):
    with RawClient(server.url, model=None, intent="transcription") as c:
        created = c.recv()
        session = created["session"]
        assert created["type"] == "session.created"
        assert session["type"] == "transcription" and session["object"] == "realtime.transcription_session"
        assert session["audio"]["input"]["transcription"]["model"] == "gpt-4o-transcribe"
        assert session["audio"]["input"]["turn_detection"]["type"] == "server_vad"
        assert "model" not in session and "output" not in session["audio"]


def test_session_update_sets_every_input_field(server):
    with RawClient(server.url, model=None, intent="transcription") as c:
        c.recv()
        c.send({"type": "session.update", "session": {
            "type": "transcription", "include": ["item.input_audio_transcription.logprobs"],
            "audio": {"input": {"format": {"type": "audio/pcmu"},
                                "transcription": {"model": "whisper-1", "language": "en", "prompt": "lights"},
                                "noise_reduction": {"type": "near_field"},
                                "turn_detection": {"type": "server_vad", "silence_duration_ms": 400}}}}})
        session = c.until("session.updated")[-1]["session"]
        assert session["include"] == ["item.input_audio_transcription.logprobs"]
        inp = session["audio"]["input"]
        assert inp["format"] == {"type": "audio/pcmu"} and inp["noise_reduction"] == {"type": "near_field"}
        assert inp["transcription"] == {"model": "whisper-1", "language": "en", "prompt": "lights"}
        assert inp["turn_detection"]["silence_duration_ms"] == 400 and inp["turn_detection"]["threshold"] == 0.5


@pytest.mark.parametrize(("update", "param", "words"), [
    ({"type": "realtime"}, "session.type", "realtime session update event to a transcription session"),
    ({"type": "transcription", "instructions": "x"}, "session.instructions", "Unknown parameter"),
    ({"type": "transcription", "audio": {"output": {}}}, "session.audio.output", "Unknown parameter"),
    ({}, "session.type", "Missing required parameter"),
])
def test_a_wrong_update_is_refused_whole(server, update, param, words):
    with RawClient(server.url, model=None, intent="transcription") as c:
        c.recv()
        c.send({"type": "session.update", "event_id": "e1", "session": update})
        err = c.until("error")[-1]["error"]
        assert err["param"] == param and words in err["message"] and err["event_id"] == "e1"


def test_a_vad_turn_is_transcribed_and_never_answered(server, window):
    with RawClient(server.url, model=None, intent="transcription") as c:
        c.recv()
        append(c, window)
        events = c.until(COMPLETED, timeout=30)
        names = types(events)
        assert names[:5] == ["input_audio_buffer.speech_started", "input_audio_buffer.speech_stopped",
                             "input_audio_buffer.committed", "conversation.item.added", "conversation.item.done"]
        assert "conversation.item.input_audio_transcription.delta" in names
        assert "kitchen" in events[-1]["transcript"].lower()
        assert not [n for n in names + types(c.quiet(0.5)) if n.startswith("response.")]


def test_manual_commits_and_no_responses(server, window):
    with RawClient(server.url, model=None, intent="transcription") as c:
        c.recv()
        c.send({"type": "session.update", "session": {"type": "transcription",
                                                      "audio": {"input": {"turn_detection": None}}}})
        c.until("session.updated")
        append(c, window)
        c.send({"type": "input_audio_buffer.commit"})
        done = c.until(COMPLETED, timeout=30)[-1]
        assert "window" in done["transcript"].lower() and done["usage"]["type"] == "duration"
        c.send({"type": "response.create", "event_id": "r1"})
        err = c.until("error")[-1]["error"]
        assert err["event_id"] == "r1" and "transcription session" in err["message"]


def test_the_official_sdk_connects_for_transcription(server, window):
    async def main():
        client = AsyncOpenAI(api_key="sk-local", websocket_base_url=server.url)
        async with client.realtime.connect(extra_query={"intent": "transcription"}) as conn:
            created = await conn.recv()
            assert created.type == "session.created" and created.session.type == "transcription"
            await conn.session.update(session={"type": "transcription", "audio": {"input": {
                "transcription": {"model": "gpt-4o-transcribe", "language": "en"}, "turn_detection": None}}})
            updated = await conn.recv()
            assert updated.type == "session.updated" and updated.session.audio.input.turn_detection is None
            await conn.input_audio_buffer.append(audio=au.b64encode_pcm16(window))
            await conn.input_audio_buffer.commit()
            seen = []
            async for event in conn:  # parsed into the SDK's typed models
                seen.append(event.type)
                if event.type == COMPLETED:
                    return seen, event
        raise AssertionError("connection ended early")

    seen, completed = asyncio.run(asyncio.wait_for(main(), 60))
    assert seen[:3] == ["input_audio_buffer.committed", "conversation.item.added", "conversation.item.done"]
    assert "kitchen" in completed.transcript.lower() and completed.usage.type == "duration"
