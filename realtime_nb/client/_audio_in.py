"""Input audio: loading files and arrays, chunked appends, and the two ways to end a spoken turn.

Audio stays int16 at 24 kHz until the wire; base64 happens only in ``append`` (in the session's input
format: PCM16, or G.711 when the session says so). Appends are chunked well under the service's
15 MiB per-event limit.

``send_audio`` with VAD off appends, commits and asks for a response. With VAD on it appends the audio
and enough trailing silence for the server's VAD to end the turn (``silence_duration_ms`` plus a
margin; semantic VAD waits up to 8/4/2 s depending on ``eagerness``), then returns the response the
server starts by itself. If the audio holds several turns, the server interrupts the earlier responses
(``turn_detected``) and the last one is returned.
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .. import audio as _audio
from ..errors import RealtimeTimeout
from ._connection import Client
from .response import Response

APPEND_CHUNK_BYTES = 1 << 20          # 1 MiB of PCM16 (~22 s at 24 kHz) per append event
SILENCE_MARGIN_MS = 400
_SEMANTIC_WAIT_MS = {"low": 8000, "medium": 4000, "high": 2000, "auto": 4000}


def load(source: Any, sample_rate: int | None = None) -> np.ndarray:
    """int16 24 kHz samples from an audio file (path or bytes: WAV, MP3, M4A, OGG, FLAC …), raw PCM16 bytes,
    or an array (float or int16).

    ``sample_rate`` is the rate of raw bytes or arrays (default 24000); files carry their own. A file that
    cannot be read raises ``ValueError`` (``audio.load_file_24k``).
    """
    if isinstance(source, (str, os.PathLike)):
        return _audio.load_file_24k(source)
    if isinstance(source, (bytes, bytearray, memoryview)) and (
            bytes(source[:4]) == b"RIFF" or _audio.is_compressed_audio(bytes(source[:12]))):
        return _audio.load_file_24k(bytes(source))
    return _audio.to_pcm16(source, sample_rate or _audio.SAMPLE_RATE)


def input_format(client: Client) -> dict[str, Any]:
    fmt = (((client.state.session or {}).get("audio") or {}).get("input") or {}).get("format")
    return fmt if isinstance(fmt, dict) else {"type": "audio/pcm", "rate": 24000}


def encode(pcm: np.ndarray, fmt: dict[str, Any]) -> str:
    if fmt.get("type", "audio/pcm") == "audio/pcm":
        return _audio.b64encode_pcm16(pcm)
    return _audio.b64encode(_audio.encode_audio(pcm, fmt))


def append_event(pcm: np.ndarray, fmt: dict[str, Any]) -> dict[str, Any]:
    return {"type": "input_audio_buffer.append", "audio": encode(pcm, fmt)}


def append_now(client: Client, pcm: np.ndarray) -> bool:
    """Send a short ``pcm`` (one event) at once when the socket is free; False: nothing sent."""
    if len(pcm) > APPEND_CHUNK_BYTES // 2:
        return False
    return client.send_now(append_event(pcm, input_format(client)), pcm=pcm)


async def append(client: Client, pcm: np.ndarray) -> int:
    """Send ``pcm`` as ``input_audio_buffer.append`` events; returns how many were sent."""
    fmt = input_format(client)
    step = APPEND_CHUNK_BYTES // 2
    n = 0
    for start in range(0, len(pcm), step):
        chunk = pcm[start:start + step]
        await client.send(append_event(chunk, fmt), pcm=chunk)
        n += 1
    return n


def turn_detection(client: Client) -> dict[str, Any] | None:
    td = (((client.state.session or {}).get("audio") or {}).get("input") or {}).get("turn_detection")
    return td if isinstance(td, dict) else None


def trailing_silence_ms(td: dict[str, Any]) -> int:
    """Silence that makes the server's VAD end the turn, with a margin."""
    if td.get("type") == "semantic_vad":
        wait = _SEMANTIC_WAIT_MS.get(str(td.get("eagerness", "auto")), 4000)
    else:
        wait = int(td.get("silence_duration_ms") or 500) + int(td.get("prefix_padding_ms") or 0)
    return wait + SILENCE_MARGIN_MS


@dataclass(eq=False)
class AudioTurn:
    """Collects what the server does with audio we sent while VAD is on (a ``_connection.TurnWatcher``)."""

    committed: asyncio.Future[str]
    started: asyncio.Future[Response]
    responses: list[Response] = field(default_factory=list)
    committed_ids: list[str] = field(default_factory=list)
    _next: asyncio.Future[Response] | None = None

    def next_response(self) -> asyncio.Future[Response]:
        """A future for the next response the server starts."""
        self._next = asyncio.get_running_loop().create_future()
        return self._next

    def fail(self, exc: BaseException) -> None:
        for fut in (self.committed, self.started, self._next):
            if fut is not None and not fut.done():
                fut.set_exception(exc)
                fut.exception()

    def on_committed(self, item_id: str) -> None:
        self.committed_ids.append(item_id)

    def on_item_added(self, item_id: str) -> None:
        """The committed item is in the conversation (after ``committed``): the turn has ended."""
        if item_id in self.committed_ids and not self.committed.done():
            self.committed.set_result(item_id)

    def on_response(self, resp: Response) -> None:
        self.responses.append(resp)
        for fut in (self.started, self._next):
            if fut is not None and not fut.done():
                fut.set_result(resp)


def _interrupted(resp: Response) -> bool:
    return resp.status == "cancelled" and (resp.status_details or {}).get("reason") == "turn_detected"


async def send_with_vad(client: Client, pcm: np.ndarray, td: dict[str, Any], *, wait: bool,
                        timeout: float | None) -> Response | None:
    """Append ``pcm`` plus trailing silence and return the server's automatic response (see module doc)."""
    loop = asyncio.get_running_loop()
    turn = AudioTurn(loop.create_future(), loop.create_future())
    client.audio_turns.append(turn)
    try:
        silence = np.zeros(trailing_silence_ms(td) * _audio.SAMPLE_RATE // 1000, dtype=np.int16)
        await append(client, np.concatenate([pcm, silence]))
        limit = timeout if timeout is not None else 30.0 + len(pcm) / _audio.SAMPLE_RATE
        wanted = turn.started if td.get("create_response", True) else turn.committed
        try:
            await asyncio.wait_for(asyncio.shield(wanted), limit)
        except asyncio.TimeoutError:
            raise RealtimeTimeout("end of the spoken turn by the server's VAD", limit,
                                  hint="no speech detected? With VAD off use commit() and respond(); "
                                       "send_audio(timeout=...) sets this bound") from None
        if not td.get("create_response", True):
            return None
        if not wait:
            return turn.responses[0]
        while True:
            last = turn.responses[-1]
            await last._wait_done(raise_error=False)
            if last is not turn.responses[-1]:
                continue
            if not _interrupted(last):
                return last
            try:  # more speech interrupted it: the next turn's response follows
                await asyncio.wait_for(asyncio.shield(turn.next_response()), limit)
            except asyncio.TimeoutError:
                return last
    finally:
        client.audio_turns.remove(turn)
