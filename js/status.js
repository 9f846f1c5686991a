// The status pill as one state machine: a table of (state, event) -> next state, fed by the server's
// events (as the event log's rows bring them) and by what this view knows locally (its mic, its
// player, its AudioContext, the session's lifecycle). Pure logic, `node --test`ed on the awkward
// orders (tests/js/status.test.mjs).
//
// A few facts travel beside the state, because the right next state depends on them: whether the mic
// is on and muted, whether audio is coming out, whether a response is in progress, whether the user is
// speaking (VAD). The table reads them through guards; the facts themselves are updated before the
// table's row is applied, so every row sees the world as it is after the event. An event the current
// state has no row for is ignored altogether (a stale server event before the handshake, anything
// after the end).

export const STATES = /** @type {const} */ ([
  "connecting", "ready", "listening", "user_speaking", "thinking", "speaking", "audio_paused", "muted",
  "transcribing", "reconnecting", "closed", "error",
]);

export const LABELS = /** @type {Record<string, string>} */ ({
  connecting: "Connecting",
  ready: "Ready",
  listening: "Listening",
  user_speaking: "You are speaking",
  thinking: "Thinking",
  speaking: "Speaking",
  audio_paused: "Audio paused",
  muted: "Muted",
  transcribing: "Transcribing",
  reconnecting: "Reconnecting",
  closed: "Closed",
  error: "Error",
});

/**
 * @typedef {{micOn: boolean, muted: boolean, playing: boolean, suspended: boolean, responding: boolean,
 *   userSpeaking: boolean, ended: boolean, transcribing: number}} Facts
 * @typedef {string | ((f: Facts) => string)} Next
 */

/** Where a live session rests when nothing is happening: mic off → ready, muted, or listening. */
function rest(/** @type {Facts} */ f) {
  if (!f.micOn) return "ready";
  return f.muted ? "muted" : "listening";
}

/** The state that follows from the facts alone (after a local change, or when a turn ends). */
function settle(/** @type {Facts} */ f) {
  if (f.userSpeaking && f.micOn && !f.muted) return "user_speaking";
  if (f.playing) return f.suspended ? "audio_paused" : "speaking";
  if (f.responding) return "thinking";
  if (f.transcribing > 0) return "transcribing"; // caption mode: utterances committed, their text not final
  return rest(f);
}

/** Events any live state reacts to the same way. */
const LIVE = /** @type {Record<string, Next>} */ ({
  speech_started: (f) => (f.micOn && !f.muted ? "user_speaking" : settle(f)),
  speech_stopped: settle,
  response_created: settle,
  response_done: settle,
  transcription_started: settle,
  transcription_done: settle,
  playing: settle,
  idle: settle,
  suspended: settle,
  resumed: settle,
  mic_on: settle,
  mic_off: settle,
  mute: settle,
  unmute: settle,
  reconnecting: "reconnecting",
  closed: "closed",
  lost: "error",
});

/**
 * The table. A missing row means the event is ignored in that state. Rows that differ from `LIVE`
 * are the point of the machine:
 * - `user_speaking` + `response_done`: the response the user talked over ends after their speech
 *   started; they are still speaking (`settle` keeps them there while the VAD says so).
 * - `connecting` ignores conversation events until the view is `connected`.
 * - `closed` (the session ended) and `error` (the connection or the kernel was lost) are final: only
 *   `reconnecting` / `reopened` (a reconnect) leave them.
 * @type {Record<string, Record<string, Next>>}
 */
export const TABLE = {
  // local facts may change before the handshake (a muted widget); they count once connected
  connecting: { connected: settle, mute: "connecting", unmute: "connecting", closed: "closed", lost: "error" },
  ready: LIVE,
  listening: LIVE,
  user_speaking: LIVE,
  thinking: LIVE,
  speaking: LIVE,
  audio_paused: LIVE,
  muted: LIVE,
  transcribing: LIVE,
  // the session's own reconnect keeps the mic as it was; a Reconnect click after the end starts afresh
  // (every live event keeps the facts up to date meanwhile)
  reconnecting: { ...Object.fromEntries(Object.keys(LIVE).map((e) => [e, "reconnecting"])),
    reconnected: settle, reopened: settle, closed: "closed", lost: "error" },
  closed: { reopened: settle, reconnecting: "reconnecting" },
  error: { reopened: settle, reconnecting: "reconnecting" },
};

