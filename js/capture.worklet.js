// AudioWorklet processor of the mic: mixes to mono and posts fixed-size float chunks with their level.
// Bundled by js/build.mjs into a string and loaded from a Blob URL (see capture.js).
// Options: processorOptions.chunk = samples per chunk at the context rate; processorOptions.trace
// (bench hook, js/trace.js): stamp each chunk with the wall-clock time it is posted (`at`, epoch ms).
// Messages out: {type: "chunk", data: Float32Array (transferred), rms, peak, at?}
// Message in {type: "port", port | null}: chunks go to that port instead (the link's worker sends them
// on without the page's main thread), and the page gets {type: "level", rms, peak, samples, at?}.
import { workletWallMs } from "./worklet-clock.js";

class RealtimeCaptureProcessor extends AudioWorkletProcessor {
  /** @param {{processorOptions?: {chunk?: number, trace?: boolean}}} options */
  constructor(options) {
    super();
    this.trace = Boolean(options?.processorOptions?.trace);
    this.size = Math.max(128, options?.processorOptions?.chunk ?? 960);
    this.buf = new Float32Array(this.size);
    this.n = 0;
    /** @type {MessagePort | null} */
    this.out = null;
    this.port.onmessage = (e) => {
      if (e.data?.type === "stop") this.stopped = true;
      else if (e.data?.type === "port") this.out = e.data.port ?? null;
    };
    this.stopped = false;
  }

  /** @param {Float32Array[][]} inputs */
  process(inputs) {
    if (this.stopped) return false;
    const chans = inputs[0];
    if (!chans || !chans.length) return true; // no input connected yet
    const len = chans[0].length;
    for (let i = 0; i < len; i++) {
      let s = 0;
      for (let c = 0; c < chans.length; c++) s += chans[c][i];
      this.buf[this.n++] = s / chans.length;
      if (this.n === this.size) this.flush();
    }
    return true;
  }

  flush() {
    const data = this.buf;
    let sq = 0;
    let pk = 0;
    for (let i = 0; i < data.length; i++) {
      const x = data[i];
      sq += x * x;
      const a = x < 0 ? -x : x;
      if (a > pk) pk = a;
    }
    /** @type {{type: string, data: Float32Array, rms: number, peak: number, at?: number}} */
    const msg = { type: "chunk", data, rms: Math.sqrt(sq / data.length), peak: pk };
    if (this.trace) msg.at = workletWallMs(); // bench hook
    if (this.out) {
      this.out.postMessage(msg, [data.buffer]);
      this.port.postMessage({ type: "level", rms: msg.rms, peak: pk, samples: data.length, at: msg.at });
    } else {
      this.port.postMessage(msg, [data.buffer]);
    }
    this.buf = new Float32Array(this.size);
    this.n = 0;
  }
}

registerProcessor("realtime-nb-capture", RealtimeCaptureProcessor);
