"""Input audio transcription: the recognizers on clear speech, the transcription events, brains reading them.

Whisper (the default with the speech extra) writes punctuation and sentence case; pocketsphinx neither:
``wer`` compares words only, lower case, without punctuation, so one bound holds for both.
"""

from __future__ import annotations

import math
import re
import time

import numpy as np
import pytest
from rtclient import RawClient, types
from speechgen import make_utterance

from realtime_nb import audio as au
from realtime_nb.server import LocalServer, sphinx, stt, tts, whisper

pytestmark = pytest.mark.skipif(not stt.available(), reason="no speech recognizer is installed")

PIZZA = "I would like to order a pizza"


def words(text: str) -> list[str]:
    return re.sub(r"[^\w\s']", " ", text.lower()).split()


def wer(reference: str, hypothesis: str) -> float:
    """Word error rate: word-level edit distance / reference words (case and punctuation ignored)."""
    r, h = words(reference), words(hypothesis)
    d = list(range(len(h) + 1))
    for i in range(1, len(r) + 1):
        prev, d[0] = d[0], i
        for j in range(1, len(h) + 1):
            prev, d[j] = d[j], min(d[j] + 1, d[j - 1] + 1, prev + (r[i - 1] != h[j - 1]))
    return d[len(h)] / max(1, len(r))


@pytest.fixture(scope="module")
def pizza_turn():
    """The sentence between silences, as a VAD turn would carry it."""
    pcm, _ = make_utterance([("silence", 600), ("speech", PIZZA), ("silence", 1200)])
    return pcm


def send_audio(c: RawClient, pcm: np.ndarray) -> None:
    for i in range(0, len(pcm), 2400):
        c.send({"type": "input_audio_buffer.append", "audio": au.b64encode_pcm16(pcm[i:i + 2400])})


def transcription_on(c: RawClient, vad: bool = False, **config) -> None:
    audio = {"input": {"transcription": {"model": "gpt-4o-transcribe", **config}}}
    if not vad:
        audio["input"]["turn_detection"] = None
    c.send({"type": "session.update", "session": {"type": "realtime", "audio": audio}})
    c.until("session.updated")


def test_whisper_is_the_default_recognizer():
    assert stt.backend() == "whisper"


@pytest.mark.parametrize(("voice", "model"), [("alloy", None), ("ash", None), ("alloy", "pocketsphinx")])
def test_clear_utterances_are_recognized(voice, model):
    # espeak-ng's output depends a little on what it spoke before (its pitch-flutter phase) and
    # pocketsphinx on formant speech is sensitive to that: synthesize here, not reuse a clip that an
    # earlier test (bench_asr's smoke run speaks the same sentences) left in the TTS cache.
    tts.clear_cache()
    texts = [PIZZA, "Turn on the lights in the kitchen"]
    errors = [wer(t, stt.transcribe(tts.synthesize(t, voice=voice), model=model)) for t in texts]
    assert sum(errors) / len(errors) <= (0.3 if model else 0.1), errors


@pytest.mark.parametrize("model", [None, "pocketsphinx"])
def test_silence_and_tiny_clips_give_empty_transcripts(model):
    assert stt.transcribe(np.zeros(24000, np.int16), model=model) == ""
    assert stt.transcribe(np.zeros(100, np.int16), model=model) == ""
    with pytest.raises(TypeError):
        stt.transcribe(np.zeros(100, np.float32))


def test_sentence_case():
    assert sphinx.sentence_case(["i", "think", "i'm", "here"]) == "I think I'm here"
    assert sphinx.sentence_case([]) == ""


def test_commit_then_transcription_events_and_the_brain_reads_them(server, pizza_turn):
    with RawClient(server.url) as c:
        c.recv()
        transcription_on(c)
        send_audio(c, pizza_turn)
        c.send({"type": "input_audio_buffer.commit"})
        events = c.until("conversation.item.input_audio_transcription.completed", timeout=30)
        names = types(events)
        assert names[:3] == ["input_audio_buffer.committed", "conversation.item.added", "conversation.item.done"]
        assert set(names[3:-1]) == {"conversation.item.input_audio_transcription.delta"}
        user_id = events[0]["item_id"]
        done = events[-1]
        assert done["item_id"] == user_id and done["content_index"] == 0
        assert done["usage"] == {"type": "duration", "seconds": math.ceil(len(pizza_turn) / 24000)}
        assert "".join(e["delta"] for e in events[3:-1]) == done["transcript"]
        assert all(e["item_id"] == user_id for e in events[3:-1])
        assert wer(PIZZA, done["transcript"]) <= 0.3, done["transcript"]
        # the transcript is stored on the item
        c.send({"type": "conversation.item.retrieve", "item_id": user_id})
        item = c.until("conversation.item.retrieved")[-1]["item"]
        assert item["content"][0]["transcript"] == done["transcript"]
        # and the echo brain answers from it
        c.send({"type": "response.create", "response": {"output_modalities": ["text"]}})
        reply = c.until("response.done")[-1]["response"]["output"][0]["content"][0]["text"]
        assert reply == f"You said: {done['transcript']}"


def test_vad_turn_waits_for_the_transcript(server, pizza_turn):
    with RawClient(server.url) as c:
        c.recv()
        transcription_on(c, vad=True)
        send_audio(c, pizza_turn)
        events = c.until("response.done", timeout=30)
        names = types(events)
        completed = names.index("conversation.item.input_audio_transcription.completed")
        assert names.index("response.created") < completed < names.index("response.output_item.added")
        transcript = events[completed]["transcript"]
        reply = events[-1]["response"]["output"][0]["content"][0]["transcript"]
        assert reply == f"You said: {transcript}"


