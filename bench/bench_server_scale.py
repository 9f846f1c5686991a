"""Local server scale: how many duplex audio sessions at real-time pace the LocalServer carries.

**Load.** N clients, in a separate process (``multiprocessing`` spawn: the client load must not take the
server's GIL), each on its own websocket over loopback, send 40 ms chunks of 24 kHz PCM16
(``input_audio_buffer.append``, 2,560 base64 characters) in real time, for ``--duration`` seconds. The
audio is a 5 s cycle: 0.4 s of silence, a spoken question (espeak-ng, ~1.3 s), silence; -60 dBFS noise
throughout. The server runs its default ``server_vad`` (webrtc), commits each turn and answers with the
echo brain in audio (``"I heard 2.0 seconds of audio."``, ~2.2 s of speech, streamed at real-time pace
in 100 ms deltas with transcript deltas; the reply repeats, so after its first synthesis the TTS serves
it from its cache, see ``realtime_nb.server.tts``). Sessions start at 16 phases of the cycle and send at
spread-out instants of the 40 ms period, as independent users would.

**Expected events.** The VAD is deterministic on the audio, so the benchmark runs the same detector
offline on exactly the chunks each session sends and knows, per turn, which chunk completes
``speech_started`` and which completes ``speech_stopped`` (the server emits it while handling that
append). Per turn the client must receive: speech_started, speech_stopped (with the same
``audio_end_ms`` as offline), committed, response.created and response.done. **Lost events** = expected
events that never arrived (the client waits up to ``--drain`` s after it stops sending), plus errors.

**Event delay** (all measured on the client's clock, no cross-process clock needed):

- *input-triggered*: speech_started, speech_stopped, committed and response.created, from the moment the
  client sent the chunk that triggered them to their arrival: loopback, websockets, the server's queue
  and VAD, the writer. An idle server answers in ~1 ms.
- *stream lateness*: each response event after the response's first audio delta (transcript and audio
  deltas, done events) against its schedule: the server sleeps the audio length of each batch before
  the next, so an event is due at the arrival of the previous event of its response + that event's
  audio duration. A stall of S ms in the server (or a sentence whose speech is not ready in time) shows
  up as S ms of lateness. Everything up to the first audio delta waits for the brain and the TTS; that
  wait is reported separately (response latency, from speech_stopped to the first audio delta) and is
  not an event delay.

p99 event delay is the 99th percentile over both kinds together. Each step (N) runs ``--repeat`` times,
the two servers interleaved so that both meet the same noise of the shared machine; **a step passes**
with zero lost events in every run and a median (over runs) p99 delay <= 20 ms. N goes up a ladder; a
server stops at its first failing step.

**Host noise.** Other jobs on a shared machine stall every process now and then (here: up to 0.5 s).
An idle canary process runs beside each run, sleeping 5 ms at a time; its oversleep p99 is the run's
host noise. A run whose host noise p99 exceeds ``--noise-p99`` (5 ms) is run again, up to ``--retries``
(2) times, and the attempt with the quietest canary is kept: chosen on the canary alone, never on the
result. The table shows each step's host noise next to its delays.

**Baseline / ceiling** in the same run: a bare ``websockets`` echo server (same library and options, no
JSON, no work) under the same client load; its event delay is the round trip of each chunk, every chunk
must come back. Also reported: the server's event-loop lag (a 10 ms sleep probe on its loop), the CPU
of the server process, of its loop thread and of the client process, and where a session's CPU goes
(measured in this process before the ladder: input decode, VAD, TTS, output encoding, websockets).

Run: ``python bench/bench_server_scale.py [--quick] [--duration S] [--ladder 5,10,20] [--profile N]``.
Writes bench/results/bench_server_scale.json.
"""

from __future__ import annotations

import asyncio
import contextlib
import cProfile
import json
import math
import multiprocessing as mp
import os
import pstats
import statistics
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _common import parser, percentile, profile_top, summary, table, write_result

NAME = "bench_server_scale"
RATE = 24000
CHUNK_MS = 40
CHUNK = RATE * CHUNK_MS // 1000
CYCLE_S = 5.0
PHASES = 16
QUESTION = "what should I cook tonight"
GOAL_SESSIONS = 50
MAX_P99_MS = 20.0
LADDER = (5, 10, 20, 30, 40, 50, 60, 75, 100)


# -- the audio each client sends --------------------------------------------------------------------------

