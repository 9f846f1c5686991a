"""Keep the benchmark scripts working: each runs with ``--quick`` (tiny sizes, a few seconds) and must exit 0
and write its JSON with the expected keys. No timing is asserted here; benchmarks report, tests don't time.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench"
MACHINE_KEYS = {"cpu_model", "cores", "python", "packages"}

SCRIPTS = {
    "bench_ingest": {"stream", "paths", "ratios", "goal", "meets_goal", "profile_realtime_nb_top"},
    "bench_state": {"items_frame", "memory", "ratios", "goal", "meets_goal"},
    "bench_server_scale": {"steps", "largest_passing", "ratios", "cost_breakdown", "goal", "meets_goal"},
    "bench_webrtc": {"runs", "webrtc_kernel_ms_per_s", "relay_kernel_ms_per_s", "relay_over_webrtc",
                     "mouth_to_ear_ms", "goal", "meets_goal"},
    "fuzz_server": {"frames", "dropped_connections", "tracebacks", "schema_invalid_events",
                    "error_event_id_mismatch", "goal", "meets_goal"},
    "bench_reconnect": {"connect_s", "reconnect_s", "handover_pause_s", "handover_items", "ratios"},
    "bench_stt_stall": {"config", "results"},
}


def run_quick(name: str, out_dir: Path) -> dict:
    proc = subprocess.run([sys.executable, str(BENCH / f"{name}.py"), "--quick", "--out-dir", str(out_dir)],
                          capture_output=True, text=True, timeout=110)
    assert proc.returncode == 0, f"{name} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}"
    path = out_dir / f"{name}.json"
    assert path.exists(), f"{name} wrote no JSON; output:\n{proc.stdout[-2000:]}"
    return json.loads(path.read_text())


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(SCRIPTS))
def test_bench_quick_run_writes_its_json(name: str, tmp_path: Path) -> None:
    if name == "bench_ingest":
        pytest.importorskip("openai")
    if name == "bench_webrtc":
        pytest.importorskip("aiortc")
    data = run_quick(name, tmp_path)
    assert data["benchmark"] == name
    assert MACHINE_KEYS <= set(data["machine"]), data["machine"].keys()
    missing = SCRIPTS[name] - set(data)
    assert not missing, f"{name} JSON lacks {missing}"
    assert data["config"]["quick"] is True
    if name == "bench_ingest":  # every path consumed the whole recorded stream, every pass
        assert data["stream"]["events"] > 50 and data["stream"]["audio_deltas"] > 0
        for path in data["paths"].values():
            assert path["per_event_us"]["n"] == data["stream"]["events"] * data["config"]["repeat"]

