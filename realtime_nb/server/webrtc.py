"""WebRTC media for the local server's calls (aiortc + PyAV): one peer connection per call.

``Peer`` answers the browser's SDP offer, receives the mic track (Opus → 24 kHz mono PCM16 for the same
engine a WebSocket session feeds), sends the model's voice on its own track (``VoiceTrack``, paced by
the clock, silence between turns) and carries the ``oai-events`` data channel. It knows nothing of the
Realtime protocol: ``calls.py`` wires it to a connection's engine.

**Loopback.** aiortc's ICE library (aioice) gathers host candidates on every interface except loopback,
and aiortc asks a public STUN server by default. A server that listens on 127.0.0.1 must offer only
127.0.0.1 candidates (traffic must not leave the machine, nor reach it from the LAN), so ``Peer`` is
configured with no ICE servers at all and, when ``loopback=True``, gathers on 127.0.0.1 only
(``loopback_only()``: scoped to the calling task by a context variable, other peer connections of the
process are not affected), ignores the offer's other candidates (``loopback_offer``) and does not answer
connectivity checks from other addresses. Chromium needs ``--allow-loopback-in-peer-connection`` to use
such candidates; without it the call does not connect (the widget then falls back to the relay).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import contextvars
import fractions
import logging
from collections.abc import Callable, Collection, Iterator
from typing import Any

import aioice.ice
import numpy as np
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from av import AudioFrame, AudioResampler

log = logging.getLogger("realtime_nb.server.webrtc")

RATE = 24000                 # the engine's PCM rate
FRAME = RATE // 50           # 20 ms, Opus' usual packet
CHANNEL = "oai-events"

_loopback = contextvars.ContextVar("realtime_nb_loopback_ice", default=False)
_host_addresses = aioice.ice.get_host_addresses


def _addresses(use_ipv4: bool, use_ipv6: bool) -> list[str]:
    if _loopback.get():
        return ["127.0.0.1"] if use_ipv4 else ["::1"]
    return _host_addresses(use_ipv4, use_ipv6)


aioice.ice.get_host_addresses = _addresses  # consulted by aioice's gather_candidates at call time


def _is_loopback(host: str) -> bool:
    return host.startswith("127.") or host == "::1"


_datagram_received = aioice.ice.StunProtocol.datagram_received


def _loopback_datagram(self: aioice.ice.StunProtocol, data: bytes | str, addr: tuple[Any, ...]) -> None:
    # A socket on loopback (only ``loopback_only`` makes them) hears loopback peers only: a browser
    # without --allow-loopback-in-peer-connection checks from the machine's LAN address, which must
    # get no answer (no traffic to it, and no peer-reflexive candidate learnt from it).
    local = getattr(getattr(self, "local_candidate", None), "host", "")
    if _is_loopback(local) and not _is_loopback(str(addr[0])):
        return
    _datagram_received(self, data, addr)


aioice.ice.StunProtocol.datagram_received = _loopback_datagram  # type: ignore[method-assign]


@contextlib.contextmanager
def loopback_only() -> Iterator[None]:
    """Within this block (this task and the tasks it starts), ICE gathers 127.0.0.1 candidates only."""
    token = _loopback.set(True)
    try:
        yield
    finally:
        _loopback.reset(token)


def loopback_offer(sdp: str) -> str:
    """``sdp`` without the ICE candidates on addresses other than loopback: a loopback server must not
    send its connectivity checks to the machine's LAN address (nor to an mDNS name) either.
    """
    def keep(line: str) -> bool:
        if not line.startswith("a=candidate:"):
            return True
        fields = line.split()
        return len(fields) > 4 and _is_loopback(fields[4])

    return "".join(line for line in sdp.splitlines(keepends=True) if keep(line.rstrip("\r\n")))


def configuration() -> RTCConfiguration:
    """No STUN, no TURN: host candidates only."""
    return RTCConfiguration(iceServers=[])


class VoiceTrack(MediaStreamTrack):
    """The model's voice: queued 24 kHz PCM chunks played out in real time, 20 ms per frame.

    Each chunk belongs to a response and an item; ``played`` counts the samples of each item actually
    handed to the encoder (what truncation on interruption needs). ``on_started(response_id)`` fires when
    a response's first sample goes out, ``on_drained(response_id)`` each time the queue runs empty after
    it (more of the same response may still come: the caller knows when a response is done).
    """

    kind = "audio"

    def __init__(self, on_started: Callable[[str], None], on_drained: Callable[[str], None]) -> None:
        super().__init__()
        self.on_started, self.on_drained = on_started, on_drained
        self._queue: collections.deque[tuple[str, str, np.ndarray]] = collections.deque()
        self._offset = 0                        # samples of the head chunk already played
        self.played: dict[str, int] = {}        # item id -> samples sent
        self.current: tuple[str, str] | None = None   # (response id, item id) now playing
        self._last_response: str | None = None
        self._last_sent: tuple[str, str] | None = None   # (response id, item id) of the last sample sent
        self._start: float | None = None
        self._pts = 0

    def push(self, response_id: str, item_id: str, pcm: np.ndarray) -> None:
        if len(pcm):
            self._queue.append((response_id, item_id, pcm))

    @property
    def busy(self) -> bool:
        """Audio is playing or queued."""
        return self.current is not None or bool(self._queue)

    def clear(self, playing: Collection[str] = ()) -> tuple[str, str, int] | None:
        """Drop what is queued; returns (response id, item id, samples of that item sent) of what was cut.

        ``playing``: responses the caller knows are not over. When the queue is empty because the
        response's audio is produced no faster than it is played (an underrun between two chunks), the
        last item sent is still the one being spoken if its response is in ``playing``: that is cut too.
        """
        head = self.current or (self._queue[0][:2] if self._queue else None)
        if head is None and self._last_sent is not None and self._last_sent[0] in playing:
            head = self._last_sent
        self._queue.clear()
        self._offset = 0
        self.current = None
        if head is None:
            return None
        return head[0], head[1], self.played.get(head[1], 0)

    def _take(self, n: int) -> np.ndarray:
        out = np.zeros(n, np.int16)
        filled = 0
        while filled < n and self._queue:
            rid, item, pcm = self._queue[0]
            if rid != self._last_response:
                self._last_response = rid
                self.on_started(rid)
            self.current = self._last_sent = (rid, item)
            k = min(n - filled, len(pcm) - self._offset)
            out[filled:filled + k] = pcm[self._offset:self._offset + k]
            self.played[item] = self.played.get(item, 0) + k
            filled += k
            self._offset += k
            if self._offset == len(pcm):
                self._queue.popleft()
                self._offset = 0
        if not self._queue and self.current is not None:
            rid = self.current[0]
            self.current = None
            self.on_drained(rid)
        return out

    async def recv(self) -> AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        loop = asyncio.get_running_loop()
        if self._start is None:
            self._start = loop.time()
        else:
            self._pts += FRAME
            delay = self._start + self._pts / RATE - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            elif delay < -0.2:  # the loop stalled: do not burst to catch up, move the clock instead
                self._start -= delay
        samples = self._take(FRAME)
        frame = AudioFrame.from_ndarray(samples.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = RATE
        frame.pts = self._pts
        frame.time_base = fractions.Fraction(1, RATE)
        return frame


class Peer:
    """One answering peer connection: mic in (``on_audio(pcm)``), voice out (``voice``), the event channel.

    ``on_message(text)`` gets each data channel message; ``on_closed()`` fires once when the connection
    fails or closes or the data channel closes. Messages sent before the channel opens are queued.
    """

    def __init__(self, *, loopback: bool, on_message: Callable[[str | bytes], None],
                 on_audio: Callable[[np.ndarray], None], on_closed: Callable[[], None],
                 on_started: Callable[[str], None], on_drained: Callable[[str], None]) -> None:
        self.loopback = loopback
        self.on_message, self.on_audio, self.on_closed = on_message, on_audio, on_closed
        self.pc = RTCPeerConnection(configuration())
        self.voice = VoiceTrack(on_started, on_drained)
        self.channel: Any = None
        # events before the channel opens (session.created first); bounded: a peer without the channel
        # must not grow it for the whole call (its sidebands still get every event)
        self._outbox: collections.deque[str] = collections.deque(maxlen=4096)
        self._tasks: set[asyncio.Task[None]] = set()
        self._closed = False
        self.connected = asyncio.Event()
        self.pc.on("datachannel", self._on_datachannel)
        self.pc.on("track", self._on_track)
        self.pc.on("connectionstatechange", self._on_state)

    async def answer(self, offer: str) -> str:
        """Apply the offer, gather candidates, return the answer SDP. ``ValueError`` for a bad offer."""
        try:
            await self.pc.setRemoteDescription(RTCSessionDescription(loopback_offer(offer) if self.loopback else offer,
                                                                     "offer"))
        except Exception as exc:  # aiortc raises ValueError, KeyError … for SDP it cannot use
            raise ValueError(f"the SDP offer cannot be used: {type(exc).__name__}: {exc}") from exc
        if not any(t.kind == "audio" for t in self.pc.getTransceivers()):
            raise ValueError("the SDP offer has no audio section (m=audio)")
        self.pc.addTrack(self.voice)
        with loopback_only() if self.loopback else contextlib.nullcontext():
            await self.pc.setLocalDescription(await self.pc.createAnswer())
        return str(self.pc.localDescription.sdp)

    def send(self, text: str) -> None:
        channel = self.channel
        if channel is not None and channel.readyState == "open":
            channel.send(text)
        elif not self._closed:
            self._outbox.append(text)

    async def close(self) -> None:
        self._closed = True
        self.voice.stop()
        for task in list(self._tasks):
            task.cancel()
        with contextlib.suppress(Exception):
            await self.pc.close()

    # -- aiortc events ---------------------------------------------------------------------------
    def _on_datachannel(self, channel: Any) -> None:
        if channel.label != CHANNEL:
            log.info("ignoring data channel %r (only %r carries events)", channel.label, CHANNEL)
            return
        self.channel = channel
        channel.on("message", self.on_message)
        channel.on("close", self._lost)

        def flush() -> None:
            for text in self._outbox:
                channel.send(text)
            self._outbox.clear()

        if channel.readyState == "open":
            flush()
        else:
            channel.on("open", flush)

    def _on_track(self, track: MediaStreamTrack) -> None:
        if track.kind != "audio":
            return
        task = asyncio.get_running_loop().create_task(self._pump(track))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _pump(self, track: MediaStreamTrack) -> None:
        resampler = AudioResampler(format="s16", layout="mono", rate=RATE)
        while True:
            try:
                frame = await track.recv()
            except MediaStreamError:
                return
            if not isinstance(frame, AudioFrame):
                continue
            for out in resampler.resample(frame):
                self.on_audio(out.to_ndarray().reshape(-1))

    def _on_state(self) -> None:
        state = self.pc.connectionState
        if state == "connected":
            self.connected.set()
        elif state in ("failed", "closed"):
            self._lost()

    def _lost(self) -> None:
        if not self._closed:
            self._closed = True
            self.on_closed()
