// Wall-clock epoch ms inside an AudioWorklet (BENCH HOOK, used only when tracing): the worklet scope
// has no `performance`; Temporal.Now reads the same system clock at ~0.1 ms, Date.now() at 1 ms.
export function workletWallMs() {
  const T = /** @type {any} */ (globalThis).Temporal;
  return T ? Number(T.Now.instant().epochNanoseconds) / 1e6 : Date.now();
}
