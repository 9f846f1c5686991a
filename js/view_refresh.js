// What the view shows, from its state: the pill (status.js's state and a hint), which controls are
// there and enabled (nothing that no longer applies once the session ended), and the settings as the
// model has them. The mic's on/off reaches the status machine from here (`feedLocal`).

/** @param {import("./view.js").View} v */
export function installRefresh(v) {
  const { model, ui, root, debug } = v;

  function refreshStatus() {
    const shown = v.status.state;
    const ptt = model.get("mode") === "push_to_talk";
    let detail = "";
    if (v.ended) detail = "";
    else if (shown === "ready" && v.owner) detail = "click Start talking";
    else if (shown === "listening" && v.owner && ptt) detail = v.pttHeld ? "recording" : "hold to talk";
    ui.setStatus(shown, detail);
    debug.status = shown;
    root.dataset.status = shown;
  }

  /** Local facts that changed since the machine last heard of them. */
  function feedLocal() {
    const micOn = Boolean(v.engine?.micOn) || (!v.owner && v.ready); // another view's mic: assume it listens
    if (micOn !== v.micWasOn) {
      v.micWasOn = micOn;
      v.status.dispatch(micOn ? "mic_on" : "mic_off");
    }
  }

  v.refreshControls = () => {
    const { ended, engine } = v;
    const ptt = model.get("mode") === "push_to_talk";
    const live = v.owner && !ended;
    const micOn = Boolean(engine?.micOn);
    ui.pttButton.hidden = !ptt || !live;
    ui.pttButton.classList.toggle("rtnb-active", v.pttHeld);
    ui.startButton.hidden = !live || micOn || !v.ready;
    ui.micButton.hidden = !live || !micOn;
    ui.muteButton.hidden = !live;
    ui.micButton.classList.toggle("rtnb-active", micOn);
    const muted = Boolean(model.get("muted"));
    ui.muteButton.textContent = muted ? "Unmute" : "Mute";
    ui.muteButton.setAttribute("aria-pressed", String(muted));
    ui.muteButton.classList.toggle("rtnb-warn", muted);
    ui.enableAudio.hidden = !(live && engine?.suspended);
    // a reply is on its way or playing: it can be stopped (from any view; the owner says what was heard)
    ui.stopReply.hidden = Boolean(ended) || !v.ready || !["thinking", "speaking", "audio_paused"].includes(v.status.state);
    ui.textInput.disabled = ui.send.disabled = Boolean(ended) || !v.ready;
    ui.transcribe.disabled = Boolean(ended);
    ui.note.hidden = v.owner || !v.ready || Boolean(ended);
    for (const c of [ui.mode, ui.vad, ui.device, ui.echo, ui.noise, ui.agc, ui.bargeIn, ui.prebuffer]) {
      c.disabled = Boolean(ended) || (c === ui.vad && ptt);
    }
    if (ended) ui.voice.disabled = true;
    // In push-to-talk the space bar is ours while the widget has focus: JupyterLab/Notebook 7 (Lumino)
    // skip their shortcuts for events from inside an element with this attribute.
    if (ptt && v.owner) root.setAttribute("data-lm-suppress-shortcuts", "true");
    else root.removeAttribute("data-lm-suppress-shortcuts");
    const transport = v.currentTransport();
    root.dataset.transport = debug.transport = transport;
    ui.setTransport(transport);
    root.dataset.owner = String(v.owner);
    root.dataset.ready = String(v.ready);
    v.updateGate();
    debug.micOn = micOn;
    feedLocal();
    refreshStatus();
  };

  v.syncSettings = () => {
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
    v.refreshControls();
  };
}
