// The widget's DOM: status bar, meters, controls, settings, transcript, event log.
// No audio and no kernel here: widget.js wires these elements to the engine and the model.
// Every element a test may need carries a stable data-testid (see the README of tests/browser).
import { EventLogView } from "./eventlog.js";
import { TranscriptView } from "./transcript.js";
import { meterFraction } from "./pcm.js";
import { LABELS } from "./status.js";

export const MODES = [
  ["hands_free", "Hands-free"],
  ["push_to_talk", "Push-to-talk"],
  ["manual", "VAD, manual responses"],
];

export const VADS = [
  ["server_vad", "Server VAD"],
  ["semantic_vad", "Semantic VAD"],
];

/**
 * A tiny element builder.
 * @param {string} tag
 * @param {Record<string, any>} [attrs] `testid` sets data-testid, `cls` the class, `on*` listeners
 * @param {Array<Node | string | null | undefined>} [children]
 */
export function h(tag, attrs = {}, children = []) {
  const n = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "testid") n.setAttribute("data-testid", v);
    else if (k === "cls") n.className = v;
    else if (k.startsWith("on") && typeof v === "function") n.addEventListener(k.slice(2), v);
    else if (k === "text") n.textContent = v;
    else n.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children) if (c !== null && c !== undefined) n.append(c);
  return n;
}

/**
 * @param {Array<string[]>} options [value, label] pairs
 * @param {Record<string, any>} attrs
 */
function select(options, attrs) {
  return /** @type {HTMLSelectElement} */ (h("select", attrs, options.map(([v, label]) => h("option", { value: v, text: label }))));
}

/** @param {Record<string, any>} attrs */
function input(attrs) {
  return /** @type {HTMLInputElement} */ (h("input", attrs));
}

/** @param {string} testid @param {string} label */
function meter(testid, label) {
  return h("div", { cls: "rtnb-meter", testid, title: label, role: "meter", "aria-label": label,
    "aria-valuemin": 0, "aria-valuemax": 1 }, [h("div", { cls: "rtnb-meter-fill" })]);
}

/**
 * Build the widget's DOM inside `root`.
 * @param {HTMLElement} root
 * @param {{logSize: number, fetchEvent?: (index: number) => Promise<any>}} options
 */
