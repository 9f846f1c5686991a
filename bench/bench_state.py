"""State at scale: ``s.items`` for 10,000 items, and the memory of a 60-minute duplex session.

**Items frame.** A ``ConversationState`` and ``EventLog`` hold 10,000 items applied as GA events, in
rounds of five: a user text message, a spoken assistant answer (transcript + 100 ms of audio), a spoken
user turn (committed input audio + transcription), a function call, its output. ``frames.items_frame``
(what ``Session.items`` returns) is timed against the plain baseline ``pd.DataFrame(list_of_dicts)``
built from the very same rows (already extracted), alternating, ``--repeat`` times each.

**60-minute duplex session.** A real ``Client`` (the Session's I/O core, with a stand-in websocket) gets
one hour of full-duplex traffic in 100 ms chunks of 24 kHz PCM16: every chunk of microphone audio is
sent as ``input_audio_buffer.append`` through ``Client.send`` and every chunk of model audio arrives as a
``response.output_audio.delta`` JSON frame through ``Client.receive``, with the events around them:
per 100 ms two output transcript deltas and one input transcription delta; every 6 s a turn (speech
started/stopped, committed, item added/done, transcription completed, response created, the response's
item/part/done events, rate limits). Every sample is kept: each 6 s of microphone audio is one committed
user turn, and the reply to it streams during the next 6 s, so 60 minutes = 3,600 s of input audio plus
3,600 s of output audio (345.6 MB of raw PCM) and ~54 events/s in the event log.

Each measurement runs in a fresh process (``multiprocessing`` spawn): resident memory (``/proc`` RSS)
after the hour minus before it, after ``gc.collect()``. The baseline, measured the same way in the same
run, is a process holding the same raw PCM as int16 numpy chunks. A third process replays only the
events into an ``EventLog`` (its share). With ``--tracemalloc`` (default on, off with ``--no-tracemalloc``)
another session process reports the live Python/numpy allocations (tracemalloc current and peak).

Run: ``python bench/bench_state.py [--quick] [--items N] [--minutes M] [--repeat R]``.
Writes bench/results/bench_state.json.
"""

from __future__ import annotations

import asyncio
import gc
import json
import math
import multiprocessing as mp
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _common import parser, ratio, summary, table, write_result

NAME = "bench_state"
RATE = 24000
CHUNK = RATE // 10                   # 100 ms
TURN_CHUNKS = 60                     # 6 s turns
PCM_BYTES_PER_S = RATE * 2


# -- items frame ---------------------------------------------------------------------------------------

