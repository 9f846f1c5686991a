// The live transcript. The kernel is the source of truth (it reduces the protocol events); it sends
// whole entries for the items that changed and, when items came or went, the conversation order.
// `TranscriptModel` is pure (node-tested); `TranscriptView` updates the DOM in place so streaming
// text does not flicker.

/**
 * @typedef {{id: string, kind: string, role?: string | null, oob?: boolean, response_id?: string | null,
 *   status?: string | null, text?: string | null, has_audio?: boolean, audio_ms?: number,
 *   truncated_ms?: number | null, received_ms?: number | null, latency_ms?: number | null, name?: string | null, arguments?: string | null, output?: string | null,
 *   call_id?: string | null, metadata?: any, error?: string | null, deleted?: boolean}} Entry
 * @typedef {{entries?: Entry[], order?: string[]}} TranscriptUpdate
 */

export class TranscriptModel {
  constructor() {
    /** @type {Map<string, Entry>} */
    this.entries = new Map();
    /** conversation order (in-band items) @type {string[]} */
    this.order = [];
    /** out-of-band items in arrival order @type {string[]} */
    this.oob = [];
  }

  /**
   * Apply an update (or a snapshot: the same shape with every entry). Returns the ids that changed.
   * @param {TranscriptUpdate} update
   */
  apply(update) {
    /** @type {Set<string>} */
    const changed = new Set();
    for (const e of update.entries ?? []) {
      if (e.deleted) {
        this.entries.delete(e.id);
        this.order = this.order.filter((id) => id !== e.id);
        this.oob = this.oob.filter((id) => id !== e.id);
      } else {
        if (e.oob && !this.entries.has(e.id)) this.oob.push(e.id);
        else if (!e.oob && !this.entries.has(e.id) && !update.order && !this.order.includes(e.id)) this.order.push(e.id);
        this.entries.set(e.id, e);
      }
      changed.add(e.id);
    }
    if (update.order) this.order = update.order.filter((id) => this.entries.has(id));
    return changed;
  }

  /** In-band entries in conversation order. */
  inBand() {
    return /** @type {Entry[]} */ (this.order.map((id) => this.entries.get(id)).filter(Boolean));
  }

  /** Out-of-band entries in arrival order. */
  outOfBand() {
    return /** @type {Entry[]} */ (this.oob.map((id) => this.entries.get(id)).filter(Boolean));
  }
}

/**
 * Where the listener stopped hearing a truncated item, as a split of its transcript. The audio and
 * its transcript run at roughly the same pace, so the cut is placed proportionally, then moved back to
 * a word boundary.
 * @param {string} text
 * @param {number | null | undefined} truncatedMs
 * @param {number | null | undefined} audioMs
 * @returns {[string, string]} [heard, not heard]
 */
export function splitAtTruncation(text, truncatedMs, audioMs) {
  if (truncatedMs == null || !text) return [text ?? "", ""];
  if (!audioMs || truncatedMs >= audioMs) return [text, ""];
  let at = Math.round((text.length * Math.max(0, truncatedMs)) / audioMs);
  if (at > 0 && at < text.length && /\S/.test(text[at]) && /\S/.test(text[at - 1])) {
    // inside a word: the cut goes before it (a word half heard was not heard), never "Y✂ou"
    const space = text.slice(0, at).search(/\s\S*$/);
    at = space >= 0 ? space : 0;
  }
  return [text.slice(0, at), text.slice(at)];
}

/**
 * An entry with nothing to show: no text, no audio worth a bubble ("audio, 0.0 s"), not streaming, not
 * cut, no error (a cancelled reply that never spoke, an empty commit). Such entries are not drawn.
 * @param {Entry} e
 */
export function isEmpty(e) {
  if (e.kind !== "user" && e.kind !== "assistant") return false;
  if (e.text || e.error || e.status === "in_progress" || e.truncated_ms != null) return false;
  return (e.audio_ms ?? 0) < 50;
}

/**
 * Out-of-band metadata in a few words: `key=value` pairs, internal ids left out (they stay in the tooltip).
 * @param {Record<string, any>} metadata
 */
export function formatMetadata(metadata) {
  const words = typeof metadata.realtime_nb === "string" ? [metadata.realtime_nb] : [];
  for (const [k, v] of Object.entries(metadata)) {
    if (k.endsWith("_id") || k === "realtime_nb") continue;
    words.push(`${k}=${typeof v === "string" ? v : JSON.stringify(v)}`);
  }
  return words.join(" ");
}

/** @param {number} ms */
export function formatSeconds(ms) {
  return `${(ms / 1000).toFixed(1)} s`;
}

/**
 * The cut mark's tooltip: what was heard of the audio received before the cut (not of the truncated
 * length, which is what was heard).
 * @param {Entry} e
 */
export function cutTitle(e) {
  const of = e.received_ms ?? e.audio_ms;
  return `interrupted: heard ${formatSeconds(e.truncated_ms ?? 0)}` + (of ? ` of ${formatSeconds(of)}` : "");
}

const WHO = /** @type {Record<string, string>} */ ({
  user: "You", assistant: "Assistant", system: "System", tool_call: "Tool call", tool_output: "Tool result",
});

