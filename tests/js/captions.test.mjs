import { test } from "node:test";
import assert from "node:assert/strict";
import { TranscriptModel } from "../../js/transcript.js";
import { captionLines } from "../../js/captions.js";

const user = (id, text, transcribed, extra = {}) => ({ id, kind: "user", role: "user", text, transcribed, ...extra });

test("one caption per utterance, streaming until its transcription is final", () => {
  const m = new TranscriptModel();
  m.apply({ entries: [user("a", null, false)], order: ["a"] });
  assert.deepEqual(captionLines(m), [{ id: "a", text: "", final: false, error: null }]);
  m.apply({ entries: [user("a", "turn on the", false)] });
  assert.deepEqual(captionLines(m).map((l) => [l.text, l.final]), [["turn on the", false]]);
  m.apply({ entries: [user("a", "turn on the lights", true), user("b", "what", false)], order: ["a", "b"] });
  assert.deepEqual(captionLines(m).map((l) => [l.id, l.text, l.final]),
    [["a", "turn on the lights", true], ["b", "what", false]]);
});

test("a failed transcription is final with its error; other items are not captions", () => {
  const m = new TranscriptModel();
  m.apply({ entries: [user("a", null, false, { error: "transcription failed: no recognizer" }),
    { id: "r", kind: "assistant", role: "assistant", text: "hello" }], order: ["a", "r"] });
  assert.deepEqual(captionLines(m), [{ id: "a", text: "", final: true, error: "transcription failed: no recognizer" }]);
});
