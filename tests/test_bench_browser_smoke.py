"""Keep the real-browser benchmark scripts working (relay latency, barge-in, kernel CPU, the widget on webrtc
vs the relay: its kernel CPU, mouth to ear and barge-in silence): each runs with
``--quick`` (Chromium + JupyterLab + the local server, under a minute) and must exit 0 and write its JSON
with the expected keys. No timing is asserted here; the benchmarks report, tests don't time.

Marked ``browser`` like ``tests/browser/``: without Chromium or the dev extra they skip locally and fail
under ``CI=true``.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

BENCH = Path(__file__).resolve().parent.parent / "bench"
CHROMIUM = os.environ.get("REALTIME_NB_CHROMIUM", "/usr/bin/chromium")
MACHINE_KEYS = {"cpu_model", "cores", "python", "packages"}

SCRIPTS = {
    "bench_relay": {"config", "nodelay_extension", "clock", "paths", "per_round_medians", "added", "ratios",
                    "breakdown", "goal", "meets_goal"},
    "bench_bargein": {"config", "nodelay_extension", "clock", "counts", "stop_ms", "baseline_stop_ms",
                      "baseline_round_trip_ms", "truncate_error_ms", "relay_split_ms", "end_to_end_ms", "ratios",
                      "barge_ins", "goal", "meets_goal"},
    "bench_kernel_cpu": {"config", "nodelay_extension", "windows", "kernel_cpu_ms_per_s", "threads_ms_per_s",
                         "kernel_messages_per_s", "loop_wakeups_per_s", "floors_ms_per_s", "ratios", "goal",
                         "meets_goal"},
    "bench_widget_webrtc": {"config", "windows", "kernel_cpu_ms_per_s", "idle_kernel_cpu_ms_per_s", "start_end_cpu_ms",
                            "threads_ms_per_s", "through_the_kernel", "relay_vs_webrtc", "goal", "meets_goal"},
    "bench_widget_latency": {"config", "windows", "results", "webrtc_vs_relay", "tap_errors"},
}


def _missing() -> str | None:
    if not os.path.exists(CHROMIUM):
        return f"{CHROMIUM} not found (apt-get install -y chromium; .ci/run does it)"
    for module in ("playwright", "jupyterlab", "nbformat", "anywidget"):
        if importlib.util.find_spec(module) is None:
            return f"python package {module!r} not installed (pip install -e '.[dev]')"
    return None


@pytest.fixture(scope="module")
def browser_stack() -> None:
    reason = _missing()
    if reason:
        if os.environ.get("CI", "").strip().lower() in ("1", "true", "yes"):
            pytest.fail(f"browser benchmarks cannot run in CI: {reason}", pytrace=False)
        pytest.skip(reason)


@pytest.mark.timeout(300)
@pytest.mark.parametrize("name", sorted(SCRIPTS))
def test_browser_bench_quick_run_writes_its_json(name: str, tmp_path: Path, browser_stack: None) -> None:
    proc = subprocess.run([sys.executable, str(BENCH / f"{name}.py"), "--quick", "--out-dir", str(tmp_path)],
                          capture_output=True, text=True, timeout=280)
    assert proc.returncode == 0, f"{name} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-4000:]}"
    path = tmp_path / f"{name}.json"
    assert path.exists(), f"{name} wrote no JSON; output:\n{proc.stdout[-2000:]}"
    data = json.loads(path.read_text())
    assert data["benchmark"] == name
    assert MACHINE_KEYS <= set(data["machine"]), data["machine"].keys()
    missing = SCRIPTS[name] - set(data)
    assert not missing, f"{name} JSON lacks {missing}"
    assert data["config"]["quick"] is True
    if name == "bench_widget_latency":  # the page's level taps heard the mic and the voice on both transports
        assert data["tap_errors"] == [] and all(w["level_rows"] > 0 for w in data["windows"]), data["windows"]
        assert {w["kind"] for w in data["windows"]} == {"webrtc", "relay"}
