// Test doubles shared by the JS unit tests.

/** A stand-in for the anywidget model: records sends, lets the test deliver custom messages. */
export function fakeModel() {
  const listeners = new Set();
  const others = new Map(); // other model events (comm_live_update …)
  return {
    sent: [],
    /** set to an Error to make send throw, as a dead kernel's comm does */
    failWith: null,
    send(content, callbacks, buffers) {
      if (this.failWith) throw this.failWith;
      this.sent.push({ content, callbacks, buffers });
    },
    on(name, cb) {
      if (name === "msg:custom") listeners.add(cb);
      else if (name === "comm_live_update") (others.get(name) ?? others.set(name, new Set()).get(name)).add(cb);
      else throw new Error(`unexpected model event ${name}`);
    },
    off(name, cb) {
      listeners.delete(cb);
      others.get(name)?.delete(cb);
    },
    emit(name) {
      for (const cb of [...(others.get(name) ?? [])]) cb();
    },
    deliver(msg, buffers = []) {
      for (const cb of [...listeners]) cb(msg, buffers);
    },
    get listeners() {
      return listeners.size;
    },
  };
}
