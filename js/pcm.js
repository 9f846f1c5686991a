// PCM math shared by the capture and playback paths: float <-> PCM16, resampling, level meters.
// Pure functions and small classes, no DOM and no Web Audio, so `node --test` covers them.
// Conventions match realtime_nb/audio.py: float = int16 / 32768; float -> int16 scales by 32768,
// rounds, and clips to [-32768, 32767].

/** The wire rate of the Realtime API (PCM16 mono). */
export const SAMPLE_RATE = 24000;

/**
 * Float samples in [-1, 1] to PCM16 (clipped).
 * @param {Float32Array} input
 * @returns {Int16Array}
 */
export function floatToPcm16(input) {
  const out = new Int16Array(input.length);
  for (let i = 0; i < input.length; i++) {
    const x = input[i];
    // NaN would become 0 through the clip below; a glitching mic must not throw on the audio thread.
    let v = Math.round((x > 1 ? 1 : x < -1 ? -1 : x) * 32768);
    if (v > 32767) v = 32767;
    out[i] = v || 0;
  }
  return out;
}

/**
 * PCM16 to float samples in [-1, 1).
 * @param {Int16Array} input
 * @returns {Float32Array}
 */
export function pcm16ToFloat(input) {
  const out = new Float32Array(input.length);
  for (let i = 0; i < input.length; i++) out[i] = input[i] / 32768;
  return out;
}

/**
 * Copy the bytes a comm message delivered (a DataView, possibly unaligned, into a shared buffer)
 * into a fresh Int16Array (little-endian, as every browser platform is).
 * @param {DataView | ArrayBuffer | ArrayBufferView} view
 * @returns {Int16Array}
 */
export function int16FromBytes(view) {
  const bytes = view instanceof ArrayBuffer
    ? new Uint8Array(view)
    : new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
  const even = bytes.byteLength - (bytes.byteLength % 2);
  return new Int16Array(bytes.slice(0, even).buffer);
}

/**
 * Join Int16Arrays into one.
 * @param {Int16Array[]} parts
 * @returns {Int16Array}
 */