def build_items(n_items: int) -> tuple[Any, Any]:
    """A ConversationState + EventLog with ``n_items`` items (rounds of five kinds), applied as GA events."""
    from realtime_nb.client._eventlog import EventLog
    from realtime_nb.protocol.reducer import ConversationState

    state, log = ConversationState(), EventLog()
    clock = [0.0]
    pcm = (np.sin(np.arange(CHUNK) / 7.0) * 3000).astype(np.int16)

    def feed(ev: dict[str, Any], **kw: Any) -> None:
        clock[0] += 0.001
        log.record(clock[0], "received", ev, 100)
        state.apply(ev, now=clock[0], **kw)

    def item_added(item: dict[str, Any]) -> None:
        feed({"type": "conversation.item.added", "previous_item_id": None, "item": item})
        feed({"type": "conversation.item.done", "previous_item_id": None, "item": item})

    def response(rid: str, item: dict[str, Any], deltas: list[dict[str, Any]], final: dict[str, Any]) -> None:
        feed({"type": "response.created", "response": {"id": rid, "status": "in_progress", "output": [],
                                                        "conversation_id": "conv_1"}})
        feed({"type": "response.output_item.added", "response_id": rid, "output_index": 0, "item": item})
        feed({"type": "conversation.item.added", "previous_item_id": None, "item": item})
        for d in deltas:
            feed(d, pcm=pcm if d["type"] == "response.output_audio.delta" else None)
        feed({"type": "conversation.item.done", "previous_item_id": None, "item": final})
        feed({"type": "response.output_item.done", "response_id": rid, "output_index": 0, "item": final})
        feed({"type": "response.done", "response": {
            "id": rid, "status": "completed", "output": [final], "conversation_id": "conv_1",
            "usage": {"total_tokens": 30, "input_tokens": 20, "output_tokens": 10}}})

    k = 0
    while len(state.conversation) < n_items:
        kinds = n_items - len(state.conversation)
        item_added({"id": f"item_ut{k}", "type": "message", "status": "completed", "role": "user",
                    "content": [{"type": "input_text", "text": f"Question number {k}: what about it?"}]})
        if kinds > 1:
            iid, rid = f"item_aa{k}", f"resp_a{k}"
            loc = {"response_id": rid, "item_id": iid, "output_index": 0, "content_index": 0}
            answer = f"Here is answer {k}, spoken."
            response(rid, {"id": iid, "type": "message", "status": "in_progress", "role": "assistant",
                           "content": []},
                     [{"type": "response.output_audio_transcript.delta", **loc, "delta": answer},
                      {"type": "response.output_audio.delta", **loc, "delta": ""}],
                     {"id": iid, "type": "message", "status": "completed", "role": "assistant",
                      "content": [{"type": "output_audio", "transcript": answer}]})
        if kinds > 2:
            uid = f"item_ua{k}"
            feed({"type": "input_audio_buffer.speech_started", "audio_start_ms": 0, "item_id": uid})
            state.apply_client({"type": "input_audio_buffer.append"}, pcm=pcm)
            feed({"type": "input_audio_buffer.speech_stopped", "audio_end_ms": 100, "item_id": uid})
            feed({"type": "input_audio_buffer.committed", "previous_item_id": None, "item_id": uid})
            item_added({"id": uid, "type": "message", "status": "completed", "role": "user",
                        "content": [{"type": "input_audio", "transcript": None}]})
            feed({"type": "conversation.item.input_audio_transcription.completed", "item_id": uid,
                  "content_index": 0, "transcript": f"spoken question {k}"})
        if kinds > 3:
            iid, rid, cid = f"item_fc{k}", f"resp_f{k}", f"call_{k}"
            args = json.dumps({"city": "Paris", "round": k})
            response(rid, {"id": iid, "type": "function_call", "status": "in_progress", "name": "get_weather",
                           "call_id": cid, "arguments": ""},
                     [{"type": "response.function_call_arguments.delta", "response_id": rid, "item_id": iid,
                       "output_index": 0, "call_id": cid, "delta": args}],
                     {"id": iid, "type": "function_call", "status": "completed", "name": "get_weather",
                      "call_id": cid, "arguments": args})
        if kinds > 4:
            item_added({"id": f"item_fo{k}", "type": "function_call_output", "call_id": f"call_{k}",
                        "output": json.dumps({"temperature_c": 20, "round": k})})
        k += 1
    return state, log


def bench_items(n_items: int, repeat: int) -> dict[str, Any]:
    import pandas as pd

    from realtime_nb.client.frames import items_frame

    t0 = time.perf_counter()
    state, log = build_items(n_items)
    built_s = time.perf_counter() - t0
    rows = items_frame(state, log).to_dict("records")   # the same rows, as the baseline's input
    assert len(rows) == n_items
    ours, base = [], []
    items_frame(state, log)
    pd.DataFrame(rows)
    for _ in range(repeat):
        gc.collect()
        t = time.perf_counter()
        items_frame(state, log)
        ours.append(time.perf_counter() - t)
        gc.collect()
        t = time.perf_counter()
        pd.DataFrame(rows)
        base.append(time.perf_counter() - t)
    ms = lambda xs: summary([x * 1e3 for x in xs])  # noqa: E731
    return {"items": n_items, "events_logged": len(log), "build_state_s": built_s,
            "items_frame_ms": ms(ours), "baseline_dataframe_from_dicts_ms": ms(base),
            "ratio_median_ours_over_baseline": ratio(statistics.median(ours), statistics.median(base)),
            "ratio_p99_ours_over_baseline": ratio(max(ours), max(base)) if repeat < 100 else None}


