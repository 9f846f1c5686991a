"""Barge-in: how fast the widget silences the reply the user talks over, and how exactly the truncation
matches what was played. Real Chromium + JupyterLab + the local server on loopback.

**Setup.** ``s = rt.connect(); s.widget`` hands-free (server VAD, barge-in on), in JupyterLab with the
package's TCP_NODELAY extension (the default), against a ``LocalServer`` streaming replies at real-time
pace. The fake microphone loops a recording in which every utterance after the first starts ~1.3 s
after the previous one ends: while the reply to the previous one is playing. Each such utterance is a
barge-in: the server sends ``input_audio_buffer.speech_started``, the kernel asks the view to
``interrupt``, the player stops and reports what it played, and the kernel sends
``conversation.item.truncate``.

**Measured per barge-in** (wall clock; the page's clock calibrated against this process's, the
worklet's against the page's; the widget's bench trace, ``js/trace.js``):

- *stop*: the interrupt request reaching the view → the player worklet's first silent render quantum
  (its last non-zero quantum was the one before). Only barge-ins that cut audio being rendered count
  (a non-zero quantum within 25 ms before the interrupt, and less played of the item than the server
  had sent: a reply that had just finished playing is not cut, and needs no truncate).
- *truncate error*: the truncate's ``audio_end_ms`` as the server received it, minus the audio the
  player itself counted as played of that item when it stopped (its jitter buffer's own accounting).
  Reported as the absolute error. Also: truncates never past what the kernel received.
- For context: the server's ``speech_started`` send → interrupt arrival (the relay through the kernel),
  and → silence (end to end).

**Baseline in the same page and run**: a bare player worklet node (same processor, same AudioContext,
playing a tone at zero gain), stopped from the main thread every ~1.5 s during the conversation:
``interrupt`` posted → first silent quantum, and the stop message's round trip (posted → the
worklet's reply back on the main thread). The difference to *stop* is what the widget adds.

Goals: stop <= 30 ms, truncate error <= 20 ms (p99 of each, and the median).

Run: ``python bench/bench_bargein.py [--quick] [--duration S]``. Writes bench/results/bench_bargein.json.
"""

from __future__ import annotations

import bisect
import math
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _browser import (
    ServerRecorder,
    TimeServer,
    WidgetPage,
    calibrate,
    launch_browser,
    make_lab,
    make_mic,
    missing,
    nodelay_state,
    server_probe_rows,
    start_labs,
)
from _common import parser, ratio, summary, table, write_result

NAME = "bench_bargein"
GOAL_STOP_MS = 30.0
GOAL_TRUNCATE_MS = 20.0
MODEL = "bench-bargein"
SPM = 24  # samples per ms at 24 kHz
GAP_MS = 1300
INTERRUPTIONS = ["Wait, stop please.", "Hold on a second.", "No, listen to me.", "Sorry, one more thing.",
                 "Actually, never mind.", "Stop, I have a question."]
MIC_SEGMENTS: list[tuple[str, Any]] = [("silence", 300), ("speech", "Tell me a long story about the sea.")]
for _phrase in INTERRUPTIONS:
    MIC_SEGMENTS += [("silence", GAP_MS), ("speech", _phrase)]
MIC_SEGMENTS += [("silence", 3200)]
AUDIBLE_WITHIN_MS = 25.0

# A bare player node on the widget's own AudioContext (its processor is already registered there),
# playing a tone at zero gain, stopped on demand: the baseline of the stop mechanism.
BASELINE_JS = """async () => {
  const root = document.querySelector('[data-testid=rtnb-root]');
  const engine = root.__rtnbEngine;
  await engine.player.ready;
  const ctx = engine.ctx;
  const node = new AudioWorkletNode(ctx, 'realtime-nb-player', {numberOfInputs: 0, numberOfOutputs: 1,
    outputChannelCount: [1], processorOptions: {prebuffer: 0, trace: true}});
  const gain = ctx.createGain();
  gain.gain.value = 0;
  node.connect(gain);
  gain.connect(ctx.destination);
  const B = window.__bench_base = {rows: [], pending: new Map(), n: 0};
  node.port.onmessage = (e) => {
    const m = e.data;
    if (m.type === 'tick' && m.trace) for (const r of m.trace) B.rows.push(r);
    else if (m.type === 'interrupted') { const p = B.pending.get(m.id); B.pending.delete(m.id); p?.(m); }
  };
  const wall = () => performance.timeOrigin + performance.now();
  window.__bench_probe = async () => {
    const id = ++B.n;
    const data = new Float32Array(ctx.sampleRate);
    for (let i = 0; i < data.length; i++) data[i] = 0.1 * Math.sin(i * 0.05);
    node.port.postMessage({type: 'push', item: 'base' + id, data}, [data.buffer]);
    await new Promise((r) => setTimeout(r, 120));
    const reply = new Promise((r) => B.pending.set(id, r));
    const post = wall();
    node.port.postMessage({type: 'interrupt', id});
    const m = await reply;
    return {id, post, reply: wall(), played: m.played_samples};
  };
  return {sampleRate: ctx.sampleRate, baseLatency: ctx.baseLatency, outputLatency: ctx.outputLatency};
}"""