/**
 * @param {string} tag
 * @param {string} cls
 * @param {string} [text]
 */
function el(tag, cls, text) {
  const n = document.createElement(tag);
  n.className = cls;
  if (text !== undefined) n.textContent = text;
  return n;
}

export class TranscriptView {
  /**
   * @param {HTMLElement} list in-band entries go here
   * @param {HTMLElement} oobList out-of-band results go here
   * @param {HTMLElement} oobSection shown once there is an out-of-band result
   * @param {HTMLElement} empty the placeholder shown while there are no entries
   */
  constructor(list, oobList, oobSection, empty) {
    this.model = new TranscriptModel();
    this.list = list;
    this.oobList = oobList;
    this.oobSection = oobSection;
    this.empty = empty;
    /** @type {Map<string, HTMLElement>} */
    this.nodes = new Map();
  }

  /** @param {TranscriptUpdate} update */
  apply(update) {
    const changed = this.model.apply(update);
    for (const id of changed) {
      const e = this.model.entries.get(id);
      if (!e) {
        this.nodes.get(id)?.remove();
        this.nodes.delete(id);
        continue;
      }
      this.nodes.set(id, this.draw(e, this.nodes.get(id)));
    }
    const stick = this.list.scrollHeight - this.list.scrollTop - this.list.clientHeight < 40;
    this.place(this.list, this.model.inBand());
    this.place(this.oobList, this.model.outOfBand());
    this.oobSection.hidden = this.model.oob.length === 0;
    this.empty.hidden = this.model.entries.size > 0;
    if (stick) this.list.scrollTop = this.list.scrollHeight;
  }

  /**
   * Put the entry nodes in order, moving only those that are out of place.
   * @param {HTMLElement} parent
   * @param {Entry[]} entries
   */
  place(parent, entries) {
    let prev = null;
    for (const e of entries) {
      const node = this.nodes.get(e.id);
      if (!node) continue;
      const want = prev ? prev.nextSibling : parent.firstChild;
      if (want !== node) parent.insertBefore(node, want);
      prev = node;
    }
  }

  /**
   * @param {Entry} e
   * @param {HTMLElement | undefined} node
   */
  draw(e, node) {
    const n = node ?? el("div", "");
    n.hidden = isEmpty(e);
    n.className = `rtnb-entry rtnb-${e.kind}${e.status === "in_progress" ? " rtnb-streaming" : ""}`;
    n.setAttribute("data-testid", "rtnb-entry");
    n.dataset.kind = e.kind;
    n.dataset.itemId = e.id;
    n.dataset.status = e.status ?? "";
    if (e.truncated_ms != null) n.dataset.truncated = String(e.truncated_ms);
    else delete n.dataset.truncated;
    const who = el("div", "rtnb-who", WHO[e.kind] ?? e.kind);
    if (e.latency_ms != null) { // speech end -> first audio, discreetly
      const lat = el("span", "rtnb-latency", ` · ${e.latency_ms} ms`);
      lat.title = "from the end of your speech to the first audio of this reply (as the kernel saw it)";
      lat.setAttribute("data-testid", "rtnb-latency");
      who.append(lat);
    }
    if (e.oob && e.metadata && Object.keys(e.metadata).length) {
      const meta = el("span", "rtnb-meta", ` ${formatMetadata(e.metadata)}`);
      meta.title = JSON.stringify(e.metadata, null, 1);
      who.append(meta);
    }
    const body = el("div", "rtnb-text");
    body.setAttribute("data-testid", "rtnb-entry-text");
    if (e.kind === "tool_call") {
      body.classList.add("rtnb-code");
      body.textContent = `${e.name ?? "?"}(${e.arguments ?? ""})`;
    } else if (e.kind === "tool_output") {
      body.classList.add("rtnb-code");
      body.textContent = e.output ?? "";
    } else if (e.text) {
      const [heard, unheard] = splitAtTruncation(e.text, e.truncated_ms, e.received_ms ?? e.audio_ms);
      body.append(document.createTextNode(heard));
      if (e.truncated_ms != null) body.append(this.cutMark(e));
      // a whitespace-only rest is not worth a struck-through span (it would show as a stray mark)
      if (e.truncated_ms != null && /\S/.test(unheard)) body.append(el("span", "rtnb-unheard", unheard));
    } else if (e.has_audio) {
      body.classList.add("rtnb-placeholder");
      body.textContent = e.status === "in_progress" ? "…" : `audio, ${formatSeconds(e.audio_ms ?? 0)}`;
      if (e.truncated_ms != null) body.append(this.cutMark(e));
    } else if (e.status === "in_progress") {
      body.classList.add("rtnb-placeholder");
      body.textContent = "…";
    }
    if (e.error) body.append(el("div", "rtnb-entry-error", e.error));
    n.replaceChildren(who, body);
    return n;
  }

  /** @param {Entry} e */
  cutMark(e) {
    const mark = el("span", "rtnb-cut", "✂");
    mark.setAttribute("data-testid", "rtnb-cut");
    mark.title = cutTitle(e);
    return mark;
  }
}
