"""The widget's caption mode, kernel side: a ``TranscriptionSession``'s widget (``rt.transcribe().widget``)
against the real local server (Whisper or pocketsphinx), with a fake browser comm (``test_widget``)."""

from __future__ import annotations

import time
from typing import Any

import pytest
import test_widget
from test_widget import FakeBrowser, settle, wait_for

import realtime_nb as rt
from realtime_nb.notebook.widget import RealtimeWidget

session = test_widget.session  # a conversation Session on the local server

SENTENCE = "Please close the window in the kitchen"


@pytest.fixture
def tsession(server):
    with rt.transcribe(url=server.url) as s:
        yield s


@pytest.fixture
def cbrowser(tsession):
    w = RealtimeWidget(tsession)
    yield FakeBrowser(w)
    w.close()


def _speak(browser: FakeBrowser, view: str, text: str) -> None:
    from speechgen import make_utterance

    pcm, _ = make_utterance([("silence", 400), ("speech", text), ("silence", 1200)])
    for i in range(0, len(pcm), 960):  # 40 ms chunks, a little faster than real time
        browser.deliver({"type": "audio", "view": view, "seq": i}, [pcm[i:i + 960].astype("<i2").tobytes()])
        time.sleep(0.02)


def _entries(browser: FakeBrowser) -> list[dict[str, Any]]:
    return [e for c, _ in browser.comm.custom("update") for e in c.get("entries") or []]


def test_a_transcription_sessions_widget_streams_captions_and_plays_nothing(tsession, cbrowser):
    w = cbrowser.w
    assert w.captions is True and w.voice == ""
    statuses: list[str] = []
    w.observe(lambda ch: statuses.append(ch["new"]), names="status")
    assert cbrowser.ready("v")["owner"] is True
    _speak(cbrowser, "v", SENTENCE)
    final = wait_for(lambda: [e for e in _entries(cbrowser) if e["kind"] == "user" and e["transcribed"]], 30)[0]
    words = final["text"].lower()
    assert "window" in words and "kitchen" in words, final
    # the caption streamed before it was final: an entry with the text not yet marked transcribed, or none yet
    first = next(e for e in _entries(cbrowser) if e["id"] == final["id"])
    assert first["transcribed"] is False
    settle()
    # the pill: speaking, then transcribing (not "thinking": nothing answers), then listening again
    assert statuses[:3] == ["user_speaking", "transcribing", "listening"], statuses
    assert w.status == "listening" and w.last_error == ""
    assert cbrowser.audio_out() == [] and not cbrowser.comm.custom("audio_end")
    assert SENTENCE.split()[-1].lower() in tsession.text.lower()


def test_settings_a_transcription_session_lacks_are_not_sent(tsession, cbrowser):
    w = cbrowser.w
    cbrowser.ready("v")
    for name, value in (("voice", "ash"), ("mode", "manual"), ("transcribe", False)):
        setattr(w, name, value)  # one at a time, as from the UI (a refusal resyncs every trait)
        settle()
    cbrowser.deliver({"type": "text", "view": "v", "text": "hello"})
    settle()
    notices = [c["text"] for c, _ in cbrowser.comm.custom("notice")]
    assert len(notices) == 4 and all("transcription session" in n for n in notices), notices
    # the traits show what the session really does, and the server refused nothing
    assert (w.voice, w.mode, w.transcribe) == ("", "hands_free", True)
    assert w.last_error == "" and w.status != "error"
    events = tsession.events
    assert not (events["type"] == "error").any(), events[events["type"] == "error"]
    assert tsession.config["type"] == "transcription"


def test_captions_of_a_conversation_turn_its_input_transcription_on(session):
    w = RealtimeWidget(session, captions=True)
    try:
        FakeBrowser(w).ready("v")
        wait_for(lambda: (session.config["audio"]["input"].get("transcription") or {}).get("model"), 10)
        assert w.transcribe is True and w.captions is True
    finally:
        w.close()
    plain = RealtimeWidget(session)
    try:
        assert plain.captions is False
    finally:
        plain.close()
