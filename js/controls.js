// The widget's controls wired to what they do: buttons, the text box, keys (push-to-talk's space bar,
// Esc to stop the reply), the settings. The actions and the view's state come from widget.js (`act`);
// nothing here holds state of its own.

const RECONNECT_TIMEOUT_MS = 30000;

/**
 * @typedef {{engine: () => import("./engine.js").AudioEngine | null, ended: () => {kind: string} | null,
 *   ready: () => boolean, owner: () => boolean, startMic: () => void, refresh: () => void,
 *   pttDown: () => void, pttUp: () => void, claim: (force: boolean) => void, reopen: () => void,
 *   setTrait: (name: string, value: any) => void, status: import("./status.js").StatusMachine,
 *   comm: import("./comm.js").Comm}} Actions
 */

/** A space bar press that is push-to-talk's (not typing in a field). @param {KeyboardEvent} e */
export function isSpaceForUs(e) {
  const t = /** @type {HTMLElement} */ (e.target);
  return e.code === "Space" && !["INPUT", "SELECT", "TEXTAREA"].includes(t?.tagName);
}

/**
 * @param {ReturnType<typeof import("./ui.js").createUI>} ui
 * @param {HTMLElement} root
 * @param {{get: (k: string) => any}} model
 * @param {Actions} a
 */
export function wireControls(ui, root, model, a) {
  const live = () => !a.ended() && a.ready();
  // The mic opens on this click only (the browser asks for permission then), and the same click lets
  // the AudioContext start (autoplay policy).
  for (const button of [ui.startButton, ui.micRetry]) {
    button.addEventListener("click", () => {
      const engine = a.engine();
      if (!engine || a.ended()) return;
      engine.resume();
      a.startMic();
    });
  }
  ui.micButton.addEventListener("click", () => {
    a.engine()?.stopMic();
    a.refresh();
  });
  ui.reconnect.addEventListener("click", async () => {
    const button = /** @type {HTMLButtonElement} */ (ui.reconnect);
    button.disabled = true;
    a.status.dispatch("reconnecting");
    try {
      await a.comm.request("reconnect", {}, { timeoutMs: RECONNECT_TIMEOUT_MS });
      a.reopen();
    } catch (err) {
      button.disabled = false;
      const ended = a.ended();
      if (ended) a.status.dispatch(ended.kind === "lost" ? "lost" : "closed");
      ui.setNotice(`Reconnect failed: ${/** @type {Error} */ (err)?.message ?? err}`);
    }
  });
  ui.muteButton.addEventListener("click", () => a.setTrait("muted", !model.get("muted")));
  const stopReply = () => {
    if (live()) a.comm.send("stop");
  };
  ui.stopReply.addEventListener("click", stopReply);
  ui.transcribe.addEventListener("change", () => a.setTrait("transcribe", ui.transcribe.checked));
  const sendText = () => {
    const text = ui.textInput.value.trim();
    if (!text || !live()) return;
    a.comm.send("text", { text });
    ui.textInput.value = "";
    a.engine()?.resume(); // a click or Enter is a gesture: the reply can be heard
  };
  ui.composer.addEventListener("submit", (e) => {
    e.preventDefault();
    sendText();
  });
  ui.textInput.addEventListener("keydown", (e) => {
    e.stopPropagation(); // typing is not the notebook's business (nor push-to-talk's space bar)
    if (e.key === "Enter" && !e.isComposing) {
      e.preventDefault();
      sendText();
    }
  });
  ui.enableAudio.addEventListener("click", () => a.engine()?.resume());
  ui.claim.addEventListener("click", () => a.claim(true));
  ui.dismiss.addEventListener("click", () => a.setTrait("last_error", ""));
  ui.pttButton.addEventListener("pointerdown", (e) => {
    e.preventDefault();
    a.engine()?.resume();
    a.pttDown();
  });
  for (const name of ["pointerup", "pointerleave", "pointercancel"]) ui.pttButton.addEventListener(name, a.pttUp);
  root.addEventListener("keydown", (e) => {
    if (e.key === "Escape" && !ui.stopReply.hidden) {
      e.preventDefault();
      stopReply();
      return;
    }
    if (!isSpaceForUs(e) || model.get("mode") !== "push_to_talk" || !a.owner()) return;
    e.preventDefault();
    e.stopPropagation(); // a notebook would otherwise scroll or run its own shortcut
    if (!e.repeat) a.pttDown();
  });
  root.addEventListener("keyup", (e) => {
    if (!isSpaceForUs(e)) return;
    e.preventDefault();
    a.pttUp();
  });
  ui.mode.addEventListener("change", () => a.setTrait("mode", ui.mode.value));
  ui.vad.addEventListener("change", () => a.setTrait("vad", ui.vad.value));
  ui.voice.addEventListener("change", () => a.setTrait("voice", ui.voice.value));
  ui.device.addEventListener("change", () => a.setTrait("mic_device", ui.device.value));
  ui.bargeIn.addEventListener("change", () => a.setTrait("barge_in", ui.bargeIn.checked));
  ui.prebuffer.addEventListener("change", () => {
    const ms = Number(ui.prebuffer.value);
    if (Number.isFinite(ms) && ms >= 0) a.setTrait("prebuffer_ms", Math.round(ms));
  });
  const constraintsChanged = () => a.setTrait("mic_constraints", {
    echoCancellation: ui.echo.checked, noiseSuppression: ui.noise.checked, autoGainControl: ui.agc.checked,
  });
  for (const box of [ui.echo, ui.noise, ui.agc]) box.addEventListener("change", constraintsChanged);
}

