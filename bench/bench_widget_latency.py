"""Mouth-to-ear latency and barge-in silence through the real widget: ``transport="webrtc"`` vs ``"relay"``,
in the same run.

**Setup** (as ``bench_widget_webrtc.py``): one JupyterLab, two notebooks (two kernels), each
``s = rt.connect(model=...); s.widget``, hands-free, against a ``LocalServer`` in this process streaming
replies at real-time pace; one widget on ``transport="webrtc"`` (the page's peer connection carries the
mic and the voice), the other on ``"relay"`` (through the kernel, over the widget's fast path). Chromium
runs with ``--allow-loopback-in-peer-connection`` and a fake mic that loops: a question, a pause long
enough for the reply; a question, then another utterance 1.4 s after it ends, over the reply (a
barge-in), then a pause.

**Measured in the page**, with the same taps for both transports (``_levels.LEVEL_TAP_INIT``): the level
of every 10 ms of the microphone stream the widget gets (getUserMedia), and of the model's voice as the
page plays it — on webrtc the call's remote track (after the browser's jitter buffer), on the relay what
the widget's player worklet hands to the speaker. Both are stamped with their AudioContext's output clock
(``getOutputTimestamp``), so the output device's own latency is not included (it is the same for both).
Loud: RMS above ``--threshold``; runs closer than 350 ms (mic) / 250 ms (voice) are one.

- *mouth to ear*: the end of each utterance on the mic → the start of the next voice run (the reply),
  when no other utterance starts in between and it comes within 5 s.
- *barge-in silence*: the start of an utterance while the voice is playing → the end of that voice run
  (the model's voice stops in the page).

Windows alternate webrtc / relay, ``--pairs`` times, after one unmeasured warm-up each.

Run: ``python bench/bench_widget_latency.py [--quick] [--pairs N] [--window-s S]``.
Writes bench/results/bench_widget_latency.json.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _browser import CHROMIUM, WidgetPage, make_lab, make_mic, missing, start_labs
from _common import parser, ratio, summary, table, write_result
from _levels import DRAIN_LEVELS_JS, LEVEL_TAP_INIT, level_runs
from labharness import chromium_args

NAME = "bench_widget_latency"
MODELS = {"webrtc": "bench-latency-webrtc", "relay": "bench-latency-relay"}
MIC_SEGMENTS = [
    ("silence", 300), ("speech", "Hello, can you hear me?"),
    ("silence", 3600), ("speech", "Tell me a long story about the deep blue sea and its ships."),
    ("silence", 1400), ("speech", "Wait, stop."),
    ("silence", 3600),
]
MIC_GAP_MS, VOICE_GAP_MS = 350.0, 250.0
MAX_REPLY_MS = 5000.0


def measure(rows: list[list[Any]], threshold: float) -> dict[str, list[float]]:
    """Mouth-to-ear and barge-in silence times (ms) from one window's level rows."""
    mic = level_runs(rows, "mic", threshold, MIC_GAP_MS)
    voice = level_runs(rows, "voice", threshold, VOICE_GAP_MS)
    m2e: list[float] = []
    barge: list[float] = []
    starts = [s for s, _ in mic]
    for i, (_s, end) in enumerate(mic):
        nxt = starts[i + 1] if i + 1 < len(starts) else float("inf")
        reply = next((v for v in voice if v[0] > end), None)
        if reply is not None and reply[0] - end <= MAX_REPLY_MS and reply[0] < nxt:
            m2e.append(reply[0] - end)
    for s, _e in mic:
        playing = next((v for v in voice if v[0] < s < v[1]), None)
        if playing is not None:
            barge.append(playing[1] - s)
    return {"mouth_to_ear_ms": m2e, "barge_in_silence_ms": barge}


