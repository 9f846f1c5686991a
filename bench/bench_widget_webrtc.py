"""Kernel CPU through the real widget: ``transport="webrtc"`` vs ``transport="relay"``, in the same run.

**Setup.** One JupyterLab, two notebooks (two kernels), each ``s = rt.connect(model=...); s.widget``,
hands-free, against a ``LocalServer`` in this process streaming replies at real-time pace (so the
server's Opus work on a call is not the kernel's). One widget has ``transport="webrtc"`` (the page's
peer connection carries the mic and the voice, the kernel holds the call's sideband), the other
``"relay"`` (the kernel relays the mic to the server and the voice to the page, over the widget's fast
path). Chromium (with the fake mic looping questions with pauses for the ~2 s replies) runs with
``--allow-loopback-in-peer-connection``.

**Measured**, after one unmeasured warm-up window each, windows alternating webrtc / relay ``--pairs``
times: Start talking (on webrtc: the call — offer, answer, the session replayed onto its sideband), 1 s,
then the measured ``--window-s`` seconds of conversation, then Stop mic (on webrtc: the hang-up and the
session back on its own connection) and the reply in flight plays out. Per window: the kernel process's
CPU time (user + system, all threads, ``/proc/<pid>/stat``) per wall second, and, for the kernel that
was not talking meanwhile, its idle CPU; reply audio the server sent and mic audio it got as appends
(webrtc: none — the mic went on the call's track); apart, the kernel CPU of the start and the end around
the window. At the end each kernel reports its widget's counters: mic chunks and audio messages through
the kernel (webrtc: 0).

Goal (issue 17): <= 2 ms of kernel CPU per second of duplex conversation on webrtc.

Run: ``python bench/bench_widget_webrtc.py [--quick] [--pairs N] [--window-s S]``.
Writes bench/results/bench_widget_webrtc.json.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _browser import (
    CHROMIUM,
    SAMPLE_RATE,
    ServerRecorder,
    WidgetPage,
    make_lab,
    make_mic,
    missing,
    now_ms,
    proc_cpu_s,
    start_labs,
)
from _common import parser, ratio, summary, table, write_result
from bench_kernel_cpu import thread_cpu
from labharness import chromium_args

NAME = "bench_widget_webrtc"
GOAL_MS_PER_S = 2.0
MODELS = {"webrtc": "bench-widget-webrtc", "relay": "bench-widget-relay"}
MIC_SEGMENTS = [
    ("silence", 300), ("speech", "Hello, can you hear me?"),
    ("silence", 3400), ("speech", "Tell me a story about the sea."),
    ("silence", 3400), ("speech", "What time is it now?"),
    ("silence", 3400),
]


def print_profile(kind: str, path: Path, out_dir: str | None) -> None:
    """The loop thread's profile of ``kind``'s measured windows: the top functions, by own and by
    cumulative time; the raw stats are kept next to the JSON result."""
    import pstats
    import shutil

    if not path.exists():
        print(f"no profile for {kind} ({path})")
        return
    keep = Path(out_dir or Path(__file__).resolve().parent / "results") / f"{NAME}_{kind}.pstats"
    keep.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(path, keep)
    print(f"\n== loop-thread profile, {kind} (kept in {keep}) ==")
    st = pstats.Stats(str(path))
    st.sort_stats("tottime").print_stats(25)
    st.sort_stats("cumulative").print_stats(40)


def main() -> int:
    p = parser(__doc__.split("\n")[0])
    p.add_argument("--pairs", type=int, default=None, help="webrtc/relay window pairs (default 3; quick 1)")
    p.add_argument("--window-s", type=float, default=None, help="seconds per window (default 20; quick 8)")
    p.add_argument("--profile", action="store_true",
                   help="cProfile each kernel's loop thread during the measured windows (a diagnostic: "
                        "it slows the loop thread, so the CPU figures of such a run are not the real ones)")
    args = p.parse_args()
    pairs = args.pairs or (1 if args.quick else 3)
    window_s = args.window_s or (8.0 if args.quick else 20.0)
    reason = missing()
    if reason:
        print(f"cannot run: {reason}", file=sys.stderr)
        return 2

    from playwright.sync_api import sync_playwright

    from realtime_nb.server import LocalServer

    t_start = time.monotonic()
    tmp = tempfile.TemporaryDirectory(prefix="bench-wrtc-")
    home = Path(tmp.name)
    mic = make_mic(home / "mic.wav", MIC_SEGMENTS)
    rec = ServerRecorder()
    windows: list[dict[str, Any]] = []
    dumps: dict[str, Any] = {}
    with rec.install(), LocalServer(port=0, pace="realtime") as server:
        lab = make_lab(home / "lab", server.url)
        start_labs([lab])
        try:
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True,
                                             args=[*chromium_args(mic.path), "--allow-loopback-in-peer-connection"])
                pages: dict[str, WidgetPage] = {}
                for kind, model in MODELS.items():
                    settings = f"w.transport = {kind!r}\nw.autostart = False"
                    pages[kind] = WidgetPage(browser, lab, f"widget_{kind}.ipynb", model, probe=False,
                                             settings=settings,
                                             profile=home / f"profile_{kind}" if args.profile else None)
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
                pids = {kind: w.pid for kind, w in pages.items()}
                assert all(pids.values()), pids
                print(f"ready ({time.monotonic() - t_start:.1f} s): kernels {pids}", flush=True)
                time.sleep(2.0)

                def cpu() -> dict[str, float]:
                    return {k: proc_cpu_s(pid) for k, pid in pids.items() if pid}

                def window(kind: str, record: bool = True) -> None:
                    w, other = pages[kind], next(k for k in pages if k != kind)
                    before = cpu()
                    w.set_mic(True)               # webrtc: the call (offer, answer, replay onto the sideband)
                    time.sleep(1.0)
                    flag = w.profile if record else None
                    if flag is not None:
                        flag.touch()
                    c0, th0, t0, w0 = cpu(), thread_cpu(pids[kind]), now_ms(), time.monotonic()
                    time.sleep(window_s)          # the measured window: the conversation only
                    c1, th1, t1, wall = cpu(), thread_cpu(pids[kind]), now_ms(), time.monotonic() - w0
                    if flag is not None:
                        flag.unlink()
                    w.set_mic(False)              # webrtc: the hang-up, and the session back home
                    settle = time.monotonic() + 8.0
                    while rec.inband_active(MODELS[kind]) and time.monotonic() < settle:
                        time.sleep(0.05)
                    time.sleep(1.0)
                    after = cpu()
                    mic_s = sum(n for t, _o, n in rec.append_rows(MODELS[kind]) if t0 <= t < t1) / SAMPLE_RATE
                    out_s = sum(n for t, _i, _o, n in rec.delta_rows(MODELS[kind]) if t0 <= t < t1) / SAMPLE_RATE
                    x = {"kind": kind, "wall_s": wall, "kernel_cpu_ms": (c1[kind] - c0[kind]) * 1000,
                         "other_idle_cpu_ms": (c1[other] - c0[other]) * 1000, "mic_appended_s": mic_s,
                         "reply_audio_s": out_s,
                         # the start and the end around the window (webrtc: call set-up, hang-up, going home)
                         "start_end_cpu_ms": (after[kind] - before[kind] - (c1[kind] - c0[kind])) * 1000,
                         "threads_cpu_ms_by_tid": {t: round((v - th0.get(t, 0.0)) * 1000, 1) for t, v in th1.items()}}
                    if record:
                        windows.append(x)
                    label = kind if record else f"warm-up {kind}"
                    print(f"{label:6s} {wall:5.1f} s: kernel {x['kernel_cpu_ms'] / wall:6.2f} ms/s "
                          f"(the other, idle: {x['other_idle_cpu_ms'] / wall:5.2f} ms/s), mic appended {mic_s:5.1f} s, "
                          f"reply {out_s:5.1f} s; start + end {x['start_end_cpu_ms']:4.0f} ms", flush=True)

                for kind in pages:  # the server's first replies (its voice model loading) are not measured
                    window(kind, record=False)
                for i in range(pairs):
                    for kind in (("webrtc", "relay") if i % 2 == 0 else ("relay", "webrtc")):
                        window(kind)
                names: dict[str, dict[str, str]] = {}
                for kind, w in pages.items():
                    dump = w.dump_kernel()
                    dumps[kind], names[kind] = dump["stats"], dump.get("threads", {})
                    if w.profile is not None:
                        print_profile(kind, Path(str(w.profile) + ".pstats"), args.out_dir)
                    w.close()
                browser.close()
        finally:
            lab.stop()

    per_s = {k: [x["kernel_cpu_ms"] / x["wall_s"] for x in windows if x["kind"] == k] for k in MODELS}
    idle = {k: [x["other_idle_cpu_ms"] / x["wall_s"] for x in windows if x["kind"] != k] for k in MODELS}
    reply = {k: [x["reply_audio_s"] for x in windows if x["kind"] == k] for k in MODELS}
    mic_in = {k: [x["mic_appended_s"] for x in windows if x["kind"] == k] for k in MODELS}
    by_thread: dict[str, dict[str, float]] = {}   # kind -> thread name -> median ms per wall second
    for k in MODELS:
        rows: dict[str, list[float]] = {}
        for x in (x for x in windows if x["kind"] == k):
            named: dict[str, float] = {}
            for tid, ms in x["threads_cpu_ms_by_tid"].items():
                name = names.get(k, {}).get(tid, "other (non-Python)")
                name = "subshell (widget comms)" if name.startswith("subshell-") else name
                named[name] = named.get(name, 0.0) + ms / x["wall_s"]
            for name, v in named.items():
                rows.setdefault(name, []).append(v)
        by_thread[k] = {name: statistics.median(v) for name, v in rows.items()}
    start_end = {k: summary([x["start_end_cpu_ms"] for x in windows if x["kind"] == k]) for k in MODELS}
    s = {k: summary(v) for k, v in per_s.items()}
    print()
    table(["kernel CPU (ms per wall s)", "n", "median", "min", "max", "idle kernel, median", "reply audio s/window",
           "mic appended s/window", "start + end, CPU ms"],
          [[k, s[k]["n"], s[k]["median"], s[k]["min"], s[k]["max"], summary(idle[k])["median"],
            statistics.median(reply[k]) if reply[k] else 0.0, statistics.median(mic_in[k]) if mic_in[k] else 0.0,
            start_end[k]["median"]]
           for k in MODELS],
          title=f"The real widget, {pairs} pair(s) of {window_s:g} s windows "
                f"(goal <= {GOAL_MS_PER_S:g} ms/s on webrtc)")
    print()
    thread_names = sorted({n for v in by_thread.values() for n in v}, key=lambda n: -by_thread["relay"].get(n, 0.0))
    table(["kernel thread", "webrtc ms/s", "relay ms/s"],
          [[n, by_thread["webrtc"].get(n, 0.0), by_thread["relay"].get(n, 0.0)] for n in thread_names],
          title="By thread (medians)")
    through = {k: {"mic_chunks": d.get("mic_chunks"), "audio_messages": d.get("audio_messages"),
                   "calls": d.get("calls")} for k, d in dumps.items()}
    print(f"\nthrough the kernel (widget counters): {through}")
    x = ratio(s["relay"]["median"], s["webrtc"]["median"])
    print(f"relay / webrtc: x{x:.1f}")
    write_result(NAME, {
        "config": {"quick": args.quick, "pairs": pairs, "window_s": window_s, "mic_segments": MIC_SEGMENTS,
                   "elapsed_s": round(time.monotonic() - t_start, 1)},
        "windows": windows,
        "kernel_cpu_ms_per_s": s,
        "idle_kernel_cpu_ms_per_s": {k: summary(v) for k, v in idle.items()},
        "start_end_cpu_ms": start_end,
        "threads_ms_per_s": by_thread,
        "through_the_kernel": through,
        "relay_vs_webrtc": x,
        "goal": {"kernel_cpu_ms_per_s_webrtc": GOAL_MS_PER_S},
        "meets_goal": bool(s["webrtc"]["median"] <= GOAL_MS_PER_S),
    }, args.out_dir)
    tmp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
