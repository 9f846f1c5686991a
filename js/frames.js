// The link's frames (realtime_nb/_link.py has the Python side): a text frame is a message's JSON; a
// binary frame is u32 big-endian header length + the JSON + one buffer.

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * A frame for one message (text without a buffer).
 * @param {any} content
 * @param {ArrayBuffer | ArrayBufferView} [buffer]
 * @returns {string | Uint8Array}
 */
export function encodeFrame(content, buffer) {
  const text = JSON.stringify(content);
  if (buffer === undefined) return text;
  const head = encoder.encode(text);
  const body = ArrayBuffer.isView(buffer)
    ? new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength)
    : new Uint8Array(buffer);
  const out = new Uint8Array(4 + head.length + body.length);
  new DataView(out.buffer).setUint32(0, head.length);
  out.set(head, 4);
  out.set(body, 4 + head.length);
  return out;
}

/**
 * `[content, buffers]` of a frame (buffers are DataViews, as anywidget gives them).
 * @param {string | ArrayBuffer} frame
 * @returns {[any, DataView[]]}
 */
export function decodeFrame(frame) {
  if (typeof frame === "string") return [JSON.parse(frame), []];
  const view = new DataView(frame);
  const n = view.getUint32(0);
  const content = JSON.parse(decoder.decode(new Uint8Array(frame, 4, n)));
  return [content, [new DataView(frame, 4 + n)]];
}
