"""The bridge's assistant audio: streaming it to the owner view, barge-in and truncation (a layer of
``Bridge``, see ``_bridge_base``).

- **Audio out.** Decoded output audio (``Client.audio_listeners``) is sent, as a binary buffer, to the
  owner only: each delta at once over the owner's link, else (over the comm, which has a message
  budget) coalesced per item into messages of >= 40 ms (the item's tail may be shorter), at most one
  per 20 ms.
- **Barge-in.** Audio still streaming is no longer forwarded, the owner is asked to stop
  (``interrupt``), and the item it was playing is truncated at ``min(played, received)`` — never past
  the audio received, so the server cannot refuse it.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import RealtimeError
from ._bridge_base import SAMPLE_RATE, WidgetLike, log
from ._updates import Updates

if TYPE_CHECKING:
    from ..client.session import Session

MIN_CHUNK = SAMPLE_RATE * 40 // 1000    # 40 ms: keeps comm traffic far below iopub's 1000 msg/s
AUDIO_INTERVAL_S = 0.02                 # and at most one audio message per 20 ms: bursts become bigger chunks
INTERRUPT_TIMEOUT_S = 1.0


class Playback(Updates):
    """Output audio to the owner view; stopping it and truncating what was not heard."""

    def __init__(self, widget: WidgetLike, session: Session) -> None:
        super().__init__(widget, session)
        self.forwarded: dict[str, int] = {}
        self.offset: dict[str, int] = {}           # samples of an item received before its owner got any
        self.pending: dict[str, list[bytes]] = {}
        self.pending_n: dict[str, int] = {}
        self.ended: set[str] = set()
        self.cut: set[str] = set()
        self.audio_messages = 0
        self.last_audio_send = 0.0
        self.audio_timer: asyncio.TimerHandle | None = None
        self.interrupts = 0
        self.truncates: list[dict[str, Any]] = []

    # -- audio out ---------------------------------------------------------------------------------
    def on_audio(self, response_id: Any, item_id: Any, pcm: Any) -> None:
        if not isinstance(item_id, str):
            return
        self.received[item_id] = self.received.get(item_id, 0) + len(pcm)
        if isinstance(response_id, str):
            self.item_response[item_id] = response_id
            start = self.turn_start.pop(response_id, None)
            if start is not None:  # the first audio of a reply to speech: the turn's latency
                self.latency[response_id] = self.loop.time() - start
                self.dirty.add(item_id)
        if item_id in self.cut or self.owner is None:
            return
        # a view that starts mid-item (it became the owner late) plays from here: its counts are offset
        self.offset.setdefault(item_id, self.received[item_id] - len(pcm))
        self.pending.setdefault(item_id, []).append(np.asarray(pcm, dtype="<i2").tobytes())
        self.pending_n[item_id] = self.pending_n.get(item_id, 0) + len(pcm)
        if self.owner in self.links:  # no message budget to keep over the link: every delta goes now
            self.flush_audio(item_id)
        elif self.pending_n[item_id] >= MIN_CHUNK:
            wait = self.last_audio_send + AUDIO_INTERVAL_S - time.monotonic()
            if wait <= 0:
                self.flush_audio(item_id)
            elif self.audio_timer is None:  # a fast server's burst: merge it into fewer, larger messages
                self.audio_timer = self.loop.call_later(wait, self.flush_pending_audio)

    def flush_pending_audio(self) -> None:
        self.audio_timer = None
        for item in [i for i, n in self.pending_n.items() if n >= MIN_CHUNK]:
            self.flush_audio(item)

    def flush_audio(self, item: str, end: bool = False) -> None:
        chunks = self.pending.pop(item, None)
        n = self.pending_n.pop(item, 0)
        owner = self.owner
        if owner is None or item in self.cut:
            return
        if chunks:
            self.forwarded[item] = self.forwarded.get(item, 0) + n
            self.audio_messages += 1
            self.last_audio_send = time.monotonic()
            self.send({"type": "audio", "view": owner, "item_id": item,
                       "response_id": self.item_response.get(item), "samples": n}, [b"".join(chunks)])
        if end:
            self.send({"type": "audio_end", "view": owner, "item_id": item})

    def end_item_audio(self, item: str) -> None:
        if item in self.ended:
            return
        self.ended.add(item)
        if item in self.received:
            self.flush_audio(item, end=True)

    # -- barge-in ----------------------------------------------------------------------------------
    async def barge_in(self, reason: str, *, cancel: bool) -> None:
        """Stop playback now and truncate what the listener did not hear."""
        self.interrupts += 1
        for item in list(self.received):
            if item not in self.ended:
                self.cut.add(item)
                self.pending.pop(item, None)
                self.pending_n.pop(item, None)
        if cancel:
            active = self.client.active_inband
            if active is not None and not active.done:
                self.loop.create_task(self._cancel(active.id))
        owner = self.owner
        if owner is None:
            return
        try:
            result = await self.request(owner, "interrupt", INTERRUPT_TIMEOUT_S, reason=reason)
        except (asyncio.TimeoutError, RuntimeError):
            log.info("realtime-nb widget: the audio view did not report what it played; no truncation")
            return
        playing = (result or {}).get("item_id")
        if isinstance(playing, str):
            await self.truncate(playing, int((result or {}).get("played_samples") or 0))

    async def _cancel(self, response_id: str | None) -> None:
        try:
            await self.session.acancel(response_id, timeout=10)
        except RealtimeError as exc:
            self.report(exc)
        except Exception:
            log.debug("realtime-nb widget: cancel failed", exc_info=True)

    async def truncate(self, item: str, played: int) -> dict[str, Any] | None:
        """``conversation.item.truncate`` at what was heard, never past the audio received.

        ``played`` counts the samples the owner played of the audio it was sent (from ``offset``)."""
        received = self.received.get(item, 0)
        played += self.offset.get(item, 0)
        rid = self.item_response.get(item)
        if rid in self.oob or item not in self.client.state.conversation:
            return None  # out-of-band output is not in the conversation: nothing to truncate
        if played >= received and item in self.ended:
            return None  # heard it all
        end_ms = min(played, received) * 1000 // SAMPLE_RATE
        record: dict[str, Any] = {"item_id": item, "audio_end_ms": end_ms, "played_samples": played,
                                  "received_samples": received}
        self.received_at_cut.setdefault(item, received)
        try:
            await self.session.atruncate(item, end_ms)
        except RealtimeError as exc:
            record["error"] = exc.code
            self.report(exc)
        self.truncates.append(record)
        self.send({"type": "truncated", **record})
        self.dirty.add(item)
        self.schedule_flush()
        return record
