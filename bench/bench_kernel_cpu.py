"""Kernel CPU per second of duplex audio relayed through the widget and the Session.

**Setup.** JupyterLab (with the package's TCP_NODELAY extension), one notebook running
``s = rt.connect(); s.widget`` hands-free against a ``LocalServer`` streaming replies at real-time pace;
Chromium's fake microphone loops a recording of questions with pauses for the ~2 s replies, so the
kernel relays mic audio to the server all the time (25 messages/s) and reply audio back (25 deltas/s
while the assistant speaks), plus the transcript and event-log updates the widget shows.
``--transport link`` (default) is the widget as installed: its messages take the fast path
(``realtime_nb/notebook/_link.py``, a loopback WebSocket to the kernel's loop thread); ``--transport comm``
turns it off (``REALTIME_NB_LINK=0``), so every message is a Jupyter comm message through the kernel's
shell channel, as before the fast path existed.

**Measured.** The kernel process's CPU time (user + system, all threads, from ``/proc/<pid>/stat``; the
kernel prints its ``os.getpid()``), over windows that alternate:

- *duplex*: the widget's mic on for ``--window-s`` seconds (then off, and the reply in flight plays out;
  the window ends when the server's response is done);
- *idle* (baseline): the same kernel, session and widget, mic off, no reply, for ``--window-s`` seconds.

Reported per window and as medians over ``--pairs`` pairs: CPU ms per wall second, per second of mic
audio relayed (in) and of reply audio relayed (out); the duplex/idle ratio; the net cost (duplex minus
idle, per second); where it goes by kernel thread (``/proc/<pid>/task/*/stat``). Also the JupyterLab
server process's CPU over the same windows, for context.

- *wakeups*: how often the session's loop thread woke from a wait (a bench-only wrapper on its
  selector counts the waits that could sleep), per wall second.

**Floors, measured in the same run** (``bench/_floors.py``, after the kernel's windows, browser open and
idle), because on this machine each wakeup of a process has a price of its own:

- *bare relay*: the least any Python relay can do for the same traffic (the same fake-mic WAV in the
  same chunks, real time, through a loopback websockets relay to the same local server and the reply
  audio back; no session state, log or UI) — its process's CPU per wall second;
- *wakeups alone*: a process waking as often as the kernel's loop did during duplex, doing nothing.

The ratio kernel / bare relay is the package's own cost over the least a Python relay costs here.

Goal: <= 2 ms of kernel CPU per second of duplex audio.

Run: ``python bench/bench_kernel_cpu.py [--quick] [--pairs N] [--window-s S] [--transport link|comm]
[--chunk-ms MS]`` (``--chunk-ms``: the widget's mic chunk, default 40; larger chunks mean fewer
wakeups at the cost of latency).
Writes bench/results/bench_kernel_cpu.json.
"""

from __future__ import annotations

import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _browser import (
    SAMPLE_RATE,
    ServerRecorder,
    WidgetPage,
    launch_browser,
    make_lab,
    make_mic,
    missing,
    nodelay_state,
    now_ms,
    proc_cpu_s,
    start_labs,
)
from _common import parser, ratio, summary, table, write_result

NAME = "bench_kernel_cpu"
GOAL_MS_PER_S = 2.0
MODEL = "bench-kernel-cpu"
MIC_SEGMENTS = [
    ("silence", 300), ("speech", "Hello, can you hear me?"),
    ("silence", 3400), ("speech", "Tell me a story about the sea."),
    ("silence", 3400), ("speech", "What time is it now?"),
    ("silence", 3400),
]


# Bench-only: when the session's loop thread could sleep (a selector wait with a timeout), wall ms.
WAKE_PROBE = """
_bench = {"wakes": []}
from realtime_nb.client import _loop as _bench_loop
def _bench_wrap_selector():
    sel = _bench_loop.get_loop()._selector
    orig = sel.select
    def select(timeout=None):
        if timeout is None or timeout > 0:
            _bench["wakes"].append(time.time() * 1000)
        return orig(timeout)
    sel.select = select
_bench_loop.call_soon(_bench_wrap_selector)
"""
FLOORS = Path(__file__).resolve().parent / "_floors.py"


