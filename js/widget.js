// anywidget entry point: wires the UI (ui.js), the kernel protocol (comm.js) and, in the one view
// that owns audio, the audio engine (engine.js).
//
// Lifecycle of a view: render -> "ready" request (retried while the kernel is busy) -> the reply says
// whether this view owns audio and carries a snapshot of the transcript and the event log -> the
// owner starts the engine (the player; the mic on "Start talking", or at once with `autostart`) ->
// cleanup releases ownership, stops the tracks and closes the context.
//
// The end: when the session closes (the kernel says so: `session_closed`) or the kernel goes away
// (liveness.js: a send that throws, the link's socket dropping, no ping reply, the comm marked dead on
// a restart), the view stops the mic tracks and the player at once, disables what no longer applies,
// and shows why; a Reconnect button where the session can go on.
import { AudioPacer, Comm } from "./comm.js";
import { AudioEngine } from "./engine.js";
import { Link, linkUrls } from "./link.js";
import { WorkerSocket, workersAvailable } from "./workersocket.js";
import { LevelSmoother, int16FromBytes } from "./pcm.js";
import { trace, traceOn, wallMs } from "./trace.js";
import { createUI } from "./ui.js";
import { Liveness } from "./liveness.js";
import { StatusMachine } from "./status.js";
import { followModel, wireControls } from "./controls.js";
import { RtcCall, chooseTransport } from "./rtc_transport.js";
import { micErrorText } from "./capture.js";
import { CaptionView } from "./captions.js";
import { newDebug, newViewId, registerDebug } from "./debug.js";
import "./widget.css";

const PING_MS = 2000;
const READY_TIMEOUT_MS = 5000;
const LINK_TIMEOUT_MS = 1500;

/**
 * @typedef {{get: (k: string) => any, set: (k: string, v: any) => void, save_changes: () => void,
 *   on: (n: string, cb: (...a: any[]) => void) => void, off: (n: string, cb: (...a: any[]) => void) => void,
 *   send: (c: any, cb?: any, b?: ArrayBuffer[]) => void, widget_manager?: any}} Model
 */

