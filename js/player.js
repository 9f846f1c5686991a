// Playback of the assistant's audio: PCM16 24 kHz chunks per item -> AudioWorklet jitter buffer.
// Keeps a main-thread mirror of the worklet's accounting (samples received / played per item) for
// the UI, the barge-in reply and the test hooks.
// @ts-expect-error: js/build.mjs bundles the worklet and imports it as a string
import playerSource from "./player.worklet.js";
import { addWorkletModule } from "./worklet.js";
import { Resampler, SAMPLE_RATE, pcm16ToFloat } from "./pcm.js";
import { trace, traceOn } from "./trace.js";

/**
 * @typedef {{item_id: string | null, played_samples: number, dropped_samples?: number}} Interrupted
 * @typedef {{state: string, playing: boolean, level: number, buffered_ms: number, underruns: number,
 *   current: string | null, prebuffer_ms: number}} PlayerStatus
 */

const INTERRUPT_TIMEOUT_MS = 250;

export class Player {
  /**
   * @param {AudioContext} ctx
   * @param {{prebufferMs?: number, maxPrebufferMs?: number, onStatus?: (s: PlayerStatus) => void}} [options]
   *   `maxPrebufferMs`: the adaptive jitter buffer's cap (the pre-buffer itself: fixed)
   */
  constructor(ctx, { prebufferMs = 100, maxPrebufferMs, onStatus } = {}) {
    this.ctx = ctx;
    this.prebufferMs = prebufferMs;
    this.maxPrebufferMs = Math.max(prebufferMs, maxPrebufferMs ?? prebufferMs);
    this.onStatus = onStatus ?? (() => {});
    /** @type {AudioWorkletNode | null} */
    this.node = null;
    /** samples (24 kHz) received per item @type {Map<string, number>} */
    this.received = new Map();
    /** samples (24 kHz) played per item @type {Map<string, number>} */
    this.played = new Map();
    /** @type {Map<string, Resampler>} per-item resamplers when the context is not at 24 kHz */
    this.resamplers = new Map();
    /** @type {Map<number, (r: Interrupted) => void>} */
    this.pending = new Map();
    this.nextId = 1;
    this.ratio = ctx.sampleRate / SAMPLE_RATE; // context samples per wire sample
    /** @type {PlayerStatus} */
    this.status = { state: "idle", playing: false, level: 0, buffered_ms: 0, underruns: 0, current: null,
      prebuffer_ms: prebufferMs };
    this.interrupts = 0;
    /** @type {Interrupted | null} */
    this.lastInterrupt = null;
    this.closed = false;
    this.ready = this.start();
  }

  async start() {
    await addWorkletModule(this.ctx, playerSource);
    if (this.closed) return;
    const node = new AudioWorkletNode(this.ctx, "realtime-nb-player", {
      numberOfInputs: 0,
      numberOfOutputs: 1,
      outputChannelCount: [1],
      processorOptions: { prebuffer: this.prebufferSamples(), maxPrebuffer: this.samplesOf(this.maxPrebufferMs),
        trace: traceOn() },
    });
    node.port.onmessage = (e) => this.onMessage(e.data);
    node.connect(this.ctx.destination);
    this.node = node;
  }

  prebufferSamples() {
    return this.samplesOf(this.prebufferMs);
  }

  /** @param {number} ms */
  samplesOf(ms) {
    return Math.round((ms / 1000) * this.ctx.sampleRate);
  }

  /** @param {number} ms @param {number} [maxMs] the adaptive cap (default: unchanged, at least ms) */
  setPrebuffer(ms, maxMs) {
    this.prebufferMs = ms;
    this.maxPrebufferMs = Math.max(ms, maxMs ?? this.maxPrebufferMs);
    this.node?.port.postMessage({ type: "prebuffer", samples: this.prebufferSamples(), max: this.samplesOf(this.maxPrebufferMs) });
  }