def cycle_audio() -> np.ndarray:
    """One 5 s cycle: silence, the spoken question, silence; white noise at -60 dBFS over all of it."""
    from realtime_nb.server import tts

    speech = tts.synthesize(QUESTION, voice="alloy").astype(np.float64)
    loud = np.flatnonzero(np.abs(speech) > 300)
    speech = speech[loud[0]:loud[-1] + 1] if loud.size else speech
    n = round(CYCLE_S * RATE)
    lead = round(0.4 * RATE)
    pcm = np.zeros(n)
    pcm[lead:lead + speech.size] = speech[: n - lead]
    pcm += np.random.default_rng(7).standard_normal(n) * 32768 * 10 ** (-60 / 20)
    return np.clip(np.rint(pcm), -32768, 32767).astype(np.int16)


def cycle_frames(pcm: np.ndarray) -> tuple[list[np.ndarray], list[str]]:
    from realtime_nb import audio as au

    chunks = [pcm[i:i + CHUNK] for i in range(0, len(pcm), CHUNK)]
    frames = [json.dumps({"type": "input_audio_buffer.append", "audio": au.b64encode_pcm16(c)},
                         separators=(",", ":")) for c in chunks]
    return chunks, frames


def offline_vad(chunks: list[np.ndarray], phase: int, n_chunks: int) -> list[tuple[str, int, int]]:
    """(kind, audio_ms, index of the chunk whose append completes it) for a session starting at ``phase``,
    with the server's default turn detection."""
    from realtime_nb.protocol.session_config import DEFAULT_SERVER_VAD
    from realtime_nb.server.vad import create_vad

    vad = create_vad(dict(DEFAULT_SERVER_VAD))
    out = []
    for k in range(n_chunks):
        for e in vad.feed(chunks[(phase + k) % len(chunks)]):
            out.append((e.kind, e.audio_ms, k))
    return out


# -- client process -----------------------------------------------------------------------------------------

class _Session:
    def __init__(self, index: int, phase: int, offset: float) -> None:
        self.index, self.phase, self.offset = index, phase, offset
        self.sent: list[float] = []
        self.starts: list[float] = []
        self.stops: list[tuple[float, int]] = []
        self.committed: list[float] = []
        self.created: list[float] = []
        self.done: list[str] = []
        self.counts: Counter[str] = Counter()
        self.errors: list[Any] = []
        self.lateness: list[float] = []
        self.echo: list[float] = []
        self.response_latency: list[float] = []
        self.drift: list[float] = []
        self._stream: dict[str, list[Any]] = {}   # rid -> [t_prev, dur_prev, stop_t, first_audio_seen, drift]
        self._last_stop: float | None = None
        self.connected = False
        self.closed_early: str | None = None

    def on_event(self, t: float, ev: dict[str, Any]) -> None:
        ty = ev.get("type")
        self.counts[ty] += 1
        if ty == "input_audio_buffer.speech_started":
            self.starts.append(t)
        elif ty == "input_audio_buffer.speech_stopped":
            self.stops.append((t, ev.get("audio_end_ms")))
            self._last_stop = t
        elif ty == "input_audio_buffer.committed":
            self.committed.append(t)
        elif ty == "response.created":
            self.created.append(t)
            self._stream[ev["response"]["id"]] = [None, 0.0, self._last_stop, False, 0.0]
            return
        elif ty == "error":
            self.errors.append(ev.get("error"))
        rid = ev.get("response_id")
        if ty == "response.done":
            rid = ev["response"]["id"]
            self.done.append(ev["response"].get("status"))
        if not isinstance(rid, str):
            return
        st = self._stream.setdefault(rid, [None, 0.0, None, False, 0.0])
        dur = len(ev.get("delta") or "") * 3 / 4 / 48000 if ty == "response.output_audio.delta" else 0.0
        if st[3]:   # the paced stream starts at the first audio delta; what comes before waits for the TTS
            late = t - (st[0] + st[1])
            self.lateness.append(late)
            st[4] += late
        elif dur:
            st[3] = True
            if st[2] is not None:
                self.response_latency.append(t - st[2])
        st[0], st[1] = t, dur
        if ty == "response.done":
            self.drift.append(st[4])


async def _probe(samples: list[float], stop: asyncio.Event, period: float = 0.01) -> None:
    loop = asyncio.get_running_loop()
    while not stop.is_set():
        t = loop.time()
        await asyncio.sleep(period)
        samples.append(loop.time() - t - period)


