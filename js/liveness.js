// Does the kernel behind this view still live? An anywidget view is not told when its kernel dies or
// restarts: the model stays, and the page must notice by itself. The signals it has:
//
// - the widget manager's `comm_live_update` event: JupyterLab / Notebook 7 mark every model's comm
//   dead when the kernel restarts (also the automatic restart after the kernel process was killed);
// - a send that throws (`Cannot send`: the comm is disposed) — `Comm` reports it (`onDead`);
// - the fast-path link's socket closing while the view lives: the kernel process went away (or its
//   widget was closed); a ping over the comm then decides, within `confirmMs`;
// - no reply to the periodic ping over the link for `pingTimeoutMs` (the link's replies come from the
//   kernel's loop thread, so a busy cell does not delay them; over the comm a busy cell does, and a
//   missing reply there is only a notice).
//
// Pure logic over injected pieces (a model, a `Comm`-like requester, timers), `node --test`ed.

/**
 * @typedef {{on: (n: string, cb: (...a: any[]) => void) => void, off: (n: string, cb: (...a: any[]) => void) => void}} Events
 * @typedef {{request: (type: string, content?: any, options?: {timeoutMs?: number}) => Promise<any>}} Requester
 * @typedef {{kind: "kernel" | "lost", reason: string}} Verdict
 */

export const RESTARTED = "Kernel restarted — run the cell again";

export class Liveness {
  /**
   * @param {Events} model the anywidget model (its `comm_live_update` event)
   * @param {Requester} comm
   * @param {{onLost: (v: Verdict) => void, onSlow?: (slow: boolean) => void, linked?: () => boolean,
   *   commLive?: () => boolean, report?: () => Record<string, any>,
   *   pingMs?: number, pingTimeoutMs?: number, confirmMs?: number,
   *   setTimer?: (fn: () => void, ms: number) => any, clearTimer?: (t: any) => void}} options
   */
  constructor(model, comm, { onLost, onSlow = () => {}, linked = () => false, commLive = () => false, report = () => ({}), pingMs = 2000, pingTimeoutMs = 3000,
    confirmMs = 800, setTimer = (fn, ms) => setInterval(fn, ms), clearTimer = (t) => clearInterval(t) }) {
    this.model = model;
    this.comm = comm;
    this.onLost = onLost;
    this.onSlow = onSlow;
    this.linked = linked;
    /** what each ping carries to the kernel (the player's counters, for `w.stats()`) */
    this.report = report;
    this.pingTimeoutMs = pingTimeoutMs;
    this.confirmMs = confirmMs;
    this.clearTimer = clearTimer;
    /** @type {Verdict | null} */
    this.verdict = null;
    this.pinging = false;
    // the event carries no value: `commLive` reads the real model's flag where it can (a reconnected
    // page may fire it with the comm alive); unknown counts as dead
    this.onCommLive = () => {
      if (!commLive()) this.lost({ kind: "kernel", reason: RESTARTED });
    };
    model.on("comm_live_update", this.onCommLive);
    this.timer = setTimer(() => this.ping(), pingMs);
  }

  /** @param {Verdict} v the first verdict ends the watch; a later "kernel" one only refines the reason */
  lost(v) {
    const first = this.verdict === null;
    if (!first && !(v.kind === "kernel" && this.verdict?.kind !== "kernel")) return;
    this.verdict = v;
    if (first) this.stop(false);
    this.onLost(v);
  }

  /** A send threw: the comm is gone for good. @param {Error} err */
  sendFailed(err) {
    this.lost({ kind: "kernel", reason: /Cannot send/i.test(String(err?.message ?? err)) ? RESTARTED
      : `Connection lost: ${err?.message ?? err}` });
  }

  /** The link's socket closed under a live view: does the kernel still answer over the comm? */
  async linkDropped() {
    if (this.verdict) return;
    try {
      await this.comm.request("ping", {}, { timeoutMs: this.confirmMs });
    } catch (err) {
      if (!this.verdict) this.lost({ kind: "lost", reason: "Connection lost: the kernel does not answer" });
    }
  }

  async ping() {
    if (this.verdict || this.pinging) return;
    this.pinging = true;
    const linked = this.linked();
    try {
      await this.comm.request("ping", this.report(), { timeoutMs: this.pingTimeoutMs });
      this.onSlow(false);
    } catch {
      if (this.verdict) return;
      if (linked && this.linked()) this.lost({ kind: "lost", reason: "Connection lost: the kernel does not answer" });
      else this.onSlow(true); // over the comm, a cell that blocks delays the reply: say so, do not end
    } finally {
      this.pinging = false;
    }
  }

  /** @param {boolean} [off] also stop listening to the model */
  stop(off = true) {
    if (this.timer !== null) this.clearTimer(this.timer);
    this.timer = null;
    if (off) this.model.off("comm_live_update", this.onCommLive);
  }
}
