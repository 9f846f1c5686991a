// The collapsible event log: the last N protocol events (sent ↑ and received ↓), consecutive deltas
// merged into one row.
// `EventRing` is pure (node-tested); `EventLogView` draws it.

/**
 * @typedef {{t: number, dir: string, type: string, item_id?: string | null, response_id?: string | null,
 *   error_code?: string | null, count: number, index?: number | null}} LogRow
 */

/** Event types that come in streams: consecutive ones are shown as one row with a count. */
export function isStreamType(/** @type {string} */ type) {
  return type.endsWith(".delta") || type === "input_audio_buffer.append";
}

export class EventRing {
  /** @param {number} size */
  constructor(size = 200) {
    this.size = Math.max(1, size | 0);
    /** @type {LogRow[]} */
    this.rows = [];
    this.total = 0;
  }

  /** @param {number} size */
  resize(size) {
    this.size = Math.max(1, size | 0);
    if (this.rows.length > this.size) this.rows.splice(0, this.rows.length - this.size);
  }

  /**
   * Add a row, merging it into its stream's row (same type, direction and item) when only stream rows
   * came since.
   * Accepts the kernel's compact form [t, dir, type, item_id, response_id, error_code, count].
   * @param {LogRow | any[]} row
   */
  add(row) {
    const r = Array.isArray(row)
      ? { t: row[0], dir: row[1], type: row[2], item_id: row[3], response_id: row[4], error_code: row[5], count: row[6] ?? 1,
        index: row[7] ?? null }
      : { count: 1, index: null, ...row };
    this.total += r.count;
    // A stream row merges into its stream's latest row while only stream rows came since: the mic's
    // appends (sent) interleave with a reply's deltas (received), and would otherwise fill the ring
    // one row each, pushing out the other events (e.g. a truncate the session sent).
    if (isStreamType(r.type)) {
      for (let i = this.rows.length - 1; i >= 0 && isStreamType(this.rows[i].type); i--) {
        const row = this.rows[i];
        if (row.type === r.type && row.dir === r.dir && row.item_id === r.item_id) {
          row.count += r.count;
          row.t = r.t;
          row.index = r.index ?? row.index;
          return false;
        }
      }
    }
    this.rows.push(r);
    if (this.rows.length > this.size) this.rows.shift();
    return true;
  }

  /**
   * Rows whose type contains `text` (case-insensitive), optionally without stream rows.
   * @param {string} [text]
   * @param {boolean} [hideStreams]
   */
  filter(text = "", hideStreams = false) {
    const needle = text.trim().toLowerCase();
    return this.rows.filter((r) => (!hideStreams || !isStreamType(r.type))
      && (!needle || r.type.toLowerCase().includes(needle) || (r.error_code ?? "").toLowerCase().includes(needle)));
  }
}

/** `item_AbCdEf123456` -> `item…123456`: enough to tell rows apart (the full ids are in the tooltip). */
export function shortId(/** @type {string} */ id) {
  const cut = id.indexOf("_");
  return id.length > 14 ? `${cut > 0 ? id.slice(0, cut) : ""}…${id.slice(-6)}` : id;
}

/**
 * A row's payload as indented JSON (audio already elided by the kernel).
 * @param {any} payload undefined while loading, null when the kernel does not have it
 * @param {string} dir
 */
function payloadView(payload, dir) {
  const pre = document.createElement("pre");
  pre.className = "rtnb-log-json";
  pre.setAttribute("data-testid", "rtnb-log-json");
  if (payload === undefined) pre.textContent = "…";
  else if (payload === null) pre.textContent = dir === "sent" ? "(not kept: audio appends are not, and only the last 256 sent events are)" : "(no longer kept)";
  else pre.textContent = JSON.stringify(payload, null, 2);
  return pre;
}

const ARROWS = /** @type {Record<string, string>} */ ({ sent: "↑", received: "↓", local: "•" });

