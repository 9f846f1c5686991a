import { test } from "node:test";
import assert from "node:assert/strict";
import { fakeModel } from "./fakes.mjs";
import { Comm } from "../../js/comm.js";
import { Liveness, RESTARTED } from "../../js/liveness.js";

/** A Liveness on a fake model whose periodic timer the test fires by hand. */
function watch(options = {}) {
  const model = fakeModel();
  /** @type {any[]} */
  const verdicts = [];
  let tick = () => {};
  const comm = new Comm(model, "v", { onDead: (err) => live.sendFailed(err) });
  const live = new Liveness(model, comm, {
    onLost: (v) => verdicts.push(v), setTimer: (fn) => { tick = fn; return 1; }, clearTimer: () => {},
    pingTimeoutMs: 20, confirmMs: 20, ...options,
  });
  return { model, comm, live, verdicts, tick: () => tick() };
}

test("a send that throws 'Cannot send' ends the view once, and nothing throws after it", () => {
  const { model, comm, verdicts } = watch();
  model.failWith = new Error("Cannot send");
  for (let i = 0; i < 50; i++) assert.equal(comm.send("audio", { seq: i }), false); // 25 chunks/s must not throw
  assert.equal(verdicts.length, 1);
  assert.deepEqual(verdicts[0], { kind: "kernel", reason: RESTARTED });
  assert.equal(comm.dead, true);
  return assert.rejects(comm.request("ready"), /kernel is gone/);
});

test("comm_live_update (the kernel restarted) ends the view, unless the comm is still live", () => {
  let live = true;
  const w = watch({ commLive: () => live });
  w.model.emit("comm_live_update");
  assert.equal(w.verdicts.length, 0);
  live = false;
  w.model.emit("comm_live_update");
  assert.deepEqual(w.verdicts, [{ kind: "kernel", reason: RESTARTED }]);
});

test("a dropped link with no reply over the comm is a lost connection; a reply keeps the view", async () => {
  const w = watch();
  await w.live.linkDropped();
  assert.equal(w.verdicts.length, 1);
  assert.equal(w.verdicts[0].kind, "lost");
  // a later restart notice refines the reason
  w.model.emit("comm_live_update");
  assert.deepEqual(w.verdicts.at(-1), { kind: "kernel", reason: RESTARTED });

  const ok = watch();
  const p = ok.live.linkDropped();
  const ping = ok.model.sent.at(-1).content;
  assert.equal(ping.type, "ping");
  ok.model.deliver({ type: "reply", view: "v", id: ping.id, ok: true, result: { closed: false } });
  await p;
  assert.deepEqual(ok.verdicts, []);
});

test("no reply to the periodic ping: fatal over the link, a notice over the comm", async () => {
  let linked = true;
  /** @type {boolean[]} */
  const slow = [];
  const w = watch({ linked: () => linked, onSlow: (s) => slow.push(s) });
  linked = false;
  w.tick();
  await new Promise((r) => setTimeout(r, 40));
  assert.deepEqual(w.verdicts, []);
  assert.deepEqual(slow, [true]);
  linked = true;
  w.tick();
  await new Promise((r) => setTimeout(r, 40));
  assert.equal(w.verdicts.length, 1);
  assert.equal(w.verdicts[0].kind, "lost");
});
