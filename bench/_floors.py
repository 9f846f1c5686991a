"""Same-run floors for bench_kernel_cpu: what any Python relay, and any wakeup, costs on this machine.

Run as a subprocess by ``bench_kernel_cpu.py`` (each mode is its own process, so its CPU time is its own):

- ``relay SERVER_URL``: the least a Python relay can do for the widget's traffic, and nothing else: a
  loopback websockets server for one page; each binary frame it gets (PCM16, 24 kHz) goes to the
  Realtime server as ``input_audio_buffer.append``; each ``response.output_audio.delta`` goes back to
  the page as binary PCM, other events as they are. No session state, event log, transcript, widget.
  Prints ``PORT PID``.
- ``page PORT WAV SECONDS CHUNK_MS``: plays a WAV (the benchmark's fake mic) to the relay in
  ``CHUNK_MS`` chunks at real-time pace, looping, and drops what comes back.
- ``wake RATE SECONDS``: wakes ``RATE`` times per second and does nothing; prints its own
  CPU ms per second: the operating system's cost of waking a process that often.
"""

from __future__ import annotations

import asyncio
import json
import os
import resource
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from realtime_nb import audio as au


def relay(server_url: str) -> None:
    from websockets.asyncio.client import connect
    from websockets.asyncio.server import ServerConnection, serve

    async def handle(page: ServerConnection) -> None:
        async with connect(f"{server_url}/realtime?model=bench-floor", compression=None) as up:
            async def down() -> None:
                async for message in up:
                    if '"response.output_audio.delta"' in message[:80]:
                        event = json.loads(message)
                        await page.send(au.b64decode(event["delta"]))
                    else:
                        await page.send(message)

            task = asyncio.get_running_loop().create_task(down())
            try:
                async for frame in page:
                    if isinstance(frame, bytes):
                        await up.send(json.dumps({"type": "input_audio_buffer.append", "audio": au.b64encode(frame)}))
            finally:
                task.cancel()

    async def main() -> None:
        async with serve(handle, "127.0.0.1", 0, compression=None) as server:
            port = server.sockets[0].getsockname()[1]
            print(port, os.getpid(), flush=True)
            await asyncio.Future()

    asyncio.run(main())


def page(port: int, wav: str, seconds: float, chunk_ms: int) -> None:
    from websockets.sync.client import connect

    pcm, rate = au.read_wav(wav)
    mic = au.to_pcm16(pcm, rate).tobytes()
    step = au.SAMPLE_RATE * chunk_ms // 1000 * 2
    with connect(f"ws://127.0.0.1:{port}", compression=None) as ws:
        def drain() -> None:
            try:
                for _ in ws:
                    pass
            except Exception:
                pass

        threading.Thread(target=drain, daemon=True).start()
        t0 = time.monotonic()
        sent = pos = 0
        while time.monotonic() - t0 < seconds:
            if pos + step > len(mic):
                pos = 0
            ws.send(mic[pos:pos + step])
            pos += step
            sent += 1
            delay = t0 + sent * chunk_ms / 1000 - time.monotonic()
            if delay > 0:
                time.sleep(delay)


def wake(rate: float, seconds: float) -> None:
    def cpu() -> float:
        r = resource.getrusage(resource.RUSAGE_SELF)
        return r.ru_utime + r.ru_stime

    c0, t0 = cpu(), time.monotonic()
    n = 0
    while time.monotonic() - t0 < seconds:
        n += 1
        delay = t0 + n / rate - time.monotonic()
        if delay > 0:
            time.sleep(delay)
    print(json.dumps({"cpu_ms_per_s": (cpu() - c0) * 1000 / (time.monotonic() - t0), "wakeups": n}), flush=True)


if __name__ == "__main__":
    mode, args = sys.argv[1], sys.argv[2:]
    if mode == "relay":
        relay(args[0])
    elif mode == "page":
        page(int(args[0]), args[1], float(args[2]), int(args[3]))
    elif mode == "wake":
        wake(float(args[0]), float(args[1]))
    else:
        sys.exit(f"unknown mode {mode!r}")
