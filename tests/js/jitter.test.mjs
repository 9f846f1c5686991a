import { test } from "node:test";
import assert from "node:assert/strict";
import { JitterBuffer } from "../../js/jitter.js";

const Q = 128; // one render quantum

/** @param {number} n @param {number} v */
const block = (n, v = 0.25) => new Float32Array(n).fill(v);

/** Pull `k` quanta; returns the samples written per quantum. */
function pullQuanta(jb, k) {
  const out = new Float32Array(Q);
  const written = [];
  for (let i = 0; i < k; i++) written.push(jb.pull(out));
  return written;
}

test("waits for the pre-buffer, then plays everything and counts it per item", () => {
  const jb = new JitterBuffer({ prebuffer: 2400 });
  jb.push("a", block(1000));
  assert.equal(jb.state, "buffering");
  assert.deepEqual(pullQuanta(jb, 3), [0, 0, 0]); // 1000 < 2400: silence
  jb.push("a", block(1400));
  assert.equal(jb.pull(new Float32Array(Q)), Q);
  assert.equal(jb.state, "playing");
  const rest = pullQuanta(jb, 30).reduce((s, n) => s + n, 0);
  assert.equal(Q + rest, 2400);
  assert.equal(jb.playedOf("a"), 2400);
});

test("silence fills the rest of the quantum and the samples are copied exactly", () => {
  const jb = new JitterBuffer({ prebuffer: 0 });
  jb.push("a", Float32Array.from([0.1, 0.2, 0.3]));
  jb.end("a");
  const out = new Float32Array(8).fill(9);
  assert.equal(jb.pull(out), 3);
  assert.deepEqual(Array.from(out), [0.1, 0.2, 0.3, 0, 0, 0, 0, 0].map(Math.fround));
  assert.equal(jb.state, "idle");
});

test("an ended item shorter than the pre-buffer plays without waiting", () => {
  const jb = new JitterBuffer({ prebuffer: 2400 });
  jb.push("a", block(500));
  assert.equal(jb.pull(new Float32Array(Q)), 0);
  jb.end("a");
  assert.equal(jb.pull(new Float32Array(Q)), Q);
  pullQuanta(jb, 10);
  assert.equal(jb.playedOf("a"), 500);
  assert.equal(jb.state, "idle");
  assert.equal(jb.underruns, 0);
});

test("underrun mid-item: counted, goes back to buffering, resumes after the pre-buffer", () => {
  const jb = new JitterBuffer({ prebuffer: 256 });
  jb.push("a", block(300));
  pullQuanta(jb, 3); // plays 300 then runs dry
  assert.equal(jb.playedOf("a"), 300);
  assert.equal(jb.state, "buffering");
  assert.equal(jb.underruns, 0); // not yet: the item may just have ended
  jb.push("a", block(200)); // more of it: that silence was a gap; below the pre-buffer again
  assert.equal(jb.underruns, 1);
  assert.equal(jb.pull(new Float32Array(Q)), 0);
  jb.push("a", block(100));
  assert.equal(jb.pull(new Float32Array(Q)), Q);
  assert.equal(jb.state, "playing");
});

test("items play back to back and are counted separately, also within one quantum", () => {
  const jb = new JitterBuffer({ prebuffer: 0 });
  jb.push("a", block(100));
  jb.end("a");
  jb.push("b", block(300));
  jb.end("b");
  assert.equal(jb.pull(new Float32Array(Q)), Q); // 100 of a + 28 of b
  assert.deepEqual([...jb.touched].sort(), ["a", "b"]);
  assert.equal(jb.playedOf("a"), 100);
  assert.equal(jb.playedOf("b"), 28);
  pullQuanta(jb, 5);
  assert.equal(jb.playedOf("b"), 300);
});

test("interrupt stops within one quantum and reports exactly what was played", () => {
  const jb = new JitterBuffer({ prebuffer: 480 });
  jb.push("a", block(24000));
  pullQuanta(jb, 10);
  const r = jb.interrupt();
  assert.deepEqual(r, { item_id: "a", played_samples: 1280, dropped_samples: 24000 - 1280 });
  assert.equal(jb.pull(new Float32Array(Q)), 0); // the very next quantum is silent
  assert.equal(jb.buffered, 0);
  assert.equal(jb.state, "idle");
  // late audio of the cut item is dropped, a new item plays
  assert.equal(jb.push("a", block(1000)), false);
  assert.equal(jb.push("b", block(1000)), true);
  jb.end("b");
  assert.equal(jb.pull(new Float32Array(Q)), Q);
  assert.equal(jb.playedOf("a"), 1280);
});

