import { test } from "node:test";
import assert from "node:assert/strict";
import {
  LevelSmoother, Resampler, concatInt16, dbfs, floatToPcm16, int16FromBytes, meterFraction, pcm16ToFloat, peak,
  resampleLinear, rms, samplesToMs,
} from "../../js/pcm.js";

/** @param {number} freq @param {number} rate @param {number} n */
function sine(freq, rate, n, amp = 0.5) {
  return Float32Array.from({ length: n }, (_, i) => amp * Math.sin((2 * Math.PI * freq * i) / rate));
}

/** Frequency estimate from zero crossings (rising edges). */
function zeroCrossingFreq(x, rate) {
  let rising = 0;
  for (let i = 1; i < x.length; i++) if (x[i - 1] < 0 && x[i] >= 0) rising++;
  return (rising * rate) / x.length;
}

test("float -> PCM16 matches the Python convention (x32768, rounded, clipped)", () => {
  const pcm = floatToPcm16(Float32Array.from([0, 0.5, -1, 1, 2, -2, NaN]));
  assert.deepEqual(Array.from(pcm), [0, 16384, -32768, 32767, 32767, -32768, 0]);
});

test("PCM16 -> float -> PCM16 round trip is exact", () => {
  const all = Int16Array.from({ length: 65536 }, (_, i) => i - 32768);
  assert.deepEqual(floatToPcm16(pcm16ToFloat(all)), all);
});

test("float -> PCM16 -> float stays within half a step", () => {
  const x = sine(440, 24000, 2400, 0.9);
  const back = pcm16ToFloat(floatToPcm16(x));
  for (let i = 0; i < x.length; i++) assert.ok(Math.abs(back[i] - x[i]) <= 0.5 / 32768 + 1e-7);
});

test("int16FromBytes copies an unaligned DataView", () => {
  const raw = new Uint8Array([9, 1, 0, 0xff, 0x7f, 0x00, 0x80]);
  const view = new DataView(raw.buffer, 1, 6); // odd byte offset: an Int16Array view would throw
  assert.deepEqual(Array.from(int16FromBytes(view)), [1, 32767, -32768]);
  raw[1] = 5; // a copy, not a view
  assert.equal(int16FromBytes(view)[0], 5);
  assert.deepEqual(Array.from(int16FromBytes(new DataView(raw.buffer, 1, 5))), [5, 32767]);
});

test("concatInt16", () => {
  assert.deepEqual(Array.from(concatInt16([Int16Array.of(1, 2), Int16Array.of(), Int16Array.of(3)])), [1, 2, 3]);
});

test("linear resampling: lengths and identity", () => {
  assert.equal(resampleLinear(new Float32Array(4800), 48000, 24000).length, 2400);
  assert.equal(resampleLinear(new Float32Array(2400), 24000, 48000).length, 4800);
  assert.equal(resampleLinear(new Float32Array(4410), 44100, 24000).length, 2400);
  const x = sine(300, 24000, 100);
  assert.deepEqual(resampleLinear(x, 24000, 24000), x);
});

test("windowed-sinc 48k -> 24k: length, frequency kept, no aliasing", () => {
  const r = new Resampler(48000, 24000);
  const x = sine(1000, 48000, 48000);
  // fed in uneven chunks, like the worklet's
  const parts = [];
  for (let i = 0; i < x.length; i += 1117) parts.push(r.process(x.subarray(i, i + 1117)));
  parts.push(r.flush());
  const y = Float32Array.from(parts.flatMap((p) => Array.from(p)));
  assert.ok(Math.abs(y.length - 24000) <= 2, `length ${y.length}`);
  const steady = y.subarray(200, 23800);
  assert.ok(Math.abs(zeroCrossingFreq(steady, 24000) - 1000) < 3);
  assert.ok(Math.abs(rms(steady) - 0.5 / Math.SQRT2) < 0.01, `rms ${rms(steady)}`);
  // A 15 kHz tone is above the 12 kHz output Nyquist: it must be filtered out, not folded to 9 kHz.
  const hi = new Resampler(48000, 24000);
  const z = hi.process(sine(15000, 48000, 48000));
  assert.ok(rms(z.subarray(200, z.length - 200)) < 0.01, `alias rms ${rms(z)}`);
});

test("windowed-sinc 44.1k -> 24k and chunking does not matter", () => {
  const x = sine(440, 44100, 44100);
  const whole = new Resampler(44100, 24000).process(x);
  const r = new Resampler(44100, 24000);
  const pieces = [];
  for (let i = 0; i < x.length; i += 128) pieces.push(...r.process(x.subarray(i, i + 128)));
  assert.equal(pieces.length, whole.length);
  for (let i = 0; i < whole.length; i++) assert.ok(Math.abs(pieces[i] - whole[i]) < 1e-5);
  assert.ok(Math.abs(zeroCrossingFreq(whole.subarray(100), 24000) - 440) < 3);
});

test("upsampling 24k -> 48k keeps the tone", () => {
  const r = new Resampler(24000, 48000);
  const y = r.process(sine(1000, 24000, 24000));
  assert.ok(Math.abs(zeroCrossingFreq(y.subarray(100), 48000) - 1000) < 3);
});

test("level meter math", () => {
  assert.equal(rms([]), 0);
  assert.ok(Math.abs(rms(sine(100, 24000, 24000, 1)) - Math.SQRT1_2) < 1e-3);
  assert.equal(peak([0.1, -0.7, 0.3]), 0.7);
  assert.equal(dbfs(1), 0);
  assert.ok(Math.abs(dbfs(0.1) + 20) < 1e-9);
  assert.equal(dbfs(0), -100);
  assert.equal(meterFraction(1), 1);
  assert.equal(meterFraction(0), 0);
  assert.ok(Math.abs(meterFraction(10 ** (-30 / 20)) - 0.5) < 1e-9); // -60 dB floor: -30 dB is half way
  assert.equal(meterFraction(0.001), 0);
  const s = new LevelSmoother({ attack: 1, release: 0.5 });
  assert.equal(s.update(1), 1);
  assert.equal(s.update(0), 0.5);
});

test("samplesToMs rounds down", () => {
  assert.equal(samplesToMs(24000), 1000);
  assert.equal(samplesToMs(23999), 999);
  assert.equal(samplesToMs(1), 0);
});