def test_no_recognizer_fails_the_transcription_only(server, pizza_turn, monkeypatch):
    monkeypatch.setattr(whisper, "faster_whisper_installed", lambda: False)
    monkeypatch.setattr(sphinx, "available", lambda: False)
    monkeypatch.delitem(stt._loaded, stt._setting(None), raising=False)
    try:
        with RawClient(server.url) as c:
            c.recv()
            transcription_on(c, vad=True)
            send_audio(c, pizza_turn)
            events = c.until("response.done", timeout=30)
    finally:
        stt._loaded.pop(stt._setting(None), None)  # the next test loads the real recognizer again
    failed = next(e for e in events if e["type"] == "conversation.item.input_audio_transcription.failed")
    assert failed["item_id"] == events[0]["item_id"] and failed["content_index"] == 0
    assert failed["error"]["code"] == "transcription_unavailable"
    assert "pip install realtime-nb[speech]" in failed["error"]["message"]
    assert events[-1]["response"]["output"][0]["content"][0]["transcript"].startswith("I heard ")


def transcribed_in(server, pcm, language: str, outcome: str) -> dict:
    """The transcription event ``outcome`` (``completed`` / ``failed``) of ``pcm`` committed with ``language``."""
    with RawClient(server.url) as c:
        c.recv()
        transcription_on(c, language=language)
        send_audio(c, pcm)
        c.send({"type": "input_audio_buffer.commit"})
        return c.until(f"conversation.item.input_audio_transcription.{outcome}", timeout=30)[-1]


def test_a_language_the_model_does_not_know_fails(server, pizza_turn):
    failed = transcribed_in(server, pizza_turn, "xx", "failed")
    assert failed["error"]["code"] == "unsupported_language" and failed["error"]["param"] == "language"
    assert "xx" in failed["error"]["message"]


def test_a_multilingual_model_takes_another_language(server, pizza_turn):
    if not getattr(stt.recognizer(), "multilingual", False):
        pytest.skip("the default recognizer knows English only")
    done = transcribed_in(server, pizza_turn, "fr", "completed")
    assert done["transcript"].strip()  # English speech decoded as French: some text, not a failure


class SlowRecognizer:
    """A recognizer that takes ``seconds``; ``starts=False``: it never reports that decoding began (queued)."""

    name = "slow"

    def __init__(self, seconds: float, starts: bool = True) -> None:
        self.seconds, self.starts = seconds, starts

    def supports(self, language):
        return True

    def transcribe(self, pcm16k, *, on_start=None, **options):
        if self.starts and on_start is not None:
            on_start()
        time.sleep(self.seconds)
        return "Slow words"


def test_a_transcription_that_is_coming_is_waited_for(pizza_turn, monkeypatch):
    # decoding started, but takes longer than transcript_wait_s: a loaded machine; the answer uses the words
    monkeypatch.setitem(stt._loaded, stt._setting(None), SlowRecognizer(1.5))
    with LocalServer(transcript_wait_s=0.2) as srv, RawClient(srv.url) as c:
        c.recv()
        transcription_on(c, vad=True)
        send_audio(c, pizza_turn)
        events = c.until("response.done", timeout=30)
        reply = events[-1]["response"]["output"][0]["content"][0]["transcript"]
        assert reply == "You said: Slow words"


def test_the_wait_for_a_transcript_is_bounded(pizza_turn, monkeypatch):
    # the transcription never starts within transcript_wait_s (say, the recognizer is stuck): answer without it
    monkeypatch.setitem(stt._loaded, stt._setting(None), SlowRecognizer(1.5, starts=False))
    with LocalServer(transcript_wait_s=0.2) as srv, RawClient(srv.url) as c:
        c.recv()
        transcription_on(c, vad=True)
        send_audio(c, pizza_turn)
        events = c.until("conversation.item.input_audio_transcription.completed", timeout=30)
        names = types(events)
        assert names.index("response.done") < len(names) - 1  # answered before the transcript came
        reply = events[names.index("response.done")]["response"]["output"][0]["content"][0]["transcript"]
        assert reply.startswith("I heard ")


def test_no_transcription_events_when_transcription_is_off(server, pizza_turn):
    with RawClient(server.url) as c:
        c.recv()
        c.send({"type": "session.update", "session": {"type": "realtime",
                                                      "audio": {"input": {"turn_detection": None}}}})
        c.until("session.updated")
        send_audio(c, pizza_turn)
        c.send({"type": "input_audio_buffer.commit"})
        c.until("conversation.item.done")
        assert c.quiet(0.5) == []


def test_a_transcript_does_not_depend_on_earlier_audio():
    a = tts.synthesize("Turn on the lights in the kitchen", voice="coral")
    b = tts.synthesize("What is my horoscope for Aquarius today", voice="cedar")
    first = stt.transcribe(a)
    stt.transcribe(b)
    assert stt.transcribe(a) == first


@pytest.mark.skipif(not sphinx.available(), reason="pocketsphinx is not installed")
def test_pocketsphinx_decodes_in_a_worker_process_that_comes_back_after_a_crash():
    import os

    rec = stt.recognizer("pocketsphinx")
    pcm = tts.synthesize("Turn on the lights in the kitchen", voice="coral", engine="espeak-ng")
    first = stt.transcribe(pcm, model="pocketsphinx")
    assert rec._proc is not None and rec._proc.pid != os.getpid()
    rec._proc.kill()
    rec._proc.wait(5)
    assert stt.transcribe(pcm, model="pocketsphinx") == first  # a new worker, the same words
