"""Event ingest: events/s through the Session's receive path vs the official openai SDK, same stream, same run.

1. **Record** a real stream: a raw websocket client talks to the embedded ``LocalServer`` (echo brain,
   espeak-ng speech when installed) and keeps every text frame the server sends: text turns, spoken replies
   to text, spoken turns detected by the server's VAD (100 ms audio deltas: 4,800 bytes of PCM16, 6,400
   base64 characters), function calls and their follow-ups, out-of-band classifications.
2. **Replay** the frames, one at a time, through each path; both read them from the same fake websocket
   (an object whose ``recv()`` coroutine returns the next recorded frame), no socket involved:

   - **realtime-nb**: ``frame = await ws.recv()`` (``str``, as ``websockets`` delivers a text frame) then
     ``Client.receive(frame)``: JSON decode, base64 audio decode, ``ConversationState.apply``, the event
     log, reply correlation and ``Response`` bookkeeping, handler dispatch. A fresh ``Client`` per pass,
     as the state keeps growing.
   - **openai SDK**: ``await AsyncRealtimeConnection.recv()`` on the same fake websocket: its
     ``recv_bytes()`` (``recv(decode=False)``), then ``parse_event`` (``json.loads`` + ``construct_type``
     into the pydantic ``RealtimeServerEvent`` models). The SDK keeps no conversation state.

   - **openai SDK + b64decode(audio)**: the same, plus ``base64.b64decode`` of each audio delta, the least
     an SDK user does before audio can be played (realtime-nb decodes every delta to PCM in ``receive``).
   - **json.loads**: the floor, decode only.

   Each event is timed on its own (``perf_counter_ns``); passes alternate between the paths. Reported:
   median and p99 per-event time pooled over all passes; events/s = events / the sum over events of each
   event's median time across passes (robust to the scheduler pauses of a shared machine; the totals of
   the raw passes are in the JSON too); the ratios, for the whole stream and per kind of event.

Run: ``python bench/bench_ingest.py [--quick] [--repeat N] [--profile]``. Writes bench/results/bench_ingest.json.
"""

from __future__ import annotations

import asyncio
import base64
import cProfile
import gc
import json
import pstats
import statistics
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _common import parser, profile_top, ratio, summary, table, write_result

from realtime_nb import audio as au
from realtime_nb.server import LocalServer, tts

NAME = "bench_ingest"
WEATHER_TOOL = {
    "type": "function", "name": "get_weather", "description": "Current weather in a city.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string", "enum": ["Paris", "Tokyo", "Lima"]}},
                   "required": ["city"]},
}


# -- recording ---------------------------------------------------------------------------------------

