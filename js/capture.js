// Mic capture: getUserMedia -> AudioWorklet -> 24 kHz PCM16 chunks (>= 40 ms) for the kernel.
// Echo cancellation is on by default (real speakers next to a mic); tests turn browser processing
// off to compare the signal exactly. Mute disables the track, so silence keeps flowing (server VAD
// needs silence to end a turn).
// @ts-expect-error: js/build.mjs bundles the worklet and imports it as a string
import captureSource from "./capture.worklet.js";
import { addWorkletModule } from "./worklet.js";
import { Resampler, SAMPLE_RATE, floatToPcm16 } from "./pcm.js";
import { traceOn } from "./trace.js";

/**
 * @typedef {{echoCancellation?: boolean, noiseSuppression?: boolean, autoGainControl?: boolean}} MicConstraints
 * @typedef {{deviceId?: string, constraints?: MicConstraints, chunkMs?: number,
 *   onChunk: (pcm: Int16Array, postedAt?: number) => void, onLevel?: (rms: number, peak: number) => void,
 *   direct?: (port: MessagePort) => boolean}} CaptureOptions
 */

export const DEFAULT_CONSTRAINTS = Object.freeze({
  echoCancellation: true,
  noiseSuppression: true,
  autoGainControl: true,
});

/**
 * The getUserMedia constraints for a device choice and processing flags.
 * @param {MicConstraints} [constraints]
 * @param {string} [deviceId]
 * @returns {MediaStreamConstraints}
 */
export function mediaConstraints(constraints = {}, deviceId = "") {
  /** @type {MediaTrackConstraints} */
  const audio = { ...DEFAULT_CONSTRAINTS, ...constraints, channelCount: 1 };
  if (deviceId) audio.deviceId = { exact: deviceId };
  return { audio, video: false };
}

/** Audio input devices (labels are empty until the user granted mic access once). */
export async function listMicrophones() {
  if (!navigator.mediaDevices?.enumerateDevices) return [];
  const all = await navigator.mediaDevices.enumerateDevices();
  return all.filter((d) => d.kind === "audioinput").map((d) => ({ id: d.deviceId, label: d.label }));
}

export class Capture {
  /**
   * @param {AudioContext} ctx
   * @param {CaptureOptions} options
   */
  constructor(ctx, { deviceId = "", constraints = {}, chunkMs = 40, onChunk, onLevel, direct }) {
    this.ctx = ctx;
    this.deviceId = deviceId;
    this.constraints = constraints;
    this.chunkMs = Math.max(40, chunkMs); // >= 40 ms per message keeps us far under iopub's rate limit
    this.onChunk = onChunk;
    this.onLevel = onLevel ?? (() => {});
    /** offered a port for the chunks (true: taken, they bypass onChunk) @type {((port: MessagePort) => boolean) | undefined} */
    this.direct = direct;
    this.directOn = false;
    /** @type {MediaStream | null} */
    this.stream = null;
    /** @type {MediaStreamAudioSourceNode | null} */
    this.source = null;
    /** @type {AudioWorkletNode | null} */
    this.node = null;
    /** @type {GainNode | null} */
    this.sink = null;
    this.muted = false;
    this.resampler = ctx.sampleRate === SAMPLE_RATE ? null : new Resampler(ctx.sampleRate, SAMPLE_RATE);
    this.chunks = 0;
    this.samples = 0;
  }

  get running() {
    return this.stream !== null;
  }