# -- 60-minute duplex session -----------------------------------------------------------------------

def _rss() -> int:
    with open("/proc/self/statm", encoding="ascii") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _peak_rss() -> int:
    import resource

    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024


class _StandInWebSocket:
    """What ``Client.send`` needs from a websocket: an awaitable ``send`` (the frame goes nowhere)."""

    sent_bytes = 0

    async def send(self, frame: str) -> None:
        self.sent_bytes += len(frame)


def _chunks(n: int, seed: int) -> list[np.ndarray]:
    """A few distinct chunks of speech-like noise to cycle through (their content does not matter)."""
    rng = np.random.default_rng(seed)
    return [(rng.standard_normal(CHUNK) * 2000).astype(np.int16) for _ in range(n)]


class Script:
    """The hour of traffic, as a sequence of ("send", event, pcm) and ("recv", event) steps."""

    def __init__(self, minutes: float) -> None:
        self.turns = max(2, round(minutes * 60 / (TURN_CHUNKS * CHUNK / RATE)))
        self.input_chunks = _chunks(8, 1)
        self.output_chunks = _chunks(8, 2)
        self._eid = 0

    def _ev(self, etype: str, **fields: Any) -> dict[str, Any]:
        self._eid += 1
        return {"type": etype, "event_id": f"event_{self._eid}", **fields}

    def _response_obj(self, rid: str, status: str, output: list[dict[str, Any]]) -> dict[str, Any]:
        usage = None if status == "in_progress" else {
            "total_tokens": 260, "input_tokens": 140, "output_tokens": 120,
            "input_token_details": {"text_tokens": 20, "audio_tokens": 120, "cached_tokens": 64},
            "output_token_details": {"text_tokens": 0, "audio_tokens": 120}}
        return {"object": "realtime.response", "id": rid, "status": status, "status_details": None,
                "output": output, "conversation_id": "conv_1", "output_modalities": ["audio"],
                "max_output_tokens": "inf", "usage": usage, "metadata": None,
                "audio": {"output": {"format": {"type": "audio/pcm", "rate": 24000}, "voice": "alloy"}}}

    def steps(self, with_audio: bool = True) -> Any:
        """Yield steps; ``with_audio=False`` leaves the audio out (for the event-log-only replay)."""
        from realtime_nb import audio as au

        b64_out = [au.b64encode_pcm16(c) if with_audio else "" for c in self.output_chunks]
        words = ["Sure, ", "here ", "is ", "what ", "I ", "think ", "about ", "that. "]
        prev_item: str | None = None
        for k in range(self.turns + 1):
            uid, last_uid = f"item_user_{k}", f"item_user_{k - 1}"
            rid, aid = f"resp_{k - 1}", f"item_asst_{k - 1}"
            talking = k >= 1           # the reply to the previous turn streams during this one
            user_turn = k < self.turns
            loc = {"response_id": rid, "item_id": aid, "output_index": 0, "content_index": 0}
            if talking:
                item = {"id": aid, "type": "message", "status": "in_progress", "role": "assistant", "content": []}
                yield "recv", self._ev("response.output_item.added", response_id=rid, output_index=0, item=item)
                yield "recv", self._ev("conversation.item.added", previous_item_id=prev_item, item=item)
                yield "recv", self._ev("response.content_part.added", **loc,
                                       part={"type": "audio", "transcript": ""})
                prev_item = aid
            if user_turn:
                yield "recv", self._ev("input_audio_buffer.speech_started", audio_start_ms=k * 6000, item_id=uid)
            transcript = []
            for i in range(TURN_CHUNKS):
                if user_turn:
                    chunk = self.input_chunks[i % len(self.input_chunks)]
                    yield "send", {"type": "input_audio_buffer.append",
                                   "audio": au.b64encode_pcm16(chunk) if with_audio else ""}, chunk
                if talking:
                    for w in (words[(2 * i) % 8], words[(2 * i + 1) % 8]):
                        transcript.append(w)
                        yield "recv", self._ev("response.output_audio_transcript.delta", **loc, delta=w)
                    yield "recv", self._ev("response.output_audio.delta", **loc, delta=b64_out[i % len(b64_out)])
                    yield "recv", self._ev("conversation.item.input_audio_transcription.delta", item_id=last_uid,
                                           content_index=0, delta=words[i % 8])
            if talking:
                text = "".join(transcript)
                done_item = {"id": aid, "type": "message", "status": "completed", "role": "assistant",
                             "content": [{"type": "output_audio", "transcript": text}]}
                ids = {"response_id": rid, "item_id": aid, "output_index": 0}
                yield "recv", self._ev("conversation.item.input_audio_transcription.completed", item_id=last_uid,
                                       content_index=0, transcript="".join(words[i % 8] for i in range(TURN_CHUNKS)))
                yield "recv", self._ev("response.output_audio.done", **ids, content_index=0)
                yield "recv", self._ev("response.output_audio_transcript.done", **ids, content_index=0,
                                       transcript=text)
                yield "recv", self._ev("response.content_part.done", **ids, content_index=0,
                                       part={"type": "audio", "transcript": text})
                yield "recv", self._ev("conversation.item.done", previous_item_id=last_uid, item=done_item)
                yield "recv", self._ev("response.output_item.done", response_id=rid, output_index=0, item=done_item)
                yield "recv", self._ev("response.done", response=self._response_obj(rid, "completed", [done_item]))
                yield "recv", self._ev("rate_limits.updated", rate_limits=[
                    {"name": "tokens", "limit": 40000, "remaining": 39740, "reset_seconds": 0.39}])
            if user_turn:
                user_item = {"id": uid, "type": "message", "status": "completed", "role": "user",
                             "content": [{"type": "input_audio", "transcript": None}]}
                yield "recv", self._ev("input_audio_buffer.speech_stopped", audio_end_ms=(k + 1) * 6000, item_id=uid)
                yield "recv", self._ev("input_audio_buffer.committed", previous_item_id=prev_item, item_id=uid)
                yield "recv", self._ev("conversation.item.added", previous_item_id=prev_item, item=user_item)
                yield "recv", self._ev("conversation.item.done", previous_item_id=prev_item, item=user_item)
                yield "recv", self._ev("response.created", response=self._response_obj(f"resp_{k}", "in_progress", []))
                prev_item = uid

    def raw_pcm_bytes(self) -> int:
        return 2 * self.turns * TURN_CHUNKS * CHUNK * 2   # input + output, int16


