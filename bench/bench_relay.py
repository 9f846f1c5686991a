"""Relay latency: what the widget path (browser → JupyterLab → kernel Session → server, and back) adds
over a page talking straight to the server, in real Chromium on loopback.

**Paths**, all in one Chromium with the same fake microphone (a looping WAV of questions with pauses
for the replies), against one ``LocalServer`` at real-time pace (``--chunk-ms`` of audio per delta):

- ``direct`` (baseline): a plain page served by a tiny local HTTP server. Its JS captures the mic with
  the widget's own capture worklet (``js/capture.worklet.js``), sends ``input_audio_buffer.append``
  events over its own WebSocket, and plays the deltas with the widget's player worklet
  (``js/player.worklet.js``, same 100 ms pre-buffer), stopping it on ``speech_started`` as the widget does.
- ``widget_link``: ``s = rt.connect(); s.widget`` in JupyterLab, as installed: the widget's messages
  take its fast path (``realtime_nb/notebook/_link.py``, a loopback WebSocket from the page to the kernel's loop
  thread); the package's TCP_NODELAY server extension is loaded.
- ``widget_comm``: the same lab, the link turned off (``REALTIME_NB_LINK=0`` in the kernel): every
  message is a Jupyter comm message (page → jupyter_server → ZMQ → kernel), TCP_NODELAY extension on.
- ``widget_comm_nagle``: the comm path in a second JupyterLab whose config disables the extension
  (``jupyter server extension disable realtime_nb.notebook._jupyter_server_ext`` in its temporary config dir).

The paths take turns (one at a time, ``--round-s`` each, the order rotating every round, ``--rounds``
rounds), so all meet the same noise of the shared machine without loading each other.

**What is measured** (wall clock, epoch ms, on both sides of the same machine):

- *mic → server*: the capture worklet stamps each 40 ms chunk when it posts it (Temporal.Now, the
  widget's bench hook, ``js/trace.js``); the server records when the append holding that chunk's first
  sample arrives (per connection, correlated by sample offset: both sides count samples in order).
- *server → player*: the server records when it sends each audio delta; the player worklet stamps when
  the chunk holding the delta's first sample is handed to it (``push``). Also reported: arrival on the
  page's main thread (``server → page``), and per reply the *first played sample*: the server's first
  delta of an item → the render quantum holding the item's first sample (includes the 100 ms pre-buffer
  and the audio device's 10 ms callback, the same on both paths).
- Clocks: each page's clock is calibrated against this process's (WebSocket round trips to a time
  server; the offset of the fastest quarter, typically < 0.1 ms), and the worklets' Temporal clock
  against the page's performance clock; both offsets are reported and applied.
- Breakdown of the widget path, from bench-only timestamps: the notebook patches its kernel (comm
  handler, bridge, ipykernel's IOPub thread), the lab's jupyter_server loads a probe from its temporary
  config dir (ZMQ <-> WebSocket relay), and the page wraps its kernel WebSocket (send / message event).

**Added delay** = widget path minus direct path, for the median and the p99 of each distribution;
ratios are widget / direct. Goal: <= 1 ms added at p50 and <= 5 ms at p99, both directions.

Run: ``python bench/bench_relay.py [--quick] [--rounds N] [--round-s S] [--chunk-ms MS]``.
Writes bench/results/bench_relay.json.
"""

from __future__ import annotations

import math
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _browser import (
    DirectPage,
    ServerRecorder,
    StaticServer,
    TimeServer,
    WidgetPage,
    calibrate,
    latencies_in,
    latencies_out,
    launch_browser,
    make_lab,
    make_mic,
    match_by_offset,
    missing,
    nodelay_state,
    now_ms,
    server_probe_rows,
    start_labs,
)
from _common import parser, ratio, summary, table, write_result

NAME = "bench_relay"
GOAL_P50_MS = 1.0
GOAL_P99_MS = 5.0
WIDGETS = ("widget_link", "widget_comm", "widget_comm_nagle")
PATHS = ("direct", *WIDGETS)
MODELS = {k: "bench-" + k.replace("_", "-") for k in PATHS}
SETTINGS = {"widget_link": "", "widget_comm": "os.environ['REALTIME_NB_LINK'] = '0'", "widget_comm_nagle":
            "os.environ['REALTIME_NB_LINK'] = '0'"}
LAB_OF = {"widget_link": "nodelay", "widget_comm": "nodelay", "widget_comm_nagle": "nagle"}
# Questions with room for the whole reply ("I heard N.N seconds of audio.", ~2 s) before the next one.
MIC_SEGMENTS = [
    ("silence", 300), ("speech", "Hello, can you hear me?"),
    ("silence", 3400), ("speech", "Tell me a story about the sea."),
    ("silence", 3400), ("speech", "What time is it now?"),
    ("silence", 3400),
]
METRICS = ("mic_to_server", "server_to_player", "server_to_page", "first_played_sample")


