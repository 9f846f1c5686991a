// Loading worklet processors from source text (anywidget loads our bundle from a Blob, so the
// processors cannot be fetched by URL: they are bundled as strings and added from Blob URLs).
// One shared promise per (context, source): messages that arrive while addModule is pending wait on
// it instead of hitting a node that does not exist yet.

/** @type {WeakMap<BaseAudioContext, Map<string, Promise<void>>>} */
const loaded = new WeakMap();

/**
 * Add a worklet module given as source text (once per context).
 * @param {BaseAudioContext} ctx
 * @param {string} source
 * @returns {Promise<void>}
 */
export function addWorkletModule(ctx, source) {
  let byCtx = loaded.get(ctx);
  if (!byCtx) {
    byCtx = new Map();
    loaded.set(ctx, byCtx);
  }
  let p = byCtx.get(source);
  if (!p) {
    const url = URL.createObjectURL(new Blob([source], { type: "application/javascript" }));
    p = ctx.audioWorklet.addModule(url).finally(() => URL.revokeObjectURL(url));
    p.catch(() => byCtx?.delete(source)); // a failed load may be retried
    byCtx.set(source, p);
  }
  return p;
}
