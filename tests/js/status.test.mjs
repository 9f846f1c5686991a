import { test } from "node:test";
import assert from "node:assert/strict";
import { LABELS, STATES, StatusMachine, TABLE } from "../../js/status.js";

/** A machine for a live, owned view with the mic on. */
function talking() {
  const m = new StatusMachine();
  m.dispatch("connected");
  m.dispatch("mic_on");
  return m;
}

/** @param {StatusMachine} m @param {string[]} events */
const run = (m, events) => events.map((e) => m.dispatch(e));

test("every state has a label and a row in the table", () => {
  for (const s of STATES) {
    assert.ok(LABELS[s], s);
    assert.ok(TABLE[s], s);
  }
  for (const row of Object.values(TABLE)) {
    for (const next of Object.values(row)) if (typeof next === "string") assert.ok(STATES.includes(/** @type {any} */ (next)), next);
  }
});

test("connecting until the handshake; ready until the mic opens", () => {
  const m = new StatusMachine();
  assert.equal(m.server("input_audio_buffer.speech_started"), "connecting"); // nothing before ready
  assert.equal(m.dispatch("connected"), "ready");
  assert.equal(m.dispatch("mic_on"), "listening");
});

test("a turn: speaking, thinking, the reply playing, listening again", () => {
  const m = talking();
  assert.deepEqual(
    ["input_audio_buffer.speech_started", "input_audio_buffer.speech_stopped", "response.created"].map((t) => m.server(t)),
    ["user_speaking", "listening", "thinking"]);
  assert.equal(m.dispatch("playing"), "speaking");
  assert.equal(m.server("response.done"), "speaking"); // the last delta came, the speaker still plays
  assert.equal(m.dispatch("idle"), "listening");
});

test("barge-in: speech_started before the cancelled response's response.done keeps 'You are speaking'", () => {
  const m = talking();
  run(m, ["response_created", "playing"]);
  assert.equal(m.state, "speaking");
  assert.equal(m.server("input_audio_buffer.speech_started"), "user_speaking");
  assert.equal(m.dispatch("idle"), "user_speaking");             // the player was interrupted
  assert.equal(m.server("response.done"), "user_speaking");      // the cancelled response ends late
  assert.equal(m.server("input_audio_buffer.speech_stopped"), "listening");
  // and the other order (done first) ends in the same place
  const n = talking();
  run(n, ["response_created", "playing", "response_done", "speech_started", "idle"]);
  assert.equal(n.state, "user_speaking");
});

test("the mic stopped mid-speech does not leave 'You are speaking' for good", () => {
  const m = talking();
  assert.equal(m.server("input_audio_buffer.speech_started"), "user_speaking");
  assert.equal(m.dispatch("mic_off"), "ready");
  assert.equal(m.dispatch("mic_on"), "listening"); // no stale speech when it opens again
  // muted mid-speech: the same
  m.dispatch("speech_started");
  assert.equal(m.dispatch("mute"), "muted");
  assert.equal(m.dispatch("unmute"), "listening");
});

test("the audio context suspended and resumed while a reply plays", () => {
  const m = talking();
  run(m, ["response_created", "playing", "response_done"]);
  assert.equal(m.dispatch("suspended"), "audio_paused");
  assert.equal(m.dispatch("resumed"), "speaking");
  assert.equal(m.dispatch("idle"), "listening");
  // suspended while idle: nothing to pause; a reply that comes then shows as paused
  assert.equal(m.dispatch("suspended"), "listening");
  assert.equal(m.dispatch("playing"), "audio_paused");
  assert.equal(m.dispatch("resumed"), "speaking");
});

test("close while speaking ends it: later events change nothing", () => {
  const m = talking();
  run(m, ["response_created", "playing"]);
  assert.equal(m.dispatch("closed"), "closed");
  for (const e of ["playing", "speech_started", "response_done", "mic_on", "idle"]) assert.equal(m.dispatch(e), "closed");
  assert.equal(m.facts.micOn, false);
  assert.equal(m.facts.playing, false);
  // a lost connection is an error state, just as final; a reconnect leaves it
  const n = talking();
  assert.equal(n.dispatch("lost"), "error");
  assert.equal(n.dispatch("speech_started"), "error");
  assert.equal(n.dispatch("reconnecting"), "reconnecting");
  assert.equal(n.dispatch("reopened"), "ready");
});

test("onChange reports each change once", () => {
  /** @type {string[]} */
  const seen = [];
  const m = new StatusMachine({ onChange: (s) => seen.push(s) });
  run(m, ["connected", "mic_on", "mic_on", "speech_started", "speech_started"]);
  assert.deepEqual(seen, ["ready", "listening", "user_speaking"]);
});

test("the session reconnecting by itself: 'Reconnecting', then back where it was, mic still on", () => {
  const m = talking();
  run(m, ["response_created", "playing"]);
  assert.equal(m.dispatch("reconnecting"), "reconnecting");
  assert.equal(m.dispatch("idle"), "reconnecting");    // the reply's audio stopped meanwhile
  assert.equal(m.dispatch("reconnected"), "thinking"); // the response had not ended
  assert.equal(m.dispatch("response_done"), "listening");
  assert.equal(m.facts.micOn, true);
  assert.equal(m.dispatch("reconnecting"), "reconnecting");
  assert.equal(m.dispatch("lost"), "error");            // it gave up
});

/** A caption-mode machine (a transcription session) for a live, owned view with the mic on. */
function captioning() {
  const m = new StatusMachine({ captions: true });
  m.dispatch("connected");
  m.dispatch("mic_on");
  return m;
}

const COMMITTED = "input_audio_buffer.committed";
const COMPLETED = "conversation.item.input_audio_transcription.completed";

test("caption mode: speaking, transcribing until the text is final, listening again", () => {
  const m = captioning();
  assert.deepEqual(
    ["input_audio_buffer.speech_started", "input_audio_buffer.speech_stopped", COMMITTED, COMPLETED].map((t) => m.server(t)),
    ["user_speaking", "listening", "transcribing", "listening"]);
});

test("caption mode: the user speaks again while the last utterance is transcribed", () => {
  const m = captioning();
  run(m, ["speech_started", "speech_stopped", "transcription_started"]);
  assert.equal(m.state, "transcribing");
  assert.equal(m.dispatch("speech_started"), "user_speaking");
  assert.equal(m.server(COMPLETED), "user_speaking"); // the first one's text: they still speak
  assert.equal(m.dispatch("speech_stopped"), "listening");
  assert.equal(m.server(COMMITTED), "transcribing");
  assert.equal(m.server("conversation.item.input_audio_transcription.failed"), "listening"); // a failure ends it too
  assert.equal(m.server(COMPLETED), "listening"); // a stray one never goes below zero
  assert.equal(m.server(COMMITTED), "transcribing");
});

test("caption mode: stopping the mic keeps transcribing what was said, then rests", () => {
  const m = captioning();
  run(m, ["speech_started", "speech_stopped", "transcription_started"]);
  assert.equal(m.dispatch("mic_off"), "transcribing");
  assert.equal(m.server(COMPLETED), "ready");
  run(m, ["mic_on", "transcription_started", "closed"]);
  assert.equal(m.state, "closed");
  assert.equal(m.dispatch("reopened"), "ready"); // nothing pending after a reconnect
});

test("a conversation's pill ignores transcription events (its reply says when the turn ends)", () => {
  const m = talking();
  run(m, ["speech_started", "speech_stopped"]);
  assert.equal(m.server(COMMITTED), "listening");
  assert.equal(m.server(COMPLETED), "listening");
});
