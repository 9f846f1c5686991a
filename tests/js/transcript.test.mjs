import { test } from "node:test";
import assert from "node:assert/strict";
import { TranscriptModel, formatSeconds, splitAtTruncation } from "../../js/transcript.js";
import { EventRing, isStreamType } from "../../js/eventlog.js";

test("transcript: entries upsert in place, order from the kernel, out-of-band apart", () => {
  const m = new TranscriptModel();
  m.apply({ entries: [{ id: "u1", kind: "user", text: null }], order: ["u1"] });
  m.apply({ entries: [{ id: "a1", kind: "assistant", text: "Hel", status: "in_progress" }] });
  m.apply({ entries: [{ id: "a1", kind: "assistant", text: "Hello", status: "completed" }] });
  m.apply({ entries: [{ id: "o1", kind: "assistant", text: "sales", oob: true }] });
  assert.deepEqual(m.inBand().map((e) => e.id), ["u1", "a1"]);
  assert.equal(m.entries.get("a1").text, "Hello");
  assert.deepEqual(m.outOfBand().map((e) => e.id), ["o1"]);
  m.apply({ entries: [{ id: "r0", kind: "system" }], order: ["r0", "u1", "a1"] });
  assert.deepEqual(m.inBand().map((e) => e.id), ["r0", "u1", "a1"]);
  const changed = m.apply({ entries: [{ id: "u1", kind: "user", deleted: true }], order: ["r0", "a1"] });
  assert.deepEqual([...changed], ["u1"]);
  assert.deepEqual(m.inBand().map((e) => e.id), ["r0", "a1"]);
});

test("truncation split: proportional, on a word boundary, whole text when not cut", () => {
  const text = "one two three four five six seven eight";
  const [heard, rest] = splitAtTruncation(text, 1000, 2000);
  assert.equal(heard + rest, text);
  assert.ok(heard.length <= text.length / 2 + 1);
  assert.ok(rest.startsWith(" "));
  assert.deepEqual(splitAtTruncation(text, null, 2000), [text, ""]);
  assert.deepEqual(splitAtTruncation(text, 3000, 2000), [text, ""]);
  assert.deepEqual(splitAtTruncation(text, 0, 2000), ["", text]);
  assert.equal(formatSeconds(1234), "1.2 s");
});

test("event ring: merges consecutive deltas, bounded, filters", () => {
  const ring = new EventRing(3);
  ring.add([0.1, "received", "response.created", null, "r1", null]);
  ring.add([0.2, "received", "response.output_audio.delta", "i1", "r1", null]);
  ring.add([0.3, "received", "response.output_audio.delta", "i1", "r1", null, 4]);
  assert.equal(ring.rows.length, 2);
  assert.equal(ring.rows[1].count, 5);
  assert.equal(ring.rows[1].t, 0.3);
  ring.add({ t: 0.4, dir: "received", type: "error", error_code: "invalid_value" });
  ring.add({ t: 0.5, dir: "received", type: "response.done" });
  assert.equal(ring.rows.length, 3);
  assert.equal(ring.total, 8);
  assert.deepEqual(ring.filter("", true).map((r) => r.type), ["error", "response.done"]);
  assert.deepEqual(ring.filter("INVALID").map((r) => r.type), ["error"]);
  ring.resize(1);
  assert.deepEqual(ring.rows.map((r) => r.type), ["response.done"]);
  assert.ok(isStreamType("input_audio_buffer.append"));
  assert.ok(!isStreamType("response.done"));
});

test("event ring: interleaved streams (mic appends, reply deltas) keep one row each; sent rows stay", () => {
  const ring = new EventRing(4);
  for (let k = 0; k < 50; k++) {
    ring.add([k, "sent", "input_audio_buffer.append", null, null, null]);
    ring.add([k + 0.5, "received", "response.output_audio.delta", "i1", "r1", null]);
  }
  ring.add([60, "sent", "conversation.item.truncate", "i1", null, null]);
  ring.add([61, "sent", "input_audio_buffer.append", null, null, null]);
  assert.deepEqual(ring.rows.map((r) => [r.dir, r.type, r.count]), [
    ["sent", "input_audio_buffer.append", 50], ["received", "response.output_audio.delta", 50],
    ["sent", "conversation.item.truncate", 1], ["sent", "input_audio_buffer.append", 1]]);
  assert.deepEqual(ring.filter("", true).map((r) => r.type), ["conversation.item.truncate"]);
});

test("out-of-band metadata is shown in a few words", async () => {
  const { formatMetadata } = await import("../../js/transcript.js");
  assert.equal(formatMetadata({ realtime_nb: "classify", classify_id: "cls_1", topic: "routing", n: 2 }),
    "classify topic=routing n=2");
});

test("event log ids are shortened for display", async () => {
  const { shortId } = await import("../../js/eventlog.js");
  assert.equal(shortId("item_UnMV2IynHgxeV4TP8npbW"), "item…P8npbW");
  assert.equal(shortId("resp_1"), "resp_1");
});

test("the cut mark says what was heard of the audio received before the cut", async () => {
  const { cutTitle } = await import("../../js/transcript.js");
  const e = { id: "i", kind: "assistant", truncated_ms: 1200, audio_ms: 1200, received_ms: 3400 };
  assert.equal(cutTitle(e), "interrupted: heard 1.2 s of 3.4 s");
  assert.equal(cutTitle({ ...e, received_ms: null, audio_ms: 2000 }), "interrupted: heard 1.2 s of 2.0 s");
  assert.equal(cutTitle({ ...e, received_ms: null, audio_ms: 0 }), "interrupted: heard 1.2 s");
});

test("a whitespace-only unheard rest splits as whitespace (the view drops it)", () => {
  const [heard, rest] = splitAtTruncation("Hello there. ", 1900, 2000);
  assert.equal(heard + rest, "Hello there. ");
  assert.ok(!/\S/.test(rest));
});

test("cut marks fall on word boundaries, never inside a word", async () => {
  const text = "You asked about the lighthouse keeper";
  for (let ms = 0; ms <= 2000; ms += 50) {
    const [heard, rest] = splitAtTruncation(text, ms, 2000);
    assert.equal(heard + rest, text);
    const before = heard.at(-1);
    const after = rest[0];
    assert.ok(!before || !after || /\s/.test(before) || /\s/.test(after), `${ms} ms: "${heard}✂${rest}"`);
  }
  assert.deepEqual(splitAtTruncation(text, 60, 2000), ["", text]); // "Y✂ou" was the bug: nothing heard yet
});

test("entries with nothing to show are not drawn; audio, text, streaming and cuts are", async () => {
  const { isEmpty } = await import("../../js/transcript.js");
  assert.equal(isEmpty({ id: "a", kind: "assistant", status: "incomplete", text: "", has_audio: true, audio_ms: 0 }), true);
  assert.equal(isEmpty({ id: "u", kind: "user", status: "completed", text: null, has_audio: true, audio_ms: 0 }), true);
  assert.equal(isEmpty({ id: "u", kind: "user", status: "completed", text: null, has_audio: true, audio_ms: 1900 }), false);
  assert.equal(isEmpty({ id: "a", kind: "assistant", status: "in_progress", text: "", audio_ms: 0 }), false);
  assert.equal(isEmpty({ id: "a", kind: "assistant", status: "incomplete", text: "", audio_ms: 0, truncated_ms: 0 }), false);
  assert.equal(isEmpty({ id: "t", kind: "tool_call", status: "completed", audio_ms: 0 }), false);
});
