// A view's lifecycle: the handshake with the kernel (its fast path first, then "ready", retried while
// the kernel is busy), which view owns audio, and the end — when the session closes (the kernel says
// so: `session_closed`) or the kernel goes away (liveness.js), the view stops the mic tracks and the
// player at once, disables what no longer applies, and shows why; a Reconnect button where the session
// can go on, and `reopen` when it did.
import { Link, linkUrls } from "./link.js";
import { WorkerSocket, workersAvailable } from "./workersocket.js";

const READY_TIMEOUT_MS = 5000;
const LINK_TIMEOUT_MS = 1500;

/** @param {import("./view.js").View} v */
export function installLifecycle(v) {
  /**
   * The session or the kernel ended: stop capture and playback now, disable what no longer applies,
   * say why. Idempotent; a later call may only refine the reason.
   * @param {string} kind "closed" | "expired" | "lost" | "kernel"
   * @param {string} reason
   * @param {boolean} [canResume]
   */
  v.end = (kind, reason, canResume = false) => {
    const first = v.ended === null;
    v.ended = { kind, reason, canResume: canResume && kind !== "kernel" };
    if (first) {
      v.pttUp();
      v.stopEngine(); // every mic track stopped, the player and the context closed
      v.status.dispatch(kind === "closed" || kind === "expired" ? "closed" : "lost");
    }
    if (kind === "kernel") { // nothing to talk to: no more messages, no more timers
      v.liveness.stop();
      v.link.close();
    }
    v.debug.ended = v.ended;
    v.root.dataset.ended = kind;
    v.ui.setEnd(reason, v.ended.canResume);
    v.refreshControls();
  };

  /** The session is back (a reconnect): a fresh start, the mic closed until asked. */
  v.reopen = () => {
    if (!v.ended || v.ended.kind === "kernel") return;
    v.ended = null;
    v.debug.ended = null;
    delete v.root.dataset.ended;
    v.ui.setEnd("");
    v.micWasOn = false;
    v.status.dispatch("reopened");
    if (v.owner) v.startEngine();
    v.refreshControls();
  };

  v.setOwner = (mine) => {
    v.owner = mine;
    v.debug.owner = mine;
    const g = /** @type {any} */ (globalThis).__realtime_nb_debug?.[v.key];
    if (g && mine) g.owner = v.debug;
    else if (g && g.owner === v.debug) g.owner = null;
    if (mine && !v.ended) v.startEngine();
    else v.stopEngine();
    v.refreshControls();
  };

  v.claim = async (force) => {
    try {
      const r = await v.comm.request("claim", { force });
      v.setOwner(Boolean(r?.owner));
    } catch {
      /* the kernel is gone or busy; the next owner message decides */
    }
  };

  /** Ask the kernel for its fast path and open it; the comm carries everything when there is none. */
  async function openLink() {
    // the page's origin: the kernel lets only sockets from it use the link's token
    const info = await v.comm.request("link", { origin: globalThis.location?.origin ?? "" }, { timeoutMs: READY_TIMEOUT_MS });
    if (!info?.port || v.disposed) return;
    // the socket in a worker first (audio then bypasses this thread), else on this thread
    const impls = workersAvailable() ? [WorkerSocket, globalThis.WebSocket] : [globalThis.WebSocket];
    for (const url of linkUrls(info, v.id)) {
      for (const impl of impls) {
        v.link.WebSocketImpl = impl;
        if (await v.link.connect(url, LINK_TIMEOUT_MS)) return;
      }
    }
  }

  v.handshake = async () => {
    let linkAsked = false;
    while (!v.disposed && !v.ready) {
      try {
        if (!linkAsked) {
          await openLink(); // first, so that everything after "ready" takes one path, in order
          linkAsked = true;
        }
        const r = await v.comm.request("ready", {}, { timeoutMs: READY_TIMEOUT_MS });
        if (v.disposed) return;
        v.ready = true;
        v.debug.ready = true;
        v.ui.setNotice("");
        v.transportInfo = r?.transport ?? null;
        v.applySnapshot(r?.snapshot);
        v.status.dispatch("connected");
        if (r?.closed) v.end(r.closed.kind ?? "closed", r.closed.reason ?? "Session closed", Boolean(r.closed.can_resume));
        v.setOwner(Boolean(r?.owner));
      } catch {
        if (v.ended?.kind === "kernel") return;
        if (!v.disposed) v.ui.setNotice("Waiting for the kernel (busy or not connected)…");
      }
    }
  };
}

/**
 * The view's fast path to the kernel; when its socket goes, audio takes the page's path again and the
 * liveness watch asks whether the kernel still lives.
 * @param {import("./view.js").View} v
 */
export function newLink(v) {
  return new Link(v.model, {
    onChange: (url) => {
      v.debug.link = url;
      v.root.dataset.link = url ? "link" : "comm";
      if (!url) { // the worker went with the socket: audio takes the page's path again
        v.engine?.capture?.undirect();
        v.debug.audioPath = v.debug.micPath = "page";
        if (!v.disposed && !v.ended) v.liveness.linkDropped(); // the kernel process may be gone
      }
    },
  });
}
