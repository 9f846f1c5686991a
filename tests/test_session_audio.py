"""Audio in: files and arrays, VAD on and off, chunked appends, commit/clear, G.711 sessions."""

from __future__ import annotations

import numpy as np
import pytest
from speechgen import make_utterance

import realtime_nb as rt
from realtime_nb.audio import write_wav
from realtime_nb.client import _audio_in


@pytest.fixture
def speech_file(tmp_path, speech_wav):
    pcm, _ = speech_wav
    path = tmp_path / "question.wav"
    write_wav(path, pcm)
    return path


def test_audio_file_turn_with_vad_on(rt_session, speech_file, speech_wav):
    assert rt_session.config["audio"]["input"]["turn_detection"]["type"] == "server_vad"
    r = rt_session.send_audio(speech_file)
    assert r is not None and r.status == "completed" and r.automatic
    assert r.transcript.startswith("I heard ") and len(r.audio) > 0
    events = rt_session.events
    types = list(events["type"])
    assert "input_audio_buffer.speech_started" in types and "input_audio_buffer.speech_stopped" in types
    assert "input_audio_buffer.commit" not in types and "response.create" not in types   # the server did it
    user = rt_session.items.iloc[0]
    assert user["role"] == "user" and user["type"] == "message"
    (t0, t1), = speech_wav[1]
    assert user["audio_ms"] >= (t1 - t0)               # the committed speech, held as int16 per item
    assert len(rt_session.item_audio(user["item_id"])) == pytest.approx(user["audio_ms"] * 24, abs=1)


def test_audio_turn_with_vad_off(server, speech_wav):
    pcm, _ = speech_wav
    with rt.connect(url=server.url, turn_detection=None) as s:
        r = s.send_audio(pcm, output_modalities=["text"])
        assert r.text == f"I heard {len(pcm) / 24000:.1f} seconds of audio."
        types = list(s.events["type"])
        assert types.index("input_audio_buffer.commit") < types.index("response.create")
        assert "input_audio_buffer.speech_started" not in types
        user_id = s.items["item_id"].iloc[0]
        assert np.array_equal(s.item_audio(user_id), pcm)


def test_send_audio_accepts_float_arrays_at_other_rates(server):
    t = np.arange(16000) / 16000
    tone = 0.3 * np.sin(2 * np.pi * 300 * t)                 # one second of float audio at 16 kHz
    with rt.connect(url=server.url, turn_detection=None) as s:
        r = s.send_audio(tone, sample_rate=16000, output_modalities=["text"])
        assert r.text == "I heard 1.0 seconds of audio."
        assert len(s.item_audio(s.items["item_id"].iloc[0])) == 24000


def test_append_commit_clear(server):
    with rt.connect(url=server.url, turn_detection=None) as s:
        s.append_audio(np.zeros(2400, np.int16))
        s.clear_audio()
        with pytest.raises(rt.RealtimeError) as info:
            s.commit()
        assert info.value.code == "input_audio_buffer_commit_empty"
        s.append_audio(np.zeros(4800, np.int16).tobytes())     # PCM16 bytes
        item_id = s.commit()
        assert s.items["item_id"].tolist() == [item_id]
        assert len(s.item_audio(item_id)) == 4800


def test_large_appends_are_chunked(server, monkeypatch):
    monkeypatch.setattr(_audio_in, "APPEND_CHUNK_BYTES", 48_000)   # 1 s per event, to keep the test small
    with rt.connect(url=server.url, turn_detection=None) as s:
        s.append_audio(np.zeros(24000 * 5 + 100, np.int16))
        item_id = s.commit()
        events = s.events
        appends = events[events["type"] == "input_audio_buffer.append"]
        assert len(appends) == 6 and appends["bytes"].max() < 15 * 2**20
        assert len(s.item_audio(item_id)) == 24000 * 5 + 100


def test_default_chunk_is_under_the_event_limit():
    assert _audio_in.APPEND_CHUNK_BYTES * 4 / 3 + 200 < 15 * 2**20


def test_vad_without_create_response_returns_none(server, speech_wav):
    pcm, _ = speech_wav
    td = {"type": "server_vad", "silence_duration_ms": 300, "create_response": False}
    with rt.connect(url=server.url, turn_detection=td) as s:
        assert s.send_audio(pcm) is None
        assert s.items["role"].tolist() == ["user"]
        assert s.last_response is None


def test_vad_turn_times_out_without_speech(server):
    with rt.connect(url=server.url) as s, pytest.raises(TimeoutError, match="VAD"):
        s.send_audio(np.zeros(24000, np.int16), timeout=1.0)


def test_two_turns_in_one_file_return_the_last_response(slow_server):
    pcm, truth = make_utterance([("silence", 300), ("speech", "first question here"), ("silence", 900),
                                 ("speech", "and a second one"), ("silence", 300)])
    assert len(truth) == 2
    with rt.connect(url=slow_server.url, output_modalities=["text"]) as s:
        r = s.send_audio(pcm)
        assert r.status == "completed"
        assert r is s.last_response
        assert len(s.items[s.items["role"] == "user"]) == 2


def test_g711_input_format(server, speech_wav):
    pcm, _ = speech_wav
    with rt.connect(url=server.url, input_audio_format="g711_ulaw", turn_detection=None) as s:
        assert s.config["audio"]["input"]["format"] == {"type": "audio/pcmu"}
        r = s.send_audio(pcm, output_modalities=["text"])
        assert r.text.startswith("I heard ")
        heard = s.item_audio(s.items["item_id"].iloc[0])
        assert len(heard) == len(pcm)
        assert np.corrcoef(heard.astype(float), pcm.astype(float))[0, 1] > 0.99   # µ-law is lossy


def test_send_audio_async_wait_false(server, speech_wav):
    import asyncio

    pcm, _ = speech_wav

    async def main() -> None:
        s = await rt.aconnect(url=server.url)
        async with s:
            r = await s.asend_audio(pcm, wait=False)
            assert isinstance(r, rt.Response)
            await r
            assert r.status == "completed"

    asyncio.run(main())


def test_response_params_with_vad_on_warn(rt_session, speech_wav):
    pcm, _ = speech_wav
    with pytest.warns(UserWarning, match="server VAD"):
        r = rt_session.send_audio(pcm, output_modalities=["text"])
    assert r.status == "completed"
