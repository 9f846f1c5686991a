// The widget's webrtc transport: which transport a view picks, the wait for the peer connection, and
// the hang-up (tracks stopped, the kernel told once). The peer connection itself runs in Chromium
// (tests/browser/test_browser_webrtc.py).
import assert from "node:assert/strict";
import { test } from "node:test";
import { RtcCall, chooseTransport, connected } from "../../js/rtc_transport.js";

test("auto means webrtc only where the kernel says the target speaks it", () => {
  assert.equal(chooseTransport("auto", { supported: true }, true), "webrtc");
  assert.equal(chooseTransport("auto", { supported: false }, true), "relay");
  assert.equal(chooseTransport("auto", null, true), "relay");
  assert.equal(chooseTransport("webrtc", { supported: false }, true), "webrtc"); // tries, falls back if it fails
  assert.equal(chooseTransport("relay", { supported: true }, true), "relay");
  assert.equal(chooseTransport("webrtc", { supported: true }, false), "relay"); // no RTCPeerConnection here
});

class FakePc extends EventTarget {
  constructor(state = "new") {
    super();
    this.connectionState = state;
  }
  /** @param {string} s */
  go(s) {
    this.connectionState = s;
    this.dispatchEvent(new Event("connectionstatechange"));
  }
}

test("connected() resolves on connected, rejects on failed and on its timeout", async () => {
  const ok = new FakePc();
  const p = connected(/** @type {any} */ (ok), 1000);
  ok.go("connecting");
  ok.go("connected");
  await p;
  const bad = new FakePc();
  const q = connected(/** @type {any} */ (bad), 1000);
  bad.go("failed");
  await assert.rejects(q, /failed/);
  await assert.rejects(connected(/** @type {any} */ (new FakePc()), 20), /did not connect within 20 ms/);
  await connected(/** @type {any} */ (new FakePc("connected")), 10); // already there
});

test("close() tells the kernel once, and only about a call it answered", async () => {
  const asked = [];
  const comm = { request: async (/** @type {string} */ type) => { asked.push(type); return {}; } };
  const none = new RtcCall({ comm });
  await none.close();
  assert.deepEqual(asked, []); // no answer, no call to end
  const levels = [];
  const playing = [];
  const call = new RtcCall({ comm, onLevels: (m, o) => levels.push([m, o]), onPlaying: (p) => playing.push(p) });
  call.callId = "rtc_1";
  let stopped = 0;
  const audio = { remove() {}, srcObject: null };
  call.handle = /** @type {any} */ ({ close: () => { stopped += 1; }, audio, stream: { getAudioTracks: () => [] } });
  call.live = true;
  assert.equal(call.on, true);
  await call.close();
  await call.close();
  assert.equal(stopped, 1);
  assert.equal(call.on, false);
  assert.deepEqual(asked, ["hangup"]);
  assert.deepEqual(levels.at(-1), [0, 0]);
  assert.deepEqual(playing, [false]);
});

test("the data channel's buffer events drive the view's playing state", () => {
  const playing = [];
  const call = new RtcCall({ comm: { request: async () => ({}) }, onPlaying: (p) => playing.push(p) });
  call.onEvent({ type: "output_audio_buffer.started" });
  call.onEvent({ type: "response.done" });
  call.onEvent({ type: "output_audio_buffer.cleared" });
  call.onEvent({ type: "output_audio_buffer.started" });
  call.onEvent({ type: "output_audio_buffer.stopped" });
  call.onEvent(null);
  assert.deepEqual(playing, [true, false, true, false]);
});