class _Recorder:
    """Reads every frame of one connection; lets the script wait for an event type."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.frames: list[str] = []
        self.events: list[dict[str, Any]] = []
        self._new = asyncio.Event()

    async def run(self) -> None:
        async for frame in self.ws:
            self.frames.append(frame)
            self.events.append(json.loads(frame))
            self._new.set()

    async def send(self, event: dict[str, Any]) -> int:
        mark = len(self.events)
        await self.ws.send(json.dumps(event))
        return mark

    async def wait_for(self, etype: str, start: int, timeout: float = 60.0) -> dict[str, Any]:
        """The first ``etype`` event at or after index ``start``; raises on a server ``error``."""
        deadline = time.monotonic() + timeout
        i = start
        while True:
            while i < len(self.events):
                event = self.events[i]
                i += 1
                if event["type"] == "error":
                    raise RuntimeError(f"server error while recording: {event['error']}")
                if event["type"] == etype:
                    return event
            self._new.clear()
            await asyncio.wait_for(self._new.wait(), max(0.01, deadline - time.monotonic()))


def _speech(text: str) -> np.ndarray:
    """Synthesized speech with silence around it (the server's VAD ends the turn)."""
    pcm = tts.synthesize(text, voice="alloy")
    quiet = np.zeros(au.SAMPLE_RATE // 2, dtype=np.int16)
    return np.concatenate([quiet, pcm, quiet, quiet])


async def _record_async(url: str, turns: int) -> list[str]:
    from websockets.asyncio.client import connect

    async with connect(f"{url}/realtime?model=gpt-realtime", additional_headers={"Authorization": "Bearer x"},
                       max_size=None, compression=None, proxy=None) as ws:
        rec = _Recorder(ws)
        reader = asyncio.get_running_loop().create_task(rec.run())
        await rec.wait_for("session.created", 0)
        mark = await rec.send({"type": "session.update", "session": {"type": "realtime", "tools": [WEATHER_TOOL]}})
        await rec.wait_for("session.updated", mark)

        async def user_text(text: str) -> None:
            mark = await rec.send({"type": "conversation.item.create", "item": {
                "type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}})
            await rec.wait_for("conversation.item.added", mark)

        async def respond(**response: Any) -> dict[str, Any]:
            mark = await rec.send({"type": "response.create", "response": response})
            return await rec.wait_for("response.done", mark)

        topics = ["the moon landing", "sourdough bread", "jazz in the fifties", "tide pools", "prime numbers",
                  "the printing press", "rainforest frogs", "origami"]
        for k in range(2 * turns):                                   # text in, text out
            await user_text(f"Tell me one thing about {topics[k % len(topics)]}.")
            await respond(output_modalities=["text"])
        for k in range(turns):                                       # text in, speech out
            await user_text(f"Please describe {topics[(k + 3) % len(topics)]} in a sentence.")
            await respond()
        for k in range(turns):                                       # speech in (server VAD), speech out
            pcm = _speech(["what should I cook tonight", "tell me a short story about a cat",
                           "how far away is the moon"][k % 3])
            mark = len(rec.events)
            step = au.SAMPLE_RATE // 10
            for i in range(0, len(pcm), step):
                await rec.send({"type": "input_audio_buffer.append", "audio": au.b64encode_pcm16(pcm[i:i + step])})
            await rec.wait_for("response.done", mark)
        for k in range(turns):                                       # function call, output, spoken answer
            await user_text(f"What is the weather in {['Paris', 'Tokyo', 'Lima'][k % 3]} right now?")
            done = await respond(output_modalities=["text"])
            call = next(o for o in done["response"]["output"] if o["type"] == "function_call")
            mark = await rec.send({"type": "conversation.item.create", "item": {
                "type": "function_call_output", "call_id": call["call_id"],
                "output": json.dumps({"temperature_c": 18 + k, "sky": "clear"})}})
            await rec.wait_for("conversation.item.added", mark)
            await respond()
        for k in range(turns):                                       # out-of-band classification
            await respond(conversation="none", output_modalities=["text"], metadata={"purpose": f"label {k}"},
                          instructions="Classify the conversation. Labels: food, science, weather, music")
        await respond(conversation="none", metadata={"purpose": "spoken summary"},
                      instructions="Say exactly the following: That was a lovely chat about many things.")
        await ws.close()
        await reader
        return rec.frames


def record(turns: int) -> list[str]:
    with LocalServer(pace="fast") as server:
        return asyncio.run(_record_async(server.url, turns))


# -- replay ------------------------------------------------------------------------------------------

class FakeWebSocket:
    """Returns the recorded frames from ``recv()``: ``str`` like ``websockets``, ``bytes`` with ``decode=False``."""

    def __init__(self, frames: list[bytes]) -> None:
        self.frames = frames
        self.i = 0

    async def recv(self, decode: bool | None = None) -> str | bytes:
        frame = self.frames[self.i]
        self.i += 1
        return frame if decode is False else frame.decode()


def _new_client() -> Any:
    from realtime_nb.client._connection import Client
    from realtime_nb.client._target import Target

    url = "ws://127.0.0.1:9/v1/realtime?model=gpt-realtime"
    return Client(Target("ws://127.0.0.1:9/v1", "url", "bench"), "gpt-realtime", url)


async def pass_ours(frames: list[bytes]) -> list[int]:
    client = _new_client()
    ws = FakeWebSocket(frames)
    clock = time.perf_counter_ns
    times = []
    for _ in range(len(frames)):
        t0 = clock()
        frame = await ws.recv()
        client.receive(frame)
        times.append(clock() - t0)
    assert len(client.state.responses) > 0 and not client.state.anomalies, client.state.anomalies[:3]
    return times


async def pass_sdk(frames: list[bytes]) -> list[int]:
    from openai.resources.realtime.realtime import AsyncRealtimeConnection

    conn = AsyncRealtimeConnection(FakeWebSocket(frames))  # type: ignore[arg-type]
    clock = time.perf_counter_ns
    times = []
    for _ in range(len(frames)):
        t0 = clock()
        event = await conn.recv()
        times.append(clock() - t0)
    assert type(event).__name__ != "dict", "the SDK did not build a model"
    return times


async def pass_sdk_audio(frames: list[bytes]) -> list[int]:
    from openai.resources.realtime.realtime import AsyncRealtimeConnection

    conn = AsyncRealtimeConnection(FakeWebSocket(frames))  # type: ignore[arg-type]
    clock = time.perf_counter_ns
    times = []
    for _ in range(len(frames)):
        t0 = clock()
        event = await conn.recv()
        if event.type == "response.output_audio.delta":
            base64.b64decode(event.delta)
        times.append(clock() - t0)
    return times


async def pass_json(frames: list[bytes]) -> list[int]:
    ws = FakeWebSocket(frames)
    clock = time.perf_counter_ns
    times = []
    loads = json.loads
    for _ in range(len(frames)):
        t0 = clock()
        loads(await ws.recv())
        times.append(clock() - t0)
    return times


OURS, SDK, SDK_AUDIO, FLOOR = ("realtime-nb Client.receive", "openai SDK recv + parse",
                               "openai SDK + b64decode(audio)", "json.loads only (floor)")
PATHS = {OURS: pass_ours, SDK: pass_sdk, SDK_AUDIO: pass_sdk_audio, FLOOR: pass_json}


def measure(frames: list[bytes], repeat: int) -> dict[str, list[list[int]]]:
    """``repeat`` passes of every path, alternating paths; per pass the time of each event (ns)."""
    passes: dict[str, list[list[int]]] = {name: [] for name in PATHS}
    for fn in PATHS.values():  # warm-up: imports, caches, pydantic model construction
        asyncio.run(fn(frames))
    for _ in range(repeat):
        for name, fn in PATHS.items():
            gc.collect()
            passes[name].append(asyncio.run(fn(frames)))
    return passes


def analyse(passes: list[list[int]], cats: list[str]) -> dict[str, Any]:
    """Per-event statistics pooled over passes, and events/s.

    ``events_per_s`` = events / (sum over events of the event's median time across passes): a pass with
    every event at its typical cost. The machine is shared: a pass total also catches the scheduler's
    pauses (several ms each), which the per-event median drops and the p99 keeps.
    """
    n = len(cats)
    medians = [statistics.median(p[i] for p in passes) for i in range(n)]
    pooled = [t / 1e3 for p in passes for t in p]
    kinds = cats * len(passes)
    out: dict[str, Any] = {
        "events_per_s": n / (sum(medians) / 1e9),
        "events_per_s_pass_totals": [n / (sum(p) / 1e9) for p in passes],
        "per_event_us": summary(pooled),
    }
    for cat in ("audio delta", "other"):
        sel = [i for i in range(n) if cats[i] == cat]
        out[f"per_event_us_{cat.replace(' ', '_')}"] = summary([t for t, k in zip(pooled, kinds, strict=True)
                                                                if k == cat])
        out[f"events_per_s_{cat.replace(' ', '_')}"] = len(sel) / (sum(medians[i] for i in sel) / 1e9) if sel else None
    return out


def categories(frames: list[bytes]) -> list[str]:
    return ["audio delta" if b'"type":"response.output_audio.delta"' in f[:60] else "other" for f in frames]


def profile_ours(frames: list[bytes], limit: int = 15) -> list[dict[str, Any]]:
    prof = cProfile.Profile()

    async def run() -> None:
        client = _new_client()
        ws = FakeWebSocket(frames)
        prof.enable()
        for _ in range(len(frames)):
            client.receive(await ws.recv())
        prof.disable()

    asyncio.run(run())
    return profile_top(pstats.Stats(prof), limit)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = parser(__doc__.split("\n")[0])
    p.add_argument("--repeat", type=int, default=None, help="passes per path (default 15, --quick 5)")
    p.add_argument("--turns", type=int, default=None, help="turns of each kind in the recording (default 3)")
    p.add_argument("--profile", action="store_true", help="print the cProfile hotspots of the realtime-nb path")
    args = p.parse_args(argv)
    repeat = args.repeat or (5 if args.quick else 15)
    turns = args.turns or (1 if args.quick else 3)

    t0 = time.perf_counter()
    frames_str = record(turns)
    frames = [f.encode() for f in frames_str]
    types = Counter(json.loads(f)["type"] for f in frames_str)
    cats = categories(frames)
    n_audio = cats.count("audio delta")
    audio_bytes = [len(f) for f, c in zip(frames, cats, strict=True) if c == "audio delta"]
    print(f"recorded {len(frames)} frames ({sum(map(len, frames)) / 1e6:.2f} MB, {len(types)} event types, "
          f"{n_audio} audio deltas of ~{statistics.median(audio_bytes) if audio_bytes else 0:.0f} bytes, "
          f"tts={tts.backend()}) in {time.perf_counter() - t0:.1f} s; {repeat} passes per path\n", flush=True)

    passes = measure(frames, repeat)
    paths = {name: analyse(p, cats) for name, p in passes.items()}
    rows = []
    for name, r in paths.items():
        rows.append([name, r["events_per_s"], r["per_event_us"]["median"], r["per_event_us"]["p99"],
                     r["per_event_us_audio_delta"]["median"], r["per_event_us_other"]["median"],
                     r["per_event_us_other"]["p99"]])
    ours, sdk = paths[OURS], paths[SDK]
    ratios = {
        "throughput_ours_over_sdk": ratio(ours["events_per_s"], sdk["events_per_s"]),
        "median_sdk_over_ours": ratio(sdk["per_event_us"]["median"], ours["per_event_us"]["median"]),
        "p99_sdk_over_ours": ratio(sdk["per_event_us"]["p99"], ours["per_event_us"]["p99"]),
        "throughput_ours_over_sdk_audio_deltas": ratio(ours["events_per_s_audio_delta"],
                                                       sdk["events_per_s_audio_delta"]),
        "throughput_ours_over_sdk_other_events": ratio(ours["events_per_s_other"], sdk["events_per_s_other"]),
        "throughput_ours_over_sdk_with_b64decode": ratio(ours["events_per_s"], paths[SDK_AUDIO]["events_per_s"]),
        "throughput_floor_over_ours": ratio(paths[FLOOR]["events_per_s"], ours["events_per_s"]),
    }
    table(["path", "events/s", "median µs", "p99 µs", "audio delta median µs", "other median µs",
           "other p99 µs"], rows, title=f"Event ingest: {len(frames)} recorded events x {repeat} passes "
                                         "(per-event times pooled over passes)")
    print()
    table(["ratio (events/s)", "value", "goal"], [
        ["realtime-nb / SDK, whole stream", ratios["throughput_ours_over_sdk"], ">= 5"],
        ["realtime-nb / SDK, audio deltas only", ratios["throughput_ours_over_sdk_audio_deltas"], ""],
        ["realtime-nb / SDK, all other events", ratios["throughput_ours_over_sdk_other_events"], ""],
        ["realtime-nb / (SDK + b64decode of audio)", ratios["throughput_ours_over_sdk_with_b64decode"], ""],
        ["median per-event, SDK / realtime-nb", ratios["median_sdk_over_ours"], ""],
        ["p99 per-event, SDK / realtime-nb", ratios["p99_sdk_over_ours"], ""],
        ["json.loads floor / realtime-nb", ratios["throughput_floor_over_ours"], ""],
    ])
    hotspots = profile_ours(frames)
    if args.profile:
        print()
        table(["function (realtime-nb path, cProfile own time)", "calls", "tottime ms", "cumtime ms"],
              [[h["function"], h["calls"], h["tottime_s"] * 1e3, h["cumtime_s"] * 1e3] for h in hotspots])
    write_result(NAME, {
        "config": {"repeat": repeat, "turns": turns, "quick": args.quick, "tts_backend": tts.backend()},
        "stream": {"events": len(frames), "bytes": sum(map(len, frames)), "audio_deltas": n_audio,
                   "audio_delta_frame_bytes_median": statistics.median(audio_bytes) if audio_bytes else None,
                   "types": dict(types.most_common())},
        "paths": paths,
        "ratios": ratios,
        "goal": {"throughput_ours_over_sdk": 5.0},
        "meets_goal": ratios["throughput_ours_over_sdk"] >= 5.0,
        "profile_realtime_nb_top": hotspots,
    }, args.out_dir)
    return ratios


if __name__ == "__main__":
    main()
