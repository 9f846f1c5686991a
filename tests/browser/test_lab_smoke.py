"""Harness smoke tests: JupyterLab + anywidget + Chromium + the fake microphone, no realtime_nb widget.

Each notebook defines a tiny anywidget inline, so these prove the stack (and the harness) on their own:
a button whose click travels JS → kernel → JS, and a microphone probe that captures audio in the lab page
with an AudioWorklet and sends it to the kernel as a binary buffer.
"""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.browser

PING_WIDGET = '''
import anywidget
import traitlets


class Ping(anywidget.AnyWidget):
    _esm = """
    export default {
      render({ model, el }) {
        const button = document.createElement("button");
        button.textContent = "ping";
        button.dataset.testid = "smoke-ping";
        const reply = document.createElement("span");
        reply.dataset.testid = "smoke-reply";
        reply.style.marginLeft = "1em";
        button.addEventListener("click", () => model.send({ kind: "ping", n: model.get("pings") + 1 }));
        const onMsg = (msg) => { reply.textContent = msg.reply; };
        model.on("msg:custom", onMsg);
        el.append(button, reply);
        return () => model.off("msg:custom", onMsg);
      },
    };
    """
    pings = traitlets.Int(0).tag(sync=True)

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.on_msg(self._on_msg)

    def _on_msg(self, _widget, content, _buffers):
        self.pings = content["n"]
        self.send({"reply": f"pong {content['n']} from the kernel"})


ping = Ping()
ping
'''


def test_anywidget_round_trip(open_notebook):
    nb = open_notebook("smoke_ping.ipynb", [PING_WIDGET, "print('pings =', ping.pings)"])
    nb.run_cell_and_wait(0)
    button = nb.page.get_by_test_id("smoke-ping")
    reply = nb.page.get_by_test_id("smoke-reply")
    button.wait_for(timeout=30_000)
    for n in (1, 2):
        button.click()
        nb.page.wait_for_function(
            "(want) => document.querySelector('[data-testid=smoke-reply]')?.textContent === want",
            arg=f"pong {n} from the kernel", timeout=15_000)
    assert reply.text_content() == "pong 2 from the kernel"
    nb.screenshot("smoke-ping", show="[data-testid=smoke-reply]")
    assert nb.run_cell_and_wait(1).strip() == "pings = 2"
    assert nb.page_errors == []


MIC_PROBE = '''
import anywidget
import numpy as np
import traitlets


class MicProbe(anywidget.AnyWidget):
    """Captures `seconds` of microphone audio at 24 kHz and sends it to the kernel as float32."""

    _esm = """
    const TAP = `class Tap extends AudioWorkletProcessor {
      process(inputs) { const ch = inputs[0] && inputs[0][0]; if (ch) this.port.postMessage(ch.slice(0)); return true; }
    }
    registerProcessor("tap", Tap);`;

    export default {
      async render({ model, el }) {
        const status = document.createElement("span");
        status.dataset.testid = "mic-status";
        status.textContent = "opening the microphone";
        el.append(status);
        const constraints = { echoCancellation: false, noiseSuppression: false, autoGainControl: false };
        const stream = await navigator.mediaDevices.getUserMedia({ audio: constraints });
        const ctx = new AudioContext({ sampleRate: 24000 });
        if (ctx.state !== "running") await ctx.resume();
        const url = URL.createObjectURL(new Blob([TAP], { type: "application/javascript" }));
        await ctx.audioWorklet.addModule(url);
        const node = new AudioWorkletNode(ctx, "tap");
        const mute = new GainNode(ctx, { gain: 0 });
        ctx.createMediaStreamSource(stream).connect(node).connect(mute).connect(ctx.destination);
        const want = Math.round(model.get("seconds") * ctx.sampleRate);
        const pcm = new Float32Array(want);
        let n = 0;
        const stop = () => { stream.getTracks().forEach((t) => t.stop()); ctx.close(); };
        node.port.onmessage = (e) => {
          if (n >= want) return;
          const part = e.data.subarray(0, want - n);
          pcm.set(part, n);
          n += part.length;
          if (n < want) return;
          let sum = 0;
          for (const x of pcm) sum += x * x;
          const rms = Math.sqrt(sum / n);
          status.textContent = `captured ${n} samples at ${ctx.sampleRate} Hz, rms ${rms.toFixed(4)}`;
          model.send({ kind: "captured", rms, rate: ctx.sampleRate }, undefined, [pcm.buffer]);
          stop();
        };
        return stop;
      },
    };
    """
    seconds = traitlets.Float(2.0).tag(sync=True)

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.result = None
        self.on_msg(self._on_msg)

    def _on_msg(self, _widget, content, buffers):
        pcm = np.frombuffer(bytes(buffers[0]), dtype=np.float32)
        self.result = {"js_rms": content["rms"], "rate": content["rate"], "samples": int(pcm.size),
                       "kernel_rms": float(np.sqrt(np.mean(pcm.astype(np.float64) ** 2))),
                       "peak": float(np.abs(pcm).max())}


probe = MicProbe()
probe
'''


def test_fake_mic_reaches_the_kernel(open_notebook):
    nb = open_notebook("smoke_mic.ipynb", [MIC_PROBE, "import json; print(json.dumps(probe.result))"])
    nb.run_cell_and_wait(0)
    nb.page.wait_for_function(
        "() => (document.querySelector('[data-testid=mic-status]')?.textContent || '').startsWith('captured')",
        timeout=30_000)
    nb.screenshot("smoke-mic", show="[data-testid=mic-status]")
    result = nb.wait_until(lambda: json.loads(nb.run_cell_and_wait(1)), timeout=20, what="probe.result set")
    assert result["rate"] == 24000
    assert result["samples"] == 48000
    assert result["kernel_rms"] == pytest.approx(result["js_rms"], rel=1e-3)
    # Two seconds of the fake mic start with 0.3 s of -60 dBFS noise then speech at about -20 dBFS.
    assert result["kernel_rms"] > 0.01, result
    assert result["peak"] > 0.1, result
    assert nb.page_errors == []


def test_package_server_extension_loads(lab):
    """The package enables its server extension through sys.prefix/etc/jupyter; the test lab keeps that path."""
    lab.api("GET", "/api/status")
    assert "realtime_nb.notebook._jupyter_server_ext | extension was successfully loaded" in lab.log_path.read_text(), \
        lab.log_tail()
