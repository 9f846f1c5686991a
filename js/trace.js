// Latency tracing for the benchmarks (bench/bench_relay.py, bench/bench_bargein.py). BENCH HOOK.
// Off unless the page defines `globalThis.__realtime_nb_trace = []` before the widget starts its
// audio; then the widget, its capture and its player append timestamped rows to that array (the
// benchmark drains it). Times are wall-clock epoch ms: performance.timeOrigin + performance.now() on
// the main thread, `workletWallMs()` (Temporal.Now) inside the worklets.
// Rows (main thread): ["mic", offset, samples, postedAt]   a mic chunk forwarded (offset in samples)
//                     ["in", item, offset, samples, at]    assistant audio reached the view
//                     ["interrupt_msg", at]                 the kernel's interrupt request reached the view
// Rows (player worklet, see player.worklet.js): push, play, interrupt, silent.

/** Whether a benchmark asked for the trace. */
export function traceOn() {
  return Array.isArray(/** @type {any} */ (globalThis).__realtime_nb_trace);
}

/** @param {any[]} row */
export function trace(row) {
  const sink = /** @type {any} */ (globalThis).__realtime_nb_trace;
  if (Array.isArray(sink)) sink.push(row);
}

/** Wall-clock epoch ms on the main thread. */
export function wallMs() {
  return performance.timeOrigin + performance.now();
}