async def _run_clients(spec: dict[str, Any]) -> dict[str, Any]:
    from websockets.asyncio.client import connect

    mode, n, frames = spec["mode"], spec["n"], spec["frames"]
    chunk_s = CHUNK_MS / 1000
    sessions = [_Session(i, spec["phases"][i], (i / max(1, n)) * chunk_s) for i in range(n)]
    sockets: list[Any] = [None] * n
    sem = asyncio.Semaphore(16)

    async def open_one(s: _Session) -> None:
        async with sem:
            try:
                ws = await connect(spec["url"], additional_headers={"Authorization": "Bearer bench"},
                                   max_size=None, compression=None, proxy=None, ping_interval=None,
                                   max_queue=1024, open_timeout=30)
                if mode == "local":
                    first = json.loads(await asyncio.wait_for(ws.recv(), 30))
                    s.counts[first["type"]] += 1
                sockets[s.index] = ws
                s.connected = True
            except Exception as exc:  # counted as lost events
                s.closed_early = f"connect: {type(exc).__name__}: {exc}"

    await asyncio.gather(*(open_one(s) for s in sessions))
    lag: list[float] = []
    stop_probe = asyncio.Event()
    cpu0 = time.process_time()
    t0 = time.perf_counter() + 0.5
    t_end = t0 + spec["duration"]
    probe = asyncio.get_running_loop().create_task(_probe(lag, stop_probe))

    async def reader(s: _Session, ws: Any) -> None:
        clock = time.perf_counter
        try:
            async for msg in ws:
                t = clock()
                if mode == "echo":
                    s.echo.append(t - s.sent[len(s.echo)])
                else:
                    s.on_event(t, json.loads(msg))
        except Exception as exc:
            s.closed_early = f"read: {type(exc).__name__}: {exc}"

    async def sender(s: _Session, ws: Any) -> None:
        clock = time.perf_counter
        k = 0
        try:
            while True:
                due = t0 + s.offset + k * chunk_s
                if due > t_end:
                    break
                wait = due - clock()
                if wait > 0:
                    await asyncio.sleep(wait)
                s.sent.append(clock())
                await ws.send(frames[(s.phase + k) % len(frames)])
                k += 1
        except Exception as exc:
            s.closed_early = f"send: {type(exc).__name__}: {exc}"

    def settled(s: _Session) -> bool:
        if mode == "echo":
            return len(s.echo) >= len(s.sent)
        expected = spec["expected"][s.phase]
        stops = sum(1 for kind, _, k in expected if kind == "speech_stopped" and k < len(s.sent))
        return len(s.done) >= stops

    readers = [asyncio.get_running_loop().create_task(reader(s, sockets[s.index])) for s in sessions if s.connected]
    await asyncio.gather(*(sender(s, sockets[s.index]) for s in sessions if s.connected))
    deadline = time.perf_counter() + spec["drain"]
    while time.perf_counter() < deadline and not all(settled(s) for s in sessions if s.connected):
        await asyncio.sleep(0.05)
    stop_probe.set()
    await probe
    cpu = time.process_time() - cpu0
    wall = time.perf_counter() - (t0 - 0.5)
    for ws in sockets:
        if ws is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(ws.close(), 5)
    for task in readers:
        task.cancel()
    return {"sessions": sessions, "client_loop_lag_s": lag, "client_cpu_s": cpu, "client_wall_s": wall}


def _client_process(spec: dict[str, Any], conn: Any) -> None:
    try:
        res = asyncio.run(_run_clients(spec))
        conn.send(("ok", _client_summary(spec, res)))
    except BaseException as exc:  # report, never hang the parent
        conn.send(("error", f"{type(exc).__name__}: {exc}"))
    conn.close()


