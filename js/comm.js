// The message protocol between one view and the kernel (realtime_nb/widget.py).
//
// Every message is a custom anywidget message whose content has a `type`. Messages from the kernel
// may name a `view`: views ignore messages addressed to another view (custom messages reach every
// view of the model). Requests carry an `id`; their answer is {type: "reply", id, ok, result|error}.
// Both sides make requests: the view asks `ready` and `claim`, the kernel asks `interrupt`.
//
// Binary data goes as buffers: `model.send(content, undefined, [arrayBuffer])` (the two-argument
// form silently drops buffers).

/**
 * @typedef {{send: (content: any, callbacks?: any, buffers?: ArrayBuffer[]) => void,
 *   on: (name: string, cb: (...args: any[]) => void) => void,
 *   off: (name: string, cb: (...args: any[]) => void) => void}} ModelLike
 * @typedef {(msg: any, buffers: DataView[]) => any} Handler
 */

const DEFAULT_TIMEOUT_MS = 10000;

export class Comm {
  /**
   * @param {ModelLike} model
   * @param {string} view this view's id
   * @param {{onDead?: (err: Error) => void}} [options] `onDead`: the first send that threw
   */
  constructor(model, view, { onDead = () => {} } = {}) {
    this.model = model;
    this.view = view;
    /** a send threw (the kernel is gone); nothing is sent after that */
    this.dead = false;
    this.onDead = onDead;
    this.nextId = 1;
    /** @type {Map<number, {resolve: (v: any) => void, reject: (e: Error) => void, timer: any}>} */
    this.pending = new Map();
    /** @type {Map<string, Handler>} */
    this.handlers = new Map();
    this.closed = false;
    this.sent = 0;
    this.listener = (/** @type {any} */ msg, /** @type {DataView[]} */ buffers) => this.receive(msg, buffers ?? []);
    model.on("msg:custom", this.listener);
  }

  /**
   * Register the handler of a message type (one per type). A handler of a kernel request may return
   * a value or a promise: it becomes the reply.
   * @param {string} type
   * @param {Handler} handler
   */
  on(type, handler) {
    this.handlers.set(type, handler);
    return () => this.handlers.delete(type);
  }

  /**
   * Fire and forget.
   * @param {string} type
   * @param {Record<string, any>} [content]
   * @param {ArrayBuffer[]} [buffers]
   */
  send(type, content = {}, buffers) {
    if (this.closed || this.dead) return false;
    this.sent += 1;
    try {
      this.model.send({ ...content, type, view: this.view }, undefined, buffers);
      return true;
    } catch (err) {
      // A dead or restarted kernel: the model's comm throws "Cannot send" from then on. Once, loudly
      // (onDead), then never again: a mic sending 25 chunks a second must not throw 25 errors a second.
      this.dead = true;
      for (const p of this.pending.values()) {
        clearTimeout(p.timer);
        p.reject(new Error("the kernel is gone"));
      }
      this.pending.clear();
      this.onDead(/** @type {Error} */ (err));
      return false;
    }
  }

  /**
   * Send a request and wait for the kernel's reply.
   * @param {string} type
   * @param {Record<string, any>} [content]
   * @param {{timeoutMs?: number, buffers?: ArrayBuffer[]}} [options]
   * @returns {Promise<any>}
   */
  request(type, content = {}, { timeoutMs = DEFAULT_TIMEOUT_MS, buffers } = {}) {
    if (this.closed) return Promise.reject(new Error("closed"));
    if (this.dead) return Promise.reject(new Error("the kernel is gone"));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`no reply to ${type} within ${timeoutMs} ms (is the kernel busy?)`));
      }, timeoutMs);
      this.pending.set(id, { resolve, reject, timer });
      this.send(type, { ...content, id }, buffers);
    });
  }

  /**
   * @param {any} msg
   * @param {DataView[]} buffers
   */
  receive(msg, buffers) {
    if (this.closed || !msg || typeof msg !== "object") return;
    if (msg.view && msg.view !== this.view) return; // addressed to another view
    if (msg.type === "reply") {
      const p = this.pending.get(msg.id);
      if (!p) return;
      this.pending.delete(msg.id);
      clearTimeout(p.timer);
      if (msg.ok === false) p.reject(new Error(msg.error || "request failed"));
      else p.resolve(msg.result);
      return;
    }
    const handler = this.handlers.get(msg.type);
    if (!handler) return;
    let result;
    try {
      result = handler(msg, buffers);
    } catch (err) {
      if (msg.id !== undefined) this.reply(msg.id, false, undefined, String(err));
      return;
    }
    if (msg.id === undefined) return; // a notification, not a request
    Promise.resolve(result).then(
      (value) => this.reply(msg.id, true, value),
      (err) => this.reply(msg.id, false, undefined, String(err)),
    );
  }

  /**
   * @param {number} id
   * @param {boolean} ok
   * @param {any} [result]
   * @param {string} [error]
   */
  reply(id, ok, result, error) {
    this.send("reply", ok ? { id, ok, result: result ?? null } : { id, ok, error });
  }

  dispose() {
    this.closed = true;
    this.model.off("msg:custom", this.listener);
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      p.reject(new Error("view closed"));
    }
    this.pending.clear();
  }
}

/**
 * Paces mic audio to the kernel: chunks are sent as they come, but never more than one message per
 * `minIntervalMs`; chunks that arrive faster (a throttled tab catching up) are merged into one
 * message. Keeps a view far below jupyter_server's iopub limit of 1000 messages/s, which drops the
 * excess silently.
 */
export class AudioPacer {
  /**
   * @param {(pcm: Int16Array) => void} send
   * @param {{minIntervalMs?: number, now?: () => number, setTimer?: (fn: () => void, ms: number) => any,
   *   clearTimer?: (t: any) => void}} [options]
   */
  constructor(send, {
    minIntervalMs = 30,
    now = () => performance.now(),
    // wrapped: calling the global setTimeout as a method of this object throws "Illegal invocation"
    setTimer = (fn, ms) => setTimeout(fn, ms),
    clearTimer = (t) => clearTimeout(t),
  } = {}) {
    this.sendFn = send;
    this.minIntervalMs = minIntervalMs;
    this.now = now;
    this.setTimer = setTimer;
    this.clearTimer = clearTimer;
    /** @type {Int16Array[]} */
    this.queue = [];
    this.last = -Infinity;
    this.timer = null;
    this.messages = 0;
    this.samples = 0;
  }

  /** @param {Int16Array} pcm */
  push(pcm) {
    this.queue.push(pcm);
    const wait = this.last + this.minIntervalMs - this.now();
    if (wait <= 0) this.flush();
    else if (this.timer === null) this.timer = this.setTimer(() => this.flush(), wait);
  }

  flush() {
    if (this.timer !== null) this.clearTimer(this.timer);
    this.timer = null;
    if (!this.queue.length) return;
    let n = 0;
    for (const q of this.queue) n += q.length;
    const out = new Int16Array(n);
    let at = 0;
    for (const q of this.queue) {
      out.set(q, at);
      at += q.length;
    }
    this.queue = [];
    this.last = this.now();
    this.messages += 1;
    this.samples += n;
    this.sendFn(out);
  }

  dispose() {
    if (this.timer !== null) this.clearTimer(this.timer);
    this.timer = null;
    this.queue = [];
  }
}
