// The fast path to the kernel (realtime_nb/_link.py): the same messages as the widget's comm, over a
// loopback WebSocket that ends on the session's loop thread, skipping jupyter_server, ZMQ and the
// kernel's shell thread (and the busy/idle status each comm message costs there).
//
// `Link` looks like the anywidget model to `Comm` (send, on/off "msg:custom"): while its socket is
// open every message goes over it and custom messages from the model are ignored (the kernel sends a
// linked view everything over the link; a broadcast still reaches it over the comm too, for the views
// without a link). When the socket closes, or never opens, the model carries everything, as before.
//
// Frames (frames.js): text = a message's JSON; binary = u32 big-endian header length + JSON + one buffer.
// The socket itself may live in a Worker (workersocket.js), which hands audio straight to the player.

import { decodeFrame, encodeFrame } from "./frames.js";

export { decodeFrame, encodeFrame };

/**
 * @typedef {import("./comm.js").ModelLike} ModelLike
 * @typedef {(msg: any, buffers: DataView[]) => void} Listener
 */

/** True when the page itself is served from this machine's loopback (the kernel's port is reachable). */
export function pageIsLoopback(hostname = globalThis.location?.hostname ?? "") {
  return ["localhost", "127.0.0.1", "[::1]", "::1"].includes(hostname);
}

/**
 * The URLs to try for a kernel's link, best first.
 * @param {{port: number, token: string}} info
 * @param {string} view
 * @param {{hostname?: string}} [page]
 */
export function linkUrls(info, view, page = {}) {
  const urls = [];
  if (pageIsLoopback(page.hostname)) urls.push(`ws://127.0.0.1:${info.port}/link/${info.token}/${view}`);
  return urls;
}

export class Link {
  /**
   * @param {ModelLike} model
   * @param {{WebSocketImpl?: any, onChange?: (url: string | null) => void}} [options]
   */
  constructor(model, { WebSocketImpl = globalThis.WebSocket, onChange = () => {} } = {}) {
    this.model = model;
    this.WebSocketImpl = WebSocketImpl;
    this.onChange = onChange;
    /** @type {any} */
    this.ws = null;
    /** @type {string | null} */
    this.url = null;
    /** @type {Set<Listener>} */
    this.listeners = new Set();
    this.sent = 0;
    this.received = 0;
    this.fromModel = (/** @type {any} */ msg, /** @type {DataView[]} */ buffers) => {
      if (this.ws === null) this.dispatch(msg, buffers ?? []);
    };
    model.on("msg:custom", this.fromModel);
  }

  get linked() {
    return this.ws !== null;
  }

  /**
   * @param {string} name
   * @param {(...args: any[]) => void} cb
   */
  on(name, cb) {
    if (name === "msg:custom") this.listeners.add(cb);
    else this.model.on(name, cb);
  }

  /**
   * @param {string} name
   * @param {(...args: any[]) => void} cb
   */
  off(name, cb) {
    if (name === "msg:custom") this.listeners.delete(cb);
    else this.model.off(name, cb);
  }

  /**
   * @param {any} content
   * @param {any} [callbacks]
   * @param {ArrayBuffer[]} [buffers]
   */
  send(content, callbacks, buffers) {
    if (this.ws !== null) {
      this.sent += 1;
      this.ws.send(encodeFrame(content, buffers?.[0]));
    } else {
      this.model.send(content, callbacks, buffers);
    }
  }

  /**
   * @param {any} msg
   * @param {DataView[]} buffers
   */
  dispatch(msg, buffers) {
    for (const cb of this.listeners) cb(msg, buffers);
  }

  /**
   * Try to open a socket to `url`; resolves true once it is open (and in use), false on failure.
   * @param {string} url
   * @param {number} [timeoutMs]
   * @returns {Promise<boolean>}
   */
  connect(url, timeoutMs = 1500) {
    if (!this.WebSocketImpl) return Promise.resolve(false);
    return new Promise((resolve) => {
      let ws;
      try {
        ws = new this.WebSocketImpl(url);
      } catch {
        resolve(false);
        return;
      }
      ws.binaryType = "arraybuffer";
      let open = false;
      const timer = setTimeout(() => {
        if (!open) {
          ws.close();
          resolve(false);
        }
      }, timeoutMs);
      ws.onopen = () => {
        open = true;
        clearTimeout(timer);
        this.close();
        this.ws = ws;
        this.url = url;
        this.onChange(url);
        resolve(true);
      };
      ws.onmessage = (/** @type {{data?: string | ArrayBuffer, decoded?: [any, DataView[]]}} */ e) => {
        if (this.ws !== ws) return;
        let decoded = e.decoded; // a WorkerSocket decodes in its worker
        if (!decoded) {
          try {
            decoded = decodeFrame(/** @type {string | ArrayBuffer} */ (e.data));
          } catch {
            return; // not one of ours
          }
        }
        this.received += 1;
        this.dispatch(decoded[0], decoded[1]);
      };
      ws.onclose = () => {
        clearTimeout(timer);
        if (!open) resolve(false);
        if (this.ws === ws) {
          this.ws = null;
          this.url = null;
          this.onChange(null);
        }
      };
      ws.onerror = () => {}; // onclose follows
    });
  }

  /** Close the socket (messages go over the model again). */
  close() {
    const ws = this.ws;
    if (ws === null) return;
    this.ws = null;
    this.url = null;
    ws.onclose = null;
    ws.onmessage = null;
    ws.close();
    this.onChange(null);
  }

  dispose() {
    this.close();
    this.model.off("msg:custom", this.fromModel);
    this.listeners.clear();
  }
}
