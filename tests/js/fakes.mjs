// Test doubles shared by the JS unit tests.

/** A stand-in for the anywidget model: records sends, lets the test deliver custom messages. */
export function fakeModel() {
  const listeners = new Set();
  return {
    sent: [],
    send(content, callbacks, buffers) {
      this.sent.push({ content, callbacks, buffers });
    },
    on(name, cb) {
      if (name !== "msg:custom") throw new Error(`unexpected model event ${name}`);
      listeners.add(cb);
    },
    off(name, cb) {
      listeners.delete(cb);
    },
    deliver(msg, buffers = []) {
      for (const cb of [...listeners]) cb(msg, buffers);
    },
    get listeners() {
      return listeners.size;
    },
  };
}
