// anywidget entry point: builds one view (view.js: the state its modules share) — the UI (ui.js), the
// kernel protocol (comm.js, link.js) and, in the one view that owns audio, the audio engine (engine.js)
// — and gives it the actions of each concern (view_*.js).
//
// Lifecycle of a view: render -> "ready" request (retried while the kernel is busy) -> the reply says
// whether this view owns audio and carries a snapshot of the transcript and the event log -> the
// owner starts the engine (the player; the mic on "Start talking", or at once with `autostart`) ->
// cleanup releases ownership, stops the tracks and closes the context.
//
// The end: when the session closes (the kernel says so: `session_closed`) or the kernel goes away
// (liveness.js: a send that throws, the link's socket dropping, no ping reply, the comm marked dead on
// a restart), the view stops the mic tracks and the player at once, disables what no longer applies,
// and shows why; a Reconnect button where the session can go on (view_lifecycle.js).
import { Comm } from "./comm.js";
import { LevelSmoother } from "./pcm.js";
import { createUI } from "./ui.js";
import { Liveness } from "./liveness.js";
import { StatusMachine } from "./status.js";
import { followModel, wireControls } from "./controls.js";
import { CaptionView } from "./captions.js";
import { newDebug, newViewId, registerDebug } from "./debug.js";
import { installLifecycle, newLink } from "./view_lifecycle.js";
import { installAudio, newPacer } from "./view_audio.js";
import { installTransport } from "./view_transport.js";
import { installRefresh } from "./view_refresh.js";
import { installMessages } from "./view_messages.js";
import "./widget.css";

const PING_MS = 2000;

/** @typedef {import("./view.js").Model} Model */

/** @param {{model: Model, el: HTMLElement}} ctx */
function render({ model, el }) {
  const id = newViewId();
  const debug = newDebug(id);
  const v = /** @type {import("./view.js").View} */ ({
    model, id, debug, engine: null, owner: false, ready: false, disposed: false, pttHeld: false, playing: false,
    ended: null, micWasOn: false, seq: 0, micOffset: 0, transportInfo: null, rtcFallback: "",
  });
  v.link = newLink(v);
  const comm = v.comm = new Comm(v.link, id, { onDead: (err) => v.liveness.sendFailed(err) });
  const ui = v.ui = createUI(el, {
    logSize: model.get("event_log_size"),
    fetchEvent: (index) => comm.request("event", { index }, { timeoutMs: 3000 }),
  });
  const key = v.key = model.get("_model_key") || id;
  const unregister = registerDebug(key, id, debug);
  const root = v.root = ui.container;
  // caption mode (a transcription session): captions, no playback, only the controls that apply
  const captions = v.captions = model.get("captions") ? new CaptionView(ui) : null;
  root.dataset.captions = String(Boolean(captions));
  root.dataset.viewId = id;
  root.dataset.link = "comm";
  /** @type {any} */ (root).__rtnb = debug;
  // for browser tests that need the engine itself (e.g. to suspend the context and see "enable audio")
  Object.defineProperty(root, "__rtnbEngine", { get: () => v.engine });

  /** @type {Array<[string, (...a: any[]) => void]>} */
  const listeners = [];
  v.onModel = (name, cb) => {
    model.on(name, cb);
    listeners.push([name, cb]);
  };
  v.setTrait = (name, value) => {
    if (v.ended?.kind === "kernel") return;
    try {
      model.set(name, value);
      model.save_changes();
    } catch (err) { // a dead comm throws here too
      v.liveness.sendFailed(/** @type {Error} */ (err));
    }
  };
  v.micLevel = new LevelSmoother();
  v.outLevel = new LevelSmoother();
  v.pacer = newPacer(v);
  // The pill is a state machine (status.js) fed by the server's events (the event log's rows), this
  // view's mic, player and AudioContext, and the session's lifecycle.
  const status = v.status = new StatusMachine({ onChange: () => v.refreshControls(), captions: Boolean(captions) });
  debug.statusHistory = status.history;

  installRefresh(v);
  installTransport(v);
  installAudio(v);
  installLifecycle(v);
  installMessages(v);

  // -- UI events and model changes (controls.js) ----------------------------------------------------
  wireControls(ui, root, model, {
    engine: () => v.engine, ended: () => v.ended, ready: () => v.ready, owner: () => v.owner, startMic: v.startMic,
    refresh: v.refreshControls, pttDown: v.pttDown, pttUp: v.pttUp, claim: v.claim, reopen: v.reopen,
    setTrait: v.setTrait, status, comm,
  });
  followModel(model, v.onModel, {
    engine: () => v.engine, ended: () => v.ended, ready: () => v.ready, end: v.end, pttUp: v.pttUp,
    syncSettings: v.syncSettings, reportError: v.reportError, status,
    refresh: v.refreshControls, resizeLog: (n) => ui.eventLog.ring.resize(n),
  });

  // the real model (for its comm_live flag), where the widget manager gives it out
  /** @type {any} */
  let realModel = null;
  Promise.resolve(model.widget_manager?.get_model?.(key)).then((m) => { realModel = m ?? null; }, () => {});
  // the session's remaining time, discreetly (it ends by itself at expires_at)
  const clock = setInterval(() => {
    const at = Number(model.get("expires_at") ?? 0);
    ui.setRemaining(at > 0 && !v.ended ? at - Date.now() / 1000 : -1);
  }, 1000);
  const liveness = v.liveness = new Liveness(model, comm, {
    pingMs: PING_MS,
    linked: () => v.link.linked,
    report: () => (v.owner ? { underruns: debug.underruns, prebuffer_ms: Math.round(debug.prebufferMs) } : {}),
    commLive: () => realModel?.comm_live === true,
    onLost: (verdict) => { if (!v.disposed) v.end(verdict.kind, verdict.reason); },
    onSlow: (slow) => { if (!v.ended && v.ready) ui.setNotice(slow ? "The kernel is busy: a cell is running…" : ""); },
  });
  const release = () => {
    if (v.owner) comm.send("release");
  };
  globalThis.addEventListener?.("pagehide", release);
  const blur = () => v.pttUp();
  globalThis.addEventListener?.("blur", blur);

  if (model.get("muted")) status.dispatch("mute");
  v.syncSettings();
  v.handshake();

  return () => {
    v.disposed = true;
    liveness.stop();
    clearInterval(clock);
    globalThis.removeEventListener?.("pagehide", release);
    globalThis.removeEventListener?.("blur", blur);
    v.pttUp();
    release();
    v.stopEngine();
    for (const [name, cb] of listeners) model.off(name, cb);
    comm.dispose();
    v.link.dispose();
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