async def _feed_session(script: Script) -> dict[str, Any]:
    from realtime_nb.client._connection import Client
    from realtime_nb.client._target import Target
    from realtime_nb.protocol.codec import encode

    client = Client(Target("ws://127.0.0.1:9/v1", "url", "bench"), "gpt-realtime",
                    "ws://127.0.0.1:9/v1/realtime?model=gpt-realtime")
    client._ws = _StandInWebSocket()  # type: ignore[assignment]
    client.receive(encode({"type": "session.created", "event_id": "event_0", "session": {
        "type": "realtime", "object": "realtime.session", "id": "sess_1", "model": "gpt-realtime",
        "output_modalities": ["audio"], "audio": {"input": {"format": {"type": "audio/pcm", "rate": 24000}},
                                                 "output": {"format": {"type": "audio/pcm", "rate": 24000}}}}}))
    for step in script.steps():
        if step[0] == "send":
            await client.send(step[1], pcm=step[2])
        else:
            client.receive(encode(step[1]))
    state = client.state
    assert not state.anomalies, state.anomalies[:3]
    kept = sum(state.conversation.audio_samples(i) for i in state.conversation.ids()) * 2
    return {"events_logged": len(client.log), "items": len(state.conversation), "responses": len(client.responses),
            "audio_bytes_in_conversation": kept, "_keep": client}