test("interrupt while still pre-buffering reports 0 played for the waiting item", () => {
  const jb = new JitterBuffer({ prebuffer: 2400 });
  jb.push("a", block(960));
  pullQuanta(jb, 2);
  assert.deepEqual(jb.interrupt(), { item_id: "a", played_samples: 0, dropped_samples: 960 });
});

test("interrupt after an item finished names it, fully played, and does not cut it", () => {
  const jb = new JitterBuffer({ prebuffer: 0 });
  jb.push("a", block(200));
  jb.end("a");
  pullQuanta(jb, 3);
  assert.deepEqual(jb.interrupt(), { item_id: "a", played_samples: 200, dropped_samples: 0 });
  assert.deepEqual(new JitterBuffer().interrupt(), { item_id: null, played_samples: 0, dropped_samples: 0 });
});

test("interrupt during an underrun cuts the item so its late audio is dropped", () => {
  const jb = new JitterBuffer({ prebuffer: 0 });
  jb.push("a", block(100));
  pullQuanta(jb, 1);
  assert.equal(jb.state, "buffering");
  assert.equal(jb.interrupt().played_samples, 100);
  assert.equal(jb.push("a", block(100)), false);
});

test("played position accounting over a long random stream", () => {
  const jb = new JitterBuffer({ prebuffer: 2400 });
  let seed = 7;
  const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  let pushed = 0;
  let played = 0;
  const out = new Float32Array(Q);
  for (let step = 0; step < 2000; step++) {
    if (rand() < 0.3) {
      const n = 1 + Math.floor(rand() * 1500);
      jb.push("a", block(n));
      pushed += n;
    }
    played += jb.pull(out);
    assert.equal(jb.buffered, pushed - played);
    assert.equal(jb.playedOf("a"), played);
  }
  jb.end("a");
  while (jb.pull(out)) played += 0;
  assert.equal(jb.playedOf("a"), pushed);
});

test("prune keeps the maps bounded", () => {
  const jb = new JitterBuffer({ prebuffer: 0 });
  for (let i = 0; i < 100; i++) {
    jb.push(`i${i}`, block(10));
    jb.end(`i${i}`);
    jb.pull(new Float32Array(Q));
  }
  jb.prune(16);
  assert.ok(jb.played.size <= 16);
  assert.equal(jb.playedOf("i99"), 10);
});

test("an item whose end comes late is no underrun", () => {
  const jb = new JitterBuffer({ prebuffer: 256 });
  jb.push("a", block(300));
  pullQuanta(jb, 4);
  assert.equal(jb.state, "buffering");
  jb.end("a");
  assert.equal(jb.state, "idle");
  jb.push("b", block(300)); // the next item is not a gap of the first
  assert.equal(jb.underruns, 0);
});

test("adaptive: an underrun grows the pre-buffer up to its cap; calm playback shrinks it back slowly", () => {
  const jb = new JitterBuffer({ prebuffer: 2400, maxPrebuffer: 9600, shrinkAfter: 24000, step: 480 });
  const out = new Float32Array(Q);
  const playOut = () => { // play until it runs dry
    do jb.pull(out); while (jb.state === "playing");
  };
  jb.push("a", block(2400));
  playOut();
  assert.deepEqual([jb.underruns, jb.target], [0, 2400]);
  jb.push("a", block(3000));                     // more of the item: that was a gap
  assert.deepEqual([jb.underruns, jb.target], [1, 3600]); // x1.5
  assert.equal(jb.pull(out), 0);                 // 3000 < 3600: it waits for more now
  jb.push("a", block(600));
  assert.equal(jb.pull(out), Q);
  for (let i = 0; i < 6; i++) {                  // more gaps: never past the cap
    playOut();
    jb.push("a", block(jb.target + 20000));
  }
  assert.equal(jb.underruns, 7);
  assert.equal(jb.target, 9600);
  // stable: every 24000 samples played without an underrun, a tenth of the way back
  const before = jb.target;
  for (let i = 0; i < 20000 / Q; i++) jb.pull(out);
  jb.push("a", block(60000));
  for (let i = 0; i < 30000 / Q; i++) jb.pull(out);
  assert.ok(jb.target < before && jb.target >= 2400, String(jb.target));
  assert.deepEqual(jb.starts.slice(0, 2), [2400, 3600]);
});

test("fixed by default: no cap above the pre-buffer, underruns do not move it", () => {
  const jb = new JitterBuffer({ prebuffer: 2400 });
  const out = new Float32Array(Q);
  jb.push("a", block(2400));
  while (jb.pull(out) > 0);
  jb.push("a", block(100));
  assert.equal(jb.underruns, 1);
  assert.equal(jb.target, 2400);
});
