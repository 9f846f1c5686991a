"""A browser stand-in for WebRTC tests: an aiortc peer with a mic track, the ``oai-events`` channel and a
recorder on the remote (voice) track. Everything on loopback: 127.0.0.1 candidates, no STUN."""

from __future__ import annotations

import asyncio
import fractions
import json
import time
from typing import Any

import numpy as np
from aiortc import MediaStreamTrack, RTCPeerConnection, RTCSessionDescription
from av import AudioFrame, AudioResampler
from rtclient import check_schema

from realtime_nb.server.webrtc import configuration, loopback_only

RATE = 24000
FRAME = RATE // 50


class Mic(MediaStreamTrack):
    """Plays queued PCM (24 kHz int16) in real time, silence otherwise; ``sent`` counts samples."""

    kind = "audio"

    def __init__(self) -> None:
        super().__init__()
        self.pending = np.zeros(0, np.int16)
        self._start: float | None = None
        self._pts = 0

    def say(self, pcm: np.ndarray) -> None:
        self.pending = np.concatenate([self.pending, pcm.astype(np.int16)])

    async def recv(self) -> AudioFrame:
        loop = asyncio.get_running_loop()
        if self._start is None:
            self._start = loop.time()
        else:
            self._pts += FRAME
            await asyncio.sleep(max(0.0, self._start + self._pts / RATE - loop.time()))
        chunk = np.zeros(FRAME, np.int16)
        n = min(FRAME, len(self.pending))
        chunk[:n] = self.pending[:n]
        self.pending = self.pending[n:]
        frame = AudioFrame.from_ndarray(chunk.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate, frame.pts, frame.time_base = RATE, self._pts, fractions.Fraction(1, RATE)
        return frame


class Browser:
    """One peer connection to a call. ``events``: every data channel event (validated), in order."""

    def __init__(self) -> None:
        self.pc = RTCPeerConnection(configuration())
        self.mic = Mic()
        self.pc.addTrack(self.mic)
        self.channel = self.pc.createDataChannel("oai-events")
        self.events: list[dict[str, Any]] = []
        self.arrived = asyncio.Event()
        self.opened = asyncio.Event()
        self.voice: list[tuple[float, np.ndarray]] = []   # (arrival time, 24 kHz mono samples)
        self._tasks: list[asyncio.Task[None]] = []
        self.channel.on("open", self.opened.set)
        self.channel.on("message", self._on_message)
        self.pc.on("track", self._on_track)

    def _on_message(self, text: str) -> None:
        event = json.loads(text)
        check_schema(event)
        self.events.append(event)
        self.arrived.set()

    def _on_track(self, track: MediaStreamTrack) -> None:
        self._tasks.append(asyncio.ensure_future(self._record(track)))

    async def _record(self, track: MediaStreamTrack) -> None:
        resampler = AudioResampler(format="s16", layout="mono", rate=RATE)
        while True:
            try:
                frame = await track.recv()
            except Exception:
                return
            for out in resampler.resample(frame):
                self.voice.append((time.monotonic(), out.to_ndarray().reshape(-1).copy()))

    async def offer(self) -> str:
        with loopback_only():
            await self.pc.setLocalDescription(await self.pc.createOffer())
        return str(self.pc.localDescription.sdp)

    async def accept(self, answer: str) -> None:
        await self.pc.setRemoteDescription(RTCSessionDescription(answer, "answer"))
        await asyncio.wait_for(self.opened.wait(), 10)

    def send(self, event: dict[str, Any]) -> None:
        self.channel.send(json.dumps(event))

    async def until(self, type_: str, timeout: float = 15.0, after: int = 0, **match: Any) -> dict[str, Any]:
        """The first event of ``type_`` (matching ``match``) at index >= ``after``, waiting up to ``timeout``."""
        deadline = time.monotonic() + timeout
        while True:
            for e in self.events[after:]:
                if e["type"] == type_ and all(e.get(k) == v for k, v in match.items()):
                    return e
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no {type_} within {timeout} s; got {[e['type'] for e in self.events]}")
            self.arrived.clear()
            try:
                await asyncio.wait_for(self.arrived.wait(), left)
            except asyncio.TimeoutError:
                pass

    def types(self) -> list[str]:
        return [e["type"] for e in self.events]

    def loud_ms(self, since: float = 0.0, level: float = 300.0) -> float:
        """Milliseconds of received voice (20 ms blocks with an RMS above ``level``) after ``since``."""
        blocks = [pcm for t, pcm in self.voice if t >= since]
        return sum(len(b) for b in blocks if np.sqrt(np.mean(b.astype(np.float64) ** 2)) > level) / (RATE / 1000)

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await self.pc.close()
