// The audio engine of the one view that owns audio: an AudioContext at 24 kHz, the player, the mic.
// Never blocks on `AudioContext.resume()`: after a page reload (no user gesture) the context stays
// suspended and resume() may never settle, so the UI offers an "enable audio" button instead.
// With the webrtc transport (`rtc`), the mic opens as a call (rtc_transport.js) instead of a capture;
// when the call cannot be made the relay's capture starts as before (`onRtcFailed` says why).
import { Capture, listMicrophones, mediaConstraints } from "./capture.js";
import { Player } from "./player.js";
import { SAMPLE_RATE } from "./pcm.js";

/**
 * @typedef {import("./capture.js").MicConstraints} MicConstraints
 * @typedef {{prebufferMs: number, maxPrebufferMs?: number, chunkMs: number, constraints: MicConstraints, deviceId: string, muted: boolean,
 *   onMicChunk: (pcm: Int16Array, postedAt?: number) => void, onMicLevel: (rms: number) => void,
 *   micDirect?: (port: MessagePort) => boolean,
 *   onPlayer: (s: import("./player.js").PlayerStatus) => void, onState: (state: string) => void,
 *   rtc?: () => import("./rtc_transport.js").RtcCall | null, onRtcFailed?: (err: any) => void}} EngineOptions
 */

/** A context at the wire rate when the browser allows it (no resampling at all), else its default. */
function createContext() {
  try {
    return new AudioContext({ sampleRate: SAMPLE_RATE, latencyHint: "interactive" });
  } catch {
    return new AudioContext({ latencyHint: "interactive" });
  }
}

export class AudioEngine {
  /** @param {EngineOptions} options */
  constructor(options) {
    this.options = options;
    this.ctx = createContext();
    this.player = new Player(this.ctx, { prebufferMs: options.prebufferMs, maxPrebufferMs: options.maxPrebufferMs,
      onStatus: options.onPlayer });
    /** @type {Capture | null} */
    this.capture = null;
    /** the webrtc call carrying the mic and the voice, while one is up @type {import("./rtc_transport.js").RtcCall | null} */
    this.call = null;
    this.closed = false;
    this.ctx.addEventListener("statechange", () => options.onState(this.ctx.state));
  }

  get suspended() {
    return this.ctx.state === "suspended";
  }

  /** Try to resume (call from a click handler); resolves at once, the state change is reported. */
  resume() {
    this.ctx.resume().catch(() => {});
  }

  get micOn() {
    return (this.capture?.running ?? false) || Boolean(this.call?.on);
  }

  async startMic() {
    if (this.closed || this.micOn || this.call) return; // (a call being set up counts as on its way)
    const o = this.options;
    const call = o.rtc?.();
    if (call) {
      this.call = call;
      call.setMuted(o.muted);
      try {
        await call.start(this.ctx, this.audioConstraints());
        if (this.closed) call.close();
        return;
      } catch (err) {
        if (this.call === call) this.call = null;
        await call.close(); // tells the kernel, which leaves the call before the relay starts
        if (this.closed) return;
        o.onRtcFailed?.(err);
      }
    }
    this.capture = new Capture(this.ctx, {
      deviceId: o.deviceId, constraints: o.constraints, chunkMs: o.chunkMs,
      onChunk: o.onMicChunk, onLevel: o.onMicLevel, direct: o.micDirect,
    });
    this.capture.setMuted(o.muted);
    try {
      await this.capture.start();
    } catch (err) {
      this.capture.stop();
      this.capture = null;
      throw err;
    }
    if (this.closed) this.capture?.stop();
  }

  stopMic() {
    this.call?.close();
    this.call = null;
    this.capture?.stop();
    this.capture = null;
    this.options.onMicLevel(0);
  }

  /** @param {boolean} muted */
  setMuted(muted) {
    this.options.muted = muted;
    this.capture?.setMuted(muted);
    this.call?.setMuted(muted);
  }

  /** @param {{deviceId?: string, constraints?: MicConstraints}} change */
  async reconfigure(change) {
    if (change.deviceId !== undefined) this.options.deviceId = change.deviceId;
    if (change.constraints !== undefined) this.options.constraints = change.constraints;
    await this.capture?.reconfigure(change);
    await this.call?.reconfigure(this.audioConstraints());
  }

  /** The mic's getUserMedia constraints (the relay's capture and a call ask for the same). */
  audioConstraints() {
    return /** @type {MediaTrackConstraints} */ (mediaConstraints(this.options.constraints, this.options.deviceId).audio);
  }

  microphones() {
    return listMicrophones();
  }

  /** Stop the tracks (and the call), stop playback, close the context. */
  close() {
    if (this.closed) return;
    this.closed = true;
    this.call?.close();
    this.call = null;
    this.capture?.stop();
    this.capture = null;
    this.player.close();
    this.ctx.close().catch(() => {});
  }
}