  /**
   * Queue PCM16 24 kHz audio of an assistant item.
   * @param {string} item
   * @param {Int16Array} pcm
   */
  push(item, pcm) {
    if (this.closed || !pcm.length) return;
    this.received.set(item, (this.received.get(item) ?? 0) + pcm.length);
    let data = pcm16ToFloat(pcm);
    if (this.ratio !== 1) {
      let r = this.resamplers.get(item);
      if (!r) {
        r = new Resampler(SAMPLE_RATE, this.ctx.sampleRate);
        this.resamplers.set(item, r);
      }
      data = r.process(data);
    }
    this.post({ type: "push", item, data }, [data.buffer]);
  }

  /**
   * A port whose push/end messages the worklet plays like ours (the link's worker sends audio on it
   * without the main thread); only when the context runs at the wire rate (no resampling to do).
   * Messages posted before the worklet exists wait in the port, after what this player sent before.
   * @returns {MessagePort | null}
   */
  directPort() {
    if (this.closed || this.ratio !== 1) return null;
    const channel = new MessageChannel();
    this.post({ type: "port", port: channel.port2 }, [channel.port2]);
    return channel.port1;
  }

  /**
   * Count audio another thread pushed on a direct port (the mirror of `push`).
   * @param {string} item
   * @param {number} samples
   */
  noteDirect(item, samples) {
    this.received.set(item, (this.received.get(item) ?? 0) + samples);
  }

  /**
   * No more audio for this item.
   * @param {string} item
   */
  end(item) {
    const r = this.resamplers.get(item);
    if (r) {
      const tail = r.flush();
      this.resamplers.delete(item);
      if (tail.length) this.post({ type: "push", item, data: tail }, [tail.buffer]);
    }
    this.post({ type: "end", item });
  }

  /**
   * @param {any} msg
   * @param {Transferable[]} [transfer]
   */
  post(msg, transfer = []) {
    if (this.node) this.node.port.postMessage(msg, transfer);
    else this.ready.then(() => this.node?.port.postMessage(msg, transfer));
  }

  /**
   * Stop playback within one render quantum; resolves with the current item and how many of its
   * samples (24 kHz) were played. Falls back to the last known count if the audio thread does not
   * answer (a suspended context).
   * @returns {Promise<Interrupted>}
   */
  interrupt() {
    this.interrupts += 1;
    const fallback = () => {
      const item = this.status.current;
      return { item_id: item, played_samples: item ? (this.played.get(item) ?? 0) : 0 };
    };
    if (!this.node) {
      const r = fallback();
      this.lastInterrupt = r;
      return Promise.resolve(r);
    }
    const id = this.nextId++;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        this.lastInterrupt = fallback();
        resolve(this.lastInterrupt);
      }, INTERRUPT_TIMEOUT_MS);
      this.pending.set(id, (r) => {
        clearTimeout(timer);
        this.lastInterrupt = r;
        resolve(r);
      });
      this.node?.port.postMessage({ type: "interrupt", id });
    });
  }

  /** @param {any} msg */
  onMessage(msg) {
    if (msg.type === "tick") {
      if (msg.trace) for (const row of msg.trace) trace(row); // bench hook (js/trace.js)
      for (const [item, n] of msg.played) this.played.set(item, this.toWire(n));
      this.status = {
        state: msg.state,
        playing: msg.state === "playing",
        level: msg.level,
        buffered_ms: (msg.buffered / this.ctx.sampleRate) * 1000,
        underruns: msg.underruns,
        current: msg.current,
        prebuffer_ms: ((msg.target ?? 0) / this.ctx.sampleRate) * 1000,
      };
      this.onStatus(this.status);
    } else if (msg.type === "interrupted") {
      const played = this.toWire(msg.played_samples);
      if (msg.item_id) this.played.set(msg.item_id, played);
      const done = this.pending.get(msg.id);
      this.pending.delete(msg.id);
      done?.({ item_id: msg.item_id, played_samples: played, dropped_samples: this.toWire(msg.dropped_samples) });
    }
  }

  /** @param {number} n context samples -> wire (24 kHz) samples, rounded down */
  toWire(n) {
    return this.ratio === 1 ? n : Math.floor(n / this.ratio);
  }

  close() {
    this.closed = true;
    for (const done of this.pending.values()) done({ item_id: null, played_samples: 0 });
    this.pending.clear();
    if (this.node) {
      this.node.port.onmessage = null;
      this.node.disconnect();
      this.node = null;
    }
  }
}
