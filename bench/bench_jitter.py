"""Playback gaps at the local server's real-time pace: the adaptive jitter buffer against the fixed 100 ms one.

What it measures: the local server (``LocalServer(pace="realtime")``, in this process, as the embedded
server runs in a kernel) streams long spoken replies to a ``Session``; the arrival time of every audio delta
at the session's loop thread is recorded, on this machine, under whatever load it has. That one trace is
then replayed (``bench/jitter_replay.mjs``, Node) through the player's own jitter buffer (``js/jitter.js``,
the code the AudioWorklet runs) on an ideal 24 kHz render clock, once per setting — so every setting meets
the very same network and scheduling jitter (the baseline is the same run):

- ``fixed_100``: the old player, a fixed 100 ms pre-buffer (the baseline);
- ``adaptive``: starts at 100 ms, grows on each underrun up to 400 ms, shrinks back while stable (the
  widget's default);
- ``fixed_400``: what the issue found gap-free at this pace, for reference.

Reported: underruns per minute of audio played and the median pre-buffer (time-weighted while playing);
and how the server kept time: per reply, its delivery rate (audio seconds per wall second between the
first and last delta) and how far the last delta arrived behind its real-time due time (``lag``: a
pacing that drifts grows it with the reply's length). Goal: 0 underruns per minute at <= 150 ms median
pre-buffer. Not covered: the kernel -> browser hop and the browser's own scheduling
(``bench_jitter_browser.py`` plays the replies through the real widget in JupyterLab + Chromium).

    python bench/bench_jitter.py                  # ~90 s of audio
    python bench/bench_jitter.py --quick          # ~15 s
    python bench/bench_jitter.py --chunk-ms 100   # the server's deltas (default: its own, 40 ms when paced)
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import _common

import realtime_nb as rt
from realtime_nb.server import LocalServer

HERE = Path(__file__).resolve().parent
SETTINGS = {
    "fixed_100": {"prebuffer_ms": 100},
    "adaptive": {"prebuffer_ms": 100, "max_ms": 400},
    "fixed_400": {"prebuffer_ms": 400},
}
STORY = ("Please tell me a long story about the sea, the wind, the old lighthouse keeper and his grey cat, "
         "the storm that came in the night, the ship that was saved at dawn, and what the keeper said to the "
         "captain when they met on the harbour wall the next morning while the gulls were crying overhead")


def record(seconds: float, chunk_ms: int | None = None) -> dict:
    """Arrival times (ms, monotonic) of audio deltas and item ends from the real-time local server."""
    events: list[list] = []
    lock = threading.Lock()
    t0 = time.monotonic()

    def on_delta(e: dict) -> None:
        with lock:
            events.append([(time.monotonic() - t0) * 1000, "push", e["item_id"], len(e["delta"]) * 3 // 4 // 2])

    def on_done(e: dict) -> None:
        with lock:
            events.append([(time.monotonic() - t0) * 1000, "end", e["item_id"]])

    with LocalServer(port=0, pace="realtime", chunk_ms=chunk_ms) as server, rt.connect(url=server.url) as s:
        s.on("response.output_audio.delta", on_delta)
        s.on("response.output_audio.done", on_done)
        audio = 0.0
        while audio < seconds:
            r = s.say(STORY, timeout=120)
            audio += r.audio_seconds
    with lock:
        return {"rate": 24000, "events": sorted(events, key=lambda e: e[0]), "audio_s": audio}


def server_timing(trace: dict) -> dict:
    """Per reply: delivery rate (x real time) and the last delta's lag behind its real-time due time (ms)."""
    pushes: dict[str, list[tuple[float, int]]] = {}
    for e in trace["events"]:
        if e[1] == "push":
            pushes.setdefault(e[2], []).append((e[0], e[3]))
    rates, lags, late = [], [], []
    for seq in pushes.values():
        if len(seq) < 3:
            continue
        t0, before = seq[0][0], sum(n for _, n in seq[:-1]) / trace["rate"]
        rates.append(before / ((seq[-1][0] - t0) / 1000))
        lags.append(seq[-1][0] - t0 - before * 1000)
        sent = 0
        for t, n in seq:  # how late each delta came after its real-time due time (first delta: due at once)
            late.append(t - t0 - sent * 1000 / trace["rate"])
            sent += n
    late.sort(reverse=True)
    rates.sort()
    lags.sort()
    return {"replies": len(rates), "rate_median": rates[len(rates) // 2] if rates else None,
            "rate_min": rates[0] if rates else None, "lag_ms_median": lags[len(lags) // 2] if lags else None,
            "lag_ms_max": lags[-1] if lags else None, "late_ms_top": [round(x, 1) for x in late[:8]],
            "deltas_over_80ms_late": sum(1 for x in late if x > 80),
            "reply_s_median": sorted(sum(n for _, n in q) / trace["rate"] for q in pushes.values())[len(pushes) // 2]
            if pushes else None}


def replay(trace: dict) -> dict:
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(trace, f)
    try:
        out = subprocess.run(["node", str(HERE / "jitter_replay.mjs"), f.name, json.dumps(SETTINGS)],
                             capture_output=True, text=True, check=True, timeout=300).stdout
    finally:
        os.unlink(f.name)
    return json.loads(out)


def main() -> int:
    p = _common.parser(__doc__.splitlines()[0])
    p.add_argument("--chunk-ms", type=int, default=None, help="audio per server delta (default: the server's)")
    p.add_argument("--save-trace", default=None, help="also write the arrival trace (JSON) to this path")
    args = p.parse_args()
    seconds = 15.0 if args.quick else 90.0
    load0 = os.getloadavg()
    trace = record(seconds, args.chunk_ms)
    timing = server_timing(trace)
    if args.save_trace:
        Path(args.save_trace).write_text(json.dumps(trace))
    results = replay(trace)
    base, adaptive = results["fixed_100"], results["adaptive"]
    rows = [(name, f"{r['underruns']}", f"{r['underruns_per_min']:.2f}", f"{r['prebuffer_ms']['median']:.0f}",
             f"{r['prebuffer_ms']['max']:.0f}", f"{r['played_s']:.1f}") for name, r in results.items()]
    print(_common.table(["setting", "underruns", "per min", "median pre-buffer ms", "max ms", "audio s"], rows,
                        title=f"jitter buffer at pace=realtime, one trace of {trace['audio_s']:.0f} s "
                              f"(load {load0[0]:.1f} -> {os.getloadavg()[0]:.1f})"))
    meets = adaptive["underruns_per_min"] == 0 and adaptive["prebuffer_ms"]["median"] <= 150
    ratios = {"underruns_adaptive_over_fixed_100": _common.ratio(adaptive["underruns"], base["underruns"]),
              "median_prebuffer_adaptive_over_fixed_100": _common.ratio(adaptive["prebuffer_ms"]["median"],
                                                                       base["prebuffer_ms"]["median"])}
    print(f"server: {timing['replies']} replies (median {timing['reply_s_median']:.1f} s), delivery "
          f"{timing['rate_median']:.4f}x real time (min {timing['rate_min']:.4f}x), last delta "
          f"{timing['lag_ms_median']:.1f} ms behind its due time (max {timing['lag_ms_max']:.1f} ms); latest "
          f"deltas (ms behind due): {timing['late_ms_top']}")
    print(f"ratios: {ratios}; goal (0 underruns/min at <= 150 ms median) met: {meets}")
    _common.write_result("bench_jitter", {
        "settings": SETTINGS, "results": results, "ratios": ratios, "audio_s": trace["audio_s"],
        "chunk_ms": args.chunk_ms, "server_timing": timing,
        "deltas": sum(1 for e in trace["events"] if e[1] == "push"), "load_average_end": list(os.getloadavg()),
        "goal": "0 underruns per minute at <= 150 ms median pre-buffer", "meets_goal": meets,
    }, args.out_dir)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