def _memory_worker(kind: str, minutes: float, trace: bool, conn: Any) -> None:
    """One measurement in a fresh process; sends back a dict."""
    import tracemalloc

    from realtime_nb.client._eventlog import EventLog

    script = Script(minutes)
    keep: Any = None
    if kind == "session":   # warm up the code paths (imports, caches) before the "before" reading
        asyncio.run(_feed_session(Script(0.2)))
    gc.collect()
    if trace:
        tracemalloc.start()
    before, t0 = _rss(), time.perf_counter()
    info: dict[str, Any] = {}
    if kind == "session":
        async def run() -> dict[str, Any]:
            return await _feed_session(script)

        loop = asyncio.new_event_loop()
        info = loop.run_until_complete(run())
        keep = info.pop("_keep")
    elif kind == "raw":     # the baseline: the same PCM, as int16 chunks in lists, nothing else
        keep = ([c.copy() for _ in range(script.turns) for c in (script.input_chunks * 8)[:TURN_CHUNKS]],
                [c.copy() for _ in range(script.turns) for c in (script.output_chunks * 8)[:TURN_CHUNKS]])
    elif kind == "log":     # the event log alone, same events (no audio payloads)
        log = EventLog()
        t = 0.0
        for step in script.steps(with_audio=False):
            t += 0.002
            log.record(t, "sent" if step[0] == "send" else "received", step[1], 6400)
        keep = log
        info = {"events_logged": len(log)}
    seconds = time.perf_counter() - t0
    gc.collect()
    after = _rss()
    out = {"kind": kind, "rss_delta_bytes": after - before, "rss_after_bytes": after, "peak_rss_bytes": _peak_rss(),
           "seconds": seconds, **info}
    if trace:
        current, peak = tracemalloc.get_traced_memory()
        out.update(tracemalloc_current_bytes=current, tracemalloc_peak_bytes=peak)
        tracemalloc.stop()
    del keep
    conn.send(out)
    conn.close()


def measure_memory(kind: str, minutes: float, trace: bool = False) -> dict[str, Any]:
    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_memory_worker, args=(kind, minutes, trace, child))
    proc.start()
    child.close()
    try:
        result: dict[str, Any] = parent.recv()
    except EOFError:
        raise RuntimeError(f"the {kind} memory worker died (exit code {proc.join() or proc.exitcode})") from None
    proc.join()
    return result