export class EventLogView {
  /**
   * @param {HTMLElement} root a <details> element
   * @param {number} size
   * @param {{fetch?: (index: number) => Promise<any>}} [options] `fetch`: a row's payload from the kernel
   */
  constructor(root, size, { fetch } = {}) {
    this.fetch = fetch;
    /** the log index whose payload is open @type {number | null} */
    this.open = null;
    /** @type {any} */
    this.openPayload = undefined;
    this.ring = new EventRing(size);
    this.root = root;
    this.count = /** @type {HTMLElement} */ (root.querySelector("[data-role=count]"));
    this.list = /** @type {HTMLElement} */ (root.querySelector("[data-testid=rtnb-log-list]"));
    this.input = /** @type {HTMLInputElement} */ (root.querySelector("[data-testid=rtnb-log-filter]"));
    this.hide = /** @type {HTMLInputElement} */ (root.querySelector("[data-testid=rtnb-log-hide-streams]"));
    this.dirty = false;
    /** the reader scrolled up: new rows do not move the list */
    this.paused = false;
    const redraw = () => this.draw();
    this.input.addEventListener("input", redraw);
    this.hide.addEventListener("change", redraw);
    root.addEventListener("toggle", redraw);
    this.list.addEventListener("click", (e) => {
      const li = /** @type {HTMLElement | null} */ ((/** @type {HTMLElement} */ (e.target)).closest("li[data-index]"));
      if (li) this.toggle(Number(li.dataset.index));
    });
  }

  /** Show (or hide) a row's payload under it. @param {number} index */
  async toggle(index) {
    if (this.open === index) {
      this.open = null;
      this.draw();
      return;
    }
    this.open = index;
    this.openPayload = undefined;
    this.draw();
    let payload = null;
    try {
      payload = this.fetch ? await this.fetch(index) : null;
    } catch {
      payload = null;
    }
    if (this.open !== index) return;
    this.openPayload = payload;
    this.draw();
  }

  /** @param {Array<LogRow | any[]>} rows */
  add(rows) {
    for (const r of rows) this.ring.add(r);
    this.count.textContent = String(this.ring.total);
    if ((/** @type {HTMLDetailsElement} */ (this.root)).open) this.draw();
  }

  draw() {
    // follow new rows only while the reader is at the bottom: scrolled up, the list stays where it is
    const list = this.list;
    const stick = list.scrollHeight - list.scrollTop - list.clientHeight < 24;
    const top = list.scrollTop;
    const rows = this.ring.filter(this.input.value, this.hide.checked);
    const frag = document.createDocumentFragment();
    for (const r of rows.slice(-this.ring.size)) {
      const li = document.createElement("li");
      li.className = `rtnb-log-row rtnb-dir-${r.dir}${r.error_code || r.type === "error" ? " rtnb-log-error" : ""}`;
      li.dataset.type = r.type;
      const t = document.createElement("span");
      t.className = "rtnb-log-t";
      t.textContent = r.t.toFixed(2);
      const dir = document.createElement("span");
      dir.className = "rtnb-log-dir";
      dir.textContent = ARROWS[r.dir] ?? r.dir;
      const type = document.createElement("span");
      type.className = "rtnb-log-type";
      type.textContent = r.count > 1 ? `${r.type} ×${r.count}` : r.type;
      const extra = document.createElement("span");
      extra.className = "rtnb-log-extra";
      const ids = [r.item_id, r.response_id].filter(Boolean);
      extra.textContent = [r.error_code, ...ids.map((id) => shortId(/** @type {string} */ (id)))].filter(Boolean).join(" ");
      extra.title = ids.join("\n");
      li.append(t, dir, type, extra);
      if (r.index != null) {
        li.dataset.index = String(r.index);
        li.title = "click: the event's JSON";
      }
      frag.append(li);
      if (r.index != null && r.index === this.open) frag.append(payloadView(this.openPayload, r.dir));
    }
    list.replaceChildren(frag);
    list.scrollTop = stick ? list.scrollHeight : top;
    this.paused = !stick;
  }
}