export function createUI(root, { logSize, fetchEvent }) {
  const pill = h("span", { cls: "rtnb-pill", testid: "rtnb-status", "data-status": "connecting", role: "status",
    "aria-live": "polite" }, [h("span", { cls: "rtnb-dot" }), h("span", { cls: "rtnb-pill-label", text: "Connecting" })]);
  const error = h("span", { cls: "rtnb-error", testid: "rtnb-error", hidden: true });
  // which transport carries the audio: "webrtc" (the browser's peer connection) or "relay" (the kernel)
  const transportLabel = h("span", { cls: "rtnb-transport", testid: "rtnb-transport" });
  const remaining = h("span", { cls: "rtnb-remaining", testid: "rtnb-remaining", hidden: true,
    title: "time left before the server ends the session" });
  const dismiss = h("button", { cls: "rtnb-icon", testid: "rtnb-error-dismiss", title: "Dismiss", text: "×",
    hidden: true, type: "button" });
  const micMeter = meter("rtnb-mic-level", "Microphone level");
  const outMeter = meter("rtnb-out-level", "Output level");
  const startButton = h("button", { cls: "rtnb-btn rtnb-primary", testid: "rtnb-start", type: "button",
    text: "Start talking", title: "Opens the microphone (the browser asks first) and turns the sound on", hidden: true });
  const micButton = h("button", { cls: "rtnb-btn", testid: "rtnb-mic-button", type: "button", text: "Stop mic",
    hidden: true });
  const muteButton = h("button", { cls: "rtnb-btn", testid: "rtnb-mute", type: "button", text: "Mute",
    "aria-pressed": "false" });
  const pttButton = h("button", { cls: "rtnb-btn rtnb-ptt", testid: "rtnb-ptt", type: "button", hidden: true,
    title: "Hold (or hold the space bar) to talk", text: "Hold to talk" });
  const enableAudio = h("button", { cls: "rtnb-btn rtnb-primary", testid: "rtnb-enable-audio", type: "button",
    hidden: true, text: "Enable audio", title: "The browser paused audio until you interact with the page" });
  const stopReply = h("button", { cls: "rtnb-btn", testid: "rtnb-stop-reply", type: "button", hidden: true,
    text: "Stop reply", title: "Stop the reply here (Esc): the model keeps only what you heard" });
  const transcribe = input({ type: "checkbox", testid: "rtnb-transcribe" });
  const transcribeLabel = h("label", { cls: "rtnb-toggle", title: "Turn input transcription on: your words appear in the transcript" },
    [transcribe, " show my words"]);
  const settingsToggle = h("button", { cls: "rtnb-icon", testid: "rtnb-settings-toggle", type: "button",
    title: "Settings", "aria-expanded": "false", text: "⚙" });

  const mode = select(MODES, { testid: "rtnb-mode" });
  const vad = select(VADS, { testid: "rtnb-vad" });
  const voice = select([], { testid: "rtnb-voice" });
  const device = select([["", "Default microphone"]], { testid: "rtnb-device" });
  const echo = input({ type: "checkbox", testid: "rtnb-echo-cancellation" });
  const noise = input({ type: "checkbox", testid: "rtnb-noise-suppression" });
  const agc = input({ type: "checkbox", testid: "rtnb-auto-gain" });
  const bargeIn = input({ type: "checkbox", testid: "rtnb-barge-in" });
  const prebuffer = input({ type: "number", min: 0, max: 2000, step: 20, testid: "rtnb-prebuffer" });
  /** @param {string} label @param {HTMLElement} control */
  const field = (label, control) => h("label", { cls: "rtnb-field" }, [h("span", { text: label }), control]);
  const settings = h("div", { cls: "rtnb-settings", testid: "rtnb-settings", hidden: true }, [
    field("Turns", mode), field("Detection", vad), field("Voice", voice), field("Microphone", device),
    field("Pre-buffer (ms)", prebuffer),
    h("div", { cls: "rtnb-checks" }, [
      h("label", {}, [echo, " Echo cancellation"]), h("label", {}, [noise, " Noise suppression"]),
      h("label", {}, [agc, " Auto gain"]),
      h("label", { title: "Stop the reply when you start speaking" }, [bargeIn, " Barge-in"]),
    ]),
  ]);

  const note = h("div", { cls: "rtnb-note", testid: "rtnb-note", hidden: true }, [
    h("span", { text: "Audio is active in another view of this widget." }),
    h("button", { cls: "rtnb-btn", testid: "rtnb-claim", type: "button", text: "Use audio here" }),
  ]);
  const notice = h("div", { cls: "rtnb-notice", testid: "rtnb-notice", hidden: true });
  const micErrorText = h("span", { testid: "rtnb-mic-error-text" });
  const micRetry = h("button", { cls: "rtnb-btn rtnb-primary", testid: "rtnb-mic-retry", type: "button", text: "Retry" });
  const micError = h("div", { cls: "rtnb-notice rtnb-mic-error", testid: "rtnb-mic-error", role: "alert", hidden: true },
    [micErrorText, micRetry]);
  const endReason = h("span", { cls: "rtnb-end-reason", testid: "rtnb-end-reason" });
  const reconnect = h("button", { cls: "rtnb-btn rtnb-primary", testid: "rtnb-reconnect", type: "button",
    text: "Reconnect", hidden: true });
  const end = h("div", { cls: "rtnb-end", testid: "rtnb-end", role: "alert", hidden: true }, [endReason, reconnect]);

  const textInput = input({ type: "text", cls: "rtnb-text-input", testid: "rtnb-text-input", placeholder: "Type a message…",
    "aria-label": "Type a message", maxlength: 4000 });
  const send = /** @type {HTMLButtonElement} */ (h("button", { cls: "rtnb-btn", testid: "rtnb-send", type: "submit", text: "Send" }));
  // JupyterLab's keyboard shortcuts (Enter, arrows, letters in command mode) skip elements with this attribute
  const composer = /** @type {HTMLFormElement} */ (h("form", { cls: "rtnb-composer", testid: "rtnb-composer",
    "data-lm-suppress-shortcuts": "true" }, [textInput, send]));
  const list = h("div", { cls: "rtnb-transcript", testid: "rtnb-transcript", "aria-live": "polite" });
  const empty = h("div", { cls: "rtnb-empty", testid: "rtnb-empty", text: "Say something — the conversation appears here." });
  const oobList = h("div", { cls: "rtnb-oob-list" });
  const oob = h("section", { cls: "rtnb-oob", testid: "rtnb-oob", hidden: true }, [
    h("div", { cls: "rtnb-section-title", text: "Out-of-band results" }), oobList,
  ]);

  const log = h("details", { cls: "rtnb-log", testid: "rtnb-log" }, [
    h("summary", {}, ["Event log ", h("span", { cls: "rtnb-count", "data-role": "count", text: "0" })]),
    h("div", { cls: "rtnb-log-tools" }, [
      h("input", { type: "search", placeholder: "filter by type", testid: "rtnb-log-filter" }),
      h("label", {}, [h("input", { type: "checkbox", testid: "rtnb-log-hide-streams", checked: true }), " hide deltas"]),
    ]),
    h("ol", { cls: "rtnb-log-list", testid: "rtnb-log-list" }),
  ]);

  const container = h("div", { cls: "rtnb", testid: "rtnb-root", tabindex: 0 }, [
    h("div", { cls: "rtnb-bar" }, [
      pill, transportLabel, remaining, error, dismiss, h("span", { cls: "rtnb-spacer" }),
      h("span", { cls: "rtnb-meters" }, [h("span", { cls: "rtnb-meter-label", text: "mic" }), micMeter,
        h("span", { cls: "rtnb-meter-label", text: "out" }), outMeter]),
      startButton, enableAudio, stopReply, pttButton, micButton, muteButton, transcribeLabel, settingsToggle,
    ]),
    end, micError, settings, note, notice,
    h("div", { cls: "rtnb-body" }, [h("div", { cls: "rtnb-main" }, [empty, list]), oob]),
    composer,
    log,
  ]);
  root.replaceChildren(container);

  settingsToggle.addEventListener("click", () => {
    settings.hidden = !settings.hidden;
    settingsToggle.setAttribute("aria-expanded", String(!settings.hidden));
  });

  const transcript = new TranscriptView(list, oobList, oob, empty);
  const eventLog = new EventLogView(log, logSize, { fetch: fetchEvent });

  return {
    container, pill, error, dismiss, micRetry, startButton, stopReply, transcribe, composer, textInput, send, micButton, muteButton, end, reconnect, pttButton, enableAudio, settingsToggle,
    mode, vad, voice, device, echo, noise, agc, bargeIn, prebuffer, note, notice, transcript, eventLog,
    claim: /** @type {HTMLButtonElement} */ (note.querySelector("[data-testid=rtnb-claim]")),

    /** @param {string} status @param {string} [detail] */
    setStatus(status, detail = "") {
      pill.dataset.status = status;
      const label = /** @type {HTMLElement} */ (pill.querySelector(".rtnb-pill-label"));
      label.textContent = (LABELS[status] ?? status) + (detail ? ` · ${detail}` : "");
    },

    /**
     * The end of the session (or of the kernel): why, and a Reconnect button where it can go on.
     * @param {string} reason empty hides it
     * @param {boolean} [canResume]
     */
    setEnd(reason, canResume = false) {
      end.hidden = !reason;
      endReason.textContent = reason;
      reconnect.hidden = !canResume;
      (/** @type {HTMLButtonElement} */ (reconnect)).disabled = false;
    },

    /** @param {string} transport "webrtc" | "relay" */
    setTransport(transport) {
      transportLabel.dataset.transport = transport;
      transportLabel.textContent = transport === "webrtc" ? "WebRTC" : "relay";
      transportLabel.title = transport === "webrtc"
        ? "The mic and the voice go straight between this page and the model (the kernel holds the call's sideband)"
        : "The mic and the voice go through the kernel";
    },

    /** @param {number} seconds left in the session (< 0 hides it) */
    setRemaining(seconds) {
      remaining.hidden = !(seconds >= 0);
      if (seconds < 0) return;
      const m = Math.floor(seconds / 60);
      remaining.textContent = m >= 1 ? `${m} min left` : `${Math.floor(seconds)} s left`;
      remaining.classList.toggle("rtnb-soon", seconds < 120);
    },

    /** @param {string} text the microphone's failure and what to do (empty hides it) */
    setMicError(text) {
      micError.hidden = !text;
      micErrorText.textContent = text;
    },

    /** @param {string} message */
    setError(message) {
      error.hidden = dismiss.hidden = !message;
      error.textContent = message;
      error.title = message;
    },

    /** @param {string} text empty hides it */
    setNotice(text) {
      notice.hidden = !text;
      notice.textContent = text;
    },

    /** @param {HTMLElement} m @param {number} level RMS */
    setMeter(m, level) {
      const f = meterFraction(level);
      (/** @type {HTMLElement} */ (m.firstChild)).style.transform = `scaleX(${f.toFixed(3)})`;
      m.setAttribute("aria-valuenow", f.toFixed(2));
    },

    /** @param {string[]} voices @param {string} current */
    setVoices(voices, current) {
      const all = current && !voices.includes(current) ? [current, ...voices] : voices;
      voice.replaceChildren(...all.map((v) => h("option", { value: v, text: v })));
      voice.value = current;
    },

    /** @param {{id: string, label: string}[]} mics @param {string} current */
    setDevices(mics, current) {
      device.replaceChildren(h("option", { value: "", text: "Default microphone" }),
        ...mics.filter((m) => m.id && m.id !== "default").map((m, i) => h("option", { value: m.id, text: m.label || `Microphone ${i + 1}` })));
      device.value = current;
    },
  };
}
