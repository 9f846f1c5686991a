// The widget's webrtc transport: the owner view calls the model itself. `webrtc.js` builds the peer
// connection with the mic track (the widget's constraints) and the "oai-events" channel; the offer goes
// to the kernel (`call` request), which posts it to /v1/realtime/calls with the key it holds, moves its
// Session onto the call's sideband and replies the answer (realtime_nb/notebook/_webrtc.py). The voice
// plays from the remote track; no audio passes through the kernel. The engine (engine.js) starts a
// call instead of the capture when the transport is webrtc, and falls back to the relay when it fails.
//
// `close()` is the hang-up: the tracks, the audio element, the meters and the peer connection stop at
// once, and the kernel is told (`hangup`), which ends the call and takes the Session back home.
import { startCall } from "./webrtc.js";

export const CALL_TIMEOUT_MS = 30000;   // the kernel posts the offer and replays the conversation first
export const CONNECT_TIMEOUT_MS = 8000; // ICE + DTLS on a reachable target take well under a second
const METER_MS = 50;

/**
 * Which transport a view uses: the `transport` setting, what the kernel said of the target (`auto`
 * means webrtc where it is supported) and whether this browser has WebRTC at all.
 * @param {string} setting "auto" | "webrtc" | "relay"
 * @param {{supported?: boolean} | null | undefined} info the `ready` reply's `transport`
 * @param {boolean} [hasRtc]
 * @returns {"webrtc" | "relay"}
 */
export function chooseTransport(setting, info, hasRtc = typeof globalThis.RTCPeerConnection === "function") {
  if (!hasRtc || setting === "relay") return "relay";
  if (setting === "webrtc") return "webrtc";
  return info?.supported ? "webrtc" : "relay";
}

/**
 * Resolves once the peer connection is connected; rejects when it fails, closes or times out.
 * @param {RTCPeerConnection} pc
 * @param {number} ms
 */
export function connected(pc, ms) {
  return new Promise((resolve, reject) => {
    const check = () => {
      const s = pc.connectionState;
      if (s === "connected") finish(null);
      else if (s === "failed" || s === "closed") finish(new Error(`the peer connection ${s}`));
    };
    const timer = setTimeout(() => finish(new Error(`the peer connection did not connect within ${ms} ms`)), ms);
    /** @param {Error | null} err */
    function finish(err) {
      clearTimeout(timer);
      pc.removeEventListener("connectionstatechange", check);
      if (err) reject(err);
      else resolve(undefined);
    }
    pc.addEventListener("connectionstatechange", check);
    check();
  });
}

/** RMS of an analyser's current window. @param {AnalyserNode} a @param {Float32Array} buf */
function rms(a, buf) {
  a.getFloatTimeDomainData(/** @type {Float32Array<ArrayBuffer>} */ (buf));
  let sum = 0;
  for (const x of buf) sum += x * x;
  return Math.sqrt(sum / buf.length);
}

/**
 * @typedef {{request: (type: string, content?: any, options?: {timeoutMs?: number}) => Promise<any>}} Requester
 * @typedef {{comm: Requester, container?: HTMLElement | null, onLevels?: (mic: number, out: number) => void,
 *   onPlaying?: (playing: boolean) => void, onEnded?: (why: string) => void}} RtcCallOptions
 */

export class RtcCall {
  /** @param {RtcCallOptions} options */
  constructor(options) {
    this.options = options;
    /** @type {Awaited<ReturnType<typeof startCall>> | null} */
    this.handle = null;
    /** @type {string | null} */
    this.callId = null;
    this.state = "new";
    this.closed = false;
    this.live = false;
    this.muted = false;
    /** ms of the remote track above the meter's floor: what the browser tests read */
    this.voiceMs = 0;
    /** @type {any} */
    this.meterTimer = 0;
    /** @type {Array<() => void>} */
    this.cleanups = [];
    /** rejects the wait for the connection @type {((err: Error) => void) | null} */
    this.abort = null;
  }

  get on() {
    return this.live && !this.closed;
  }

