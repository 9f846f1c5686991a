"""The natural default voice: hibari's "heart" speaks alloy and four other GA voices, distinctly, and Whisper
transcribes every one of them word for word (round trip). The other voices keep espeak-ng."""

from __future__ import annotations

import itertools
import re

import numpy as np
import pytest
from rtclient import RawClient
from test_tts import median_f0

from realtime_nb import audio as au
from realtime_nb.server import hibari_tts, stt, tts

pytestmark = pytest.mark.skipif(not hibari_tts.available(), reason="hibari-tts is not installed")

SENTENCES = ["Turn on the lights in the kitchen.", "I would like to order a pizza for two people."]


def words(text: str) -> list[str]:
    return re.sub(r"[^\w\s']", " ", text.lower()).split()


def test_the_default_voice_and_four_others_speak_with_hibari():
    assert tts.engine_for("alloy") == "hibari"
    assert {v for v in tts.VOICE_PROFILES if tts.engine_for(v) == "hibari"} >= set(hibari_tts.HIBARI_VOICES)
    if tts.available():
        assert tts.engine_for("coral") == "espeak-ng" and tts.engine_for("alloy", "espeak-ng") == "espeak-ng"
    pcm = tts.synthesize("Hello there, how are you doing today?")
    assert pcm.dtype == np.int16 and pcm.ndim == 1 and 1.0 < len(pcm) / 24000 < 3.5
    assert np.array_equal(pcm, hibari_tts.synthesize("Hello there, how are you doing today?"))  # seeded noise


def test_the_hibari_voices_sound_different():
    pitch = {v: median_f0(tts.synthesize(SENTENCES[1], voice=v)) for v in hibari_tts.HIBARI_VOICES}
    values = sorted(pitch.values())
    assert min(b / a for a, b in itertools.pairwise(values)) > 1.08, pitch
    assert pitch["ash"] < 140 < 180 < pitch["alloy"] < pitch["shimmer"], pitch


@pytest.mark.skipif(stt.backend() != "whisper", reason="Whisper is not installed")
@pytest.mark.parametrize("voice", sorted(hibari_tts.HIBARI_VOICES))
def test_whisper_hears_every_word(voice):
    for text in SENTENCES:
        assert words(stt.transcribe(tts.synthesize(text, voice=voice))) == words(text), voice


def test_speed_scales_duration():
    base = len(tts.synthesize(SENTENCES[1], voice="marin"))
    assert len(tts.synthesize(SENTENCES[1], voice="marin", speed=1.5)) / base == pytest.approx(1 / 1.5, rel=0.15)
    assert len(tts.synthesize(SENTENCES[1], voice="marin", speed=0.75)) / base == pytest.approx(1 / 0.75, rel=0.15)


def test_without_espeak_every_voice_still_speaks_naturally(monkeypatch):
    monkeypatch.setattr(tts, "_load", lambda: None)
    assert tts.engine_for("coral") == "hibari"
    tts.clear_cache()
    assert np.array_equal(tts.synthesize("Hi there", voice="coral"), tts.synthesize("Hi there", voice="marin"))


@pytest.mark.skipif(stt.backend() != "whisper", reason="Whisper is not installed")
def test_the_server_answers_in_the_natural_voice(server):
    with RawClient(server.url) as c:
        c.recv()
        c.send({"type": "response.create", "response": {
            "instructions": "Say exactly the following: Turn on the lights in the kitchen. Then close the door."}})
        events = c.until("response.done", timeout=30)
        audio = [au.b64decode_pcm16(e["delta"]) for e in events if e["type"] == "response.output_audio.delta"]
        heard = stt.transcribe(np.concatenate(audio))
        assert words(heard) == words("Turn on the lights in the kitchen. Then close the door.")
