"""Benchmark ``frames.items_frame`` on a 10,000-item conversation against the plain baseline
``pd.DataFrame(list_of_dicts)`` built from the same rows, measured in the same run.

Run: ``python bench/bench_frames.py [n_items]``. Prints times and the ratio; it asserts nothing (see
docs/architecture.md: benchmarks report ratios, they are not timed tests).
"""

from __future__ import annotations

import sys
import time
from typing import Any

import numpy as np
import pandas as pd

from realtime_nb.client._eventlog import EventLog
from realtime_nb.client.frames import events_frame, items_frame, responses_frame
from realtime_nb.protocol.reducer import ConversationState


def build(n_items: int) -> tuple[ConversationState, EventLog]:
    """Alternating user text items and assistant text/audio responses, applied as GA events."""
    state, log, t = ConversationState(), EventLog(), 0.0
    pcm = np.zeros(2400, dtype=np.int16)  # 100 ms of audio per assistant item

    def feed(ev: dict[str, Any], **kw: Any) -> None:
        nonlocal t
        t += 0.001
        log.record(t, "received", ev, 100)
        state.apply(ev, now=t, **kw)

    prev = None
    for k in range(n_items // 2):
        u, a, rid = f"item_u{k}", f"item_a{k}", f"resp_{k}"
        user = {"id": u, "type": "message", "status": "completed", "role": "user",
                "content": [{"type": "input_text", "text": f"question {k}"}]}
        feed({"type": "conversation.item.added", "previous_item_id": prev, "item": user})
        feed({"type": "response.created", "response": {"id": rid, "status": "in_progress", "output": [],
                                                        "conversation_id": "conv_1"}})
        loc = {"response_id": rid, "item_id": a, "output_index": 0, "content_index": 0}
        feed({"type": "response.output_item.added", "response_id": rid, "output_index": 0,
              "item": {"id": a, "type": "message", "status": "in_progress", "role": "assistant", "content": []}})
        feed({"type": "response.output_audio_transcript.delta", **loc, "delta": f"answer {k}"})
        feed({"type": "response.output_audio.delta", **loc, "delta": ""}, pcm=pcm)
        final = {"id": a, "type": "message", "status": "completed", "role": "assistant",
                 "content": [{"type": "output_audio", "transcript": f"answer {k}"}]}
        feed({"type": "response.done", "response": {"id": rid, "status": "completed", "output": [final],
                                                     "conversation_id": "conv_1", "usage": {"input_tokens": 5}}})
        prev = a
    return state, log


def best_of(fn: Any, repeat: int = 5) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main(n_items: int = 10_000) -> None:
    t0 = time.perf_counter()
    state, log = build(n_items)
    print(f"built {len(state.conversation)} items, {len(log)} events in {time.perf_counter() - t0:.2f} s")
    rows = items_frame(state, log).to_dict("records")  # the same data as dicts, for the baseline
    ours = best_of(lambda: items_frame(state, log))
    baseline = best_of(lambda: pd.DataFrame(rows))
    print(f"items_frame          {ours * 1e3:8.1f} ms")
    print(f"DataFrame(dicts)     {baseline * 1e3:8.1f} ms   (rows already built)")
    print(f"ratio ours/baseline  {ours / baseline:8.2f}")
    print(f"events_frame         {best_of(lambda: events_frame(log)) * 1e3:8.1f} ms  ({len(log)} rows)")
    print(f"responses_frame      {best_of(lambda: responses_frame(state, log)) * 1e3:8.1f} ms  "
          f"({len(state.responses)} rows)")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 10_000)
