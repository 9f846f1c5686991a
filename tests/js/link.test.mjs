import { test } from "node:test";
import assert from "node:assert/strict";
import { fakeModel } from "./fakes.mjs";
import { Comm } from "../../js/comm.js";
import { Link, decodeFrame, encodeFrame, linkUrls, pageIsLoopback } from "../../js/link.js";

/** A WebSocket stand-in: the test opens, closes and feeds it. */
function fakeSocketClass() {
  const made = [];
  class FakeSocket {
    constructor(url) {
      this.url = url;
      this.frames = [];
      this.closed = false;
      made.push(this);
    }
    send(frame) {
      this.frames.push(frame);
    }
    close() {
      this.closed = true;
      this.onclose?.();
    }
    open() {
      this.onopen?.();
    }
    feed(frame) {
      this.onmessage?.({ data: frame });
    }
  }
  return { FakeSocket, made };
}

test("frames round-trip: text without a buffer, header + JSON + bytes with one", () => {
  assert.equal(encodeFrame({ type: "ping" }), '{"type":"ping"}');
  const pcm = new Int16Array([1, -2, 300]);
  const frame = encodeFrame({ type: "audio", samples: 3 }, pcm.buffer);
  const copy = frame.buffer.slice(frame.byteOffset, frame.byteOffset + frame.byteLength);
  const [content, buffers] = decodeFrame(copy);
  assert.deepEqual(content, { type: "audio", samples: 3 });
  const back = new Int16Array(buffers[0].buffer.slice(buffers[0].byteOffset));
  assert.deepEqual([...back], [1, -2, 300]);
  // a typed-array view's own bytes only, not its whole backing buffer
  const big = new Int16Array([9, 9, 7, 8]);
  const sub = encodeFrame({ type: "x" }, big.subarray(2));
  const [, b2] = decodeFrame(sub.buffer.slice(sub.byteOffset, sub.byteOffset + sub.byteLength));
  assert.equal(b2[0].byteLength, 4);
});

test("direct URLs only when the page itself is on loopback", () => {
  assert.ok(pageIsLoopback("127.0.0.1") && pageIsLoopback("localhost"));
  assert.ok(!pageIsLoopback("hub.example.org"));
  const info = { port: 4321, token: "tok" };
  assert.deepEqual(linkUrls(info, "v1", { hostname: "localhost" }), ["ws://127.0.0.1:4321/link/tok/v1"]);
  assert.deepEqual(linkUrls(info, "v1", { hostname: "hub.example.org" }), []);
});

test("without a socket everything goes over the model; with one, over the socket only", async () => {
  const model = fakeModel();
  const { FakeSocket, made } = fakeSocketClass();
  const changes = [];
  const link = new Link(model, { WebSocketImpl: FakeSocket, onChange: (u) => changes.push(u) });
  const comm = new Comm(link, "v1");
  const got = [];
  comm.on("update", (msg) => got.push(msg.n));

  comm.send("ping");
  assert.equal(model.sent.length, 1);
  model.deliver({ type: "update", n: 1 });

  const opened = link.connect("ws://127.0.0.1:1/link/t/v1");
  made[0].open();
  assert.equal(await opened, true);
  assert.deepEqual(changes, ["ws://127.0.0.1:1/link/t/v1"]);

  comm.send("audio", { seq: 1 }, [new Int16Array([5, 6]).buffer]);
  assert.equal(model.sent.length, 1, "nothing more over the comm");
  const [content, buffers] = decodeFrame(made[0].frames[0].buffer.slice(0));
  assert.deepEqual(content, { seq: 1, type: "audio", view: "v1" });
  assert.equal(buffers[0].byteLength, 4);

  model.deliver({ type: "update", n: 2 }); // a broadcast over the comm: the link already brings it
  made[0].feed(JSON.stringify({ type: "update", n: 3 }));
  assert.deepEqual(got, [1, 3]);

  made[0].close(); // the kernel went away: back to the comm, nothing lost on this side
  assert.equal(link.linked, false);
  assert.deepEqual(changes, ["ws://127.0.0.1:1/link/t/v1", null]);
  comm.send("ping");
  assert.equal(model.sent.length, 2);
  model.deliver({ type: "update", n: 4 });
  assert.deepEqual(got, [1, 3, 4]);
});

test("a socket that never opens is given up after the timeout", async () => {
  const model = fakeModel();
  const { FakeSocket, made } = fakeSocketClass();
  const link = new Link(model, { WebSocketImpl: FakeSocket });
  assert.equal(await link.connect("ws://127.0.0.1:1/x", 20), false);
  assert.equal(made[0].closed, true);
  assert.equal(link.linked, false);
});

test("requests made over the link resolve from replies over the link", async () => {
  const model = fakeModel();
  const { FakeSocket, made } = fakeSocketClass();
  const link = new Link(model, { WebSocketImpl: FakeSocket });
  const comm = new Comm(link, "v1");
  const p = link.connect("ws://x");
  made[0].open();
  await p;
  const answer = comm.request("ready");
  const sent = JSON.parse(made[0].frames[0]);
  made[0].feed(JSON.stringify({ type: "reply", view: "v1", id: sent.id, ok: true, result: { owner: true } }));
  assert.deepEqual(await answer, { owner: true });
  comm.dispose();
  link.dispose();
  assert.equal(made[0].closed, true);
});