def floor_windows(server_url: str, mic_wav: Path, window_s: float, chunk_ms: int, wake_rate: float,
                  n: int) -> list[dict[str, float]]:
    """``n`` windows of the bare relay (its CPU per wall second) and of a process waking ``wake_rate``
    times a second (bench/_floors.py)."""
    out = []
    relay = subprocess.Popen([sys.executable, str(FLOORS), "relay", server_url], stdout=subprocess.PIPE, text=True)
    try:
        port, pid = relay.stdout.readline().split()  # type: ignore[union-attr]
        for _ in range(n):
            c0, t0 = proc_cpu_s(int(pid)), time.monotonic()
            subprocess.run([sys.executable, str(FLOORS), "page", port, str(mic_wav), str(window_s), str(chunk_ms)],
                           check=True)
            relay_ms = (proc_cpu_s(int(pid)) - c0) * 1000 / (time.monotonic() - t0)
            woke = subprocess.run([sys.executable, str(FLOORS), "wake", str(wake_rate), str(window_s / 2)],
                                  check=True, capture_output=True, text=True)
            wake_ms = json.loads(woke.stdout)["cpu_ms_per_s"]
            print(f"floors: bare relay {relay_ms:5.1f} ms/s, {wake_rate:.0f} wakeups/s alone {wake_ms:4.2f} ms/s",
                  flush=True)
            out.append({"bare_relay_ms_per_s": relay_ms, "wakeups_alone_ms_per_s": wake_ms})
    finally:
        relay.kill()
        relay.wait()
    return out


def thread_cpu(pid: int) -> dict[str, float]:
    """CPU seconds per thread (native id) of a process."""
    out: dict[str, float] = {}
    tick = os.sysconf("SC_CLK_TCK")
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/stat", encoding="ascii", errors="replace") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        out[tid] = (int(fields[11]) + int(fields[12])) / tick
    return out


def audio_seconds(rec: ServerRecorder, t0: float, t1: float) -> tuple[float, float]:
    """Seconds of mic audio the server received and of reply audio it sent in ``[t0, t1)`` (ms)."""
    mic = sum(n for t, _o, n in rec.append_rows(MODEL) if t0 <= t < t1)
    out = sum(n for t, _i, _o, n in rec.delta_rows(MODEL) if t0 <= t < t1)
    return mic / SAMPLE_RATE, out / SAMPLE_RATE