/**
 * Model changes (from the kernel, another view, or Python) reflected in this view.
 * @param {{get: (k: string) => any}} model
 * @param {(name: string, cb: () => void) => void} onModel subscribes (and unsubscribes at cleanup)
 * @param {{engine: () => import("./engine.js").AudioEngine | null, ended: () => any, ready: () => boolean,
 *   end: (kind: string, reason: string) => void, pttUp: () => void, syncSettings: () => void,
 *   reportError: (message: string) => void, status: import("./status.js").StatusMachine, refresh: () => void,
 *   resizeLog: (n: number) => void}} a
 */
export function followModel(model, onModel, a) {
  onModel("change:status", () => { // the kernel's own view of it: only its "closed" matters here
    if (model.get("status") === "closed" && a.ready() && !a.ended()) a.end("closed", "Session closed");
  });
  onModel("change:last_error", a.syncSettings);
  for (const name of ["mode", "vad", "voice", "voices", "voice_locked", "barge_in", "transcribe"]) {
    onModel(`change:${name}`, a.syncSettings);
  }
  onModel("change:mode", () => {
    if (model.get("mode") !== "push_to_talk") a.pttUp();
  });
  onModel("change:muted", () => {
    a.engine()?.setMuted(Boolean(model.get("muted")));
    a.status.dispatch(model.get("muted") ? "mute" : "unmute");
    a.refresh();
  });
  onModel("change:prebuffer_ms change:prebuffer_max_ms", () => {
    a.engine()?.player.setPrebuffer(model.get("prebuffer_ms"), model.get("prebuffer_max_ms"));
    a.syncSettings();
  });
  const micFailed = (/** @type {any} */ e) => a.reportError(`Microphone: ${e?.message ?? e}`);
  onModel("change:mic_constraints", () => {
    a.engine()?.reconfigure({ constraints: model.get("mic_constraints") ?? {} }).catch(micFailed);
    a.syncSettings();
  });
  onModel("change:mic_device", () => {
    a.engine()?.reconfigure({ deviceId: model.get("mic_device") ?? "" }).catch(micFailed);
    a.syncSettings();
  });
  onModel("change:event_log_size", () => a.resizeLog(model.get("event_log_size")));
}