def pair_after(times: list[float], t: float, within: float) -> int | None:
    """Index of the first of ``times`` (sorted) at or after ``t`` - 1 ms, if within ``within`` ms."""
    for i, x in enumerate(times):
        if x >= t - 1.0:
            return i if x - t <= within else None
    return None


def main() -> int:
    p = parser(__doc__.split("\n")[0])
    p.add_argument("--duration", type=float, default=None, help="seconds of conversation (default 200; quick 24)")
    args = p.parse_args()
    duration = args.duration or (24.0 if args.quick else 200.0)
    reason = missing()
    if reason:
        print(f"cannot run: {reason}", file=sys.stderr)
        return 2

    from playwright.sync_api import sync_playwright

    from realtime_nb.server import LocalServer

    t_start = time.monotonic()
    tmp = tempfile.TemporaryDirectory(prefix="bench-bargein-")
    home = Path(tmp.name)
    mic = make_mic(home / "mic.wav", MIC_SEGMENTS)
    rec = ServerRecorder()
    trace: list[list[Any]] = []
    probes: list[dict[str, Any]] = []
    with rec.install(), LocalServer(port=0, pace="realtime", chunk_ms=100) as server, TimeServer() as timesrv:
        lab = make_lab(home / "lab", server.url, probe=True)
        start_labs([lab])
        nodelay = nodelay_state(lab)
        try:
            with sync_playwright() as pw:
                browser = launch_browser(pw, mic.path)
                w = WidgetPage(browser, lab, "bargein.ipynb", MODEL, settings="w.autostart = False",
                               ws_trace=True)
                w.navigate()
                w.wait_open()
                w.start_setup()
                w.finish_setup()
                audio = w.page.evaluate(BASELINE_JS)
                clock = calibrate(w.page, timesrv.url)
                print(f"ready ({time.monotonic() - t_start:.1f} s); TCP_NODELAY extension {nodelay}; clock offset "
                      f"{clock['offset_ms']:+.3f} ms (rtt {clock['rtt_ms']:.2f})", flush=True)
                w.drain()
                w.set_mic(True)
                end = time.monotonic() + duration
                next_probe = time.monotonic() + 0.7
                while time.monotonic() < end:
                    if time.monotonic() >= next_probe:
                        probes.append(w.page.evaluate("() => window.__bench_probe()"))
                        next_probe = time.monotonic() + 1.5
                    time.sleep(0.2)
                    trace.extend(w.drain())
                w.set_mic(False)
                time.sleep(1.0)
                trace.extend(w.drain())
                trace.extend(w.drain_ws())
                base_rows = w.page.evaluate("() => window.__bench_base.rows.splice(0)")
                dump = w.dump_kernel()
                stats, kernel_events = dump["stats"], dump["kernel"]["events"]
                debug = w.debug()
                clock["offset_end_ms"] = calibrate(w.page, timesrv.url)["offset_ms"]
                w.close()
                browser.close()
        finally:
            lab.stop()
        js_int = sorted((r[1], r[2]) for r in server_probe_rows(lab.home / "server_probe.jsonl")
                        if r[0] == "out" and r[3] == "interrupt")

    # -- analysis -------------------------------------------------------------------------------------
    off_page = (clock["offset_ms"] + clock["offset_end_ms"]) / 2
    off_w = off_page - clock["worklet_minus_page_ms"]
    msgs = sorted(r[1] + off_page for r in trace if r[0] == "interrupt_msg")
    stops = sorted(([r[1] + off_w, r[2], r[3], r[4] + off_w] for r in trace if r[0] == "interrupt"), key=lambda r: r[0])
    silents = sorted(r[1] + off_w for r in trace if r[0] == "silent")
    started = sorted(t for t, _ev in rec.sent_events(MODEL, "input_audio_buffer.speech_started"))
    truncates = {ev["item_id"]: (t, ev["audio_end_ms"]) for t, ev in
                 rec.received_events(MODEL, "conversation.item.truncate")}
    kernel_truncates = {t["item_id"]: t for t in stats.get("truncates", [])}
    sent_total: dict[str, int] = {}
    for _t, item_id, _o, n in rec.delta_rows(MODEL):
        sent_total[item_id] = sent_total.get(item_id, 0) + n
    events: list[dict[str, Any]] = []
    stop_t = [s[0] for s in stops]
    for m in msgs:
        i = pair_after(stop_t, m, 300)
        if i is None:
            continue
        at, item, played, last_audible = stops[i]
        j = pair_after(silents, at, 100)
        # a cut: audio was coming out, and the item had more audio than the player had played
        audible = (item is not None and played > 0 and at - last_audible <= AUDIBLE_WITHIN_MS
                   and played < sent_total.get(item, 0))
        k = max((x for x in started if x <= m), default=None)
        ev: dict[str, Any] = {"interrupt_msg": m, "worklet_stop": at, "silent": silents[j] if j is not None else None,
                              "item_id": item, "played_samples": played, "audible": audible,
                              "speech_started_sent": k}
        tr = truncates.get(item) if item else None
        if tr is not None:
            ev["audio_end_ms"] = tr[1]
            ev["truncate_error_ms"] = tr[1] - played / SPM
            kt = kernel_truncates.get(item)
            if kt is not None:
                ev["kernel_received_samples"] = kt.get("received_samples")
        events.append(ev)
    k_started = sorted(t for t, kind in kernel_events if kind == "speech_started")
    k_sent = sorted(t for t, kind in kernel_events if kind == "interrupt_sent")
    ws_int = sorted(r[1] + off_page for r in trace if r[0] == "ws_interrupt")
    for ev in events:  # the relay, split: server -> kernel -> (kernel sends) -> page socket -> view
        s0 = ev["speech_started_sent"]
        if s0 is None:
            continue
        i = pair_after(k_started, s0, 500)
        if i is not None:
            ev["kernel_got_speech_started"] = k_started[i]
            j = pair_after(k_sent, k_started[i], 1000)
            if j is not None:
                ev["kernel_sent_interrupt"] = k_sent[j]
                n = pair_after([t0 for t0, _t1 in js_int], k_sent[j], 1000)
                if n is not None:
                    ev["jupyter_server_took_interrupt"], ev["jupyter_server_wrote_interrupt"] = js_int[n]
                m = pair_after(ws_int, k_sent[j], 1000)
                if m is not None:
                    ev["page_socket_interrupt"] = ws_int[m]
    rx = sorted((r[2] + off_page, r[1]) for r in trace if r[0] == "ws_rx")
    rx_t = [t for t, _ in rx]
    for ev in events:  # what the page's socket delivered just before the interrupt (same event's UI updates)
        t = ev.get("page_socket_interrupt")
        if t is not None:
            i = bisect.bisect_left(rx_t, t - 30.0)
            ev["page_messages_30ms_before"] = [[round(x - t, 2), kind] for x, kind in rx[i:] if x < t - 0.01]
    cut = [e for e in events if e["audible"] and e["silent"] is not None]
    stop_ms = [e["silent"] - e["interrupt_msg"] for e in cut]
    handle_ms = [e["worklet_stop"] - e["interrupt_msg"] for e in cut]
    relay_ms = [e["interrupt_msg"] - e["speech_started_sent"] for e in cut if e["speech_started_sent"]]
    e2e_ms = [e["silent"] - e["speech_started_sent"] for e in cut if e["speech_started_sent"]]
    def seg(a: str, b: str) -> dict[str, float]:
        return summary([e[b] - e[a] for e in cut if e.get(a) is not None and e.get(b) is not None])

    relay_split = {
        "server speech_started -> kernel receives": seg("speech_started_sent", "kernel_got_speech_started"),
        "kernel receives -> kernel sends interrupt": seg("kernel_got_speech_started", "kernel_sent_interrupt"),
        "kernel sends -> view handler (either transport)": seg("kernel_sent_interrupt", "interrupt_msg"),
        "kernel sends -> page socket arrival (comm only)": seg("kernel_sent_interrupt", "page_socket_interrupt"),
        "  kernel sends -> jupyter_server takes it": seg("kernel_sent_interrupt", "jupyter_server_took_interrupt"),
        "  jupyter_server takes it -> has written it": seg("jupyter_server_took_interrupt",
                                                           "jupyter_server_wrote_interrupt"),
        "  jupyter_server has written it -> page socket": seg("jupyter_server_wrote_interrupt",
                                                              "page_socket_interrupt"),
        "page socket -> view handler": seg("page_socket_interrupt", "interrupt_msg"),
    }
    trunc_err = [abs(e["truncate_error_ms"]) for e in cut if "truncate_error_ms" in e]
    trunc_signed = [e["truncate_error_ms"] for e in cut if "truncate_error_ms" in e]
    untruncated = [e for e in cut if "audio_end_ms" not in e]
    past_received = [e for e in cut if "audio_end_ms" in e and e.get("kernel_received_samples") is not None
                     and e["audio_end_ms"] * SPM > e["kernel_received_samples"]]

    b_stop = [r for r in base_rows if r[0] == "interrupt"]
    b_silent = sorted(r[1] for r in base_rows if r[0] == "silent")
    base_stop_ms, base_rtt_ms = [], []
    for pr in probes:
        base_rtt_ms.append(pr["reply"] - pr["post"])
        i = pair_after([r[1] - clock["worklet_minus_page_ms"] for r in b_stop], pr["post"], 300)
        j = pair_after([s - clock["worklet_minus_page_ms"] for s in b_silent], pr["post"], 300)
        if i is not None and j is not None:
            base_stop_ms.append(b_silent[j] - clock["worklet_minus_page_ms"] - pr["post"])

    stop, base_stop = summary(stop_ms), summary(base_stop_ms)
    err = summary(trunc_err)
    print()
    table(["metric", "n", "p50 ms", "p99 ms", "max ms", "goal ms"], [
        ["stop: interrupt arrives -> silence", stop["n"], stop["median"], stop["p99"], stop["max"], GOAL_STOP_MS],
        ["  of which: -> worklet stops", len(handle_ms), summary(handle_ms)["median"], summary(handle_ms)["p99"],
         summary(handle_ms)["max"], math.nan],
        ["baseline: bare worklet stop", base_stop["n"], base_stop["median"], base_stop["p99"], base_stop["max"],
         math.nan],
        ["baseline: stop message round trip", len(base_rtt_ms), summary(base_rtt_ms)["median"],
         summary(base_rtt_ms)["p99"], summary(base_rtt_ms)["max"], math.nan],
        ["truncate error |audio_end_ms - played|", err["n"], err["median"], err["p99"], err["max"], GOAL_TRUNCATE_MS],
        ["server speech_started -> interrupt arrives", len(relay_ms), summary(relay_ms)["median"],
         summary(relay_ms)["p99"], summary(relay_ms)["max"], math.nan],
        ["server speech_started -> silence", len(e2e_ms), summary(e2e_ms)["median"], summary(e2e_ms)["p99"],
         summary(e2e_ms)["max"], math.nan],
    ], title=f"Barge-in over {duration:g} s of conversation: {len(cut)} replies cut while playing "
             f"({len(events)} interrupts in all, {len(started)} speech_started)")
    print()
    table(["relay segment", "n", "p50 ms", "p99 ms"],
          [[k, v["n"], v["median"], v["p99"]] for k, v in relay_split.items()],
          title="speech_started -> interrupt at the view, split (kernel, jupyter_server and page-socket timestamps)")
    ratios = {"stop_p50_vs_baseline": ratio(stop["median"], base_stop["median"]),
              "stop_p99_vs_baseline": ratio(stop["p99"], base_stop["p99"])}
    print(f"\nstop / baseline: p50 x{ratios['stop_p50_vs_baseline']:.2f}, p99 x{ratios['stop_p99_vs_baseline']:.2f}; "
          f"audio output latency reported by the context: {audio.get('outputLatency')} s")
    meets = {"stop_p99": bool(stop["p99"] <= GOAL_STOP_MS), "truncate_error_p99": bool(err["p99"] <= GOAL_TRUNCATE_MS)}
    write_result(NAME, {
        "config": {"quick": args.quick, "duration_s": duration, "gap_ms": GAP_MS, "mic_segments": MIC_SEGMENTS,
                   "audible_within_ms": AUDIBLE_WITHIN_MS, "elapsed_s": round(time.monotonic() - t_start, 1)},
        "nodelay_extension": nodelay,
        "clock": clock,
        "audio": audio,
        "counts": {"speech_started": len(started), "interrupts": len(events), "cut_while_playing": len(cut),
                   "truncates_at_server": len(truncates), "cut_without_truncate": len(untruncated),
                   "truncates_past_received": len(past_received), "baseline_probes": len(probes)},
        "stop_ms": stop,
        "worklet_handles_ms": summary(handle_ms),
        "baseline_stop_ms": base_stop,
        "baseline_round_trip_ms": summary(base_rtt_ms),
        "truncate_error_ms": err,
        "truncate_error_signed_ms": summary(trunc_signed),
        "relay_speech_started_to_interrupt_ms": summary(relay_ms),
        "end_to_end_ms": summary(e2e_ms),
        "relay_split_ms": relay_split,
        "ratios": ratios,
        "barge_ins": events,
        "widget_debug": {k: debug.get(k) for k in ("interrupts", "truncates", "underruns", "errors")},
        "goal": {"stop_ms": GOAL_STOP_MS, "truncate_error_ms": GOAL_TRUNCATE_MS},
        "meets_goal": meets,
    }, args.out_dir)
    tmp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