def main() -> int:
    p = parser(__doc__.split("\n")[0])
    p.add_argument("--pairs", type=int, default=None, help="duplex/idle window pairs (default 5; quick 1)")
    p.add_argument("--window-s", type=float, default=None, help="seconds per window (default 20; quick 8)")
    p.add_argument("--transport", choices=("link", "comm"), default="link",
                   help="the widget's fast path (default) or comm messages only")
    p.add_argument("--chunk-ms", type=int, default=40, help="the widget's mic chunk (default 40 ms)")
    args = p.parse_args()
    pairs = args.pairs or (1 if args.quick else 5)
    window_s = args.window_s or (8.0 if args.quick else 20.0)
    reason = missing()
    if reason:
        print(f"cannot run: {reason}", file=sys.stderr)
        return 2

    from playwright.sync_api import sync_playwright

    from realtime_nb.server import LocalServer

    t_start = time.monotonic()
    tmp = tempfile.TemporaryDirectory(prefix="bench-kcpu-")
    home = Path(tmp.name)
    mic = make_mic(home / "mic.wav", MIC_SEGMENTS)
    rec = ServerRecorder()
    windows: list[dict[str, Any]] = []
    with rec.install(), LocalServer(port=0, pace="realtime", chunk_ms=100) as server:
        lab = make_lab(home / "lab", server.url)
        start_labs([lab])
        nodelay = nodelay_state(lab)
        try:
            with sync_playwright() as pw:
                browser = launch_browser(pw, mic.path)
                settings = f"w.autostart = False\nw.chunk_ms = {args.chunk_ms}\n{WAKE_PROBE}"
                if args.transport == "comm":
                    settings += "\nos.environ['REALTIME_NB_LINK'] = '0'"
                w = WidgetPage(browser, lab, "kernel_cpu.ipynb", MODEL, probe=False, settings=settings, ws_trace=True)
                w.navigate()
                w.wait_open()
                w.start_setup()
                w.finish_setup()
                transport = w.transport()
                if transport != args.transport:
                    raise RuntimeError(f"the widget uses the {transport}, not the {args.transport}")
                pid = w.pid
                assert pid is not None, "the setup cell did not print the kernel's pid"
                lab_pid = lab.proc.pid if lab.proc is not None else None
                print(f"ready ({time.monotonic() - t_start:.1f} s): kernel pid {pid}, TCP_NODELAY extension {nodelay}",
                      flush=True)
                time.sleep(2.0)  # let the kernel settle after the setup cell

                def measure(kind: str, run: Any) -> None:
                    c0, l0, th0, t0, w0 = (proc_cpu_s(pid), proc_cpu_s(lab_pid) if lab_pid else 0.0,
                                           thread_cpu(pid), now_ms(), time.monotonic())
                    w.drain_ws()
                    run()
                    c1, l1, th1, t1, w1 = (proc_cpu_s(pid), proc_cpu_s(lab_pid) if lab_pid else 0.0,
                                           thread_cpu(pid), now_ms(), time.monotonic())
                    w.drain_ws()
                    wall = w1 - w0
                    mic_s, out_s = audio_seconds(rec, t0, t1)
                    threads = {k: round((th1[k] - th0.get(k, 0.0)) * 1000, 1) for k in th1}
                    windows.append({"kind": kind, "wall_s": wall, "t0_ms": t0, "t1_ms": t1,
                                    "kernel_cpu_ms": (c1 - c0) * 1000,
                                    "lab_server_cpu_ms": (l1 - l0) * 1000, "mic_audio_s": mic_s,
                                    "reply_audio_s": out_s, "threads_cpu_ms_by_tid": threads,
                                    "kernel_messages": dict(w.ws_counts)})
                    print(f"{kind:6s} {wall:5.1f} s: kernel {(c1 - c0) * 1000:7.0f} ms CPU, mic {mic_s:5.1f} s, "
                          f"reply {out_s:5.1f} s", flush=True)

                def duplex() -> None:
                    w.set_mic(True)
                    time.sleep(window_s)
                    w.set_mic(False)
                    settle = time.monotonic() + 8.0
                    while rec.inband_active(MODEL) and time.monotonic() < settle:
                        time.sleep(0.05)

                for i in range(pairs):
                    order = ("duplex", "idle") if i % 2 == 0 else ("idle", "duplex")
                    for kind in order:
                        measure(kind, duplex if kind == "duplex" else (lambda: time.sleep(window_s)))
                        w.drain()
                dump = w.dump_kernel()
                stats, names = dump["stats"], dump.get("threads", {})
                wakes = (dump.get("kernel") or {}).get("wakes", [])
                for x in windows:
                    x["loop_wakeups_per_s"] = sum(1 for t in wakes if x["t0_ms"] <= t < x["t1_ms"]) / x["wall_s"]
                wake_rate = statistics.median(x["loop_wakeups_per_s"] for x in windows if x["kind"] == "duplex")
                floors = floor_windows(server.url, mic.path, window_s, args.chunk_ms, max(wake_rate, 1.0), pairs)
                w.close()
                browser.close()
        finally:
            lab.stop()

    duplex_w = [x for x in windows if x["kind"] == "duplex"]
    idle_w = [x for x in windows if x["kind"] == "idle"]
    per_s = {kind: [x["kernel_cpu_ms"] / x["wall_s"] for x in ws] for kind, ws in (("duplex", duplex_w),
                                                                                   ("idle", idle_w))}
    per_mic_s = [x["kernel_cpu_ms"] / x["mic_audio_s"] for x in duplex_w if x["mic_audio_s"] > 0]
    per_audio_s = [x["kernel_cpu_ms"] / (x["mic_audio_s"] + x["reply_audio_s"]) for x in duplex_w
                   if x["mic_audio_s"] + x["reply_audio_s"] > 0]
    idle_med = statistics.median(per_s["idle"])
    net = [v - idle_med for v in per_s["duplex"]]
    lab_per_s = {kind: [x["lab_server_cpu_ms"] / x["wall_s"] for x in ws] for kind, ws in (("duplex", duplex_w),
                                                                                           ("idle", idle_w))}
    for x in windows:  # thread names from the kernel itself (the OS only knows them as "python")
        named: dict[str, float] = {}
        for tid, ms in x["threads_cpu_ms_by_tid"].items():
            name = names.get(tid, "other (non-Python)")
            name = "subshell (widget comms)" if name.startswith("subshell-") else name
            named[name] = named.get(name, 0.0) + ms
        x["threads_cpu_ms"] = named
    thread_names = sorted({k for x in windows for k in x["threads_cpu_ms"]})
    threads = {name: {kind: statistics.median(x["threads_cpu_ms"].get(name, 0.0) / x["wall_s"] for x in ws)
                      for kind, ws in (("duplex", duplex_w), ("idle", idle_w))} for name in thread_names}
    msg_rates: dict[str, float] = {}
    for x in duplex_w:
        for k, n in x["kernel_messages"].items():
            msg_rates[k] = msg_rates.get(k, 0.0) + n
    duplex_s = sum(x["wall_s"] for x in duplex_w)
    msg_rates = {k: v / duplex_s for k, v in sorted(msg_rates.items(), key=lambda kv: -kv[1])}
    msgs_per_s = sum(msg_rates.values())
    d, i_ = summary(per_s["duplex"]), summary(per_s["idle"])
    print()
    table(["kernel CPU", "n", "median ms/s", "max ms/s"], [
        ["duplex, per wall second", d["n"], d["median"], d["max"]],
        ["duplex, per second of mic audio", len(per_mic_s), summary(per_mic_s)["median"], summary(per_mic_s)["max"]],
        ["duplex, per second of mic + reply audio", len(per_audio_s), summary(per_audio_s)["median"],
         summary(per_audio_s)["max"]],
        ["idle (baseline), per wall second", i_["n"], i_["median"], i_["max"]],
        ["net: duplex - idle", len(net), summary(net)["median"], summary(net)["max"]],
        ["JupyterLab server, duplex", len(lab_per_s["duplex"]), summary(lab_per_s["duplex"])["median"],
         summary(lab_per_s["duplex"])["max"]],
        ["JupyterLab server, idle", len(lab_per_s["idle"]), summary(lab_per_s["idle"])["median"],
         summary(lab_per_s["idle"])["max"]],
    ], title=f"Kernel CPU over the {args.transport}, {pairs} pair(s) of {window_s:g} s windows "
             f"(goal <= {GOAL_MS_PER_S:g} ms per s of duplex audio)")
    print()
    table(["kernel thread", "duplex ms/s", "idle ms/s"],
          [[name, v["duplex"], v["idle"]] for name, v in sorted(threads.items(), key=lambda kv: -kv[1]["duplex"])],
          title="By thread (medians)")
    print()
    per_msg = (f": {summary(net)['median'] * 1000 / msgs_per_s if msgs_per_s else math.nan:.0f} us of kernel CPU each"
               if args.transport == "comm" else " (the widget's own messages take the link)")
    table(["kernel messages on the page's socket (duplex)", "per s"], [[k, v] for k, v in msg_rates.items()],
          title=f"{msgs_per_s:.0f} comm messages/s through JupyterLab during duplex{per_msg}")
    wake_s = {kind: summary([x["loop_wakeups_per_s"] for x in ws]) for kind, ws in (("duplex", duplex_w),
                                                                                      ("idle", idle_w))}
    relay_f = summary([f["bare_relay_ms_per_s"] for f in floors])
    wake_f = summary([f["wakeups_alone_ms_per_s"] for f in floors])
    per_wake_us = d["median"] * 1000 / wake_s["duplex"]["median"] if wake_s["duplex"]["median"] else math.nan
    print()
    table(["floor (same run)", "n", "median ms/s", "max ms/s"], [
        ["kernel, duplex (above)", d["n"], d["median"], d["max"]],
        ["bare Python relay, same traffic", relay_f["n"], relay_f["median"], relay_f["max"]],
        [f"{wake_rate:.0f} wakeups/s alone (the kernel loop's rate)", wake_f["n"], wake_f["median"], wake_f["max"]],
    ], title=f"Floors: the kernel's loop woke {wake_s['duplex']['median']:.0f} times/s in duplex "
             f"({wake_s['idle']['median']:.1f} idle): {per_wake_us:.0f} us of kernel CPU per wakeup")
    ratios = {"duplex_vs_idle": ratio(d["median"], i_["median"]),
              "kernel_vs_bare_relay": ratio(d["median"], relay_f["median"]),
              "goal_vs_wakeups_alone": ratio(GOAL_MS_PER_S, wake_f["median"])}
    print(f"\nduplex / idle: x{ratios['duplex_vs_idle']:.2f};  kernel / bare relay: "
          f"x{ratios['kernel_vs_bare_relay']:.2f};  goal / wakeups alone: x{ratios['goal_vs_wakeups_alone']:.2f}")
    write_result(NAME, {
        "config": {"quick": args.quick, "pairs": pairs, "window_s": window_s, "chunk_ms": args.chunk_ms,
                   "mic_segments": MIC_SEGMENTS,
                   "elapsed_s": round(time.monotonic() - t_start, 1)},
        "nodelay_extension": nodelay,
        "transport": args.transport,
        "windows": windows,
        "kernel_cpu_ms_per_s": {"duplex": d, "idle": i_, "net": summary(net),
                                "per_mic_audio_s": summary(per_mic_s), "per_duplex_audio_s": summary(per_audio_s)},
        "lab_server_cpu_ms_per_s": {k: summary(v) for k, v in lab_per_s.items()},
        "threads_ms_per_s": threads,
        "kernel_messages_per_s": msg_rates,
        "kernel_cpu_us_per_message": summary(net)["median"] * 1000 / msgs_per_s if msgs_per_s else math.nan,
        "loop_wakeups_per_s": wake_s,
        "kernel_cpu_us_per_wakeup": per_wake_us,
        "floors_ms_per_s": {"bare_relay": relay_f, "wakeups_alone": wake_f, "wakeup_rate": wake_rate,
                            "windows": floors},
        "kernel_stats": stats,
        "ratios": ratios,
        "goal": {"kernel_cpu_ms_per_s_of_duplex_audio": GOAL_MS_PER_S},
        "meets_goal": {"gross": bool(d["median"] <= GOAL_MS_PER_S),
                       "net_of_idle": bool(summary(net)["median"] <= GOAL_MS_PER_S)},
    }, args.out_dir)
    tmp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