  /**
   * Build the peer connection, exchange the offer through the kernel, wait until connected.
   * @param {AudioContext} ctx the engine's (for the meters)
   * @param {MediaTrackConstraints} audio the mic's constraints, as the relay's capture asks them
   */
  async start(ctx, audio) {
    const o = this.options;
    this.handle = await startCall({
      exchange: async (sdp) => {
        const r = await o.comm.request("call", { sdp }, { timeoutMs: CALL_TIMEOUT_MS });
        if (typeof r?.sdp !== "string") throw new Error("the kernel sent no answer");
        this.callId = r.call_id ?? null;
        return r.sdp;
      },
      constraints: audio,
      onEvent: (e) => this.onEvent(e),
      onState: (s) => {
        this.state = s;
        if ((s === "failed" || s === "closed") && this.live && !this.closed) o.onEnded?.(`the peer connection ${s}`);
      },
    });
    if (this.closed) { // hung up while the kernel answered
      this.handle.close();
      this.hangup();
      throw new Error("hung up");
    }
    this.handle.audio.hidden = true;
    this.handle.audio.dataset.testid = "rtnb-rtc-audio";
    o.container?.appendChild(this.handle.audio);
    this.setMuted(this.muted);
    // a hang-up (or the kernel's word that the call ended) while waiting ends the wait too
    const aborted = new Promise((_resolve, reject) => { this.abort = reject; });
    await Promise.race([connected(this.handle.pc, CONNECT_TIMEOUT_MS), aborted]);
    this.abort = null;
    this.live = true;
    this.startMeters(ctx);
  }

  /** The data channel's events (the kernel's sideband sees the same): the voice's start and end. @param {any} e */
  onEvent(e) {
    const t = e?.type;
    if (t === "output_audio_buffer.started") this.options.onPlaying?.(true);
    else if (t === "output_audio_buffer.stopped" || t === "output_audio_buffer.cleared") this.options.onPlaying?.(false);
  }

  /** Mic and voice levels for the meters, from the two tracks. @param {AudioContext} ctx */
  startMeters(ctx) {
    const h = this.handle;
    if (!h || !ctx || ctx.state === "closed") return;
    /** @param {MediaStream | null} stream */
    const tap = (stream) => {
      if (!stream) return null;
      const src = ctx.createMediaStreamSource(stream);
      const a = ctx.createAnalyser();
      a.fftSize = 1024;
      src.connect(a);
      this.cleanups.push(() => src.disconnect());
      return { a, buf: new Float32Array(a.fftSize) };
    };
    const mic = tap(h.stream);
    const out = tap(/** @type {MediaStream | null} */ (h.audio.srcObject));
    this.meterTimer = setInterval(() => {
      const m = mic && !this.muted ? rms(mic.a, mic.buf) : 0;
      const v = out ? rms(out.a, out.buf) : 0;
      if (v > 0.01) this.voiceMs += METER_MS;
      this.options.onLevels?.(m, v);
    }, METER_MS);
  }

  /** @param {boolean} muted disables the mic track (the call keeps sending silence, VAD ends the turn) */
  setMuted(muted) {
    this.muted = muted;
    for (const track of this.handle?.stream.getAudioTracks() ?? []) track.enabled = !muted;
  }

  /** New processing flags (or device) apply to the live track. @param {MediaTrackConstraints} audio */
  async reconfigure(audio) {
    for (const track of this.handle?.stream.getAudioTracks() ?? []) await track.applyConstraints(audio);
  }

  /**
   * Hang up: stop everything now, then tell the kernel (resolves once it replied, or gave up).
   * @param {string} [why] what a `start()` still waiting for the connection fails with
   */
  close(why = "hung up") {
    if (this.closed) return Promise.resolve();
    this.closed = true;
    this.live = false;
    this.abort?.(new Error(why));
    this.abort = null;
    clearInterval(this.meterTimer);
    for (const undo of this.cleanups.splice(0)) undo();
    this.options.onLevels?.(0, 0);
    this.options.onPlaying?.(false);
    if (this.handle) {
      this.handle.close();
      this.handle.audio.remove();
    }
    return this.hangup();
  }

  /** Tell the kernel the call is over (it hangs up and takes the Session back to its own connection). */
  hangup() {
    if (!this.callId) return Promise.resolve();
    return this.options.comm.request("hangup", {}, { timeoutMs: CALL_TIMEOUT_MS }).catch(() => {});
  }
}
