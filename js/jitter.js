// The player's jitter buffer and its accounting of what was actually played, per assistant item.
// Pure logic (no Web Audio): the player worklet pulls render quanta from it, `node --test` drives it
// directly. Units are samples at the rate the caller renders at.
//
// States: "idle" (nothing to play) -> "buffering" (waiting for the pre-buffer, or for the end of a
// short item) -> "playing" -> back to "idle" when every queued item has ended, or to "buffering"
// on an underrun (data stopped arriving mid-item). It counts (`underruns`) once more audio of that item
// comes: a gap the listener heard. An item whose end is only late to be announced is not a gap.
//
// Adaptive (`maxPrebuffer` > `prebuffer`): the pre-buffer starts at the configured one and is the
// `target` playback waits for. Each underrun grows it (x1.5, at least one 20 ms step) up to the cap;
// every `shrinkAfter` samples played without an underrun it shrinks by a tenth of the way back to
// the configured one. A network (or a loaded machine) that delivers late pays the delay once, and
// the buffer gives it back slowly when things are calm again.

/**
 * @typedef {{item: string, data: Float32Array, offset: number}} Chunk
 * @typedef {{item_id: string | null, played_samples: number, dropped_samples: number}} InterruptResult
 */

export class JitterBuffer {
  /**
   * @param {{prebuffer?: number, maxPrebuffer?: number, shrinkAfter?: number, step?: number}} [options]
   *   in samples: the configured pre-buffer, the cap the adaptive one may grow to (default: the
   *   pre-buffer itself, i.e. fixed), how long playback must be stable before it shrinks, the least growth
   */
  constructor({ prebuffer = 2400, maxPrebuffer, shrinkAfter = 240000, step = 480 } = {}) {
    this.prebuffer = Math.max(0, prebuffer | 0);
    this.maxPrebuffer = Math.max(this.prebuffer, (maxPrebuffer ?? this.prebuffer) | 0);
    this.shrinkAfter = Math.max(1, shrinkAfter | 0);
    this.step = Math.max(1, step | 0);
    /** what playback waits for now (between prebuffer and maxPrebuffer) */
    this.target = this.prebuffer;
    /** samples played since the last underrun or shrink */
    this.stable = 0;
    /** the target at each start of playback (the median the bench reports) @type {number[]} */
    this.starts = [];
    /** @type {Chunk[]} */
    this.queue = [];
    this.buffered = 0;
    /** @type {"idle" | "buffering" | "playing"} */
    this.state = "idle";
    /** samples played per item id @type {Map<string, number>} */
    this.played = new Map();
    /** samples accepted per item id @type {Map<string, number>} */
    this.received = new Map();
    /** items whose audio has fully arrived @type {Set<string>} */
    this.ended = new Set();
    /** items cut by `interrupt()`: later data for them is dropped @type {Set<string>} */
    this.cut = new Set();
    /** the item of the most recently played sample @type {string | null} */
    this.current = null;
    /** items played since the owner last cleared this set (the worklet reports them) @type {Set<string>} */
    this.touched = new Set();
    this.underruns = 0;
    this.interrupts = 0;
    /** the item playback ran dry in, until its next audio (an underrun) or its end (none) @type {string | null} */
    this.starved = null;
  }

  /**
   * @param {number} samples the configured pre-buffer (the adaptive one starts again from it)
   * @param {number} [max] the cap (default: keep the ratio to the old cap)
   */
  setPrebuffer(samples, max) {
    const ratio = this.prebuffer > 0 ? this.maxPrebuffer / this.prebuffer : 1;
    this.prebuffer = Math.max(0, samples | 0);
    this.maxPrebuffer = Math.max(this.prebuffer, (max ?? Math.round(this.prebuffer * ratio)) | 0);
    this.target = this.prebuffer;
    this.stable = 0;
  }

  /** An underrun: wait for more next time, up to the cap. */
  grow() {
    this.target = Math.min(this.maxPrebuffer, Math.max(this.target + this.step, Math.round(this.target * 1.5)));
    this.stable = 0;
  }

  /** @param {number} played samples just played without an underrun */
  calm(played) {
    this.stable += played;
    if (this.stable < this.shrinkAfter || this.target <= this.prebuffer) return;
    this.stable = 0;
    this.target = Math.max(this.prebuffer, this.target - Math.max(1, Math.round((this.target - this.prebuffer) / 10)));
  }

