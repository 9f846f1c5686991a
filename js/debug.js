// The counters browser tests and benchmarks read: window.__realtime_nb_debug[model_key] (js/README.md).

export function newViewId() {
  const c = globalThis.crypto;
  return c?.randomUUID ? c.randomUUID().slice(0, 8) : Math.random().toString(36).slice(2, 10);
}

/** Counters the browser tests read (window.__realtime_nb_debug[model_key].views[view]). */
export function newDebug(/** @type {string} */ view) {
  return {
    view, ready: false, owner: false, ctxState: "none", status: "", /** @type {string | null} */ link: null,
    audioPath: "page", micPath: "page", micOn: false,
    micChunksSent: 0, micSamplesSent: 0, micMessages: 0,
    /** @type {Record<string, number>} */ samplesReceived: {},
    /** @type {Record<string, number>} */ samplesPlayed: {},
    interrupts: 0, /** @type {any} */ lastInterrupt: null, /** @type {any} */ lastTruncate: null,
    truncates: 0, underruns: 0, prebufferMs: 0, playerState: "idle", bufferedMs: 0, /** @type {string[]} */ errors: [],
    /** @type {{kind: string, reason: string, canResume: boolean} | null} */ ended: null,
    /** the status machine's (event, state) pairs @type {Array<[string, string]>} */ statusHistory: [],
    /** "webrtc" | "relay" */ transport: "relay", /** why the last call fell back to the relay */ rtcFallback: "",
    /** the webrtc call: its id, its peer connection's state, ms of voice heard on the remote track
     * @type {{callId: string | null, state: string, voiceMs: number} | null} */ rtc: null,
  };
}

/**
 * @param {string} key
 * @param {string} view
 * @param {ReturnType<typeof newDebug>} debug
 */
export function registerDebug(key, view, debug) {
  const g = /** @type {any} */ (globalThis);
  g.__realtime_nb_debug ??= {};
  const entry = (g.__realtime_nb_debug[key] ??= { views: {}, owner: null });
  entry.views[view] = debug;
  return () => {
    delete entry.views[view];
    if (entry.owner === debug) entry.owner = null;
    if (!Object.keys(entry.views).length) delete g.__realtime_nb_debug[key];
  };
}