  /** Ask for the mic and start streaming chunks. */
  async start() {
    if (this.stream) return;
    if (!navigator.mediaDevices?.getUserMedia) {
      throw new Error("this page cannot use the microphone (getUserMedia needs https or localhost)");
    }
    await addWorkletModule(this.ctx, captureSource);
    const stream = await navigator.mediaDevices.getUserMedia(mediaConstraints(this.constraints, this.deviceId));
    const chunk = Math.round((this.chunkMs / 1000) * this.ctx.sampleRate);
    const node = new AudioWorkletNode(this.ctx, "realtime-nb-capture", {
      numberOfInputs: 1,
      numberOfOutputs: 1,
      outputChannelCount: [1],
      processorOptions: { chunk, trace: traceOn() },
    });
    node.port.onmessage = (e) => this.onMessage(e.data);
    const source = this.ctx.createMediaStreamSource(stream);
    // A muted sink keeps the node pulled by the graph in every browser without echoing the mic.
    const sink = this.ctx.createGain();
    sink.gain.value = 0;
    source.connect(node);
    node.connect(sink);
    sink.connect(this.ctx.destination);
    Object.assign(this, { stream, node, source, sink });
    this.applyMute();
    if (this.direct && !this.resampler) {
      const channel = new MessageChannel();
      if (this.direct(channel.port1)) {
        node.port.postMessage({ type: "port", port: channel.port2 }, [channel.port2]);
        this.directOn = true;
      }
    }
  }

  /** Chunks back to this thread (the direct port's taker went away). */
  undirect() {
    if (!this.directOn) return;
    this.directOn = false;
    this.node?.port.postMessage({ type: "port", port: null });
  }

  /** @param {any} msg */
  onMessage(msg) {
    if (msg.type === "level") { // the chunk itself went to the direct port
      this.chunks += 1;
      this.samples += msg.samples;
      this.onLevel(this.muted ? 0 : msg.rms, this.muted ? 0 : msg.peak);
      return;
    }
    if (msg.type !== "chunk") return;
    let data = /** @type {Float32Array} */ (msg.data);
    if (this.resampler) data = this.resampler.process(data);
    const pcm = floatToPcm16(data);
    this.chunks += 1;
    this.samples += pcm.length;
    this.onLevel(this.muted ? 0 : msg.rms, this.muted ? 0 : msg.peak);
    if (pcm.length) this.onChunk(pcm, msg.at); // msg.at: the worklet's post time when tracing
  }

  /** @param {boolean} muted */
  setMuted(muted) {
    this.muted = muted;
    this.applyMute();
  }

  applyMute() {
    for (const t of this.stream?.getAudioTracks() ?? []) t.enabled = !this.muted;
  }

  /**
   * Switch device or processing flags (restarts the stream if running).
   * @param {{deviceId?: string, constraints?: MicConstraints}} options
   */
  async reconfigure({ deviceId, constraints }) {
    if (deviceId !== undefined) this.deviceId = deviceId;
    if (constraints !== undefined) this.constraints = constraints;
    if (this.stream) {
      this.stop();
      await this.start();
    }
  }

  /** Stop the tracks and disconnect (the context is the engine's to close). */
  stop() {
    for (const t of this.stream?.getTracks() ?? []) t.stop();
    this.node?.port.postMessage({ type: "stop" });
    if (this.node) this.node.port.onmessage = null;
    this.source?.disconnect();
    this.node?.disconnect();
    this.sink?.disconnect();
    this.stream = this.source = this.node = this.sink = null;
    this.directOn = false;
  }
}

/**
 * What a getUserMedia failure means for the user, and the steps to fix it.
 * @param {any} err
 */
export function micErrorText(err) {
  const name = err?.name ?? "";
  if (name === "NotAllowedError" || name === "SecurityError") {
    return "Microphone blocked. To allow it: click the icon left of the address bar (site settings), set " +
      "Microphone to Allow, then click Retry. (Browsers only offer the mic to https:// or localhost pages.)";
  }
  if (name === "NotFoundError" || name === "OverconstrainedError") {
    return "No microphone found. Plug one in (or pick another in ⚙ → Microphone), then click Retry.";
  }
  if (name === "NotReadableError") {
    return "The microphone is busy in another application. Close it there, then click Retry.";
  }
  return `Microphone: ${err?.message ?? err}. Click Retry to try again.`;
}
