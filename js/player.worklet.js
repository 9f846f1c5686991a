// AudioWorklet processor of the player: a jitter buffer pulled one render quantum at a time.
// Bundled by js/build.mjs into a string and loaded from a Blob URL (see player.js).
// Messages in:  {type: "push", item, data: Float32Array} | {type: "end", item}
//               {type: "interrupt", id} | {type: "prebuffer", samples, max?} | {type: "reset"}
//               {type: "port", port}: a second source of push/end messages (the link's worker)
// Messages out: {type: "tick", ...accounting, trace?} every ~40 ms and on state changes
//               {type: "interrupted", id, item_id, played_samples, dropped_samples}
// Bench hook (processorOptions.trace, see js/trace.js): rows with wall-clock times, sent with the
// next tick: ["push", item, offset, samples, at, accepted], ["play", item, offset, at] (the render
// quantum with a chunk's first sample), ["interrupt", at, item_id, played_samples, lastAudibleAt],
// ["silent", at, samples] (the first render quantum after an interrupt).
import { JitterBuffer } from "./jitter.js";
import { workletWallMs } from "./worklet-clock.js";

const TICK_QUANTA = 8;

class RealtimePlayerProcessor extends AudioWorkletProcessor {
  /** @param {{processorOptions?: {prebuffer?: number, maxPrebuffer?: number, trace?: boolean}}} options */
  constructor(options) {
    super();
    const o = options?.processorOptions ?? {};
    // adaptive up to maxPrebuffer; stable for 10 s before it shrinks; grows by at least 20 ms
    this.jbOptions = { prebuffer: o.prebuffer ?? 2400, maxPrebuffer: o.maxPrebuffer, shrinkAfter: 10 * sampleRate,
      step: Math.round(0.02 * sampleRate) };
    this.jb = new JitterBuffer(this.jbOptions);
    /** bench hook: trace rows not yet sent, or null when not tracing @type {any[][] | null} */
    this.trace = options?.processorOptions?.trace ? [] : null;
    this.lastAudibleAt = 0;
    this.silencePending = false;
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
      case "push": {
        const tr = this.trace;
        if (!tr) {
          jb.push(msg.item, msg.data);
          break;
        }
        const offset = jb.received.get(msg.item) ?? 0;
        const accepted = jb.push(msg.item, msg.data);
        tr.push(["push", msg.item, offset, msg.data.length, workletWallMs(), accepted]);
        const last = jb.queue[jb.queue.length - 1];
        if (accepted && last && last.data === msg.data) /** @type {any} */ (last).traceOffset = offset;
        break;
      }
      case "end":
        jb.end(msg.item);
        break;
      case "prebuffer":
        jb.setPrebuffer(msg.samples, msg.max);
        this.jbOptions = { ...this.jbOptions, prebuffer: jb.prebuffer, maxPrebuffer: jb.maxPrebuffer };
        break;
      case "interrupt": {
        // Handled between two render quanta: the next process() call outputs silence.
        const result = jb.interrupt();
        if (this.trace) {
          this.trace.push(["interrupt", workletWallMs(), result.item_id, result.played_samples, this.lastAudibleAt]);
          this.silencePending = true;
        }
        this.port.postMessage({ type: "interrupted", id: msg.id, ...result });
        this.tick();
        break;
      }
      case "reset":
        this.jb = new JitterBuffer(this.jbOptions);
        this.tick();
        break;
      case "port":
        if (msg.port) msg.port.onmessage = (/** @type {MessageEvent} */ e) => this.onMessage(e.data);
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
    /** @type {Record<string, any>} */
    const msg = {
      type: "tick", state: jb.state, current: jb.current, buffered: jb.buffered, played,
      underruns: jb.underruns, level, target: jb.target,
    };
    if (this.trace?.length) {
      msg.trace = this.trace;
      this.trace = [];
    }
    this.port.postMessage(msg);
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
    const tr = this.trace;
    /** @type {any[] | null} */
    const heads = tr ? [] : null;
    if (heads) { // chunks whose first sample may be rendered in this quantum
      for (const c of this.jb.queue) {
        if (heads.length >= 4) break;
        if (c.offset === 0 && /** @type {any} */ (c).traceOffset !== undefined) heads.push(c);
      }
    }
    const n = this.jb.pull(ch0);
    if (tr && heads) {
      const at = workletWallMs();
      for (const c of heads) if (c.offset > 0) tr.push(["play", c.item, c.traceOffset, at]);
      if (this.silencePending) {
        tr.push(["silent", at, n]);
        this.silencePending = false;
      }
      if (n > 0) this.lastAudibleAt = at;
    }
    for (let i = 0; i < n; i++) this.sumSquares += ch0[i] * ch0[i];
    this.count += ch0.length;
    for (let c = 1; c < out.length; c++) out[c].set(ch0);
    this.quanta += 1;
    if (this.quanta % TICK_QUANTA === 0 || this.jb.state !== this.lastState) this.tick();
    return true;
  }
}

registerProcessor("realtime-nb-player", RealtimePlayerProcessor);
