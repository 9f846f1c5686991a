// Caption mode: the widget of a transcription session (`rt.transcribe().widget`, or `captions=True`).
// Live captions of each utterance as its transcription deltas stream, then its final text; nothing is
// played; the controls that do not apply (voice, Stop reply, typed turns, turn mode, "show my words",
// the output meter) are hidden. The kernel's transcript entries are the source (`transcript.js`'s model):
// a user entry's `text` grows with the deltas and `transcribed` marks it final. `captionLines` is pure
// (node-tested); `CaptionView` draws it, updating lines in place so streaming text does not flicker.

/**
 * @typedef {import("./transcript.js").Entry & {transcribed?: boolean}} CaptionEntry
 * @typedef {{id: string, text: string, final: boolean, error: string | null}} CaptionLine
 */

/**
 * One line per user utterance, in conversation order.
 * @param {import("./transcript.js").TranscriptModel} model
 * @returns {CaptionLine[]}
 */
export function captionLines(model) {
  return model.inBand().filter((e) => e.kind === "user").map((e) => {
    const entry = /** @type {CaptionEntry} */ (e);
    return { id: e.id, text: e.text ?? "", final: Boolean(entry.transcribed) || Boolean(e.error), error: e.error ?? null };
  });
}

/** The parts of the widget that a caption view hides (they have nothing to do without responses). */
function captionless(/** @type {any} */ ui) {
  const label = (/** @type {HTMLElement} */ control) => control.closest("label") ?? control;
  const out = /** @type {HTMLElement} */ (ui.container.querySelector("[data-testid=rtnb-out-level]"));
  return [ui.stopReply, ui.composer, label(ui.transcribe), label(ui.mode), label(ui.vad), label(ui.voice),
    label(ui.prebuffer), label(ui.bargeIn), out, out?.previousElementSibling,
    ...ui.container.querySelectorAll(".rtnb-transcript, .rtnb-empty, .rtnb-oob")].filter(Boolean);
}

export class CaptionView {
  /** @param {ReturnType<typeof import("./ui.js").createUI>} ui */
  constructor(ui) {
    const root = ui.container;
    root.classList.add("rtnb-captions-mode");
    for (const n of captionless(ui)) n.classList.add("rtnb-no-captions");
    this.list = document.createElement("div");
    this.list.className = "rtnb-captions";
    this.list.setAttribute("data-testid", "rtnb-captions");
    this.list.setAttribute("aria-live", "polite");
    this.empty = document.createElement("div");
    this.empty.className = "rtnb-empty";
    this.empty.setAttribute("data-testid", "rtnb-captions-empty");
    this.empty.textContent = "Start talking — captions of what the mic hears appear here.";
    root.querySelector(".rtnb-main")?.prepend(this.empty, this.list);
    /** @type {Map<string, HTMLElement>} */
    this.nodes = new Map();
  }

  /** Redraw from the transcript model (after each update). @param {import("./transcript.js").TranscriptModel} model */
  render(model) {
    const lines = captionLines(model);
    const stick = this.list.scrollHeight - this.list.scrollTop - this.list.clientHeight < 40;
    const keep = new Set(lines.map((l) => l.id));
    for (const [id, node] of this.nodes) {
      if (!keep.has(id)) {
        node.remove();
        this.nodes.delete(id);
      }
    }
    for (const line of lines) {
      let node = this.nodes.get(line.id);
      if (!node) {
        node = document.createElement("p");
        node.className = "rtnb-caption";
        node.setAttribute("data-testid", "rtnb-caption");
        node.dataset.itemId = line.id;
        this.nodes.set(line.id, node);
      }
      const text = line.error ?? (line.text || "…");
      if (node.textContent !== text) node.textContent = text;
      node.dataset.final = String(line.final);
      node.classList.toggle("rtnb-caption-partial", !line.final);
      node.classList.toggle("rtnb-caption-error", Boolean(line.error));
      this.list.append(node); // in order (a no-op for a line already in place at the end)
    }
    this.empty.hidden = lines.length > 0;
    if (stick) this.list.scrollTop = this.list.scrollHeight;
  }
}
