// Replays an arrival trace of assistant audio (bench_jitter.py records it) through the player's jitter
// buffer (js/jitter.js, the very code the AudioWorklet runs), one 128-sample render quantum at a time
// on an ideal 24 kHz clock, for several buffer settings: what a listener would hear from that network.
// Input (argv[2], JSON): {rate, events: [[t_ms, "push", item, samples] | [t_ms, "end", item]]}
// Output (stdout, JSON): {name: {underruns, played_s, underruns_per_min, prebuffer_ms: {median, p90, max},
//   start_prebuffer_ms_median, silent_gaps_ms}} for each setting.
import { readFileSync } from "node:fs";
import { JitterBuffer } from "../js/jitter.js";

const trace = JSON.parse(readFileSync(process.argv[2], "utf8"));
const settings = JSON.parse(process.argv[3]);
const rate = trace.rate;
const Q = 128;
const quantumMs = (Q / rate) * 1000;

/** @param {number[]} xs @param {number} q */
function pct(xs, q) {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((q / 100) * s.length))];
}

const out = {};
for (const [name, o] of Object.entries(settings)) {
  const ms = (x) => Math.round((x / 1000) * rate);
  const jb = new JitterBuffer({ prebuffer: ms(o.prebuffer_ms), maxPrebuffer: ms(o.max_ms ?? o.prebuffer_ms),
    shrinkAfter: 10 * rate, step: ms(20) });
  const events = trace.events;
  const buf = new Float32Array(Q);
  let i = 0;
  let played = 0;
  /** the target, sampled every quantum while playing @type {number[]} */
  const targets = [];
  const end = events[events.length - 1][0] + 5000;
  for (let t = events[0][0]; t < end; t += quantumMs) {
    while (i < events.length && events[i][0] <= t) {
      const [, kind, item, samples] = events[i++];
      if (kind === "push") jb.push(item, new Float32Array(samples).fill(0.1));
      else jb.end(item);
    }
    const n = jb.pull(buf);
    played += n;
    if (jb.state === "playing") targets.push((jb.target / rate) * 1000);
    if (i >= events.length && jb.state === "idle") break;
  }
  const minutes = played / rate / 60;
  out[name] = {
    underruns: jb.underruns, played_s: played / rate, underruns_per_min: minutes ? jb.underruns / minutes : NaN,
    prebuffer_ms: { median: pct(targets, 50), p90: pct(targets, 90), max: Math.max(0, ...targets) },
    start_prebuffer_ms_median: pct(jb.starts.map((s) => (s / rate) * 1000), 50),
  };
}
process.stdout.write(JSON.stringify(out));