/** @param {{model: Model, el: HTMLElement}} ctx */
function render({ model, el }) {
  const view = newViewId();
  const debug = newDebug(view);
  const link = new Link(model, {
    onChange: (url) => {
      debug.link = url;
      root.dataset.link = url ? "link" : "comm";
      if (!url) { // the worker went with the socket: audio takes the page's path again
        engine?.capture?.undirect();
        debug.audioPath = debug.micPath = "page";
        if (!disposed && !ended) liveness.linkDropped(); // the kernel process may be gone
      }
    },
  });
  const comm = new Comm(link, view, { onDead: (err) => liveness.sendFailed(err) });
  const ui = createUI(el, {
    logSize: model.get("event_log_size"),
    fetchEvent: (index) => comm.request("event", { index }, { timeoutMs: 3000 }),
  });
  const key = model.get("_model_key") || view;
  const unregister = registerDebug(key, view, debug);
  const root = ui.container;
  // caption mode (a transcription session): captions, no playback, only the controls that apply
  const captions = model.get("captions") ? new CaptionView(ui) : null;
  root.dataset.captions = String(Boolean(captions));
  root.dataset.viewId = view;
  root.dataset.link = "comm";
  /** @type {any} */ (root).__rtnb = debug;
  // for browser tests that need the engine itself (e.g. to suspend the context and see "enable audio")
  Object.defineProperty(root, "__rtnbEngine", { get: () => engine });

  /** @type {AudioEngine | null} */
  let engine = null;
  let owner = false;
  let ready = false;
  let disposed = false;
  let pttHeld = false;
  let playing = false;
  /** the session's (or the kernel's) end, once it came @type {{kind: string, reason: string, canResume: boolean} | null} */
  let ended = null;
  let micWasOn = false;
  let seq = 0;
  let micOffset = 0; // mic samples forwarded (the bench trace's offsets)
  /** what the kernel said of the target (the `ready` reply) @type {{supported?: boolean, reason?: string} | null} */
  let transportInfo = null;
  let rtcFallback = ""; // why a call failed: this view uses the relay from then on (until `transport` changes)
  /** @type {Array<[string, (...a: any[]) => void]>} */
  const listeners = [];
  /** @param {string} name @param {(...a: any[]) => void} cb */
  const onModel = (name, cb) => {
    model.on(name, cb);
    listeners.push([name, cb]);
  };
  /** @param {string} name @param {any} value */
  const setTrait = (name, value) => {
    if (ended?.kind === "kernel") return;
    try {
      model.set(name, value);
      model.save_changes();
    } catch (err) { // a dead comm throws here too
      liveness.sendFailed(/** @type {Error} */ (err));
    }
  };

  const micLevel = new LevelSmoother();
  const outLevel = new LevelSmoother();
  const pacer = new AudioPacer((pcm) => {
    seq += 1;
    debug.micMessages += 1;
    debug.micSamplesSent += pcm.length;
    debug.micChunksSent += 1;
    comm.send("audio", { seq, samples: pcm.length }, [/** @type {ArrayBuffer} */ (pcm.buffer)]);
  });

  // -- status ---------------------------------------------------------------------------------------
  // The pill is a state machine (status.js) fed by the server's events (the event log's rows), this
  // view's mic, player and AudioContext, and the session's lifecycle.
  const status = new StatusMachine({ onChange: () => refreshControls(), captions: Boolean(captions) });
  debug.statusHistory = status.history;

  function refreshStatus() {
    const shown = status.state;
    const ptt = model.get("mode") === "push_to_talk";
    let detail = "";
    if (ended) detail = "";
    else if (shown === "ready" && owner) detail = "click Start talking";
    else if (shown === "listening" && owner && ptt) detail = pttHeld ? "recording" : "hold to talk";
    ui.setStatus(shown, detail);
    debug.status = shown;
    root.dataset.status = shown;
  }

  /** Local facts that changed since the machine last heard of them. */
  function feedLocal() {
    const micOn = Boolean(engine?.micOn) || (!owner && ready); // another view's mic: assume it listens
    if (micOn !== micWasOn) {
      micWasOn = micOn;
      status.dispatch(micOn ? "mic_on" : "mic_off");
    }
  }

  /**
   * The session or the kernel ended: stop capture and playback now, disable what no longer applies,
   * say why. Idempotent; a later call may only refine the reason.
   * @param {string} kind "closed" | "expired" | "lost" | "kernel"
   * @param {string} reason
   * @param {boolean} [canResume]
   */
  function end(kind, reason, canResume = false) {
    const first = ended === null;
    ended = { kind, reason, canResume: canResume && kind !== "kernel" };
    if (first) {
      pttUp();
      stopEngine(); // every mic track stopped, the player and the context closed
      status.dispatch(kind === "closed" || kind === "expired" ? "closed" : "lost");
    }
    if (kind === "kernel") { // nothing to talk to: no more messages, no more timers
      liveness.stop();
      link.close();
    }
    debug.ended = ended;
    root.dataset.ended = kind;
    ui.setEnd(reason, ended.canResume);
    refreshControls();
  }

  /** The session is back (a reconnect): a fresh start, the mic closed until asked. */
  function reopen() {
    if (!ended || ended.kind === "kernel") return;
    ended = null;
    debug.ended = null;
    delete root.dataset.ended;
    ui.setEnd("");
    micWasOn = false;
    status.dispatch("reopened");
    if (owner) startEngine();
    refreshControls();
  }

  function refreshControls() {
    const ptt = model.get("mode") === "push_to_talk";
    const live = owner && !ended;
    const micOn = Boolean(engine?.micOn);
    ui.pttButton.hidden = !ptt || !live;
    ui.pttButton.classList.toggle("rtnb-active", pttHeld);
    ui.startButton.hidden = !live || micOn || !ready;
    ui.micButton.hidden = !live || !micOn;
    ui.muteButton.hidden = !live;
    ui.micButton.classList.toggle("rtnb-active", micOn);
    const muted = Boolean(model.get("muted"));
    ui.muteButton.textContent = muted ? "Unmute" : "Mute";
    ui.muteButton.setAttribute("aria-pressed", String(muted));
    ui.muteButton.classList.toggle("rtnb-warn", muted);
    ui.enableAudio.hidden = !(live && engine?.suspended);
    // a reply is on its way or playing: it can be stopped (from any view; the owner says what was heard)
    ui.stopReply.hidden = Boolean(ended) || !ready || !["thinking", "speaking", "audio_paused"].includes(status.state);
    ui.textInput.disabled = ui.send.disabled = Boolean(ended) || !ready;
    ui.transcribe.disabled = Boolean(ended);
    ui.note.hidden = owner || !ready || Boolean(ended);
    for (const c of [ui.mode, ui.vad, ui.device, ui.echo, ui.noise, ui.agc, ui.bargeIn, ui.prebuffer]) {
      c.disabled = Boolean(ended) || (c === ui.vad && ptt);
    }
    if (ended) ui.voice.disabled = true;
    // In push-to-talk the space bar is ours while the widget has focus: JupyterLab/Notebook 7 (Lumino)
    // skip their shortcuts for events from inside an element with this attribute.
    if (ptt && owner) root.setAttribute("data-lm-suppress-shortcuts", "true");
    else root.removeAttribute("data-lm-suppress-shortcuts");
    const transport = currentTransport();
    root.dataset.transport = debug.transport = transport;
    ui.setTransport(transport);
    root.dataset.owner = String(owner);
    root.dataset.ready = String(ready);
    updateGate();
    debug.micOn = micOn;
    feedLocal();
    refreshStatus();
  }

  /** @returns {"webrtc" | "relay"} */
  function currentTransport() {
    if (captions || rtcFallback) return "relay"; // caption mode plays nothing: no voice track either
    return chooseTransport(model.get("transport"), transportInfo);
  }

  /** The webrtc call the engine starts instead of the capture (rtc_transport.js), or null: the relay. */
  function newCall() {
    if (currentTransport() !== "webrtc") return null;
    const micMeter = /** @type {HTMLElement} */ (root.querySelector("[data-testid=rtnb-mic-level]"));
    const outMeter = /** @type {HTMLElement} */ (root.querySelector("[data-testid=rtnb-out-level]"));
    const call = new RtcCall({
      comm, container: root,
      onLevels: (mic, out) => {
        ui.setMeter(micMeter, micLevel.update(mic));
        ui.setMeter(outMeter, outLevel.update(out));
        debug.rtc = { callId: call.callId, state: call.state, voiceMs: call.voiceMs };
      },
      onPlaying: (p) => {
        if (playing === p) return;
        playing = p;
        status.dispatch(p ? "playing" : "idle");
      },
      onEnded: (why) => { // the peer connection died mid-call: the next Start talking uses the relay
        rtcFallback = why;
        engine?.stopMic();
        ui.setNotice(`The WebRTC call ended (${why}); Start talking again uses the relay`);
        refreshControls();
      },
    });
    debug.rtc = { callId: null, state: "new", voiceMs: 0 };
    return call;
  }

  function syncSettings() {
    ui.mode.value = model.get("mode");
    ui.vad.value = model.get("vad");
    ui.vad.disabled = model.get("mode") === "push_to_talk";
    ui.setVoices(model.get("voices"), model.get("voice"));
    ui.voice.disabled = Boolean(model.get("voice_locked"));
    ui.voice.title = model.get("voice_locked") ? "The voice cannot change once the model has spoken" : "";
    const c = model.get("mic_constraints") ?? {};
    ui.echo.checked = c.echoCancellation !== false;
    ui.noise.checked = c.noiseSuppression !== false;
    ui.agc.checked = c.autoGainControl !== false;
    ui.bargeIn.checked = Boolean(model.get("barge_in"));
    ui.transcribe.checked = Boolean(model.get("transcribe"));
    ui.prebuffer.value = String(model.get("prebuffer_ms"));
    ui.device.value = model.get("mic_device") ?? "";
    // a browser-side error is shown by the view that had it (with its steps), not a second time here
    const lastError = model.get("last_error") ?? "";
    ui.setError(lastError.startsWith("browser: ") ? "" : lastError);
    refreshControls();
  }

  // -- audio engine (owner only) --------------------------------------------------------------------
  function reportError(/** @type {string} */ message) {
    debug.errors.push(message);
    ui.setNotice(message);
    comm.send("client_error", { message });
  }

  async function startMic() {
    if (!engine || ended) return;
    try {
      await engine.startMic();
      ui.setMicError("");
      const mics = await engine.microphones();
      ui.setDevices(mics, model.get("mic_device") ?? "");
    } catch (err) {
      // one message, with what to do, and a Retry button (the kernel's copy of it is not shown again)
      const text = micErrorText(err);
      debug.errors.push(text);
      ui.setMicError(text);
      comm.send("client_error", { message: text });
    }
    refreshControls();
  }

  function startEngine() {
    if (engine || disposed || ended) return;
    engine = new AudioEngine({
      prebufferMs: model.get("prebuffer_ms"),
      maxPrebufferMs: model.get("prebuffer_max_ms"),
      chunkMs: model.get("chunk_ms"),
      constraints: model.get("mic_constraints") ?? {},
      deviceId: model.get("mic_device") ?? "",
      muted: Boolean(model.get("muted")),
      onMicChunk: (pcm, postedAt) => {
        if (!micGateOpen()) return;
        if (postedAt !== undefined) trace(["mic", micOffset, pcm.length, postedAt]); // bench hook
        micOffset += pcm.length;
        pacer.push(pcm);
      },
      micDirect: (port) => { // with the link's socket in a worker, mic chunks go out from there
        const ws = link.ws;
        if (!(ws instanceof WorkerSocket)) return false;
        ws.onmicsent = onMicSent;
        ws.attachMic(port);
        updateGate();
        debug.micPath = "worker";
        return true;
      },
      onMicLevel: (level) => ui.setMeter(/** @type {HTMLElement} */ (root.querySelector("[data-testid=rtnb-mic-level]")),
        micLevel.update(level)),
      onPlayer: (s) => {
        ui.setMeter(/** @type {HTMLElement} */ (root.querySelector("[data-testid=rtnb-out-level]")), outLevel.update(s.level));
        debug.playerState = s.state;
        debug.bufferedMs = s.buffered_ms;
        debug.underruns = s.underruns;
        debug.prebufferMs = s.prebuffer_ms;
        if (engine) for (const [item, n] of engine.player.played) debug.samplesPlayed[item] = n;
        if (playing !== s.playing) {
          playing = s.playing;
          status.dispatch(playing ? "playing" : "idle");
        }
      },
      rtc: newCall,
      onRtcFailed: (err) => {
        rtcFallback = String(err?.message ?? err);
        debug.rtcFallback = rtcFallback;
        ui.setNotice(`WebRTC did not connect (${rtcFallback}): the audio goes through the kernel`);
        refreshControls();
      },
      onState: (state) => {
        debug.ctxState = state;
        root.dataset.ctxState = state;
        status.dispatch(state === "running" ? "resumed" : "suspended");
        refreshControls();
      },
    });
    debug.ctxState = engine.ctx.state;
    root.dataset.ctxState = engine.ctx.state;
    if (engine.suspended) status.dispatch("suspended");
    attachPlayer();
    engine.player.ready.catch((err) => reportError(`Audio output: ${err?.message ?? err}`));
    if (model.get("autostart")) startMic();
    refreshControls();
  }

  /** Whether mic audio goes to the kernel now: this view owns audio, and push-to-talk, if on, is held. */
  function micGateOpen() {
    return owner && ready && !ended && (model.get("mode") !== "push_to_talk" || pttHeld);
  }

  function updateGate() {
    if (link.ws instanceof WorkerSocket) link.ws.setGate(micGateOpen(), view);
  }

  /** @param {{seq: number, samples: number, at?: number}} note a mic chunk the link's worker sent */
  function onMicSent(note) {
    if (note.at !== undefined) trace(["mic", micOffset, note.samples, note.at]); // bench hook
    micOffset += note.samples;
    debug.micMessages += 1;
    debug.micSamplesSent += note.samples;
    debug.micChunksSent += 1;
  }

  /** With the link's socket in a worker, the kernel's audio goes from there straight to the player. */
  function attachPlayer() {
    const ws = link.ws;
    if (!engine || captions || !(ws instanceof WorkerSocket)) return; // caption mode plays nothing
    const port = engine.player.directPort();
    if (port) ws.attachPlayer(port);
    debug.audioPath = port ? "worker" : "page";
  }

  function stopEngine() {
    if (link.ws instanceof WorkerSocket) {
      link.ws.setGate(false, view);
      link.ws.attachPlayer(null);
    }
    debug.audioPath = debug.micPath = "page";
    pttUp();
    engine?.close();
    engine = null;
    if (playing) status.dispatch("idle");
    playing = false;
    pacer.dispose();
    ui.setMeter(/** @type {HTMLElement} */ (root.querySelector("[data-testid=rtnb-mic-level]")), 0);
    ui.setMeter(/** @type {HTMLElement} */ (root.querySelector("[data-testid=rtnb-out-level]")), 0);
  }

  /** @param {boolean} mine */
  function setOwner(mine) {
    owner = mine;
    debug.owner = mine;
    const g = /** @type {any} */ (globalThis).__realtime_nb_debug?.[key];
    if (g && mine) g.owner = debug;
    else if (g && g.owner === debug) g.owner = null;
    if (mine && !ended) startEngine();
    else stopEngine();
    refreshControls();
  }

  // -- push-to-talk ---------------------------------------------------------------------------------
  function pttDown() {
    if (pttHeld || !owner || ended || model.get("mode") !== "push_to_talk") return;
    if (engine && !engine.micOn) startMic();
    pttHeld = true;
    comm.send("ptt", { down: true });
    status.dispatch("speech_started");
    refreshControls();
  }

  function pttUp() {
    if (!pttHeld) return;
    pacer.flush(); // the last audio goes before the release, which commits
    pttHeld = false;
    updateGate();
    comm.send("ptt", { down: false });
    status.dispatch("speech_stopped");
    refreshControls();
  }

  // -- kernel messages ------------------------------------------------------------------------------
  // Transcript and event-log updates touch the DOM: they are applied at the next frame, all at once, so
  // that the audio message the kernel sends right after one is handed to the player without waiting.
  /** @type {any[]} */
  let updates = [];
  let updateTimer = 0;
  function applyUpdates() {
    updateTimer = 0;
    const batch = updates;
    updates = [];
    if (disposed) return;
    for (const msg of batch) {
      if (msg.entries || msg.order) {
        ui.transcript.apply(msg);
        captions?.render(ui.transcript.model);
      }
      if (msg.events) {
        ui.eventLog.add(msg.events);
        feedServer(msg.events);
      }
    }
  }

  /** The server's events, in order, to the status machine. @param {any[][]} rows compact log rows */
  function feedServer(rows) {
    for (const row of rows) {
      if (row[1] !== "received") continue;
      const type = row[2];
      if (!owner) { // no player here: the server's audio stream stands for it
        if (type === "response.output_audio.delta") status.dispatch("playing");
        else if (type === "response.output_audio.done" || type === "response.done") status.dispatch("idle");
      }
      status.server(type);
    }
  }
  comm.on("update", (msg) => {
    updates.push(msg);
    if (updateTimer) return;
    // a hidden tab gets no animation frames: a (throttled) timer still drains the queue
    updateTimer = document.hidden ? setTimeout(applyUpdates, 50) : requestAnimationFrame(applyUpdates);
  });
  comm.on("audio", (msg, buffers) => {
    if (captions) return; // caption mode plays nothing
    if (msg.direct) { // the link's worker already gave it to the player: only count it
      const before = debug.samplesReceived[msg.item_id] ?? 0;
      if (traceOn()) trace(["in", msg.item_id, before, msg.samples, msg.at]); // bench hook
      debug.samplesReceived[msg.item_id] = before + msg.samples;
      engine?.player.noteDirect(msg.item_id, msg.samples);
      return;
    }
    if (!engine || !buffers.length) return;
    const pcm = int16FromBytes(buffers[0]);
    const before = debug.samplesReceived[msg.item_id] ?? 0;
    if (traceOn()) trace(["in", msg.item_id, before, pcm.length, wallMs()]); // bench hook
    debug.samplesReceived[msg.item_id] = before + pcm.length;
    engine.player.push(msg.item_id, pcm);
  });
  comm.on("audio_end", (msg) => {
    if (!msg.direct) engine?.player.end(msg.item_id);
  });
  comm.on("interrupt", async () => {
    if (traceOn()) trace(["interrupt_msg", wallMs()]); // bench hook
    debug.interrupts += 1;
    const r = engine ? await engine.player.interrupt() : { item_id: null, played_samples: 0 };
    debug.lastInterrupt = r;
    if (r.item_id) debug.samplesPlayed[r.item_id] = r.played_samples;
    return r;
  });
  comm.on("owner", (msg) => {
    if (!ready || ended) return;
    if (msg.owner === null && !owner) claim(false);
    else setOwner(msg.owner === view);
  });
  comm.on("probe", () => ({ alive: true, owner })); // a newer view asks whether this one still lives
  comm.on("truncated", (msg) => {
    debug.truncates += 1;
    debug.lastTruncate = msg;
  });
  comm.on("call_ended", (msg) => { // the call ended by itself (the kernel is on its way back to the relay)
    const call = engine?.call;
    if (!call) return;
    if (call.on) call.options.onEnded?.(msg.reason ?? "the call ended");
    else call.close(msg.reason ?? "the call ended"); // still connecting: its start() fails, the relay starts
  });
  comm.on("notice", (msg) => ui.setNotice(msg.text ?? ""));
  comm.on("session_closed", (msg) => end(msg.kind ?? "closed", msg.reason ?? "Session closed", Boolean(msg.can_resume)));
  comm.on("session_open", () => reopen());
  comm.on("reconnecting", () => status.dispatch("reconnecting"));
  comm.on("reconnected", () => status.dispatch("reconnected"));

  /** @param {boolean} force */
  async function claim(force) {
    try {
      const r = await comm.request("claim", { force });
      setOwner(Boolean(r?.owner));
    } catch {
      /* the kernel is gone or busy; the next owner message decides */
    }
  }

  /** @param {any} snapshot */
  function applySnapshot(snapshot) {
    if (!snapshot) return;
    updates = []; // older than the snapshot
    ui.transcript.apply({ entries: snapshot.entries ?? [], order: snapshot.order });
    captions?.render(ui.transcript.model);
    ui.eventLog.ring.rows = [];
    ui.eventLog.ring.total = 0;
    ui.eventLog.add(snapshot.events ?? []);
  }

  /** Ask the kernel for its fast path and open it; the comm carries everything when there is none. */
  async function openLink() {
    // the page's origin: the kernel lets only sockets from it use the link's token
    const info = await comm.request("link", { origin: globalThis.location?.origin ?? "" }, { timeoutMs: READY_TIMEOUT_MS });
    if (!info?.port || disposed) return;
    // the socket in a worker first (audio then bypasses this thread), else on this thread
    const impls = workersAvailable() ? [WorkerSocket, globalThis.WebSocket] : [globalThis.WebSocket];
    for (const url of linkUrls(info, view)) {
      for (const impl of impls) {
        link.WebSocketImpl = impl;
        if (await link.connect(url, LINK_TIMEOUT_MS)) return;
      }
    }
  }

  async function handshake() {
    let linkAsked = false;
    while (!disposed && !ready) {
      try {
        if (!linkAsked) {
          await openLink(); // first, so that everything after "ready" takes one path, in order
          linkAsked = true;
        }
        const r = await comm.request("ready", {}, { timeoutMs: READY_TIMEOUT_MS });
        if (disposed) return;
        ready = true;
        debug.ready = true;
        ui.setNotice("");
        transportInfo = r?.transport ?? null;
        applySnapshot(r?.snapshot);
        status.dispatch("connected");
        if (r?.closed) end(r.closed.kind ?? "closed", r.closed.reason ?? "Session closed", Boolean(r.closed.can_resume));
        setOwner(Boolean(r?.owner));
      } catch {
        if (ended?.kind === "kernel") return;
        if (!disposed) ui.setNotice("Waiting for the kernel (busy or not connected)…");
      }
    }
  }

  // -- UI events (controls.js) ----------------------------------------------------------------------
  wireControls(ui, root, model, {
    engine: () => engine, ended: () => ended, ready: () => ready, owner: () => owner, startMic,
    refresh: refreshControls, pttDown, pttUp, claim, reopen, setTrait, status, comm,
  });

  // -- model changes (controls.js) -------------------------------------------------------------------
  followModel(model, onModel, {
    engine: () => engine, ended: () => ended, ready: () => ready, end, pttUp, syncSettings, reportError, status,
    refresh: refreshControls, resizeLog: (n) => ui.eventLog.ring.resize(n),
  });

  // the real model (for its comm_live flag), where the widget manager gives it out
  /** @type {any} */
  let realModel = null;
  Promise.resolve(model.widget_manager?.get_model?.(key)).then((m) => { realModel = m ?? null; }, () => {});
  // the session's remaining time, discreetly (it ends by itself at expires_at)
  const clock = setInterval(() => {
    const at = Number(model.get("expires_at") ?? 0);
    ui.setRemaining(at > 0 && !ended ? at - Date.now() / 1000 : -1);
  }, 1000);
  const liveness = new Liveness(model, comm, {
    pingMs: PING_MS,
    linked: () => link.linked,
    report: () => (owner ? { underruns: debug.underruns, prebuffer_ms: Math.round(debug.prebufferMs) } : {}),
    commLive: () => realModel?.comm_live === true,
    onLost: (v) => { if (!disposed) end(v.kind, v.reason); },
    onSlow: (slow) => { if (!ended && ready) ui.setNotice(slow ? "The kernel is busy: a cell is running…" : ""); },
  });
  const release = () => {
    if (owner) comm.send("release");
  };
  globalThis.addEventListener?.("pagehide", release);
  const blur = () => pttUp();
  globalThis.addEventListener?.("blur", blur);

  onModel("change:transport", () => {
    rtcFallback = "";
    refreshControls();
  });
  if (model.get("muted")) status.dispatch("mute");
  syncSettings();
  handshake();

  return () => {
    disposed = true;
    liveness.stop();
    clearInterval(clock);
    globalThis.removeEventListener?.("pagehide", release);
    globalThis.removeEventListener?.("blur", blur);
    pttUp();
    release();
    stopEngine();
    for (const [name, cb] of listeners) model.off(name, cb);
    comm.dispose();
    link.dispose();
    unregister();
    el.replaceChildren();
  };
}

export default {
  /** Nothing is shared between the views of a model beyond the model itself. */
  initialize() {
    return () => {};
  },
  render,
};