def bench_memory(minutes: float, repeat: int, trace: bool) -> dict[str, Any]:
    script = Script(minutes)
    raw = script.raw_pcm_bytes()
    runs: dict[str, list[dict[str, Any]]] = {"session": [], "raw": [], "log": []}
    for _ in range(repeat):
        for kind in runs:
            runs[kind].append(measure_memory(kind, minutes))
    med = {k: statistics.median(r["rss_delta_bytes"] for r in v) for k, v in runs.items()}
    out: dict[str, Any] = {
        "minutes": script.turns * TURN_CHUNKS * CHUNK / RATE / 60, "turns": script.turns,
        "raw_pcm_bytes": raw, "runs": runs,
        "session_rss_delta_bytes": med["session"], "baseline_raw_chunks_rss_delta_bytes": med["raw"],
        "event_log_rss_delta_bytes": med["log"],
        "events_logged": runs["session"][0]["events_logged"],
        "events_per_s": runs["session"][0]["events_logged"] / (script.turns * TURN_CHUNKS * CHUNK / RATE),
        "ratio_session_rss_over_raw_pcm": ratio(med["session"], raw),
        "ratio_session_rss_over_baseline_rss": ratio(med["session"], med["raw"]),
    }
    if trace:
        t = measure_memory("session", minutes, trace=True)
        out["tracemalloc"] = t
        out["ratio_tracemalloc_current_over_raw_pcm"] = ratio(t["tracemalloc_current_bytes"], raw)
    return out


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = parser(__doc__.split("\n")[0])
    p.add_argument("--items", type=int, default=None, help="items in the frame benchmark (default 10,000)")
    p.add_argument("--minutes", type=float, default=None, help="simulated session length (default 60)")
    p.add_argument("--repeat", type=int, default=None, help="frame builds per side (default 20, --quick 5)")
    p.add_argument("--memory-repeat", type=int, default=None, help="memory runs per kind (default 3, --quick 1)")
    p.add_argument("--no-tracemalloc", dest="tracemalloc", action="store_false",
                   help="skip the extra tracemalloc run of the session")
    args = p.parse_args(argv)
    n_items = args.items or (1000 if args.quick else 10_000)
    minutes = args.minutes or (1.0 if args.quick else 60.0)
    repeat = args.repeat or (5 if args.quick else 20)
    mem_repeat = args.memory_repeat or (1 if args.quick else 3)

    frames = bench_items(n_items, repeat)
    f_ours, f_base = frames["items_frame_ms"], frames["baseline_dataframe_from_dicts_ms"]
    table(["build", "median ms", "p99 ms", "n"], [
        [f"items_frame ({n_items:,} items)", f_ours["median"], f_ours["p99"], f_ours["n"]],
        ["pd.DataFrame(list of dicts), same rows", f_base["median"], f_base["p99"], f_base["n"]],
        ["ratio items_frame / baseline", frames["ratio_median_ours_over_baseline"],
         frames["ratio_p99_ours_over_baseline"], ""],
    ], title=f"s.items for {n_items:,} items (state built in {frames['build_state_s']:.1f} s)")
    print(flush=True)

    mem = bench_memory(minutes, mem_repeat, args.tracemalloc)
    mb = 1e6
    rows = [
        ["raw PCM (input + output, int16)", mem["raw_pcm_bytes"] / mb, 1.0, ""],
        ["baseline: same PCM as numpy chunks (RSS)", mem["baseline_raw_chunks_rss_delta_bytes"] / mb,
         ratio(mem["baseline_raw_chunks_rss_delta_bytes"], mem["raw_pcm_bytes"]), ""],
        ["realtime-nb Client state + log (RSS)", mem["session_rss_delta_bytes"] / mb,
         mem["ratio_session_rss_over_raw_pcm"], "<= 2"],
        ["  of which the event log alone (RSS)", mem["event_log_rss_delta_bytes"] / mb,
         ratio(mem["event_log_rss_delta_bytes"], mem["raw_pcm_bytes"]), ""],
    ]
    if "tracemalloc" in mem:
        t = mem["tracemalloc"]
        rows.append(["realtime-nb, tracemalloc current", t["tracemalloc_current_bytes"] / mb,
                     mem["ratio_tracemalloc_current_over_raw_pcm"], ""])
        rows.append(["realtime-nb, tracemalloc peak", t["tracemalloc_peak_bytes"] / mb,
                     ratio(t["tracemalloc_peak_bytes"], mem["raw_pcm_bytes"]), ""])
    table(["memory", "MB", "x raw PCM", "goal"], rows,
          title=f"{mem['minutes']:.0f}-minute duplex session: {mem['events_logged']:,} events logged "
                f"({mem['events_per_s']:.0f}/s), median of {mem_repeat} run(s) per row")
    ratios = {"items_frame_over_dataframe_median": frames["ratio_median_ours_over_baseline"],
              "session_rss_over_raw_pcm": mem["ratio_session_rss_over_raw_pcm"],
              "session_rss_over_baseline_rss": mem["ratio_session_rss_over_baseline_rss"]}
    write_result(NAME, {
        "config": {"items": n_items, "minutes": minutes, "repeat": repeat, "memory_repeat": mem_repeat,
                   "quick": args.quick, "chunk_ms": 100, "turn_s": TURN_CHUNKS * CHUNK / RATE},
        "items_frame": frames, "memory": mem, "ratios": ratios,
        "goal": {"session_rss_over_raw_pcm": 2.0},
        "meets_goal": bool(not math.isnan(ratios["session_rss_over_raw_pcm"])
                           and ratios["session_rss_over_raw_pcm"] <= 2.0),
    }, args.out_dir)
    return ratios


if __name__ == "__main__":
    main()
