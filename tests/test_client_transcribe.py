"""``rt.transcribe``: a transcription session from the client, one transcript row per utterance."""

from __future__ import annotations

import numpy as np
import pytest
from speechgen import make_utterance

import realtime_nb as rt
from realtime_nb import audio as au
from realtime_nb.client.transcribe import transcription_url
from realtime_nb.server import stt

pytestmark = pytest.mark.skipif(not stt.available(), reason="no speech recognizer is installed")


@pytest.fixture(scope="module")
def two_turns():
    """Two sentences a second apart (server VAD makes two utterances of them), and one of them alone."""
    pcm, spans = make_utterance([("silence", 400), ("speech", "Please close the window in the kitchen"),
                                 ("silence", 1200), ("speech", "I would like to order a pizza"), ("silence", 400)])
    return pcm, spans


def test_the_url_asks_for_a_transcription_session():
    assert transcription_url("ws://h:1/v1") == "ws://h:1/v1/realtime?intent=transcription"
    assert transcription_url("wss://h/v1/realtime?model=x&k=v") == "wss://h/v1/realtime?k=v&intent=transcription"


def test_a_file_becomes_one_row_per_utterance(server, two_turns, tmp_path):
    pcm, spans = two_turns
    path = tmp_path / "two.wav"
    au.write_wav(path, pcm)
    with rt.transcribe(path, url=server.url) as s:
        rows = s.transcripts
        assert list(rows.columns) == ["item_id", "start_ms", "end_ms", "text", "status", "latency_ms", "error"]
        assert len(rows) == 2 and list(rows["status"]) == ["completed", "completed"]
        assert "kitchen" in rows["text"][0].lower() and "pizza" in rows["text"][1].lower()
        # where each utterance is in the audio (VAD boundaries, with its padding)
        for (t0, t1), start, end in zip(spans, rows["start_ms"], rows["end_ms"], strict=True):
            assert start <= t0 + 100 and t1 - 100 <= end <= t1 + 1200
        assert (rows["latency_ms"] >= 0).all()
        assert "kitchen" in s.text.lower() and "pizza" in s.text.lower()
        assert s.responses.empty


def test_without_vad_each_send_is_one_utterance_with_its_own_span(server, two_turns):
    pcm, _ = two_turns
    with rt.transcribe(url=server.url, turn_detection=None, language="en") as s:
        first = s.send_audio(pcm[: len(pcm) // 2])
        second = s.send_audio(pcm[len(pcm) // 2:])
        assert len(first) == 1 and len(second) == 1
        half_ms = len(pcm) // 2 / 24
        assert first["start_ms"][0] == 0 and first["end_ms"][0] == pytest.approx(half_ms)
        assert second["start_ms"][0] == pytest.approx(half_ms)
        assert len(s.transcripts) == 2


def test_silence_gives_an_empty_completed_row(server):
    with rt.transcribe(url=server.url, turn_detection=None) as s:
        rows = s.send_audio(np.zeros(24000, np.int16))
        assert list(rows["status"]) == ["completed"] and rows["text"][0] == ""
        assert s.text == ""


def test_an_mp3_file_is_transcribed(server, two_turns, tmp_path):
    pytest.importorskip("av")
    from test_audio_files import encode

    pcm, _ = two_turns
    path = tmp_path / "two.mp3"
    encode(path, "libmp3lame", "mp3", au.pcm16_to_float(pcm), rate=24000, stereo=False)
    with rt.transcribe(path, url=server.url) as s:
        assert "kitchen" in s.text.lower() and "pizza" in s.text.lower()


def test_a_bad_file_is_a_clear_error_and_the_session_stays_usable(server, tmp_path):
    path = tmp_path / "bad.ogg"
    path.write_bytes(b"OggS" + bytes(64))
    with rt.transcribe(url=server.url, turn_detection=None) as s:
        with pytest.raises(ValueError, match=r"bad\.ogg"):
            s.send_audio(path)
        assert list(s.send_audio(np.zeros(24000, np.int16))["status"]) == ["completed"]


def test_connect_with_the_transcription_intent_is_transcribe(server, two_turns):
    pcm, _ = two_turns
    first = pcm[: len(pcm) // 2]
    with rt.transcribe(url=server.url, turn_detection=None, language="en", prompt="kitchen") as t:
        expected = t.send_audio(first)["text"][0]
    with rt.connect("whisper-1", intent="transcription", url=server.url, turn_detection=None, language="en",
                    prompt="kitchen") as s:
        assert isinstance(s, rt.TranscriptionSession)
        assert "intent=transcription" in s.url and "model=" not in s.url
        transcription = s.config["audio"]["input"]["transcription"]
        assert transcription["model"] == "whisper-1" and transcription["language"] == "en"
        assert transcription["prompt"] == "kitchen"
        assert s.config["audio"]["input"]["turn_detection"] is None
        rows = s.send_audio(first)
        assert list(rows["status"]) == ["completed"] and rows["text"][0] == expected
        assert "kitchen" in expected.lower()
        assert s.responses.empty


def test_connect_with_the_transcription_intent_and_a_source_transcribes_it(server, two_turns):
    pcm, _ = two_turns
    with rt.connect(intent="transcription", url=server.url, source=pcm) as s:
        assert len(s.transcripts) == 2
        assert "kitchen" in s.text.lower() and "pizza" in s.text.lower()


def test_connect_with_another_intent_or_conversation_fields_is_refused(server):
    with pytest.raises(ValueError, match="intent must be 'transcription'"):
        rt.connect(intent="conversation", url=server.url)
    with pytest.raises(TypeError, match=r"\['voice'\]"):
        rt.connect(intent="transcription", url=server.url, voice="marin")
    with pytest.raises(TypeError, match="call_id"):
        rt.connect(intent="transcription", url=server.url, call_id="rtc_123")
