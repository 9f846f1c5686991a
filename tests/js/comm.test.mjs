import { test } from "node:test";
import assert from "node:assert/strict";
import { fakeModel } from "./fakes.mjs";
import { AudioPacer, Comm } from "../../js/comm.js";

test("binary sends use the three-argument form and carry the view id", () => {
  const model = fakeModel();
  const comm = new Comm(model, "v1");
  const buf = new Int16Array([1, 2, 3]).buffer;
  comm.send("audio", { seq: 1 }, [buf]);
  assert.deepEqual(model.sent[0].content, { seq: 1, type: "audio", view: "v1" });
  assert.equal(model.sent[0].callbacks, undefined);
  assert.equal(model.sent[0].buffers[0], buf);
});

test("requests resolve by id; replies addressed to other views are ignored", async () => {
  const model = fakeModel();
  const a = new Comm(model, "a");
  const b = new Comm(model, "b");
  const pa = a.request("ready");
  const pb = b.request("ready");
  const ida = model.sent[0].content.id;
  const idb = model.sent[1].content.id;
  assert.equal(ida, idb); // each view numbers its own requests: the view id disambiguates
  model.deliver({ type: "reply", view: "b", id: idb, ok: true, result: { owner: false } });
  model.deliver({ type: "reply", view: "a", id: ida, ok: true, result: { owner: true } });
  assert.deepEqual(await pa, { owner: true });
  assert.deepEqual(await pb, { owner: false });
});

test("a failed request rejects; a timed-out one rejects with a clear message", async () => {
  const model = fakeModel();
  const comm = new Comm(model, "v");
  const p = comm.request("claim");
  model.deliver({ type: "reply", view: "v", id: model.sent[0].content.id, ok: false, error: "nope" });
  await assert.rejects(p, /nope/);
  await assert.rejects(comm.request("ready", {}, { timeoutMs: 10 }), /no reply to ready/);
  assert.equal(comm.pending.size, 0);
});

test("kernel requests are answered with the handler's (async) result", async () => {
  const model = fakeModel();
  const comm = new Comm(model, "v");
  comm.on("interrupt", async () => ({ item_id: "it", played_samples: 4800 }));
  model.deliver({ type: "interrupt", view: "v", id: 7 });
  await new Promise((r) => setTimeout(r, 0));
  assert.deepEqual(model.sent.at(-1).content, {
    type: "reply", view: "v", id: 7, ok: true, result: { item_id: "it", played_samples: 4800 },
  });
  comm.on("boom", () => {
    throw new Error("bad");
  });
  model.deliver({ type: "boom", id: 8 });
  assert.equal(model.sent.at(-1).content.ok, false);
});

test("notifications reach handlers with their buffers; other views' messages do not", () => {
  const model = fakeModel();
  const comm = new Comm(model, "mine");
  const got = [];
  comm.on("audio", (msg, buffers) => got.push([msg.item_id, buffers.length]));
  model.deliver({ type: "audio", view: "other", item_id: "x" }, [new DataView(new ArrayBuffer(2))]);
  model.deliver({ type: "audio", view: "mine", item_id: "y" }, [new DataView(new ArrayBuffer(2))]);
  model.deliver({ type: "audio", item_id: "z" }, []); // broadcast
  assert.deepEqual(got, [["y", 1], ["z", 0]]);
});

test("dispose rejects pending requests and stops listening", async () => {
  const model = fakeModel();
  const comm = new Comm(model, "v");
  const p = comm.request("ready");
  comm.dispose();
  await assert.rejects(p, /view closed/);
  assert.equal(model.listeners, 0);
  comm.send("ping");
  assert.equal(model.sent.length, 1);
});

test("AudioPacer: one message per interval, backlog merged in order", () => {
  let now = 0;
  const timers = [];
  const sent = [];
  const pacer = new AudioPacer((pcm) => sent.push(Array.from(pcm)), {
    minIntervalMs: 30,
    now: () => now,
    setTimer: (fn, ms) => timers.push({ fn, at: now + ms }) && timers.length,
    clearTimer: () => {},
  });
  pacer.push(Int16Array.of(1));
  assert.deepEqual(sent, [[1]]);
  now = 5;
  pacer.push(Int16Array.of(2));
  pacer.push(Int16Array.of(3)); // a throttled tab delivering a burst
  assert.equal(sent.length, 1);
  now = 30;
  timers.shift().fn();
  assert.deepEqual(sent, [[1], [2, 3]]);
  now = 100;
  pacer.push(Int16Array.of(4));
  assert.deepEqual(sent.at(-1), [4]);
  assert.equal(pacer.messages, 3);
  assert.equal(pacer.samples, 4);
});

test("AudioPacer keeps 25 chunks/s at 25 messages/s (far under the iopub limit)", () => {
  let now = 0;
  const pacer = new AudioPacer(() => {}, { minIntervalMs: 30, now: () => now, setTimer: () => 1, clearTimer: () => {} });
  for (let i = 0; i < 250; i++) {
    now = i * 40;
    pacer.push(new Int16Array(960));
  }
  assert.equal(pacer.messages, 250);
  assert.equal(pacer.samples, 250 * 960);
});

test("AudioPacer with the default timers (as in a browser: no unbound setTimeout calls)", async () => {
  const sent = [];
  const pacer = new AudioPacer((pcm) => sent.push(pcm.length), { minIntervalMs: 20 });
  const realSetTimeout = globalThis.setTimeout;
  // browsers throw "Illegal invocation" when setTimeout runs with a foreign `this`
  globalThis.setTimeout = function (fn, ms) {
    if (this !== undefined && this !== globalThis) throw new TypeError("Illegal invocation");
    return realSetTimeout(fn, ms);
  };
  try {
    pacer.push(new Int16Array(960));
    pacer.push(new Int16Array(960)); // within the interval: needs the timer
  } finally {
    globalThis.setTimeout = realSetTimeout;
  }
  await new Promise((r) => realSetTimeout(r, 60));
  assert.deepEqual(sent, [960, 960]);
});
