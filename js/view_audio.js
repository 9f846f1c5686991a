// The owning view's audio: the engine (engine.js: the AudioContext, the player, the mic) started when
// this view becomes the owner and stopped at the end; the mic opened on "Start talking" (or at once
// with `autostart`); push-to-talk; the gate that decides whether mic audio goes to the kernel; with the
// link's socket in a worker, the mic and the player wired straight to it.
import { AudioEngine } from "./engine.js";
import { AudioPacer } from "./comm.js";
import { WorkerSocket } from "./workersocket.js";
import { micErrorText } from "./capture.js";
import { trace } from "./trace.js";

/** @param {import("./view.js").View} v */
export function newPacer(v) {
  return new AudioPacer((pcm) => {
    v.seq += 1;
    v.debug.micMessages += 1;
    v.debug.micSamplesSent += pcm.length;
    v.debug.micChunksSent += 1;
    v.comm.send("audio", { seq: v.seq, samples: pcm.length }, [/** @type {ArrayBuffer} */ (pcm.buffer)]);
  });
}

/** @param {import("./view.js").View} v */
export function installAudio(v) {
  const meter = (/** @type {string} */ id) => /** @type {HTMLElement} */ (v.root.querySelector(`[data-testid=${id}]`));

  v.reportError = (message) => {
    v.debug.errors.push(message);
    v.ui.setNotice(message);
    v.comm.send("client_error", { message });
  };

  v.startMic = async () => {
    if (!v.engine || v.ended) return;
    const engine = v.engine;
    try {
      await engine.startMic();
      v.ui.setMicError("");
      const mics = await engine.microphones();
      v.ui.setDevices(mics, v.model.get("mic_device") ?? "");
    } catch (err) {
      // one message, with what to do, and a Retry button (the kernel's copy of it is not shown again)
      const text = micErrorText(err);
      v.debug.errors.push(text);
      v.ui.setMicError(text);
      v.comm.send("client_error", { message: text });
    }
    v.refreshControls();
  };

  v.startEngine = () => {
    if (v.engine || v.disposed || v.ended) return;
    const { model, debug, root } = v;
    const engine = new AudioEngine({
      prebufferMs: model.get("prebuffer_ms"),
      maxPrebufferMs: model.get("prebuffer_max_ms"),
      chunkMs: model.get("chunk_ms"),
      constraints: model.get("mic_constraints") ?? {},
      deviceId: model.get("mic_device") ?? "",
      muted: Boolean(model.get("muted")),
      onMicChunk: (pcm, postedAt) => {
        if (!v.micGateOpen()) return;
        if (postedAt !== undefined) trace(["mic", v.micOffset, pcm.length, postedAt]); // bench hook
        v.micOffset += pcm.length;
        v.pacer.push(pcm);
      },
      micDirect: (port) => { // with the link's socket in a worker, mic chunks go out from there
        const ws = v.link.ws;
        if (!(ws instanceof WorkerSocket)) return false;
        ws.onmicsent = onMicSent;
        ws.attachMic(port);
        v.updateGate();
        debug.micPath = "worker";
        return true;
      },
      onMicLevel: (level) => v.ui.setMeter(meter("rtnb-mic-level"), v.micLevel.update(level)),
      onPlayer: (s) => {
        v.ui.setMeter(meter("rtnb-out-level"), v.outLevel.update(s.level));
        debug.playerState = s.state;
        debug.bufferedMs = s.buffered_ms;
        debug.underruns = s.underruns;
        debug.prebufferMs = s.prebuffer_ms;
        if (v.engine) for (const [item, n] of v.engine.player.played) debug.samplesPlayed[item] = n;
        if (v.playing !== s.playing) {
          v.playing = s.playing;
          v.status.dispatch(v.playing ? "playing" : "idle");
        }
      },
      rtc: v.newCall,
      onRtcFailed: (err) => {
        v.rtcFallback = String(err?.message ?? err);
        debug.rtcFallback = v.rtcFallback;
        v.ui.setNotice(`WebRTC did not connect (${v.rtcFallback}): the audio goes through the kernel`);
        v.refreshControls();
      },
      onState: (state) => {
        debug.ctxState = state;
        root.dataset.ctxState = state;
        v.status.dispatch(state === "running" ? "resumed" : "suspended");
        v.refreshControls();
      },
    });
    v.engine = engine;
    debug.ctxState = engine.ctx.state;
    root.dataset.ctxState = engine.ctx.state;
    if (engine.suspended) v.status.dispatch("suspended");
    attachPlayer();
    engine.player.ready.catch((err) => v.reportError(`Audio output: ${err?.message ?? err}`));
    if (model.get("autostart")) v.startMic();
    v.refreshControls();
  };

  /** Whether mic audio goes to the kernel now: this view owns audio, and push-to-talk, if on, is held. */
  v.micGateOpen = () => v.owner && v.ready && !v.ended && (v.model.get("mode") !== "push_to_talk" || v.pttHeld);

  v.updateGate = () => {
    if (v.link.ws instanceof WorkerSocket) v.link.ws.setGate(v.micGateOpen(), v.id);
  };

  /** @param {{seq: number, samples: number, at?: number}} note a mic chunk the link's worker sent */
  function onMicSent(note) {
    if (note.at !== undefined) trace(["mic", v.micOffset, note.samples, note.at]); // bench hook
    v.micOffset += note.samples;
    v.debug.micMessages += 1;
    v.debug.micSamplesSent += note.samples;
    v.debug.micChunksSent += 1;
  }

  /** With the link's socket in a worker, the kernel's audio goes from there straight to the player. */
  function attachPlayer() {
    const ws = v.link.ws;
    if (!v.engine || v.captions || !(ws instanceof WorkerSocket)) return; // caption mode plays nothing
    const port = v.engine.player.directPort();
    if (port) ws.attachPlayer(port);
    v.debug.audioPath = port ? "worker" : "page";
  }

  v.stopEngine = () => {
    if (v.link.ws instanceof WorkerSocket) {
      v.link.ws.setGate(false, v.id);
      v.link.ws.attachPlayer(null);
    }
    v.debug.audioPath = v.debug.micPath = "page";
    v.pttUp();
    v.engine?.close();
    v.engine = null;
    if (v.playing) v.status.dispatch("idle");
    v.playing = false;
    v.pacer.dispose();
    v.ui.setMeter(meter("rtnb-mic-level"), 0);
    v.ui.setMeter(meter("rtnb-out-level"), 0);
  };

  // -- push-to-talk ---------------------------------------------------------------------------------
  v.pttDown = () => {
    if (v.pttHeld || !v.owner || v.ended || v.model.get("mode") !== "push_to_talk") return;
    if (v.engine && !v.engine.micOn) v.startMic();
    v.pttHeld = true;
    v.comm.send("ptt", { down: true });
    v.status.dispatch("speech_started");
    v.refreshControls();
  };

  v.pttUp = () => {
    if (!v.pttHeld) return;
    v.pacer.flush(); // the last audio goes before the release, which commits
    v.pttHeld = false;
    v.updateGate();
    v.comm.send("ptt", { down: false });
    v.status.dispatch("speech_stopped");
    v.refreshControls();
  };
}
