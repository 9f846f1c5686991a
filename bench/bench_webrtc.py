"""Kernel CPU per second of duplex conversation: WebRTC (the kernel holds only the sideband) vs the relay
(the kernel carries the audio both ways), measured in the same run.

**Processes.** A ``LocalServer`` (echo brain, replies at real-time pace) in its own process; the *kernel*
in another: the process holding the ``Session``, whose CPU is measured; for WebRTC, a *browser*
stand-in in a third (an aiortc peer: the mic track, the ``oai-events`` channel, the voice track; its
Opus work is the browser's, not the kernel's). All on 127.0.0.1. The mic plays a 5 s cycle in real
time, over and over: 0.4 s of silence, a spoken question (espeak-ng), silence while the ~2 s reply plays.

- *webrtc*: the browser makes the offer; the kernel posts it (``create_call``, the kernel's key) and
  attaches its ``Session`` as the call's sideband (``?call_id=``). Audio never passes the kernel.
- *relay*: the kernel's ``Session`` on a WebSocket sends every 40 ms mic chunk as an
  ``input_audio_buffer.append`` (through the widget relay's own path, ``_audio_in.append_now``, on the
  session's loop) and receives every reply audio delta. The widget's comm traffic (mic chunks in,
  audio out to the browser) is *not* included: the relay costs at least this much.

*Barge-in silence* (webrtc): a third window per pair, where the browser speaks the question again 0.6 s
into each reply; from the first sample of that speech on its mic track to the end of the last loud
20 ms of the voice before it goes quiet.

**Measured**, windows alternating webrtc / relay, ``--pairs`` times: the kernel process's CPU time
(user + system, all threads) per wall second of the window; turns answered in the window. *Mouth to
ear*: for webrtc, the browser's own clock from the end of each spoken question on its mic track to the
first loud 20 ms of the reply on its voice track (through aiortc's receive jitter buffers on both ends,
4 packets = 80 ms each, and the server's VAD silence of 200 ms); for relay, the kernel's clock from the
last chunk of the question sent to the first reply audio delta received (the widget's comm and its
player's jitter buffer come on top, so the two are not the same path).

Goal: <= 2 ms of kernel CPU per second of duplex conversation on webrtc.

Run: ``python bench/bench_webrtc.py [--quick] [--pairs N] [--window-s S]``. Writes bench/results/bench_webrtc.json.
"""

from __future__ import annotations

import asyncio
import multiprocessing as mp
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _common import parser, ratio, table, write_result

RATE = 24000
CHUNK = RATE * 40 // 1000
CYCLE_S = 5.0
LEAD_S = 0.4
QUESTION = "what should I cook tonight"
GOAL_MS_PER_S = 2.0


def cycle_audio() -> tuple[np.ndarray, float]:
    """One cycle of mic audio and the time (s into the cycle) at which the question ends."""
    from realtime_nb.server import tts

    speech = tts.synthesize(QUESTION, voice="alloy").astype(np.float64)
    loud = np.flatnonzero(np.abs(speech) > 300)
    speech = speech[loud[0]:loud[-1] + 1] if loud.size else speech
    pcm = np.zeros(round(CYCLE_S * RATE))
    lead = round(LEAD_S * RATE)
    pcm[lead:lead + speech.size] = speech
    pcm += np.random.default_rng(7).standard_normal(pcm.size) * 32768 * 10 ** (-60 / 20)
    return np.clip(np.rint(pcm), -32768, 32767).astype(np.int16), LEAD_S + speech.size / RATE


# -- the server ------------------------------------------------------------------------------------------

def _server_process(conn: Any) -> None:
    from realtime_nb.server import LocalServer

    with LocalServer(pace="realtime", chunk_ms=100) as server:
        conn.send(server.url)
        conn.recv()  # stop


# -- the browser stand-in (webrtc windows) -----------------------------------------------------------------

def _browser_process(conn: Any, pcm: np.ndarray, speech_end: float, seconds: float, mode: str) -> None:
    asyncio.run(_browser(conn, pcm, speech_end, seconds, mode))