  /**
   * Queue audio of an item. Returns false when the item was interrupted (its late audio is dropped).
   * @param {string} item
   * @param {Float32Array} data
   */
  push(item, data) {
    if (this.cut.has(item)) return false;
    if (!data.length) return true;
    if (this.starved !== null) { // playback ran dry and now more comes: that silence was a gap
      if (this.starved === item) {
        this.underruns += 1;
        this.grow();
      }
      this.starved = null;
    }
    this.queue.push({ item, data, offset: 0 });
    this.buffered += data.length;
    this.received.set(item, (this.received.get(item) ?? 0) + data.length);
    if (this.state === "idle") this.state = "buffering";
    return true;
  }

  /**
   * No more audio will come for this item: its tail may play without waiting for the pre-buffer.
   * @param {string} item
   */
  end(item) {
    this.ended.add(item);
    if (this.starved === item) { // it had simply ended: no gap, nothing to wait for
      this.starved = null;
      if (!this.queue.length) this.state = "idle";
    }
  }

  /** Whether the queue may start playing now. */
  ready() {
    if (this.buffered >= this.target) return true;
    // Everything queued belongs to items that have ended: nothing more to wait for.
    return this.queue.length > 0 && this.queue.every((c) => this.ended.has(c.item));
  }

  /**
   * Fill `out` with the next samples (silence where there is nothing to play).
   * Returns the number of audio samples written.
   * @param {Float32Array} out
   */
  pull(out) {
    if (this.state === "buffering" && this.ready()) {
      this.state = "playing";
      this.starts.push(this.target);
      if (this.starts.length > 256) this.starts.shift();
    }
    let n = 0;
    if (this.state === "playing") {
      while (n < out.length && this.queue.length) {
        const c = this.queue[0];
        const take = Math.min(out.length - n, c.data.length - c.offset);
        out.set(c.data.subarray(c.offset, c.offset + take), n);
        c.offset += take;
        n += take;
        this.buffered -= take;
        this.played.set(c.item, (this.played.get(c.item) ?? 0) + take);
        this.current = c.item;
        this.touched.add(c.item);
        if (c.offset >= c.data.length) this.queue.shift();
      }
      if (!this.queue.length) {
        const last = this.current;
        if (last !== null && !this.ended.has(last)) {
          this.state = "buffering";
          this.starved = last;
        } else {
          this.state = "idle";
        }
      }
      if (this.state === "playing") this.calm(n);
    }
    out.fill(0, n);
    return n;
  }

  /** True while audio is coming out (or about to, once the pre-buffer fills). */
  get active() {
    return this.state !== "idle";
  }

  /**
   * The item a barge-in cuts: the head of the queue if any audio is waiting, else the last one played.
   * @returns {string | null}
   */
  currentItem() {
    return this.queue.length ? this.queue[0].item : this.current;
  }

  /**
   * Stop now: drop everything queued, mark the queued and current items as cut, and report how much of
   * the current item was played.
   * @returns {InterruptResult}
   */
  interrupt() {
    const item = this.currentItem();
    const dropped = this.buffered;
    for (const c of this.queue) this.cut.add(c.item);
    if (item !== null && !this.ended.has(item)) this.cut.add(item);
    this.queue = [];
    this.buffered = 0;
    this.state = "idle";
    this.starved = null;
    this.interrupts += 1;
    return { item_id: item, played_samples: item === null ? 0 : (this.played.get(item) ?? 0), dropped_samples: dropped };
  }

  /**
   * Samples played of an item.
   * @param {string} item
   */
  playedOf(item) {
    return this.played.get(item) ?? 0;
  }

  /** Forget accounting of items no longer needed (keeps the maps small in long sessions). */
  prune(keep = 16) {
    for (const map of [this.played, this.received]) {
      while (map.size > keep) {
        const first = map.keys().next().value;
        if (first === undefined || first === this.current) break;
        map.delete(first);
      }
    }
    for (const set of [this.ended, this.cut]) {
      while (set.size > keep * 4) {
        const first = set.values().next().value;
        if (first === undefined) break;
        set.delete(first);
      }
    }
  }
}