def _client_summary(spec: dict[str, Any], res: dict[str, Any]) -> dict[str, Any]:
    """Turn the sessions' raw timings into delays (ms) and loss counts (in the client process)."""
    sessions: list[_Session] = res["sessions"]
    out: dict[str, Any] = {"input_delay_ms": {"speech_started": [], "speech_stopped": [], "committed": [],
                                              "response.created": []},
                           "stream_lateness_ms": [], "echo_delay_ms": [], "response_latency_ms": [],
                           "stream_drift_ms": [], "expected": Counter(), "received": Counter(), "lost": Counter(),
                           "unexpected": Counter(), "errors": [], "statuses": Counter(), "vad_mismatches": 0,
                           "chunks_sent": 0, "connected": 0, "closed_early": [],
                           "client_loop_lag_ms": [x * 1e3 for x in res["client_loop_lag_s"]],
                           "client_cpu_s": res["client_cpu_s"], "client_wall_s": res["client_wall_s"]}
    for s in sessions:
        out["chunks_sent"] += len(s.sent)
        out["connected"] += s.connected
        if s.closed_early:
            out["closed_early"].append(s.closed_early)
        out["errors"].extend(s.errors)
        if spec["mode"] == "echo":
            out["echo_delay_ms"].extend(x * 1e3 for x in s.echo)
            out["expected"]["echo"] += len(s.sent) if s.connected else math.ceil(spec["duration"] / 0.04)
            out["received"]["echo"] += len(s.echo)
            continue
        m = len(s.sent)
        if not s.connected:
            m = math.ceil(spec["duration"] / (CHUNK_MS / 1000))
        exp = [e for e in spec["expected"][s.phase] if e[2] < m]
        starts = [k for kind, _, k in exp if kind == "speech_started"]
        stops = [(ms, k) for kind, ms, k in exp if kind == "speech_stopped"]
        want = {"speech_started": len(starts), "speech_stopped": len(stops), "committed": len(stops),
                "response.created": len(stops), "response.done": len(stops)}
        got = {"speech_started": len(s.starts), "speech_stopped": len(s.stops), "committed": len(s.committed),
               "response.created": len(s.created), "response.done": len(s.done)}
        for kind in want:
            out["expected"][kind] += want[kind]
            out["received"][kind] += got[kind]
            out["lost"][kind] += max(0, want[kind] - got[kind])
            out["unexpected"][kind] += max(0, got[kind] - want[kind])
        if not s.connected:
            continue
        for t, k in zip(s.starts, starts, strict=False):
            out["input_delay_ms"]["speech_started"].append((t - s.sent[k]) * 1e3)
        for (t, ms), (want_ms, k) in zip(s.stops, stops, strict=False):
            out["input_delay_ms"]["speech_stopped"].append((t - s.sent[k]) * 1e3)
            out["vad_mismatches"] += ms != want_ms
        for t, (_, k) in zip(s.committed, stops, strict=False):
            out["input_delay_ms"]["committed"].append((t - s.sent[k]) * 1e3)
        for t, (_, k) in zip(s.created, stops, strict=False):
            out["input_delay_ms"]["response.created"].append((t - s.sent[k]) * 1e3)
        out["stream_lateness_ms"].extend(x * 1e3 for x in s.lateness)
        out["response_latency_ms"].extend(x * 1e3 for x in s.response_latency)
        out["stream_drift_ms"].extend(x * 1e3 for x in s.drift)
        out["statuses"].update(s.done)
    return out


# -- servers ------------------------------------------------------------------------------------------------

class EchoServer:
    """A bare websockets server (same library and options as LocalServer) that sends every frame back."""

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread: threading.Thread | None = None
        self.port = 0

    async def _serve(self, ready: threading.Event) -> None:
        from websockets.asyncio.server import serve

        async def echo(ws: Any) -> None:
            with contextlib.suppress(Exception):
                async for msg in ws:
                    await ws.send(msg)

        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        async with serve(echo, "127.0.0.1", 0, max_size=32 * 1024 * 1024, compression=None,
                         ping_interval=20, ping_timeout=20) as server:
            self.port = server.sockets[0].getsockname()[1]
            ready.set()
            await self._stop.wait()

    def start(self) -> EchoServer:
        ready = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._serve(ready)), name="echo-server",
                                        daemon=True)
        self._thread.start()
        ready.wait(10)
        return self

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(10)

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/"

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        assert self._loop is not None
        return self._loop

    @property
    def thread(self) -> threading.Thread:
        assert self._thread is not None
        return self._thread


def _canary_process(stop: Any, conn: Any, period: float = 0.005) -> None:
    """An idle process that only sleeps 5 ms at a time: its oversleep is the host's scheduling noise."""
    lag = []
    while not stop.is_set():
        t = time.perf_counter()
        time.sleep(period)
        lag.append((time.perf_counter() - t - period) * 1e3)
    conn.send(summary(lag))
    conn.close()


def _thread_cpu_s(native_id: int | None) -> float:
    """CPU seconds (user + system) of one thread of this process, from /proc."""
    if native_id is None:
        return math.nan
    try:
        with open(f"/proc/self/task/{native_id}/stat", encoding="ascii") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return math.nan