async def _browser(conn: Any, pcm: np.ndarray, speech_end: float, seconds: float, mode: str) -> None:
    """``mode``: "cycle" (the question cycle, over and over) or "bargein" (a question; 0.6 s into the
    reply, the question again, over the voice; then the reply to it plays out; repeat)."""
    import fractions

    from aiortc import MediaStreamTrack, RTCPeerConnection, RTCSessionDescription
    from av import AudioFrame, AudioResampler

    from realtime_nb.server.webrtc import configuration, loopback_only

    loud: list[float] = []       # loop time of each loud 20 ms block of the voice
    noise = (np.random.default_rng(3).standard_normal(RATE) * 32768 * 10 ** (-60 / 20)).astype(np.int16)
    lead, end_at = round(LEAD_S * RATE), round(speech_end * RATE)
    speech = pcm[lead:end_at]

    class Mic(MediaStreamTrack):
        """Queued PCM in real time, faint noise otherwise; ``marks``: (loop time, tag) when a marked
        sample goes out."""

        kind = "audio"

        def __init__(self) -> None:
            super().__init__()
            self.queue = np.zeros(0, np.int16)
            self.start: float | None = None
            self.pts = 0
            self.pending: list[tuple[int, str]] = []   # (samples into the queue, tag)
            self.marks: list[tuple[float, str]] = []

        def say(self, audio: np.ndarray, tags: list[tuple[int, str]]) -> None:
            self.pending += [(len(self.queue) + at, tag) for at, tag in tags]
            self.queue = np.concatenate([self.queue, audio])

        async def recv(self) -> AudioFrame:
            loop = asyncio.get_running_loop()
            if self.start is None:
                self.start = loop.time()
            else:
                self.pts += 480
                await asyncio.sleep(max(0.0, self.start + self.pts / RATE - loop.time()))
            chunk = noise[self.pts % (RATE - 480):][:480].copy()
            n = min(480, len(self.queue))
            chunk[:n] = self.queue[:n]
            self.queue = self.queue[n:]
            now = loop.time()
            self.marks += [(now, tag) for at, tag in self.pending if at < 480]
            self.pending = [(at - 480, tag) for at, tag in self.pending if at >= 480]
            frame = AudioFrame.from_ndarray(chunk.reshape(1, -1), format="s16", layout="mono")
            frame.sample_rate, frame.pts, frame.time_base = RATE, self.pts, fractions.Fraction(1, RATE)
            return frame

    pc = RTCPeerConnection(configuration())
    mic = Mic()
    pc.addTrack(mic)
    channel = pc.createDataChannel("oai-events")
    opened = asyncio.Event()
    channel.on("open", opened.set)

    async def record(track: Any) -> None:
        resampler = AudioResampler(format="s16", layout="mono", rate=RATE)
        while True:
            try:
                frame = await track.recv()
            except Exception:
                return
            for out in resampler.resample(frame):
                x = out.to_ndarray().reshape(-1).astype(np.float64)
                if np.sqrt(np.mean(x * x)) > 300:
                    loud.append(asyncio.get_running_loop().time())

    async def quiet_for(gap: float, limit: float) -> float:
        """Wait until the voice has been quiet for ``gap`` s (at most ``limit`` s); the last loud time."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + limit
        while loop.time() < deadline:
            last = loud[-1] if loud else 0.0
            if loop.time() - last >= gap:
                return last
            await asyncio.sleep(0.02)
        return loud[-1] if loud else 0.0

    async def loud_after(t: float, limit: float) -> float | None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + limit
        while loop.time() < deadline:
            if loud and loud[-1] > t:
                return next(x for x in loud if x > t)
            await asyncio.sleep(0.02)
        return None

    pc.on("track", lambda track: asyncio.ensure_future(record(track)))
    with loopback_only():
        await pc.setLocalDescription(await pc.createOffer())
    conn.send(pc.localDescription.sdp)
    answer = await asyncio.to_thread(conn.recv)
    await pc.setRemoteDescription(RTCSessionDescription(answer, "answer"))
    await asyncio.wait_for(opened.wait(), 10)
    conn.send("ready")
    loop = asyncio.get_running_loop()
    stop_at = loop.time() + seconds
    latencies, silences = [], []
    async def next_mark(after: int, tag: str) -> float:
        while True:
            found = [t for t, g in mic.marks[after:] if g == tag]
            if found:
                return found[0]
            await asyncio.sleep(0.01)

    while loop.time() < stop_at - CYCLE_S:
        while len(mic.queue):  # the rest of the previous cycle plays out first
            await asyncio.sleep(0.02)
        n = len(mic.marks)
        # bargein: the question alone, so that the interruption goes out the moment it is queued
        mic.say(pcm if mode == "cycle" else pcm[:end_at], [(end_at, "end")])
        said = await asyncio.wait_for(next_mark(n, "end"), CYCLE_S)
        first = await loud_after(said, CYCLE_S - 1)
        if first is not None:
            latencies.append((first - said) * 1000)
        if mode == "bargein" and first is not None:
            await asyncio.sleep(0.6)
            n = len(mic.marks)
            mic.say(speech, [(0, "barge")])
            barge = await asyncio.wait_for(next_mark(n, "barge"), 2)
            last = await quiet_for(0.4, 3.0)
            if last > barge:
                silences.append((last + 0.02 - barge) * 1000)   # the end of the last loud block
            await loud_after(loop.time(), 3.0)                   # the reply to the interruption …
            await quiet_for(0.6, 5.0)                            # … plays out
    await asyncio.sleep(max(0.0, stop_at - loop.time()))
    conn.send({"mouth_to_ear_ms": latencies, "bargein_silence_ms": silences})
    await pc.close()


# -- the kernel --------------------------------------------------------------------------------------------

def _kernel_process(conn: Any, url: str, pcm: np.ndarray, speech_end: float) -> None:
    import realtime_nb as rt
    from realtime_nb.client import _audio_in
    from realtime_nb.client.calls import create_call

    while (cmd := conn.recv()) is not None:
        mode, seconds = cmd[0], cmd[1]
        if mode == "webrtc":
            answer = create_call(cmd[2], url=url)
            s = rt.connect(url=url, call_id=answer.call_id)
            conn.send(answer.sdp)
            conn.recv()  # the browser is connected and its mic plays
            c0, w0 = time.process_time(), time.monotonic()
            time.sleep(seconds)
            cpu, wall = time.process_time() - c0, time.monotonic() - w0
            turns = sum(1 for r in s._client.responses if r.status == "completed")
            s.close()
            conn.send({"cpu_ms": cpu * 1000, "wall_s": wall, "turns": turns})
        else:
            conn.send(_relay_window(rt.connect(url=url), _audio_in, pcm, speech_end, seconds))


def _relay_window(s: Any, audio_in: Any, pcm: np.ndarray, speech_end: float, seconds: float) -> dict[str, Any]:
    """Mic chunks out as appends on the session's loop (the widget relay's path), reply deltas in."""
    client = s._client
    first_audio: list[float] = []
    s.on("response.output_audio.delta", lambda e: first_audio.append(time.monotonic()))
    chunks = [pcm[i:i + CHUNK] for i in range(0, pcm.size, CHUNK)]
    ends: list[float] = []
    end_chunk = int(speech_end * RATE) // CHUNK

    def push(chunk: np.ndarray) -> None:
        if not audio_in.append_now(client, chunk):
            client.spawn(s.aappend_audio(chunk))

    c0, w0 = time.process_time(), time.monotonic()
    n = 0
    while time.monotonic() - w0 < seconds:
        client.loop.call_soon_threadsafe(push, chunks[n % len(chunks)])
        if n % len(chunks) == end_chunk:
            ends.append(time.monotonic())
        n += 1
        time.sleep(max(0.0, w0 + n * CHUNK / RATE - time.monotonic()))
    cpu, wall = time.process_time() - c0, time.monotonic() - w0
    turns = sum(1 for r in client.responses if r.status == "completed")
    s.close()
    latencies = []
    for end in ends:
        after = [t for t in first_audio if t > end]
        if after and after[0] - end < CYCLE_S - 1:
            latencies.append((after[0] - end) * 1000)
    return {"cpu_ms": cpu * 1000, "wall_s": wall, "turns": turns, "mouth_to_ear_ms": latencies}


def _webrtc_window(kernel: Any, ctx: Any, pcm: np.ndarray, speech_end: float, seconds: float,
                   mode: str = "cycle") -> dict[str, Any]:
    here, there = ctx.Pipe()
    browser = ctx.Process(target=_browser_process, args=(there, pcm, speech_end, seconds + 1.0, mode), daemon=True)
    browser.start()
    offer = here.recv()
    kernel.send(("webrtc", seconds, offer))
    here.send(kernel.recv())
    here.recv()  # ready
    kernel.send("go")
    res = dict(kernel.recv())
    res.update(here.recv())
    browser.join(15)
    return res


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--pairs", type=int, default=None, help="webrtc/relay window pairs (default 3, --quick 1)")
    p.add_argument("--window-s", type=float, default=None, help="seconds per window (default 20, --quick 6)")
    args = p.parse_args(argv)
    pairs = args.pairs or (1 if args.quick else 3)
    window = args.window_s or (6.0 if args.quick else 20.0)
    pcm, speech_end = cycle_audio()
    ctx = mp.get_context("spawn")
    srv_here, srv_there = ctx.Pipe()
    server = ctx.Process(target=_server_process, args=(srv_there,), daemon=True)
    server.start()
    url = srv_here.recv()
    k_here, k_there = ctx.Pipe()
    kernel = ctx.Process(target=_kernel_process, args=(k_there, url, pcm, speech_end), daemon=True)
    kernel.start()
    runs: dict[str, list[dict[str, Any]]] = {"webrtc": [], "relay": [], "webrtc_bargein": []}
    try:
        for i in range(pairs):
            for mode in (("webrtc", "relay") if i % 2 == 0 else ("relay", "webrtc")):
                if mode == "webrtc":
                    res = _webrtc_window(k_here, ctx, pcm, speech_end, window)
                else:
                    k_here.send(("relay", window))
                    res = k_here.recv()
                res["cpu_ms_per_s"] = res["cpu_ms"] / res["wall_s"]
                runs[mode].append(res)
                m2e = res.get("mouth_to_ear_ms") or [float("nan")]
                print(f"  {mode:6s} #{i + 1}: kernel {res['cpu_ms_per_s']:.2f} ms CPU/s, {res['turns']} turns, "
                      f"mouth-to-ear median {statistics.median(m2e):.0f} ms", flush=True)
            res = _webrtc_window(k_here, ctx, pcm, speech_end, max(window, 12.0), mode="bargein")
            runs["webrtc_bargein"].append(res)
            cut = res.get("bargein_silence_ms") or [float("nan")]
            print(f"  barge-in #{i + 1}: silence {statistics.median(cut):.0f} ms after the user starts speaking "
                  f"({len(res.get('bargein_silence_ms', []))} interruptions)", flush=True)
    finally:
        k_here.send(None)
        kernel.join(15)
        srv_here.send("stop")
        server.join(15)

    def med(mode: str, key: str) -> float:
        return statistics.median(r[key] for r in runs[mode])

    def m2e(mode: str) -> float:
        values = [v for r in runs[mode] for v in r.get("mouth_to_ear_ms", [])]
        return statistics.median(values) if values else float("nan")

    rows = [[mode, round(med(mode, "cpu_ms_per_s"), 3), sum(r["turns"] for r in runs[mode]), round(m2e(mode), 1)]
            for mode in ("webrtc", "relay")]
    print()
    table(["transport", "kernel CPU ms/s (median)", "turns", "mouth-to-ear ms (median)"], rows,
          title=f"Kernel CPU per second of duplex conversation, {pairs} pair(s) of {window:g} s windows")
    webrtc_cpu, relay_cpu = med("webrtc", "cpu_ms_per_s"), med("relay", "cpu_ms_per_s")
    print()
    table(["result", "value", "goal"], [
        ["kernel CPU on webrtc, ms/s", round(webrtc_cpu, 3), f"<= {GOAL_MS_PER_S}"],
        ["relay / webrtc kernel CPU", round(ratio(relay_cpu, webrtc_cpu), 2), ""],
    ])
    cuts = [v for r in runs["webrtc_bargein"] for v in r.get("bargein_silence_ms", [])]
    bargein = statistics.median(cuts) if cuts else float("nan")
    print(f"barge-in on webrtc: the voice stops {bargein:.0f} ms (median of {len(cuts)}) after the user starts "
          "speaking (the server's VAD onset, the cut, aiortc's jitter buffer)")
    result = {"config": {"quick": args.quick, "pairs": pairs, "window_s": window}, "runs": runs,
              "bargein_silence_ms": {"webrtc": bargein, "n": len(cuts)},
              "webrtc_kernel_ms_per_s": webrtc_cpu, "relay_kernel_ms_per_s": relay_cpu,
              "relay_over_webrtc": ratio(relay_cpu, webrtc_cpu),
              "mouth_to_ear_ms": {"webrtc": m2e("webrtc"), "relay_to_kernel": m2e("relay")},
              "goal": f"kernel CPU on webrtc <= {GOAL_MS_PER_S} ms per second of duplex conversation",
              "meets_goal": webrtc_cpu <= GOAL_MS_PER_S}
    write_result("bench_webrtc", result, args.out_dir)
    return result


if __name__ == "__main__":
    main()
