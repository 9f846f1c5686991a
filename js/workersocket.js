// A WebSocket whose socket lives in a dedicated Worker (link.worker.js), for `Link`: the same shape
// as a WebSocket (onopen / onmessage / onclose, send, close), plus `attachPlayer(port)`: with a port
// to the player worklet, audio from the kernel goes worker → worklet without the page's main thread.
// @ts-expect-error: js/build.mjs bundles the worker and imports it as a string
import workerSource from "./link.worker.js";

/** @type {string | null} */
let workerUrl = null;

export class WorkerSocket {
  /** @param {string} url */
  constructor(url) {
    workerUrl ??= URL.createObjectURL(new Blob([workerSource], { type: "application/javascript" }));
    this.worker = new Worker(workerUrl);
    this.binaryType = "arraybuffer";
    this.readyState = 0;
    this.gateOpen = false;
    /** @type {(() => void) | null} */ this.onopen = null;
    /** @type {((e: {decoded: [any, DataView[]]}) => void) | null} */ this.onmessage = null;
    /** @type {(() => void) | null} */ this.onclose = null;
    /** @type {(() => void) | null} */ this.onerror = null;
    /** mic chunks the worker sent @type {((note: {seq: number, samples: number, at?: number}) => void) | null} */
    this.onmicsent = null;
    this.worker.onmessage = (/** @type {MessageEvent} */ e) => {
      const m = e.data;
      if (m.op === "msg") {
        this.onmessage?.({ decoded: [m.content, m.buffer ? [new DataView(m.buffer)] : []] });
      } else if (m.op === "mic_sent") {
        this.onmicsent?.(m);
      } else if (m.op === "open") {
        this.readyState = 1;
        this.onopen?.();
      } else if (m.op === "close") {
        this.shutdown();
      }
    };
    this.worker.onerror = () => this.shutdown();
    this.worker.postMessage({ op: "open", url });
  }

  /** @param {string | Uint8Array} frame */
  send(frame) {
    if (typeof frame === "string") this.worker.postMessage({ op: "send", data: frame });
    else {
      const copy = frame.byteOffset === 0 && frame.byteLength === frame.buffer.byteLength
        ? /** @type {ArrayBuffer} */ (frame.buffer)
        : frame.slice().buffer;
      this.worker.postMessage({ op: "send", data: copy }, [copy]);
    }
  }

  /**
   * Hand the kernel's audio straight to the player worklet (null: back to the page).
   * @param {MessagePort | null} port
   */
  attachPlayer(port) {
    if (port) this.worker.postMessage({ op: "player", port }, [port]);
    else this.worker.postMessage({ op: "player", port: null });
  }

  /**
   * Mic chunks from the capture worklet go out from the worker.
   * @param {MessagePort} port
   */
  attachMic(port) {
    this.worker.postMessage({ op: "mic", port }, [port]);
  }

  /**
   * Whether the worker may send mic chunks now, and as which view.
   * @param {boolean} open
   * @param {string} view
   */
  setGate(open, view) {
    if (open === this.gateOpen) return;
    this.gateOpen = open;
    this.worker.postMessage({ op: "gate", open, view });
  }

  close() {
    this.worker.postMessage({ op: "close" });
    this.shutdown();
  }

  shutdown() {
    if (this.readyState === 3) return;
    this.readyState = 3;
    this.worker.terminate();
    this.onclose?.();
  }
}

/** True when this page can start a Worker from a Blob URL (not under a strict CSP, not in Node). */
export function workersAvailable() {
  return typeof Worker === "function" && typeof Blob === "function" && typeof URL?.createObjectURL === "function";
}
