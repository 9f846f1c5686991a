// The kernel's messages to a view: transcript and event-log updates (applied at the next frame, all at
// once), the reply's audio to the player, interrupts, ownership, notices, and the session's lifecycle
// (`session_closed` ends the view, `session_open` reopens it; the session's own reconnects show on the pill).
import { int16FromBytes } from "./pcm.js";
import { trace, traceOn, wallMs } from "./trace.js";

/** @param {import("./view.js").View} v */
export function installMessages(v) {
  const { comm, ui, debug, status } = v;

  // Transcript and event-log updates touch the DOM: they are applied at the next frame, all at once, so
  // that the audio message the kernel sends right after one is handed to the player without waiting.
  /** @type {any[]} */
  let updates = [];
  let updateTimer = 0;
  function applyUpdates() {
    updateTimer = 0;
    const batch = updates;
    updates = [];
    if (v.disposed) return;
    for (const msg of batch) {
      if (msg.entries || msg.order) {
        ui.transcript.apply(msg);
        v.captions?.render(ui.transcript.model);
      }
      if (msg.events) {
        ui.eventLog.add(msg.events);
        feedServer(msg.events);
      }
    }
  }

  /** The server's events, in order, to the status machine. @param {any[][]} rows compact log rows */
  function feedServer(rows) {
    for (const row of rows) {
      if (row[1] !== "received") continue;
      const type = row[2];
      if (!v.owner) { // no player here: the server's audio stream stands for it
        if (type === "response.output_audio.delta") status.dispatch("playing");
        else if (type === "response.output_audio.done" || type === "response.done") status.dispatch("idle");
      }
      status.server(type);
    }
  }

  v.applySnapshot = (snapshot) => {
    if (!snapshot) return;
    updates = []; // older than the snapshot
    ui.transcript.apply({ entries: snapshot.entries ?? [], order: snapshot.order });
    v.captions?.render(ui.transcript.model);
    ui.eventLog.ring.rows = [];
    ui.eventLog.ring.total = 0;
    ui.eventLog.add(snapshot.events ?? []);
  };

  comm.on("update", (msg) => {
    updates.push(msg);
    if (updateTimer) return;
    // a hidden tab gets no animation frames: a (throttled) timer still drains the queue
    updateTimer = document.hidden ? setTimeout(applyUpdates, 50) : requestAnimationFrame(applyUpdates);
  });
  comm.on("audio", (msg, buffers) => {
    if (v.captions) return; // caption mode plays nothing
    if (msg.direct) { // the link's worker already gave it to the player: only count it
      const before = debug.samplesReceived[msg.item_id] ?? 0;
      if (traceOn()) trace(["in", msg.item_id, before, msg.samples, msg.at]); // bench hook
      debug.samplesReceived[msg.item_id] = before + msg.samples;
      v.engine?.player.noteDirect(msg.item_id, msg.samples);
      return;
    }
    if (!v.engine || !buffers.length) return;
    const pcm = int16FromBytes(buffers[0]);
    const before = debug.samplesReceived[msg.item_id] ?? 0;
    if (traceOn()) trace(["in", msg.item_id, before, pcm.length, wallMs()]); // bench hook
    debug.samplesReceived[msg.item_id] = before + pcm.length;
    v.engine.player.push(msg.item_id, pcm);
  });
  comm.on("audio_end", (msg) => {
    if (!msg.direct) v.engine?.player.end(msg.item_id);
  });
  comm.on("interrupt", async () => {
    if (traceOn()) trace(["interrupt_msg", wallMs()]); // bench hook
    debug.interrupts += 1;
    const r = v.engine ? await v.engine.player.interrupt() : { item_id: null, played_samples: 0 };
    debug.lastInterrupt = r;
    if (r.item_id) debug.samplesPlayed[r.item_id] = r.played_samples;
    return r;
  });
  comm.on("owner", (msg) => {
    if (!v.ready || v.ended) return;
    if (msg.owner === null && !v.owner) v.claim(false);
    else v.setOwner(msg.owner === v.id);
  });
  comm.on("probe", () => ({ alive: true, owner: v.owner })); // a newer view asks whether this one still lives
  comm.on("truncated", (msg) => {
    debug.truncates += 1;
    debug.lastTruncate = msg;
  });
  comm.on("notice", (msg) => ui.setNotice(msg.text ?? ""));
  comm.on("session_closed", (msg) => v.end(msg.kind ?? "closed", msg.reason ?? "Session closed", Boolean(msg.can_resume)));
  comm.on("session_open", () => v.reopen());
  comm.on("reconnecting", () => status.dispatch("reconnecting"));
  comm.on("reconnected", () => status.dispatch("reconnected"));
}
