"""Whisper's encoder sees each window cut after its content (``whisper.WINDOW_S``), not padded to 30 s."""

from __future__ import annotations

import numpy as np
import pytest
from speechgen import make_utterance

from realtime_nb import audio as au
from realtime_nb.server import stt, whisper

pytestmark = pytest.mark.skipif(not (whisper.faster_whisper_installed() and stt.backend() == "whisper"),
                                reason="the speech extra (faster-whisper and a Whisper model) is missing")


def features_of(seconds: float) -> np.ndarray:
    """faster-whisper's Mel frames of ``seconds`` of digital silence, padded to 30 s as it pads them."""
    from faster_whisper.audio import pad_or_trim

    rec = stt.recognizer()
    assert isinstance(rec, whisper.WhisperRecognizer)
    return pad_or_trim(rec._model.feature_extractor(np.zeros(round(seconds * 16000), np.float32)))


def test_the_padding_is_cut_after_the_content_plus_one_second():
    padded = features_of(2.0)
    assert padded.shape == (80, 3000)
    content = 201  # 2 s of 10 ms frames, plus the extractor's own one
    assert np.all(padded[:, :content] != 0), "even digital silence gives non-zero frames"
    assert whisper.window(padded, 0).shape == (80, content + 100)
    assert whisper.window(padded, 1000).shape == (80, 1000)
    assert whisper.window(padded[None], 1000).shape == (1, 80, 1000)
    full = features_of(29.5)
    assert whisper.window(full, 1000) is full  # content + 1 s reaches 30 s: nothing to cut


def test_the_model_encodes_the_shorter_window(monkeypatch):
    rec = stt.recognizer()
    assert isinstance(rec, whisper.WhisperRecognizer)
    own = rec._model.window_s  # the model's own: 10 s for the packaged base, the full 30 s for tiny.en
    assert whisper.WINDOW_S == whisper.MODEL_WINDOW and own == rec.choice.window_s
    assert rec._model.encode(features_of(2.0)).shape[1] == (1500 if own is None else round(own * 50))
    monkeypatch.setattr(whisper, "WINDOW_S", 20.0)
    assert rec._model.encode(features_of(2.0)).shape[1] == 1000  # two Mel frames per encoder position
    monkeypatch.setattr(whisper, "WINDOW_S", None)
    assert rec._model.encode(features_of(2.0)).shape[1] == 1500


@pytest.mark.parametrize("window_s", [whisper.MODEL_WINDOW, 20.0, None])
def test_short_and_long_speech_is_heard_with_and_without_the_window(window_s, monkeypatch):
    monkeypatch.setattr(whisper, "WINDOW_S", window_s)
    short, _ = make_utterance([("silence", 300), ("speech", "Please close the window in the kitchen"),
                               ("silence", 300)])
    assert "kitchen" in stt.transcribe(short).lower()
    # 33 s: a first 30 s window, then a 3 s one that the window cuts
    long, _ = make_utterance([("speech", "Please close the window in the kitchen"), ("silence", 29000),
                              ("speech", "I would like to order a pizza"), ("silence", 500)])
    assert len(long) > 31 * au.SAMPLE_RATE
    text = stt.transcribe(long).lower()
    assert "kitchen" in text and "pizza" in text


def test_logprobs_align_words_on_the_shorter_window():
    pcm, _ = make_utterance([("silence", 300), ("speech", "Set a timer for ten minutes"), ("silence", 300)])
    got: list[list[dict]] = []
    text = stt.transcribe(pcm, logprobs=True, on_segment=lambda delta, lp: got.append(lp or []))
    words = [e["token"] for entries in got for e in entries]
    assert "timer" in text.lower() and "".join(words).strip() == text.strip()
    assert all(e["logprob"] <= 0 for entries in got for e in entries)