def run_step(kind: str, n: int, args: Any, frames: list[str], expected: dict[int, list[tuple[str, int, int]]],
             profile: bool = False) -> dict[str, Any]:
    """One load step: start the server, run N clients in a child process, collect and summarize."""
    from realtime_nb.server import LocalServer

    server: Any = LocalServer(pace="realtime", chunk_ms=100) if kind == "local" else EchoServer()
    server.start()
    loop = server._loop if kind == "local" else server.loop
    thread = server._thread if kind == "local" else server.thread
    url = f"{server.url}/realtime?model=gpt-realtime" if kind == "local" else server.url
    lag: list[float] = []
    stop = asyncio.Event()
    probe = asyncio.run_coroutine_threadsafe(_probe(lag, stop), loop)
    prof = cProfile.Profile(time.thread_time) if profile else None  # CPU time: the machine is shared
    if prof is not None:
        loop.call_soon_threadsafe(prof.enable)
    spec = {"mode": "local" if kind == "local" else "echo", "n": n, "url": url, "frames": frames,
            "duration": args.duration, "drain": args.drain, "expected": expected,
            "phases": [(i % PHASES) * len(frames) // PHASES for i in range(n)]}
    ctx = mp.get_context("spawn")
    canary_stop = ctx.Event()
    canary_parent, canary_child = ctx.Pipe(duplex=False)
    canary = ctx.Process(target=_canary_process, args=(canary_stop, canary_child), daemon=True)
    canary.start()
    canary_child.close()
    parent, child = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_client_process, args=(spec, child), daemon=True)
    cpu0, wall0, tcpu0 = time.process_time(), time.perf_counter(), _thread_cpu_s(thread.native_id)
    proc.start()
    child.close()
    status, payload = ("error", "the client process did not answer")
    if parent.poll(args.duration + args.drain + 120):
        with contextlib.suppress(EOFError):
            status, payload = parent.recv()
    proc.join(10)
    if proc.is_alive():
        proc.kill()
    canary_stop.set()
    noise = summary([])
    if canary_parent.poll(10):
        with contextlib.suppress(EOFError):
            noise = canary_parent.recv()
    canary.join(5)
    cpu, wall, tcpu = time.process_time() - cpu0, time.perf_counter() - wall0, _thread_cpu_s(thread.native_id) - tcpu0
    hotspots = None
    if prof is not None:
        done = threading.Event()
        loop.call_soon_threadsafe(lambda: (prof.disable(), done.set()))
        done.wait(5)
        hotspots = profile_top(pstats.Stats(prof), 25)
    loop.call_soon_threadsafe(stop.set)
    with contextlib.suppress(Exception):
        probe.result(5)
    server.stop()
    if status != "ok":
        raise RuntimeError(f"{kind} N={n}: client process failed: {payload}")
    return {**_step_result(kind, n, payload, lag, cpu, wall, tcpu, hotspots), "host_noise_ms": noise}


def _step_result(kind: str, n: int, c: dict[str, Any], lag: list[float], cpu: float, wall: float, tcpu: float,
                 hotspots: Any) -> dict[str, Any]:
    if kind == "echo":
        delays = c["echo_delay_ms"]
        parts = {"echo_round_trip": summary(delays)}
    else:
        inputs = [x for v in c["input_delay_ms"].values() for x in v]
        delays = inputs + c["stream_lateness_ms"]
        parts = {"input_triggered": summary(inputs), "stream_lateness": summary(c["stream_lateness_ms"]),
                 **{f"input_{k}": summary(v) for k, v in c["input_delay_ms"].items()}}
    lost = sum(c["lost"].values()) + len(c["errors"]) + (n - c["connected"])
    p99 = percentile(delays, 99)
    return {
        "kind": kind, "sessions": n, "connected": c["connected"], "chunks_sent": c["chunks_sent"],
        "expected": dict(c["expected"]), "received": dict(c["received"]), "lost_by_kind": dict(c["lost"]),
        "unexpected_by_kind": dict(c["unexpected"]), "errors": c["errors"][:5], "error_count": len(c["errors"]),
        "closed_early": c["closed_early"][:5], "lost_events": lost, "vad_mismatches": c["vad_mismatches"],
        "event_delay_ms": summary(delays), "p99_event_delay_ms": p99, "delay_parts_ms": parts,
        "response_latency_ms": summary(c["response_latency_ms"]), "stream_drift_ms": summary(c["stream_drift_ms"]),
        "response_statuses": dict(c["statuses"]),
        "server_loop_lag_ms": summary([x * 1e3 for x in lag]),
        "server_process_cpu_cores": cpu / wall if wall else math.nan,
        "server_loop_thread_cpu_cores": tcpu / wall if wall else math.nan,
        "client_process_cpu_cores": c["client_cpu_s"] / c["client_wall_s"] if c["client_wall_s"] else math.nan,
        "client_loop_lag_ms": summary(c["client_loop_lag_ms"]),
        "passed": lost == 0 and not math.isnan(p99) and p99 <= MAX_P99_MS,
        "server_hotspots": hotspots,
    }


# -- where a session's CPU goes ----------------------------------------------------------------------------

def cost_breakdown(chunks: list[np.ndarray], frames: list[str], seconds: float) -> dict[str, Any]:
    """CPU ms per second of one session's traffic, component by component, measured single-threaded here."""
    from realtime_nb import audio as au
    from realtime_nb.protocol.codec import decode, encode
    from realtime_nb.protocol.session_config import DEFAULT_SERVER_VAD
    from realtime_nb.server import tts
    from realtime_nb.server.brains import make_brain
    from realtime_nb.server.engine import Engine
    from realtime_nb.server.vad import create_vad

    n = max(1, round(seconds / (CHUNK_MS / 1000)))
    per_s = 1000 / CHUNK_MS

    def cpu(fn: Any, reps: int = 3) -> float:
        best = math.inf
        for _ in range(reps):
            t = time.process_time()
            fn()
            best = min(best, time.process_time() - t)
        return best

    def decode_append() -> None:
        engine = Engine(model="m", brain=make_brain(None))
        engine.session["audio"]["input"]["turn_detection"] = None
        engine._reset_vad()
        for k in range(n):
            engine.receive(decode(frames[k % len(frames)]))

    def vad() -> None:
        det = create_vad(dict(DEFAULT_SERVER_VAD))
        for k in range(n):
            det.feed(chunks[k % len(chunks)])

    reply = "I heard 2.0 seconds of audio."
    tts.synthesize(reply)

    def synthesize_uncached() -> None:
        tts.clear_cache()
        tts.synthesize(reply)

    tts_s = cpu(synthesize_uncached)
    tts_hit_s = cpu(lambda: tts.synthesize(reply))  # cached by the line above
    pcm = tts.synthesize(reply)
    out_s = len(pcm) / RATE
    step = RATE // 10

    def encode_out() -> None:
        for i in range(0, len(pcm), step):
            encode({"type": "response.output_audio.delta", "event_id": "event_x", "response_id": "resp_x",
                    "item_id": "item_x", "output_index": 0, "content_index": 0,
                    "delta": au.b64encode(au.encode_audio(pcm[i:i + step], {"type": "audio/pcm", "rate": 24000}))})

    enc_s = cpu(encode_out)
    rows = {
        "input: decode + validate + base64 of appends (25/s)": cpu(decode_append) / (n / per_s) * 1e3,
        "input: VAD (webrtc + levels) per second of audio": cpu(vad) / (n / per_s) * 1e3,
        "output: TTS per reply (synthesized, not cached), per cycle second": tts_s / CYCLE_S * 1e3,
        "output: base64 + JSON of audio deltas, per cycle second": enc_s / CYCLE_S * 1e3,
    }
    return {"ms_cpu_per_session_second": rows, "tts_cpu_per_reply_ms": tts_s * 1e3,
            "tts_cached_cpu_per_reply_ms": tts_hit_s * 1e3, "reply_audio_s": out_s,
            "tts_cpu_per_audio_second_ms": tts_s / out_s * 1e3, "tts_backend": tts.backend()}


# -- main -----------------------------------------------------------------------------------------------------

def aggregate(kind: str, n: int, runs: list[dict[str, Any]]) -> dict[str, Any]:
    """One ladder step over its repeated runs: lost events summed, delays and CPU as medians over runs."""
    med = lambda xs: float(statistics.median(xs)) if xs else math.nan  # noqa: E731
    p99s = [r["p99_event_delay_ms"] for r in runs]
    lost = sum(r["lost_events"] for r in runs)
    p99 = med(p99s)
    return {
        "kind": kind, "sessions": n, "runs": runs, "lost_events": lost, "p99_event_delay_ms": p99,
        "p99_runs_ms": p99s, "delay_p50_ms": med([r["event_delay_ms"]["median"] for r in runs]),
        "server_loop_lag_p99_ms": med([r["server_loop_lag_ms"]["p99"] for r in runs]),
        "client_loop_lag_p99_ms": med([r["client_loop_lag_ms"]["p99"] for r in runs]),
        "host_noise_p99_ms": med([r["host_noise_ms"]["p99"] for r in runs]),
        "attempts": sum(r.get("attempts", 1) for r in runs),
        "response_latency_p50_ms": med([r["response_latency_ms"]["median"] for r in runs]),
        "response_latency_p99_ms": med([r["response_latency_ms"]["p99"] for r in runs]),
        "server_process_cpu_cores": med([r["server_process_cpu_cores"] for r in runs]),
        "server_loop_thread_cpu_cores": med([r["server_loop_thread_cpu_cores"] for r in runs]),
        "client_process_cpu_cores": med([r["client_process_cpu_cores"] for r in runs]),
        "passed": lost == 0 and not math.isnan(p99) and p99 <= MAX_P99_MS,
    }


def largest_passing(steps: list[dict[str, Any]]) -> int:
    best = 0
    for s in sorted(steps, key=lambda s: s["sessions"]):
        if not s["passed"]:
            break
        best = s["sessions"]
    return best


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = parser(__doc__.split("\n")[0])
    p.add_argument("--duration", type=float, default=None, help="seconds of audio per run (default 15, --quick 5)")
    p.add_argument("--drain", type=float, default=None, help="max seconds to wait for the last responses (default 8)")
    p.add_argument("--ladder", default=None, help="comma-separated N values (default 5,10,20,30,40,50,60,75,100)")
    p.add_argument("--kinds", default="local,echo", help="which servers to step: local,echo")
    p.add_argument("--repeat", type=int, default=None, help="runs per step and server (default 3, --quick 1)")
    p.add_argument("--noise-p99", type=float, default=5.0,
                   help="a run whose idle canary process saw a p99 oversleep above this (ms) is run again")
    p.add_argument("--retries", type=int, default=None, help="extra attempts of a noisy run (default 2, --quick 0)")
    p.add_argument("--profile", type=int, default=None, metavar="N",
                   help="after the ladder, profile the LocalServer's loop thread at N sessions")
    args = p.parse_args(argv)
    args.duration = args.duration or (5.0 if args.quick else 15.0)
    args.drain = args.drain or (6.0 if args.quick else 8.0)
    args.repeat = args.repeat or (1 if args.quick else 3)
    args.retries = args.retries if args.retries is not None else (0 if args.quick else 2)
    ladder = [int(x) for x in args.ladder.split(",")] if args.ladder else ([2] if args.quick else list(LADDER))
    kinds = [k.strip() for k in args.kinds.split(",") if k.strip()]

    t0 = time.perf_counter()
    pcm = cycle_audio()
    chunks, frames = cycle_frames(pcm)
    n_chunks = math.ceil(args.duration / (CHUNK_MS / 1000)) + 2
    phases = sorted({(i % PHASES) * len(frames) // PHASES for i in range(PHASES)})
    expected = {ph: offline_vad(chunks, ph, n_chunks) for ph in phases}
    turns = [sum(1 for e in v if e[0] == "speech_stopped") for v in expected.values()]
    print(f"cycle: {len(frames)} chunks of {CHUNK_MS} ms, {len(frames[0])} bytes each; offline VAD: "
          f"{min(turns)}-{max(turns)} turns per session in {args.duration:g} s ({time.perf_counter() - t0:.1f} s)",
          flush=True)
    costs = cost_breakdown(chunks, frames, 4.0 if args.quick else 20.0)

    runs: dict[str, dict[int, list[dict[str, Any]]]] = {k: {} for k in kinds}
    steps: dict[str, list[dict[str, Any]]] = {k: [] for k in kinds}
    active = list(kinds)
    for n in ladder:
        for rep in range(args.repeat):     # repeats interleave the servers: both see the same noise
            for kind in active:
                r = run_step(kind, n, args, frames, expected)
                tries = [r]
                while r["host_noise_ms"]["p99"] > args.noise_p99 and len(tries) <= args.retries:
                    print(f"  {kind:5s} N={n:3d} #{rep + 1}: host noise p99 {r['host_noise_ms']['p99']:.1f} ms "
                          f"> {args.noise_p99:g} ms, running again", flush=True)
                    r = run_step(kind, n, args, frames, expected)
                    tries.append(r)
                r = min(tries, key=lambda t: t["host_noise_ms"]["p99"])   # chosen on the canary, not the result
                r["attempts"] = len(tries)
                r["discarded_host_noise_p99_ms"] = [t["host_noise_ms"]["p99"] for t in tries if t is not r]
                runs[kind].setdefault(n, []).append(r)
                d = r["delay_parts_ms"]
                extra = (f"input p99 {d['input_triggered']['p99']:.1f} ms, stream p99 "
                         f"{d['stream_lateness']['p99']:.1f} ms, response latency p50 "
                         f"{r['response_latency_ms']['median']:.0f} ms" if kind == "local" else "")
                print(f"  {kind:5s} N={n:3d} #{rep + 1}: host noise p99 {r['host_noise_ms']['p99']:.1f} ms, "
                      f"lost {r['lost_events']}, p99 delay "
                      f"{r['p99_event_delay_ms']:.1f} ms, server loop lag p99 {r['server_loop_lag_ms']['p99']:.1f} ms, "
                      f"server CPU {r['server_process_cpu_cores']:.2f} cores, client CPU "
                      f"{r['client_process_cpu_cores']:.2f} cores; {extra}", flush=True)
        for kind in list(active):
            agg = aggregate(kind, n, runs[kind][n])
            steps[kind].append(agg)
            print(f"  => {kind} N={n}: lost {agg['lost_events']}, median p99 {agg['p99_event_delay_ms']:.1f} ms: "
                  f"{'PASS' if agg['passed'] else 'FAIL'}", flush=True)
            if not agg["passed"]:
                active.remove(kind)
        if not active:
            break

    hotspots = None
    if args.profile:
        print(f"\nprofiling the LocalServer loop thread at N={args.profile} ...", flush=True)
        hotspots = run_step("local", args.profile, args, frames, expected, profile=True)
        print(f"loop thread {hotspots['server_loop_thread_cpu_cores']:.2f} cores at N={args.profile} "
              f"(the profiler's own overhead included)")
        table(["function (LocalServer loop thread, cProfile, CPU time)", "calls", "own ms", "cumulative ms"],
              [[h["function"], h["calls"], h["tottime_s"] * 1e3, h["cumtime_s"] * 1e3]
               for h in hotspots["server_hotspots"]])

    print()
    rows = []
    for kind in kinds:
        for r in steps[kind]:
            rows.append([kind, r["sessions"], r["lost_events"], r["delay_p50_ms"], r["p99_event_delay_ms"],
                         "/".join(f"{x:.0f}" for x in r["p99_runs_ms"]), r["server_loop_lag_p99_ms"],
                         r["response_latency_p50_ms"], r["server_process_cpu_cores"],
                         r["server_process_cpu_cores"] * 1e3 / r["sessions"], r["client_process_cpu_cores"],
                         r["host_noise_p99_ms"], "yes" if r["passed"] else "no"])
    table(["server", "N", "lost", "delay p50 ms", "delay p99 ms", "p99 per run", "loop lag p99 ms",
           "resp. latency p50 ms", "server cores", "server ms/session-s", "client cores", "host noise p99 ms",
           "pass"], rows,
          title=f"Local server scale: duplex sessions at real-time pace, {args.duration:g} s per run, "
                f"{args.repeat} run(s) per step, medians over runs (pass: 0 lost in every run and median p99 <= "
                f"{MAX_P99_MS:g} ms)")
    best = {k: largest_passing(v) for k, v in steps.items()}
    print()
    table(["component (one session)", "ms CPU per second"],
          [[k, v] for k, v in costs["ms_cpu_per_session_second"].items()] +
          [["total of the above", sum(costs["ms_cpu_per_session_second"].values())]],
          title="Where a session's CPU goes (measured single-threaded, before the ladder)")
    print(f"(the echo reply repeats, so after its first synthesis the TTS serves it from its cache: "
          f"{costs['tts_cached_cpu_per_reply_ms']:.3f} ms CPU per reply instead of "
          f"{costs['tts_cpu_per_reply_ms']:.1f})")
    print()
    summary_rows = [["largest N, LocalServer", best.get("local", math.nan), f">= {GOAL_SESSIONS}"],
                    ["largest N, bare websockets echo (ceiling)", best.get("echo", math.nan), ""]]
    if "local" in best and "echo" in best and best["echo"]:
        summary_rows.append(["LocalServer / echo ceiling", best["local"] / best["echo"], ""])
    table(["result", "value", "goal"], summary_rows)
    ratios = {"largest_n_local": best.get("local"), "largest_n_echo": best.get("echo"),
              "local_over_echo": (best["local"] / best["echo"]) if best.get("echo") and "local" in best else None}
    write_result(NAME, {
        "config": {"duration_s": args.duration, "drain_s": args.drain, "ladder": ladder, "kinds": kinds,
                   "repeat": args.repeat, "noise_p99_ms": args.noise_p99, "retries": args.retries,
                   "chunk_ms": CHUNK_MS, "cycle_s": CYCLE_S, "phases": PHASES, "quick": args.quick,
                   "pass_rule": f"0 lost events and p99 event delay <= {MAX_P99_MS} ms"},
        "steps": steps, "largest_passing": best, "ratios": ratios, "cost_breakdown": costs,
        "goal": {"largest_n_local": GOAL_SESSIONS},
        "meets_goal": bool(best.get("local", 0) >= GOAL_SESSIONS),
        "profile": hotspots,
    }, args.out_dir)
    return ratios


if __name__ == "__main__":
    main()