export function concatInt16(parts) {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Int16Array(n);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/**
 * One-shot linear interpolation resampler (cheap; no anti-aliasing, so use it for upsampling or
 * for meters, and `Resampler` for the mic path).
 * @param {Float32Array} input
 * @param {number} fromRate
 * @param {number} toRate
 * @returns {Float32Array}
 */
export function resampleLinear(input, fromRate, toRate) {
  if (fromRate === toRate) return input.slice();
  const n = Math.floor((input.length * toRate) / fromRate);
  const out = new Float32Array(n);
  const step = fromRate / toRate;
  for (let i = 0; i < n; i++) {
    const t = i * step;
    const k = Math.floor(t);
    const f = t - k;
    const a = input[k];
    const b = k + 1 < input.length ? input[k + 1] : a;
    out[i] = a + (b - a) * f;
  }
  return out;
}

const TABLE_STEPS = 512; // kernel table resolution per input sample

/**
 * Streaming windowed-sinc resampler (Blackman window). Feed chunks of any size with `process`; the
 * output is continuous across chunk boundaries. When downsampling, the cutoff sits just below the
 * output Nyquist frequency, so a 48 kHz mic does not alias into the 24 kHz stream.
 * The delay is `halfWidth` input samples; `flush()` returns the tail.
 */
export class Resampler {
  /**
   * @param {number} fromRate
   * @param {number} toRate
   * @param {{zeros?: number, rolloff?: number}} [options] zeros: sinc zero crossings per side
   */
  constructor(fromRate, toRate, { zeros = 8, rolloff = 0.94 } = {}) {
    this.fromRate = fromRate;
    this.toRate = toRate;
    this.step = fromRate / toRate;
    const cutoff = Math.min(1, toRate / fromRate) * rolloff; // as a fraction of the input Nyquist
    this.cutoff = cutoff;
    this.halfWidth = Math.ceil(zeros / cutoff);
    const size = this.halfWidth * TABLE_STEPS + 2;
    this.table = new Float32Array(size);
    for (let i = 0; i < size; i++) {
      const x = i / TABLE_STEPS; // distance in input samples
      const arg = Math.PI * cutoff * x;
      const sinc = x === 0 ? 1 : Math.sin(arg) / arg;
      const w = x >= this.halfWidth ? 0
        : 0.42 + 0.5 * Math.cos((Math.PI * x) / this.halfWidth) + 0.08 * Math.cos((2 * Math.PI * x) / this.halfWidth);
      this.table[i] = cutoff * sinc * w;
    }
    // History starts with halfWidth zeros so the first output sample is centred on input sample 0.
    this.buf = new Float32Array(this.halfWidth);
    this.pos = this.halfWidth;
  }

  /** @param {number} d absolute distance in input samples */
  kernel(d) {
    const t = d * TABLE_STEPS;
    const i = Math.floor(t);
    if (i + 1 >= this.table.length) return 0;
    const f = t - i;
    return this.table[i] + (this.table[i + 1] - this.table[i]) * f;
  }

  /**
   * @param {Float32Array} input
   * @returns {Float32Array}
   */
  process(input) {
    if (this.fromRate === this.toRate) return input.slice();
    const buf = new Float32Array(this.buf.length + input.length);
    buf.set(this.buf);
    buf.set(input, this.buf.length);
    const h = this.halfWidth;
    const out = [];
    let pos = this.pos;
    while (Math.floor(pos) + h < buf.length) {
      const k0 = Math.floor(pos);
      let acc = 0;
      for (let k = k0 - h + 1; k <= k0 + h; k++) {
        if (k < 0) continue;
        acc += buf[k] * this.kernel(Math.abs(pos - k));
      }
      out.push(acc);
      pos += this.step;
    }
    // Keep what the next outputs still need: from floor(pos) - h + 1 on.
    const keepFrom = Math.max(0, Math.floor(pos) - h + 1);
    this.buf = buf.slice(keepFrom);
    this.pos = pos - keepFrom;
    return Float32Array.from(out);
  }

  /** The remaining output (pads with zeros past the end of the input). */
  flush() {
    return this.process(new Float32Array(this.halfWidth + Math.ceil(this.step)));
  }
}

/**
 * Root mean square of a block (0 for an empty one).
 * @param {ArrayLike<number>} x
 */
export function rms(x) {
  if (!x.length) return 0;
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i] * x[i];
  return Math.sqrt(s / x.length);
}

/**
 * Largest absolute sample.
 * @param {ArrayLike<number>} x
 */
export function peak(x) {
  let m = 0;
  for (let i = 0; i < x.length; i++) {
    const a = Math.abs(x[i]);
    if (a > m) m = a;
  }
  return m;
}

/**
 * dBFS of a linear amplitude (floored at `floorDb`).
 * @param {number} amplitude
 * @param {number} [floorDb]
 */
export function dbfs(amplitude, floorDb = -100) {
  if (amplitude <= 0) return floorDb;
  return Math.max(floorDb, 20 * Math.log10(amplitude));
}

/**
 * Meter position in [0, 1] for an RMS level: linear in dB between `floorDb` and 0 dBFS.
 * @param {number} level RMS amplitude
 * @param {number} [floorDb]
 */
export function meterFraction(level, floorDb = -60) {
  const db = dbfs(level, floorDb);
  return Math.min(1, Math.max(0, (db - floorDb) / -floorDb));
}

/**
 * A meter ballistic: jumps up quickly, falls back slowly (values per update, not per sample).
 */
export class LevelSmoother {
  /** @param {{attack?: number, release?: number}} [options] fraction of the gap closed per update */
  constructor({ attack = 0.6, release = 0.15 } = {}) {
    this.attack = attack;
    this.release = release;
    this.value = 0;
  }

  /** @param {number} x */
  update(x) {
    const k = x > this.value ? this.attack : this.release;
    this.value += (x - this.value) * k;
    return this.value;
  }
}

/**
 * Samples <-> milliseconds at the wire rate; ms rounded down so a truncation never overshoots.
 * @param {number} samples
 * @param {number} [rate]
 */
export function samplesToMs(samples, rate = SAMPLE_RATE) {
  return Math.floor((samples * 1000) / rate);
}