def main() -> int:
    p = parser(__doc__.split("\n")[0])
    p.add_argument("--pairs", type=int, default=None, help="webrtc/relay window pairs (default 3; quick 1)")
    p.add_argument("--window-s", type=float, default=None, help="seconds per window (default 30; quick 12)")
    p.add_argument("--threshold", type=float, default=0.01, help="RMS (full scale 1.0) above which 10 ms is loud")
    args = p.parse_args()
    pairs = args.pairs or (1 if args.quick else 3)
    window_s = args.window_s or (12.0 if args.quick else 30.0)
    reason = missing()
    if reason:
        print(f"cannot run: {reason}", file=sys.stderr)
        return 2

    from playwright.sync_api import sync_playwright

    from realtime_nb.server import LocalServer

    t_start = time.monotonic()
    tmp = tempfile.TemporaryDirectory(prefix="bench-wlat-")
    home = Path(tmp.name)
    mic = make_mic(home / "mic.wav", MIC_SEGMENTS)
    windows: list[dict[str, Any]] = []
    errors: list[Any] = []
    players: dict[str, Any] = {}
    with LocalServer(port=0, pace="realtime") as server:
        lab = make_lab(home / "lab", server.url)
        start_labs([lab])
        try:
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True,
                                             args=[*chromium_args(mic.path), "--allow-loopback-in-peer-connection"])
                pages: dict[str, WidgetPage] = {}
                for kind, model in MODELS.items():
                    settings = f"w.transport = {kind!r}\nw.autostart = False"
                    pages[kind] = WidgetPage(browser, lab, f"latency_{kind}.ipynb", model, probe=False,
                                             settings=settings)
                    pages[kind].context.add_init_script(LEVEL_TAP_INIT)
                for w in pages.values():
                    w.navigate()
                for w in pages.values():
                    w.wait_open()
                    w.start_setup()
                    w.finish_setup()
                for kind, w in pages.items():
                    shown = w.page.locator("[data-testid=rtnb-root]").first.get_attribute("data-transport")
                    if shown != kind:
                        raise RuntimeError(f"the {kind} widget shows transport {shown!r}")
                print(f"ready ({time.monotonic() - t_start:.1f} s)", flush=True)

                def window(kind: str, record: bool = True) -> None:
                    w = pages[kind]
                    w.set_mic(True)
                    time.sleep(1.0)
                    w.page.evaluate(DRAIN_LEVELS_JS)
                    time.sleep(window_s)
                    rows = w.page.evaluate(DRAIN_LEVELS_JS)
                    w.set_mic(False)
                    time.sleep(4.0)       # the reply in flight plays out; the session goes home (webrtc)
                    w.page.evaluate(DRAIN_LEVELS_JS)
                    errors.extend(r for r in rows if r[0] == "error")
                    got = measure(rows, args.threshold)
                    if record:
                        windows.append({"kind": kind, **got, "level_rows": len(rows)})
                    label = kind if record else f"warm-up {kind}"
                    m, b = got["mouth_to_ear_ms"], got["barge_in_silence_ms"]
                    print(f"{label:14s} {len(rows):5d} level rows; mouth to ear {[round(x) for x in m]} ms; "
                          f"barge-in silence {[round(x) for x in b]} ms", flush=True)

                for kind in pages:
                    window(kind, record=False)
                for i in range(pairs):
                    for kind in (("webrtc", "relay") if i % 2 == 0 else ("relay", "webrtc")):
                        window(kind)
                for kind, w in pages.items():  # the relay's player: its adaptive pre-buffer and underruns
                    stats = w.dump_kernel()["stats"]
                    players[kind] = {k: stats.get(k) for k in ("underruns", "prebuffer_ms", "calls", "audio_messages")}
                    w.close()
                browser.close()
        finally:
            lab.stop()

    res: dict[str, dict[str, dict[str, float]]] = {}
    for k in MODELS:
        res[k] = {m: summary([x for w in windows if w["kind"] == k for x in w[m]])
                  for m in ("mouth_to_ear_ms", "barge_in_silence_ms")}
    print()
    table(["ms", "mouth to ear n", "median", "p99", "min", "max", "barge-in silence n", "median", "p99", "max"],
          [[k, r["mouth_to_ear_ms"]["n"], r["mouth_to_ear_ms"]["median"], r["mouth_to_ear_ms"]["p99"],
            r["mouth_to_ear_ms"]["min"], r["mouth_to_ear_ms"]["max"], r["barge_in_silence_ms"]["n"],
            r["barge_in_silence_ms"]["median"], r["barge_in_silence_ms"]["p99"], r["barge_in_silence_ms"]["max"]]
           for k, r in res.items()],
          title=f"The real widget, {pairs} pair(s) of {window_s:g} s windows (page clocks; levels > {args.threshold})")
    print(f"at the end, the widgets' kernel-side counters: {players}")
    if errors:
        print(f"tap errors: {errors[:3]}")
    write_result(NAME, {
        "config": {"quick": args.quick, "pairs": pairs, "window_s": window_s, "mic_segments": MIC_SEGMENTS,
                   "threshold": args.threshold, "elapsed_s": round(time.monotonic() - t_start, 1)},
        "windows": windows,
        "results": res,
        "webrtc_vs_relay": {m: ratio(res["webrtc"][m]["median"], res["relay"][m]["median"])
                            for m in ("mouth_to_ear_ms", "barge_in_silence_ms")},
        "tap_errors": errors[:10],
        "players": players,
    }, args.out_dir)
    tmp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
