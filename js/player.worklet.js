// AudioWorklet processor of the player: a jitter buffer pulled one render quantum at a time.
// Bundled by js/build.mjs into a string and loaded from a Blob URL (see player.js).
// Messages in:  {type: "push", item, data: Float32Array} | {type: "end", item}
//               {type: "interrupt", id} | {type: "prebuffer", samples} | {type: "reset"}
// Messages out: {type: "tick", ...accounting} every ~40 ms and on state changes
//               {type: "interrupted", id, item_id, played_samples, dropped_samples}
import { JitterBuffer } from "./jitter.js";

const TICK_QUANTA = 8;

class RealtimePlayerProcessor extends AudioWorkletProcessor {
  /** @param {{processorOptions?: {prebuffer?: number}}} options */
  constructor(options) {
    super();
    this.jb = new JitterBuffer({ prebuffer: options?.processorOptions?.prebuffer ?? 2400 });
    this.quanta = 0;
    this.sumSquares = 0;
    this.count = 0;
    this.lastState = this.jb.state;
    this.port.onmessage = (e) => this.onMessage(e.data);
  }

  /** @param {any} msg */
  onMessage(msg) {
    const jb = this.jb;
    switch (msg.type) {
      case "push":
        jb.push(msg.item, msg.data);
        break;
      case "end":
        jb.end(msg.item);
        break;
      case "prebuffer":
        jb.setPrebuffer(msg.samples);
        break;
      case "interrupt": {
        // Handled between two render quanta: the next process() call outputs silence.
        const result = jb.interrupt();
        this.port.postMessage({ type: "interrupted", id: msg.id, ...result });
        this.tick();
        break;
      }
      case "reset":
        this.jb = new JitterBuffer({ prebuffer: jb.prebuffer });
        this.tick();
        break;
    }
  }

  tick() {
    const jb = this.jb;
    /** @type {[string, number][]} */
    const played = [];
    for (const item of jb.touched) played.push([item, jb.playedOf(item)]);
    jb.touched.clear();
    const level = this.count ? Math.sqrt(this.sumSquares / this.count) : 0;
    this.sumSquares = 0;
    this.count = 0;
    this.port.postMessage({
      type: "tick", state: jb.state, current: jb.current, buffered: jb.buffered, played,
      underruns: jb.underruns, level,
    });
    this.lastState = jb.state;
    jb.prune();
  }

  /**
   * @param {Float32Array[][]} _inputs
   * @param {Float32Array[][]} outputs
   */
  process(_inputs, outputs) {
    const out = outputs[0];
    const ch0 = out[0];
    const n = this.jb.pull(ch0);
    for (let i = 0; i < n; i++) this.sumSquares += ch0[i] * ch0[i];
    this.count += ch0.length;
    for (let c = 1; c < out.length; c++) out[c].set(ch0);
    this.quanta += 1;
    if (this.quanta % TICK_QUANTA === 0 || this.jb.state !== this.lastState) this.tick();
    return true;
  }
}

registerProcessor("realtime-nb-player", RealtimePlayerProcessor);
