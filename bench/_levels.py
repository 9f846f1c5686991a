"""Sound levels in the page, for the real-browser latency benchmark (``bench_widget_latency.py``).

Not a benchmark itself: an init script that taps the page's audio (see ``LEVEL_TAP_INIT``) and the
analysis of its rows (``level_runs``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

# -- sound levels in the page (bench only) ----------------------------------------------------------------

# An init script: the level (RMS) of every 10 ms of (a) each microphone stream the page gets
# (getUserMedia: what the fake mic says, as the widget hears it), (b) each remote track of a peer
# connection (the model's voice on webrtc, as it comes out of the browser's jitter buffer), (c) what each
# AudioWorkletNode connected to an AudioContext's destination plays (the widget's player worklet on the
# relay: the samples it hands to the speaker). A tap is an AudioWorklet (a Blob module) with no outputs;
# its blocks are stamped with its context's time, mapped to wall-clock epoch ms with
# ``getOutputTimestamp()`` (the context time the speaker is at, and when). Rows go to
# ``window.__rtnb_levels`` as ``[label, wall_ms, rms]``, label "mic" or "voice"; nothing of the widget is
# changed, and the same taps serve both transports.
LEVEL_TAP_INIT = r"""(() => {
  if (window.__rtnb_levels) return;
  const rows = (window.__rtnb_levels = []);
  const src = `class BenchTap extends AudioWorkletProcessor {
    constructor() {
      super();
      this.n = 0; this.sum = 0; this.block = Math.round(sampleRate / 100); this.out = []; this.at = 0;
    }
    process(inputs) {
      const ch = inputs[0] && inputs[0][0];
      if (!ch) return true;
      for (let i = 0; i < ch.length; i++) {
        if (this.n === 0) this.at = currentTime + i / sampleRate;
        this.sum += ch[i] * ch[i];
        if (++this.n === this.block) { this.out.push(this.at, Math.sqrt(this.sum / this.n)); this.n = 0; this.sum = 0; }
      }
      if (this.out.length >= 20) { this.port.postMessage(this.out); this.out = []; }
      return true;
    }
  }
  registerProcessor("rtnb-bench-tap", BenchTap);`;
  const url = URL.createObjectURL(new Blob([src], { type: "text/javascript" }));
  const loaded = new WeakMap();
  const tapped = new WeakSet();  // a node connected again (the player, at each start) keeps its one tap
  const origConnect = AudioNode.prototype.connect;
  function tapNode(ctx, node, label, live = () => true) {
    if (tapped.has(node)) return;
    tapped.add(node);
    if (!loaded.has(ctx)) loaded.set(ctx, ctx.audioWorklet.addModule(url));
    loaded.get(ctx).then(() => {
      const tap = new AudioWorkletNode(ctx, "rtnb-bench-tap", { numberOfInputs: 1, numberOfOutputs: 0 });
      tap.port.onmessage = (e) => {
        if (!live()) {  // its stream's tracks were stopped (the mic off, the call over): the tap goes
          tap.port.onmessage = null;
          node.disconnect(tap);
          return;
        }
        const ts = ctx.getOutputTimestamp();
        const base = performance.timeOrigin + (ts.performanceTime || performance.now());
        const c0 = ts.contextTime ?? ctx.currentTime;
        const d = e.data;
        for (let i = 0; i < d.length; i += 2) rows.push([label, base + (d[i] - c0) * 1000, d[i + 1]]);
      };
      origConnect.call(node, tap);
    }).catch((err) => rows.push(["error", performance.timeOrigin + performance.now(), String(err)]));
  }
  let tapCtx = null;
  function tapStream(stream, label) {
    tapCtx ??= new AudioContext({ latencyHint: "interactive" });
    tapCtx.resume();
    tapNode(tapCtx, tapCtx.createMediaStreamSource(stream), label,
            () => stream.getAudioTracks().some((t) => t.readyState === "live"));
  }
  const md = navigator.mediaDevices;
  const gum = md.getUserMedia.bind(md);
  md.getUserMedia = async (c) => {
    const stream = await gum(c);
    if (stream.getAudioTracks().length) tapStream(stream, "mic");  // stops with the widget's own tracks
    return stream;
  };
  const PC = window.RTCPeerConnection;
  if (PC) {
    window.RTCPeerConnection = class extends PC {
      constructor(...a) {
        super(...a);
        this.addEventListener("track", (e) => {
          if (e.track.kind === "audio") tapStream(new MediaStream([e.track]), "voice");
        });
      }
    };
  }
  AudioNode.prototype.connect = function (dest, ...rest) {
    const r = origConnect.call(this, dest, ...rest);
    if (dest instanceof AudioDestinationNode && this instanceof AudioWorkletNode && this.context !== tapCtx)
      tapNode(this.context, this, "voice");
    return r;
  };
})();"""

DRAIN_LEVELS_JS = "() => (window.__rtnb_levels || []).splice(0)"


def level_runs(rows: Sequence[Sequence[Any]], label: str, threshold: float, gap_ms: float) -> list[tuple[float, float]]:
    """``(start, end)`` wall ms of the loud runs of ``label``'s 10 ms levels: blocks above ``threshold``,
    runs less than ``gap_ms`` apart merged (the pauses between words)."""
    loud = sorted(t for lab, t, v in rows if lab == label and isinstance(v, float | int) and v > threshold)
    runs: list[tuple[float, float]] = []
    for t in loud:
        if runs and t - runs[-1][1] < gap_ms:
            runs[-1] = (runs[-1][0], t + 10.0)
        else:
            runs.append((t, t + 10.0))
    return runs
