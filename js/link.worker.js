// The link's socket in a dedicated Worker (see link.js, `WorkerSocket`): the page's main thread runs
// JupyterLab and draws the widget, and a message that arrives while it is busy waits. Here audio from
// the kernel goes straight to the player worklet (a MessagePort the page hands over), and only a small
// note of it (the counts the page keeps) goes to the page; everything else is decoded and passed on.
// Bundled by js/build.mjs into a string, started from a Blob URL.
//
// The mic the same way round: chunks come from the capture worklet on a port and go to the kernel while
// the page says the gate is open (this view owns audio, and push-to-talk, if on, is held).
//
// Page -> worker: {op: "open", url} | {op: "send", data} | {op: "close"} | {op: "player", port | null}
//                 {op: "mic", port | null} | {op: "gate", open, view}
// Worker -> page: {op: "open"} | {op: "close"} | {op: "msg", content, buffer?}
//                 {op: "mic_sent", seq, samples, at?} for each chunk sent to the kernel
//   (an audio message that went to the player arrives as its content with `direct: true` and `at`,
//   the wall-clock time it reached this worker, and no buffer)
import { decodeFrame, encodeFrame } from "./frames.js";
import { floatToPcm16, int16FromBytes, pcm16ToFloat } from "./pcm.js";

const scope = /** @type {any} */ (globalThis);
/** @type {WebSocket | null} */
let ws = null;
/** @type {MessagePort | null} */
let player = null;

const gate = { open: false, view: "" };
let micSeq = 0;

const wall = () => performance.timeOrigin + performance.now();

/** @param {{type: string, data: Float32Array, at?: number}} msg a chunk from the capture worklet */
function micChunk(msg) {
  if (msg.type !== "chunk" || !gate.open || !ws || ws.readyState !== WebSocket.OPEN) return;
  const pcm = floatToPcm16(msg.data);
  if (!pcm.length) return;
  micSeq += 1;
  ws.send(encodeFrame({ type: "audio", view: gate.view, seq: micSeq, samples: pcm.length }, pcm));
  scope.postMessage({ op: "mic_sent", seq: micSeq, samples: pcm.length, at: msg.at });
}

/** @param {string | ArrayBuffer} frame */
function receive(frame) {
  const at = wall();
  let content;
  let buffers;
  try {
    [content, buffers] = decodeFrame(frame);
  } catch {
    return; // not one of ours
  }
  if (player && content && typeof content === "object") {
    if (content.type === "audio" && buffers.length) {
      const data = pcm16ToFloat(int16FromBytes(buffers[0]));
      player.postMessage({ type: "push", item: content.item_id, data }, [data.buffer]);
      scope.postMessage({ op: "msg", content: { ...content, direct: true, at } });
      return;
    }
    if (content.type === "audio_end") {
      player.postMessage({ type: "end", item: content.item_id });
      scope.postMessage({ op: "msg", content: { ...content, direct: true, at } });
      return;
    }
  }
  if (buffers.length) {
    const view = buffers[0];
    const copy = view.buffer.slice(view.byteOffset, view.byteOffset + view.byteLength);
    scope.postMessage({ op: "msg", content, buffer: copy }, [copy]);
  } else {
    scope.postMessage({ op: "msg", content });
  }
}

scope.onmessage = (/** @type {MessageEvent} */ e) => {
  const m = e.data;
  switch (m.op) {
    case "open": {
      const sock = new WebSocket(m.url);
      sock.binaryType = "arraybuffer";
      sock.onopen = () => scope.postMessage({ op: "open" });
      sock.onclose = () => {
        if (ws === sock) ws = null;
        scope.postMessage({ op: "close" });
      };
      sock.onmessage = (ev) => receive(ev.data);
      ws = sock;
      break;
    }
    case "send":
      if (ws && ws.readyState === WebSocket.OPEN) ws.send(m.data);
      break;
    case "close":
      ws?.close();
      break;
    case "player":
      player = m.port ?? null;
      break;
    case "mic":
      if (m.port) m.port.onmessage = (/** @type {MessageEvent} */ ev) => micChunk(ev.data);
      break;
    case "gate":
      gate.open = Boolean(m.open);
      gate.view = String(m.view ?? "");
      break;
  }
};