def split_rows(rows: list[list[Any]]) -> dict[str, list[list[Any]]]:
    out: dict[str, list[list[Any]]] = defaultdict(list)
    for row in rows:
        out[str(row[0])].append(row)
    return out


def first_play(deltas: list[tuple[float, str, int, int]], plays: list[list[Any]], off_w: float,
               start: float = -1e300, end: float = 1e300) -> list[float]:
    """Per item: server send of its first delta → render of its first sample."""
    first_sent = {item: t for t, item, offset, _n in reversed(deltas) if offset == 0}
    out = []
    for row in plays:
        _kind, item, offset, at = row[:4]
        if offset == 0 and item in first_sent and start <= first_sent[item] < end:
            out.append(at + off_w - first_sent[item])
    return out


def breakdown(kernel: dict[str, Any], rows: dict[str, list[list[Any]]], appends: list[tuple[float, int, int]],
              deltas: list[tuple[float, str, int, int]], off_w: float, off_page: float,
              server_probe: list[list[Any]] | None = None) -> dict[str, Any]:
    """Where the widget path's time goes, from the kernel's own timestamps."""
    kmic = []  # (t, start, n)
    at = 0
    for t, n in kernel.get("mic", []):
        kmic.append((t, at, int(n)))
        at += int(n)
    k_starts, k_lens = [r[1] for r in kmic], [r[2] for r in kmic]
    to_kernel = []
    for _k, offset, _n, posted in rows.get("mic", []):
        i = match_by_offset(k_starts, k_lens, int(offset))
        if i is not None:
            to_kernel.append(kmic[i][0] - (posted + off_w))
    s_starts, s_lens = [r[1] for r in appends], [r[2] for r in appends]
    to_server = []
    for t, start, _n in kmic:
        i = match_by_offset(s_starts, s_lens, start)
        if i is not None:
            to_server.append(appends[i][0] - t)
    kout = [(float(t), str(item), int(offset), int(n)) for t, item, offset, n in kernel.get("out", [])]
    kout_rows = [["k", item, offset, n, t] for t, item, offset, n in kout]
    server_to_kernel = latencies_out(deltas, kout_rows, 0.0)
    kernel_to_player = latencies_out(kout, rows.get("push", []), off_w)
    out = {"browser_to_kernel_ms": summary(to_kernel), "kernel_to_server_ms": summary(to_server),
           "server_to_kernel_ms": summary(server_to_kernel), "kernel_to_player_ms": summary(kernel_to_player)}
    ksent = [(float(t), str(item), int(o), int(n)) for t, item, o, n in kernel.get("sent", [])]
    link_sent, link_offsets = [], defaultdict(int)
    for t, item, n in kernel.get("link_sent", []):
        link_sent.append((float(t), str(item), link_offsets[item], int(n)))
        link_offsets[item] += int(n)
    if ksent and link_sent:  # the widget's link: the bridge → its socket → the page
        out["out: kernel bridge receives -> sends to view"] = summary(
            latencies_out(kout, [["s", item, o, n, t] for t, item, o, n in ksent], 0.0))
        out["out: kernel sends -> link socket write"] = summary(
            latencies_out(ksent, [["l", item, o, n, t] for t, item, o, n in link_sent], 0.0))
        out["out: link socket write -> page handler"] = summary(latencies_out(link_sent, rows.get("in", []), off_page))
    if rows.get("ws_out") and rows.get("ws_in"):  # split at the browser's kernel WebSocket
        ws_out = [(at + off_page, int(o), int(n)) for _k, o, n, at in rows["ws_out"]]
        w_starts, w_lens = [r[1] for r in ws_out], [r[2] for r in ws_out]
        post_to_socket, socket_to_kernel = [], []
        for _k, offset, _n, posted in rows.get("mic", []):
            i = match_by_offset(w_starts, w_lens, int(offset))
            if i is not None:
                post_to_socket.append(ws_out[i][0] - (posted + off_w))
        for t, start, _n in ws_out:
            i = match_by_offset(k_starts, k_lens, start)
            if i is not None:
                socket_to_kernel.append(kmic[i][0] - t)
        out["mic: capture worklet -> page socket send"] = summary(post_to_socket)
        out["mic: page socket -> kernel comm handler"] = summary(socket_to_kernel)
        out["out: kernel bridge -> page socket arrival"] = summary(latencies_out(kout, rows["ws_in"], off_page))
        if ksent:
            out["out: kernel bridge receives -> sends to view"] = summary(
                latencies_out(kout, [["s", item, o, n, t] for t, item, o, n in ksent], 0.0))
            out["out: kernel sends -> page socket arrival"] = summary(latencies_out(ksent, rows["ws_in"], off_page))
        iopub, offsets = [], defaultdict(int)
        for t, item, n in kernel.get("iopub", []):
            iopub.append((float(t), str(item), offsets[item], int(n)))
            offsets[item] += int(n)
        if ksent and iopub:
            out["out: kernel sends -> IOPub thread sends"] = summary(
                latencies_out(ksent, [["i", item, o, n, t] for t, item, o, n in iopub], 0.0))
            out["out: IOPub thread sends -> page socket arrival"] = summary(
                latencies_out(iopub, rows["ws_in"], off_page))
        ws_in = [(at + off_page, item, int(o), int(n)) for _k, item, o, n, at in rows["ws_in"]]
        out["out: page socket arrival -> view handler"] = summary(latencies_out(ws_in, rows.get("in", []), off_page))
        if server_probe and iopub:  # split again inside jupyter_server (the lab's own timestamps)
            js_out, js_offsets = [], defaultdict(int)
            for _d, t0, t1, kind, item, n in (r for r in server_probe if r[0] == "out"):
                if kind == "audio":
                    js_out.append((float(t0), float(t1), str(item), js_offsets[item], int(n)))
                    js_offsets[item] += int(n)
            taken = [["j", item, o, n, t0] for t0, _t1, item, o, n in js_out]
            written = [(t1, item, o, n) for _t0, t1, item, o, n in js_out]
            out["out: IOPub thread sends -> jupyter_server takes it"] = summary(latencies_out(iopub, taken, 0.0))
            out["out: jupyter_server takes it -> has written it"] = summary([t1 - t0 for t0, t1, *_ in js_out])
            out["out: jupyter_server has written it -> page socket arrival"] = summary(
                latencies_out(written, rows["ws_in"], off_page))
            js_in, at_j = [], 0
            for _d, t, n in (r for r in server_probe if r[0] == "in"):
                js_in.append((float(t), at_j, int(n)))
                at_j += int(n)
            j_starts, j_lens = [r[1] for r in js_in], [r[2] for r in js_in]
            sock_to_js, js_to_kernel = [], []
            for t, start, _n in ws_out:
                i = match_by_offset(j_starts, j_lens, start)
                if i is not None:
                    sock_to_js.append(js_in[i][0] - t)
            for t, start, _n in js_in:
                i = match_by_offset(k_starts, k_lens, start)
                if i is not None:
                    js_to_kernel.append(kmic[i][0] - t)
            out["mic: page socket send -> jupyter_server takes it"] = summary(sock_to_js)
            out["mic: jupyter_server takes it -> kernel comm handler"] = summary(js_to_kernel)
    return out