/** The session is over: nothing plays, nothing listens. */
function end(/** @type {Facts} */ f) {
  Object.assign(f, { ended: true, playing: false, micOn: false, userSpeaking: false, responding: false,
    transcribing: 0 });
}

/** How an event changes the facts (before the table picks the next state). */
const FACTS = /** @type {Record<string, (f: Facts) => void>} */ ({
  speech_started: (f) => { f.userSpeaking = true; },
  speech_stopped: (f) => { f.userSpeaking = false; },
  response_created: (f) => { f.responding = true; },
  response_done: (f) => { f.responding = false; },
  transcription_started: (f) => { f.transcribing += 1; },
  transcription_done: (f) => { f.transcribing = Math.max(0, f.transcribing - 1); },
  playing: (f) => { f.playing = true; },
  idle: (f) => { f.playing = false; },
  suspended: (f) => { f.suspended = true; },
  resumed: (f) => { f.suspended = false; },
  mic_on: (f) => { f.micOn = true; },
  // no audio goes to the server any more: its VAD will not tell us the speech stopped
  mic_off: (f) => { f.micOn = false; f.userSpeaking = false; },
  mute: (f) => { f.muted = true; f.userSpeaking = false; },
  unmute: (f) => { f.muted = false; },
  closed: end,
  lost: end,
  reopened: (f) => { f.ended = false; f.micOn = false; f.transcribing = 0; },
});

/** Server event types (the event log's `type`) → machine events. */
export const SERVER_EVENTS = /** @type {Record<string, string>} */ ({
  "input_audio_buffer.speech_started": "speech_started",
  "input_audio_buffer.speech_stopped": "speech_stopped",
  "response.created": "response_created",
  "response.done": "response_done",
});

/** Caption mode (a transcription session) also follows each utterance's transcription: committed → final. */
export const CAPTION_EVENTS = /** @type {Record<string, string>} */ ({
  ...SERVER_EVENTS,
  "input_audio_buffer.committed": "transcription_started",
  "conversation.item.input_audio_transcription.completed": "transcription_done",
  "conversation.item.input_audio_transcription.failed": "transcription_done",
});

export class StatusMachine {
  /** @param {{onChange?: (state: string, prev: string) => void, captions?: boolean}} [options] */
  constructor({ onChange = () => {}, captions = false } = {}) {
    this.state = "connecting";
    this.events = captions ? CAPTION_EVENTS : SERVER_EVENTS;
    /** @type {Facts} */
    this.facts = { micOn: false, muted: false, playing: false, suspended: false, responding: false,
      userSpeaking: false, ended: false, transcribing: 0 };
    this.onChange = onChange;
    /** the last (event, state) pairs, for debugging and the browser tests @type {Array<[string, string]>} */
    this.history = [];
  }

  /**
   * Feed one event; returns the new state.
   * @param {string} event
   */
  dispatch(event) {
    const next = TABLE[this.state]?.[event];
    const prev = this.state;
    if (next === undefined) return this.state; // not an event for this state: facts stay as they are too
    FACTS[event]?.(this.facts);
    this.state = typeof next === "function" ? next(this.facts) : next;
    this.history.push([event, this.state]);
    if (this.history.length > 200) this.history.shift();
    if (this.state !== prev) this.onChange(this.state, prev);
    return this.state;
  }

  /**
   * Feed a server event by its protocol type (others are ignored).
   * @param {string} type
   */
  server(type) {
    const event = this.events[type];
    return event ? this.dispatch(event) : this.state;
  }
}