def main() -> int:
    p = parser(__doc__.split("\n")[0])
    p.add_argument("--rounds", type=int, default=None, help="turns of each path (default 4; quick 1)")
    p.add_argument("--round-s", type=float, default=None, help="seconds per turn (default 14; quick 7)")
    p.add_argument("--chunk-ms", type=int, default=40, help="audio per server delta (default 40)")
    args = p.parse_args()
    rounds = args.rounds or (1 if args.quick else 4)
    round_s = args.round_s or (7.0 if args.quick else 14.0)
    reason = missing()
    if reason:
        print(f"cannot run: {reason}", file=sys.stderr)
        return 2

    from playwright.sync_api import sync_playwright

    from realtime_nb.server import LocalServer

    t_start = time.monotonic()
    tmp = tempfile.TemporaryDirectory(prefix="bench-relay-")
    home = Path(tmp.name)
    mic = make_mic(home / "mic.wav", MIC_SEGMENTS)
    rec = ServerRecorder()
    rows: dict[str, list[list[Any]]] = {k: [] for k in PATHS}
    windows: dict[str, list[tuple[float, float]]] = {k: [] for k in PATHS}
    clocks: dict[str, dict[str, Any]] = {}
    kernel: dict[str, dict[str, Any]] = {}
    nodelay: dict[str, str] = {}
    audio_info: dict[str, Any] = {}
    with rec.install(), LocalServer(port=0, pace="realtime", chunk_ms=args.chunk_ms) as server, \
            TimeServer() as timesrv, StaticServer(home / "direct") as static:
        labs = {"nodelay": make_lab(home / "lab-nodelay", server.url, nodelay=True, probe=True),
                "nagle": make_lab(home / "lab-nagle", server.url, nodelay=False, probe=True)}
        start_labs(list(labs.values()))
        nodelay = {k: nodelay_state(lab) for k, lab in labs.items()}
        print(f"labs up ({time.monotonic() - t_start:.1f} s): TCP_NODELAY extension {nodelay}", flush=True)
        try:
            with sync_playwright() as pw:
                browser = launch_browser(pw, mic.path)
                pages: dict[str, Any] = {
                    k: WidgetPage(browser, labs[LAB_OF[k]], f"relay_{k}.ipynb", MODELS[k],
                                  settings=f"w.autostart = False\n{SETTINGS[k]}", ws_trace=True)
                    for k in WIDGETS}
                for w in pages.values():
                    w.navigate()
                direct = DirectPage(browser, home / "direct", static)
                audio_info["direct"] = direct.open(server.url, MODELS["direct"])
                pages["direct"] = direct
                for k in WIDGETS:
                    pages[k].wait_open()
                    pages[k].start_setup()
                for k in WIDGETS:
                    pages[k].finish_setup()
                transports = {k: pages[k].transport() for k in WIDGETS}
                if transports != {"widget_link": "link", "widget_comm": "comm", "widget_comm_nagle": "comm"}:
                    raise RuntimeError(f"the widgets do not use the paths they should: {transports}")
                for k in PATHS:
                    clocks[k] = calibrate(pages[k].page, timesrv.url)
                print(f"pages ready ({time.monotonic() - t_start:.1f} s); clock offsets (ms): "
                      + ", ".join(f"{k} {c['offset_ms']:+.3f} (rtt {c['rtt_ms']:.2f})" for k, c in clocks.items()),
                      flush=True)

                for r in range(rounds):
                    order = PATHS[r % len(PATHS):] + PATHS[:r % len(PATHS)]
                    for k in order:
                        page = pages[k]
                        page.drain()
                        t0 = now_ms()
                        page.set_mic(True)
                        end = time.monotonic() + round_s
                        while time.monotonic() < end:
                            time.sleep(min(2.0, max(0.0, end - time.monotonic())))
                            rows[k].extend(page.drain())
                        page.set_mic(False)
                        settle = time.monotonic() + 6.0  # the reply in flight plays out (and is measured)
                        while rec.inband_active(MODELS[k]) and time.monotonic() < settle:
                            time.sleep(0.1)
                        time.sleep(0.4)
                        rows[k].extend(page.drain())
                        if k != "direct":
                            rows[k].extend(page.drain_ws())
                        windows[k].append((t0, now_ms()))
                        print(f"round {r + 1}/{rounds} {k}: {len(rows[k])} trace rows", flush=True)

                for k in PATHS:  # the clock again: drift over the run
                    again = calibrate(pages[k].page, timesrv.url)
                    clocks[k]["offset_end_ms"] = again["offset_ms"]
                for k in WIDGETS:
                    kernel[k] = pages[k].dump_kernel()
                    audio_info[k] = pages[k].page.evaluate(
                        "() => { const e = document.querySelector('[data-testid=rtnb-root]').__rtnbEngine;"
                        " return {sampleRate: e.ctx.sampleRate, baseLatency: e.ctx.baseLatency,"
                        " outputLatency: e.ctx.outputLatency}; }")
                direct_stats = direct.stats()
                ws_protocols = {k: pages[k].ws_protocols for k in WIDGETS}
                for k in PATHS:
                    pages[k].close()
                browser.close()
        finally:
            for lab in labs.values():
                lab.stop()
        server_probe = {k: server_probe_rows(labs[LAB_OF[k]].home / "server_probe.jsonl") for k in WIDGETS}

    # -- analysis -------------------------------------------------------------------------------------
    results: dict[str, Any] = {}
    per_round: dict[str, dict[str, list[float]]] = {}
    breakdowns: dict[str, Any] = {}
    for k in PATHS:
        c = clocks[k]
        off_page = (c["offset_ms"] + c.get("offset_end_ms", c["offset_ms"])) / 2
        off_w = off_page - c["worklet_minus_page_ms"]
        by = split_rows(rows[k])
        appends = rec.append_rows(MODELS[k])
        deltas = rec.delta_rows(MODELS[k])
        lat = {
            "mic_to_server": latencies_in(by["mic"], appends, off_w),
            "server_to_player": latencies_out(deltas, by["push"], off_w),
            "server_to_page": latencies_out(deltas, by["in"], off_page),
            "first_played_sample": first_play(deltas, by["play"], off_w),
        }
        results[k] = {m: summary(v) for m, v in lat.items()}
        results[k]["chunks"] = {"mic_traced": len(by["mic"]), "appends_at_server": len(appends),
                                "deltas_sent": len(deltas), "pushes_traced": len(by["push"]),
                                "replies_started": sum(1 for r in by["play"] if r[2] == 0)}
        per_round[k] = {m: [] for m in METRICS}
        for t0, t1 in windows[k]:
            in_window = [r for r in by["mic"] if t0 <= r[3] + off_w < t1 + 1000]
            vals = latencies_in(in_window, appends, off_w)
            per_round[k]["mic_to_server"].append(statistics.median(vals) if vals else math.nan)
            for m, rws, off in (("server_to_player", by["push"], off_w), ("server_to_page", by["in"], off_page)):
                vals = latencies_out(deltas, rws, off, start=t0, end=t1)
                per_round[k][m].append(statistics.median(vals) if vals else math.nan)
            vals = first_play(deltas, by["play"], off_w, t0, t1)
            per_round[k]["first_played_sample"].append(statistics.median(vals) if vals else math.nan)
        if k in kernel and kernel[k].get("kernel"):
            breakdowns[k] = breakdown(kernel[k]["kernel"], by, appends, deltas, off_w, off_page,
                                      server_probe.get(k))

    added: dict[str, Any] = {}
    ratios: dict[str, Any] = {}
    for k in WIDGETS:
        added[k], ratios[k] = {}, {}
        for m in METRICS:
            w, d = results[k][m], results["direct"][m]
            rounds_added = [a - b for a, b in zip(per_round[k][m], per_round["direct"][m], strict=False)
                            if not (math.isnan(a) or math.isnan(b))]
            added[k][m] = {"p50_ms": w["median"] - d["median"], "p99_ms": w["p99"] - d["p99"],
                           "p50_ms_per_round": rounds_added}
            ratios[k][m] = {"p50": ratio(w["median"], d["median"]), "p99": ratio(w["p99"], d["p99"])}
    meets = {k: {m: bool(added[k][m]["p50_ms"] <= GOAL_P50_MS and added[k][m]["p99_ms"] <= GOAL_P99_MS)
                 for m in ("mic_to_server", "server_to_player")} for k in added}

    print()
    table(["path", "metric", "n", "p50 ms", "p99 ms", "added p50", "added p99", "ratio p50", "ratio p99"],
          [[k, m, results[k][m]["n"], results[k][m]["median"], results[k][m]["p99"],
            added[k][m]["p50_ms"] if k in added else math.nan, added[k][m]["p99_ms"] if k in added else math.nan,
            ratios[k][m]["p50"] if k in ratios else math.nan, ratios[k][m]["p99"] if k in ratios else math.nan]
           for m in METRICS for k in PATHS],
          title=f"Relay latency, {rounds} round(s) x {round_s:g} s per path (goal: added <= {GOAL_P50_MS:g} ms p50,"
                f" <= {GOAL_P99_MS:g} ms p99)")
    if breakdowns:
        print()
        table(["path", "segment", "n", "p50 ms", "p99 ms"],
              [[k, seg, v["n"], v["median"], v["p99"]] for k, b in breakdowns.items() for seg, v in b.items()],
              title="Widget path breakdown (kernel-side timestamps)")
    print()
    table(["path", "clock offset ms", "round trip ms", "drift ms", "worklet - page ms"],
          [[k, c["offset_ms"], c["rtt_ms"], c.get("offset_end_ms", c["offset_ms"]) - c["offset_ms"],
            c["worklet_minus_page_ms"]] for k, c in clocks.items()], title="Clock calibration (page vs this process)")

    write_result(NAME, {
        "config": {"quick": args.quick, "rounds": rounds, "round_s": round_s, "chunk_ms": args.chunk_ms,
                   "prebuffer_ms": 100, "mic_chunk_ms": 40, "mic_segments": MIC_SEGMENTS,
                   "elapsed_s": round(time.monotonic() - t_start, 1)},
        "nodelay_extension": nodelay,
        "transports": transports,
        "clock": clocks,
        "audio": audio_info,
        "paths": results,
        "per_round_medians": per_round,
        "added": added,
        "ratios": ratios,
        "breakdown": breakdowns,
        "kernel_stats": {k: v.get("stats") for k, v in kernel.items()},
        "direct_stats": direct_stats,
        "ws_protocols": ws_protocols,
        "goal": {"added_p50_ms": GOAL_P50_MS, "added_p99_ms": GOAL_P99_MS,
                 "applies_to": ["mic_to_server", "server_to_player"]},
        "meets_goal": meets,
    }, args.out_dir)
    tmp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
