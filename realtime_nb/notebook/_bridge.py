"""The widget's kernel-side work, all of it on the session's loop thread (``_loop``).

``RealtimeWidget`` (``widget.py``) only copies what the browser sends and hands it here with
``call_soon_threadsafe``: comm handlers may run on the kernel's main thread or on a subshell thread,
and the websocket lives on the loop thread. Everything in this module runs there, so none of it needs
a lock, and audio keeps flowing to the browser while a cell blocks.

What it does:

- **Views.** A view becomes known with its ``ready`` request (nothing is streamed to a view before
  it). The first ready view owns audio; a later one takes over only if the owner does not answer a
  ``probe`` (a reloaded page leaves a dead owner behind), or when asked explicitly (``claim`` with
  ``force``).
- **Audio out.** Decoded output audio (``Client.audio_listeners``) is sent, as a binary buffer, to the
  owner only: each delta at once over the owner's link, else (over the comm, which has a message
  budget) coalesced per item into messages of >= 40 ms (the item's tail may be shorter), at most one
  per 20 ms.
- **Audio in.** Mic chunks of the owner become ``input_audio_buffer.append`` events, in order, through
  one queue of operations (so a push-to-talk release's commit follows its last append).
- **Barge-in.** On ``input_audio_buffer.speech_started`` (hands-free modes) or a push-to-talk press,
  audio still streaming is no longer forwarded, the owner is asked to stop (``interrupt``), and the
  item it was playing is truncated at ``min(played, received)`` — never past the audio received, so
  the server cannot refuse it.
- **UI state.** The status pill and the last error are traits; transcript entries (built from the
  session's reducer) and event-log rows go as ``update`` messages at most every 40 ms.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from ..client import _audio_in, _loop
from ..errors import RealtimeError
from . import _link

if TYPE_CHECKING:
    from ..client.session import Session
    from .widget import RealtimeWidget

log = logging.getLogger("realtime_nb")

SAMPLE_RATE = 24000
MIN_CHUNK = SAMPLE_RATE * 40 // 1000    # 40 ms: keeps comm traffic far below iopub's 1000 msg/s
AUDIO_INTERVAL_S = 0.02                 # and at most one audio message per 20 ms: bursts become bigger chunks
FLUSH_S = 0.04                          # transcript/event-log updates at most this often
STREAM_FLUSH_S = 0.25                   # when only the mic's appends are new (a counter in the event log)
STREAM_SLACK_S = 0.1                    # while the mic streams, its next chunk (not a timer) sends the update
PROBE_TIMEOUT_S = 1.0                   # an owner view that does not answer a probe is gone
INTERRUPT_TIMEOUT_S = 1.0
MIN_PTT_SAMPLES = SAMPLE_RATE * 100 // 1000   # the server refuses to commit less than 100 ms
HOUSEKEEPING_S = 1.0
BENIGN_ERRORS = frozenset({"response_cancel_not_active"})  # races of barge-in, not the user's problem
STREAM_TYPES = ("input_audio_buffer.append",)

_SPEAKING = frozenset({"response.output_audio.delta", "response.output_text.delta",
                       "response.output_audio_transcript.delta"})
_ORDER_EVENTS = frozenset({"conversation.item.added", "conversation.item.deleted", "conversation.item.done"})


def turn_detection_for(mode: str, vad: str, barge_in: bool = True) -> dict[str, Any] | None:
    """The ``turn_detection`` a UI mode means (``None``: push-to-talk, the client commits).

    Hands-free lets the server cancel the reply the user talks over (``interrupt_response``) when
    barge-in is on; in manual mode the widget cancels it itself (nothing is automatic there)."""
    if mode == "push_to_talk":
        return None
    auto = mode == "hands_free"
    return {"type": vad, "create_response": auto, "interrupt_response": auto and barge_in}


def mode_from_config(session: dict[str, Any] | None) -> tuple[str, str | None]:
    """``(mode, vad type or None)`` of a GA session config."""
    td = (((session or {}).get("audio") or {}).get("input") or {}).get("turn_detection")
    if not isinstance(td, dict):
        return "push_to_talk", None
    vad = td.get("type") if td.get("type") in ("server_vad", "semantic_vad") else None
    return ("hands_free" if td.get("create_response", True) else "manual"), vad


def voice_from_config(session: dict[str, Any] | None) -> str | None:
    voice = (((session or {}).get("audio") or {}).get("output") or {}).get("voice")
    return voice if isinstance(voice, str) else None


def _item_id(event: dict[str, Any]) -> str | None:
    iid = event.get("item_id")
    if not isinstance(iid, str):
        item = event.get("item")
        iid = item.get("id") if isinstance(item, dict) else None
    return iid if isinstance(iid, str) else None


def compact_rows(rows: Any) -> list[list[Any]]:
    """Event-log rows (sent and received) as ``[t, dir, type, item_id, response_id, error_code, count]``,
    the rows of one stream (deltas, appends) merged while only stream rows come between them: the mic's
    appends interleave with a reply's deltas, and one row each would push the other events out of the
    browser's bounded list."""
    out: list[list[Any]] = []
    for r in rows:
        row = _stream_row(out, r.type, r.direction, r.item_id) if _is_stream(r.type) else None
        if row is not None:
            row[0] = round(r.t, 3)
            row[6] += 1
        else:
            out.append([round(r.t, 3), r.direction, r.type, r.item_id, r.response_id, r.error_code, 1])
    return out


def _stream_row(out: list[list[Any]], etype: str, direction: str, item_id: str | None) -> list[Any] | None:
    """The row of this stream among the trailing stream rows of ``out``, else None."""
    for i in range(len(out) - 1, -1, -1):
        if not _is_stream(out[i][2]):
            return None
        if out[i][2] == etype and out[i][1] == direction and out[i][3] == item_id:
            return out[i]
    return None


def _is_stream(etype: str) -> bool:
    return etype.endswith(".delta") or etype in STREAM_TYPES


class Bridge:
    """The loop-thread half of a ``RealtimeWidget``. Create and use it on the loop thread only."""

    def __init__(self, widget: RealtimeWidget, session: Session) -> None:
        self.widget = widget
        self.session = session
        self.client = session._client
        self.loop = asyncio.get_running_loop()
        self.views: dict[str, float] = {}          # ready views -> when they last sent something
        self.owner: str | None = None
        # output audio, per item (24 kHz samples)
        self.received: dict[str, int] = {}
        # samples received of an item when it was cut (the tooltip's "heard X of Y": Y is what had come)
        self.received_at_cut: dict[str, int] = {}
        self.forwarded: dict[str, int] = {}
        self.offset: dict[str, int] = {}           # samples of an item received before its owner got any
        self.pending: dict[str, list[bytes]] = {}
        self.pending_n: dict[str, int] = {}
        self.item_response: dict[str, str] = {}
        self.ended: set[str] = set()
        self.cut: set[str] = set()
        self.oob: set[str] = set()                 # out-of-band response ids
        self.audio_messages = 0
        self.last_audio_send = 0.0
        self.audio_timer: asyncio.TimerHandle | None = None
        # requests to views
        self.requests: dict[int, asyncio.Future[Any]] = {}
        self.next_id = 0
        # UI updates
        self.dirty: set[str] = set()
        self.deleted: set[str] = set()
        self.order_changed = False
        self.log_pos = len(self.client.log)
        self.flush_handle: asyncio.TimerHandle | None = None   # the fallback timer of a wanted flush
        self.flush_due: float | None = None      # when the pending update may go (None: nothing wanted)
        self.flush_soon = False                  # a flush is queued for the end of this wakeup
        self.flushed_at = float("-inf")
        self.mic_at = float("-inf")              # when the last mic chunk came (loop time)
        self.house_handle: asyncio.TimerHandle | None = None
        # input
        self.ops: deque[Callable[[], Awaitable[Any]]] = deque()
        self.worker: asyncio.Task[None] | None = None
        self.ptt_held = False
        self.ptt_samples = 0
        self.mic_chunks = 0
        self.mic_samples = 0
        self.interrupts = 0
        self.truncates: list[dict[str, Any]] = []
        self.attached = False
        # the fast path (``_link``): views whose loopback websocket is up get every message over it
        self.links: dict[str, _link.Link] = {}
        self.link_token: str | None = None

    # -- lifecycle ---------------------------------------------------------------------------------
    def attach(self) -> None:
        self.client.add_handler("*", self.on_event)
        self.client.audio_listeners.append(self.on_audio)
        self.attached = True
        self.sync_from_config()
        if any(r.first_audio_at is not None for r in self.client.state.responses.values()):
            self.widget.voice_locked = True
        self.set_status("closed" if self.session.closed else "listening")
        self.house_handle = self.loop.call_later(HOUSEKEEPING_S, self.housekeep)

    def detach(self) -> None:
        if not self.attached:
            return
        self.attached = False
        self.client.remove_handler("*", self.on_event)
        if self.on_audio in self.client.audio_listeners:
            self.client.audio_listeners.remove(self.on_audio)
        for handle in (self.flush_handle, self.house_handle, self.audio_timer):
            if handle is not None:
                handle.cancel()
        for fut in self.requests.values():
            if not fut.done():
                fut.cancel()
        if self.link_token is not None:
            _link.server().unregister(self.link_token)
            self.link_token = None
        for link in list(self.links.values()):
            link.close()
        self.links.clear()

    def housekeep(self) -> None:
        if not self.attached:
            return
        if self.session.closed and self.widget.status != "closed":
            self.set_status("closed")
            closed = self.client.closed
            if closed is not None and getattr(closed, "code", 1000) not in (1000, None):
                self.set_error(f"connection closed: {closed}")
        self.house_handle = self.loop.call_later(HOUSEKEEPING_S, self.housekeep)

    # -- sending to the browser --------------------------------------------------------------------
    def send(self, content: dict[str, Any], buffers: list[bytes] | None = None) -> None:
        """To the view ``content["view"]`` names (over its link when up), else to every view: over
        each link, and over the comm once if some view has no link (linked views ignore the comm)."""
        view = content.get("view")
        if view is not None:
            link = self.links.get(view)
            if link is not None:
                link.send(content, buffers)
            else:
                self.send_comm(content, buffers)
            return
        for link in self.links.values():
            link.send(content, buffers)
        if not self.links or any(v not in self.links for v in self.views):
            self.send_comm(content, buffers)

    def send_comm(self, content: dict[str, Any], buffers: list[bytes] | None = None) -> None:
        try:
            self.widget.send(content, buffers)
        except Exception:  # a closed comm must not break the session's loop
            log.debug("realtime-nb widget: send failed", exc_info=True)

    # -- the fast path ---------------------------------------------------------------------------
    async def on_link_request(self, view: str, rid: Any) -> None:
        """Reply ``{port, token}`` for the view to connect to (``None``: no link, use the comm)."""
        if not _link.link_enabled():
            self.reply(view, rid, None)
            return
        try:
            port = await _link.server().start()
        except OSError as exc:
            log.info("realtime-nb widget: no fast path (%s); the comm carries everything", exc)
            self.reply(view, rid, None)
            return
        if self.link_token is None:
            self.link_token = _link.server().register(self)
        self.reply(view, rid, {"port": port, "token": self.link_token})

    def link_opened(self, link: _link.Link) -> None:
        old = self.links.get(link.view)
        if old is not None:
            old.close()
        self.links[link.view] = link

    def link_closed(self, link: _link.Link) -> None:
        if self.links.get(link.view) is link:
            del self.links[link.view]

    def reply(self, view: str, rid: Any, result: Any = None, error: str | None = None) -> None:
        if error is None:
            self.send({"type": "reply", "view": view, "id": rid, "ok": True, "result": result})
        else:
            self.send({"type": "reply", "view": view, "id": rid, "ok": False, "error": error})

    async def request(self, view: str, rtype: str, timeout: float, **content: Any) -> Any:
        """Ask a view something and wait for its reply (``TimeoutError`` when it does not answer)."""
        self.next_id += 1
        rid = self.next_id
        fut: asyncio.Future[Any] = self.loop.create_future()
        self.requests[rid] = fut
        self.send({"type": rtype, "view": view, "id": rid, **content})
        try:
            return await asyncio.wait_for(fut, timeout)
        finally:
            self.requests.pop(rid, None)

    def set_status(self, status: str) -> None:
        if self.widget.status != status:
            self.widget.status = status

    def set_error(self, message: str) -> None:
        self.widget.last_error = message

    # -- messages from the browser (already copied by the widget) ----------------------------------
    def handle(self, content: dict[str, Any], buffers: list[bytes]) -> None:
        view = content.get("view")
        mtype = content.get("type")
        if not isinstance(view, str) or not self.attached:
            return
        if view in self.views:
            self.views[view] = time.monotonic()
        if mtype == "link":
            self.loop.create_task(self.on_link_request(view, content.get("id")))
        elif mtype == "ready" or mtype == "claim":
            self.loop.create_task(self.on_claim(view, content.get("id"), mtype == "ready",
                                                bool(content.get("force"))))
        elif mtype == "reply":
            fut = self.requests.get(content.get("id"))  # type: ignore[arg-type]
            if fut is not None and not fut.done():
                if content.get("ok", True):
                    fut.set_result(content.get("result"))
                else:
                    fut.set_exception(RuntimeError(str(content.get("error"))))
        elif view not in self.views:
            return  # nothing from a view before its ready
        elif mtype == "audio":
            if buffers:
                self.on_mic(view, buffers[0])
        elif mtype == "ptt":
            self.on_ptt(view, bool(content.get("down")))
        elif mtype == "release":
            self.views.pop(view, None)
            if self.owner == view:
                self.set_owner(None)
        elif mtype == "client_error":
            self.set_error(f"browser: {content.get('message')}")

    async def on_claim(self, view: str, rid: Any, ready: bool, force: bool) -> None:
        if ready:
            self.flush()  # bring the other views and the log position up to date before the snapshot
            self.views[view] = time.monotonic()
        if self.owner is None or self.owner == view or force or not await self.owner_alive(view):
            if self.owner != view:
                self.set_owner(view)
        result: dict[str, Any] = {"owner": self.owner == view, "owner_view": self.owner}
        if ready:
            result["snapshot"] = self.snapshot()
        self.reply(view, rid, result)

    async def owner_alive(self, asking: str) -> bool:
        owner = self.owner
        if owner is None:
            return False
        try:
            await self.request(owner, "probe", PROBE_TIMEOUT_S)
            return True
        except (asyncio.TimeoutError, RuntimeError):
            log.info("realtime-nb widget: view %s did not answer; view %s takes over audio", owner, asking)
            self.views.pop(owner, None)
            return self.owner != owner  # someone else claimed meanwhile

    def set_owner(self, view: str | None) -> None:
        self.owner = view
        # audio already on its way to the old owner stays there; the new one starts at the next chunk
        self.pending.clear()
        self.pending_n.clear()
        self.offset.clear()
        self.ptt_held = False
        self.send({"type": "owner", "owner": view})

    # -- mic and push-to-talk ----------------------------------------------------------------------
    def on_mic(self, view: str, data: bytes) -> None:
        if view != self.owner or self.session.closed:
            return
        if self.widget.mode == "push_to_talk" and not self.ptt_held:
            return
        pcm = np.frombuffer(data[: len(data) // 2 * 2], dtype="<i2")
        if not len(pcm):
            return
        self.mic_chunks += 1
        self.mic_samples += len(pcm)
        self.mic_at = self.loop.time()
        if self.ptt_held:
            self.ptt_samples += len(pcm)
        idle = not self.ops and (self.worker is None or self.worker.done())
        if not (idle and _audio_in.append_now(self.client, pcm)):  # at once when nothing is queued
            self.enqueue(lambda: self.session.aappend_audio(pcm))
        self.schedule_flush(STREAM_FLUSH_S)

    def on_ptt(self, view: str, down: bool) -> None:
        if view != self.owner or self.widget.mode != "push_to_talk":
            return
        if down and not self.ptt_held:
            self.ptt_held = True
            self.ptt_samples = 0
            self.set_status("user_speaking")
            self.enqueue(lambda: self.barge_in("push_to_talk", cancel=True))
            self.enqueue(self.session.aclear_audio)
        elif not down and self.ptt_held:
            self.ptt_held = False
            samples = self.ptt_samples
            self.enqueue(lambda: self.ptt_release(samples))

    async def ptt_release(self, samples: int) -> None:
        if samples < MIN_PTT_SAMPLES:
            await self.session.aclear_audio()
            self.set_status("listening")
            self.send({"type": "notice", "text": "Hold the button (or the space bar) while you speak."})
            return
        self.set_status("thinking")
        await self.session.acommit()
        await self.session.arespond(wait=False)

    def enqueue(self, op: Callable[[], Awaitable[Any]]) -> None:
        """Run ``op`` after the operations queued before it (appends, commits, clears stay in order)."""
        self.ops.append(op)
        if self.worker is None or self.worker.done():
            self.worker = self.loop.create_task(self.drain())

    async def drain(self) -> None:
        while self.ops:
            op = self.ops.popleft()
            try:
                await op()
            except RealtimeError as exc:
                self.report(exc)
            except Exception as exc:
                if self.session.closed:
                    self.ops.clear()
                    return
                log.warning("realtime-nb widget: %s", exc, exc_info=True)
                self.set_error(f"{type(exc).__name__}: {exc}")

    def report(self, exc: RealtimeError) -> None:
        if exc.code not in BENIGN_ERRORS:
            self.set_error(f"{exc.code or exc.type}: {exc.message}")

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

    # -- events from the session -------------------------------------------------------------------
    def on_audio(self, response_id: Any, item_id: Any, pcm: Any) -> None:
        if not isinstance(item_id, str):
            return
        self.received[item_id] = self.received.get(item_id, 0) + len(pcm)
        if isinstance(response_id, str):
            self.item_response[item_id] = response_id
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

    def on_event(self, event: dict[str, Any]) -> None:
        etype = event.get("type")
        if not isinstance(etype, str):
            return
        iid = _item_id(event)
        rid = event.get("response_id")
        if iid is not None:
            self.dirty.add(iid)
            if isinstance(rid, str):
                self.item_response[iid] = rid
        if etype in _ORDER_EVENTS:
            self.order_changed = True
        if etype == "conversation.item.deleted" and iid is not None:
            self.deleted.add(iid)
        elif etype == "response.output_audio.done" and iid is not None:
            self.end_item_audio(iid)
        elif etype == "conversation.item.truncated" and iid is not None and iid in self.received:
            self.received_at_cut.setdefault(iid, self.received[iid])  # cut by the session, not a view
        elif etype in ("response.created", "response.done"):
            self.on_response(event)
        elif etype in ("session.created", "session.updated"):
            self.sync_from_config()
        elif etype == "error":
            err = event.get("error") or {}
            if err.get("code") not in BENIGN_ERRORS:
                self.set_error(f"{err.get('code') or err.get('type')}: {err.get('message')}")
                self.set_status("error")
        if etype == "input_audio_buffer.speech_started" and self.widget.mode != "push_to_talk" \
                and self.widget.barge_in:
            self.loop.create_task(self.barge_in("speech_started", cancel=self.widget.mode == "manual"))
            # the status trait after the interrupt has gone out: a trait update is a comm message (~1 ms)
            self.loop.call_soon(self.update_status, etype)
        else:
            self.update_status(etype)
        self.schedule_flush()

    def on_response(self, event: dict[str, Any]) -> None:
        resp = event.get("response") or {}
        rid = resp.get("id")
        if not isinstance(rid, str):
            return
        if "conversation_id" in resp and resp.get("conversation_id") is None:
            self.oob.add(rid)
        for out in resp.get("output") or []:
            if isinstance(out, dict) and isinstance(out.get("id"), str):
                self.item_response[out["id"]] = rid
                self.dirty.add(out["id"])
                if event["type"] == "response.done":
                    self.end_item_audio(out["id"])
        if event["type"] == "response.done":  # also items whose output we only saw as audio deltas
            for item, owner_rid in list(self.item_response.items()):
                if owner_rid == rid:
                    self.end_item_audio(item)

    def update_status(self, etype: str) -> None:
        status = self.widget.status
        if etype == "input_audio_buffer.speech_started":
            status = "user_speaking"
        elif etype == "input_audio_buffer.speech_stopped":
            status = "thinking" if self.widget.mode == "hands_free" else "listening"
        elif etype == "response.created":
            status = "thinking"
        elif etype in _SPEAKING:
            status = "speaking"
            if etype == "response.output_audio.delta" and not self.widget.voice_locked:
                self.widget.voice_locked = True
        elif etype == "response.done":
            busy = self.client.active_inband is not None and not self.client.active_inband.done
            status = "thinking" if busy else ("user_speaking" if self.ptt_held else "listening")
        elif etype in ("session.created", "session.updated") and status in ("connecting", "error"):
            status = "listening"
        else:
            return
        self.set_status(status)

    def sync_from_config(self) -> None:
        """Reflect the session config (changed from a cell, say) in the mode and voice traits."""
        config = self.client.state.session
        if not config:
            return
        mode, vad = mode_from_config(config)
        voice = voice_from_config(config)
        with self.widget._from_kernel():
            self.widget.mode = mode
            if vad is not None:
                self.widget.vad = vad
            if voice is not None:
                self.widget.voice = voice

    # -- settings changed in the UI (or from Python) -----------------------------------------------
    def apply_mode(self) -> None:
        td = turn_detection_for(self.widget.mode, self.widget.vad, self.widget.barge_in)
        if td is None:
            self.ptt_held = False
        self.enqueue(lambda: self._update(turn_detection=td))

    def apply_voice(self) -> None:
        voice = self.widget.voice
        if voice and voice != voice_from_config(self.client.state.session):
            self.enqueue(lambda: self._update(voice=voice))

    async def _update(self, **fields: Any) -> None:
        try:
            await self.session.aupdate(**fields)
        except RealtimeError as exc:
            self.report(exc)
            self.sync_from_config()  # show what the session really uses

    # -- transcript and event log ------------------------------------------------------------------
    def schedule_flush(self, interval: float = FLUSH_S) -> None:
        """Send the pending UI update once ``interval`` has passed since the last one.

        It goes at a wakeup the loop has anyway when it can: at the end of this one when the interval
        has passed (after the other events of the same read), else at the first mic chunk or server
        event after it. A timer is the fallback; while the mic streams, it is set late enough that the
        next chunk comes first. On a virtual machine each wakeup costs ~0.1-0.6 ms of CPU (cold
        caches), more than the update itself (see bench/bench_kernel_cpu.py)."""
        if not self.attached:
            return
        due = self.flushed_at + interval
        if self.flush_due is not None and self.flush_due <= due:
            due = self.flush_due  # an earlier wish stays
        self.flush_due = due
        now = self.loop.time()
        if now >= due:
            if not self.flush_soon:
                self.flush_soon = True
                self.loop.call_soon(self._flush_due)
            return
        at = due + (STREAM_SLACK_S if now - self.mic_at < STREAM_SLACK_S else 0.0)
        if self.flush_handle is not None:
            if self.flush_handle.when() <= at:
                return
            self.flush_handle.cancel()
        self.flush_handle = self.loop.call_at(at, self._flush_due)

    def _flush_due(self) -> None:
        self.flush_soon = False
        if self.flush_due is not None and self.attached:
            self.flush()

    def flush(self) -> None:
        if self.flush_handle is not None:
            self.flush_handle.cancel()
        self.flush_handle = None
        self.flush_due = None
        self.flushed_at = self.loop.time()
        dirty, self.dirty = self.dirty, set()
        deleted, self.deleted = self.deleted, set()
        order_changed, self.order_changed = self.order_changed, False
        rows = self.client.log.rows_since(self.log_pos)
        self.log_pos += len(rows)
        if not self.views:
            return
        msg: dict[str, Any] = {"type": "update"}
        entries = [{"id": i, "deleted": True} for i in deleted]
        entries += [e for e in (self.entry(i) for i in dirty - deleted) if e is not None]
        if entries:
            msg["entries"] = entries
        if order_changed or deleted:
            msg["order"] = self.client.state.conversation.ids()
        if rows:
            msg["events"] = compact_rows(rows)
        if len(msg) > 1:
            self.send(msg)

    def snapshot(self) -> dict[str, Any]:
        state = self.client.state
        ids = state.conversation.ids()
        oob_ids = [i for rid in self.oob_ids_in_order() for i in state.responses[rid].output_item_ids]
        entries = [e for e in (self.entry(i) for i in ids + oob_ids) if e is not None]
        size = int(self.widget.event_log_size)
        n = len(self.client.log)
        rows = compact_rows(self.client.log.rows_since(max(0, n - 8 * size)))[-size:]
        return {"entries": entries, "order": ids, "events": rows}

    def oob_ids_in_order(self) -> list[str]:
        out = []
        for rid, resp in self.client.state.responses.items():
            if resp.out_of_band:
                self.oob.add(rid)
                out.append(rid)
        return out

    def entry(self, item_id: str) -> dict[str, Any] | None:
        """One transcript entry (what the browser draws for an item), or None if unknown yet."""
        state = self.client.state
        rid = self.item_response.get(item_id)
        resp = state.responses.get(rid) if rid is not None else None
        oob = rid in self.oob if rid is not None else False
        if item_id in state.conversation:
            item = state.conversation.get(item_id)
        elif resp is not None:
            item = resp.items.get(item_id) or {"id": item_id, "type": "message", "role": "assistant",
                                                "status": "in_progress"}
        else:
            return None
        itype, role = item.get("type"), item.get("role")
        kind = {"function_call": "tool_call", "function_call_output": "tool_output"}.get(str(itype))
        if kind is None:
            kind = role if role in ("user", "assistant", "system") else str(itype)
        parts = item.get("content") or []
        has_audio = any(isinstance(p, dict) and p.get("type") in ("input_audio", "output_audio", "audio")
                        for p in parts) or item_id in self.received
        if item_id in self.received:
            audio_ms = self.received[item_id] * 1000 / SAMPLE_RATE
        else:
            audio_ms = state.conversation.audio_ms(item_id) if item_id in state.conversation else 0.0
        error = state.transcription_errors.get(item_id)
        entry: dict[str, Any] = {
            "id": item_id, "kind": kind, "role": role, "oob": oob, "response_id": rid,
            "status": item.get("status"), "text": state.item_text(item_id), "has_audio": has_audio,
            "audio_ms": round(audio_ms, 1), "truncated_ms": state.truncated_at_ms.get(item_id),
            "received_ms": (round(self.received_at_cut[item_id] * 1000 / SAMPLE_RATE, 1)
                            if item_id in self.received_at_cut else None),
            "error": f"transcription failed: {error.get('message') or error.get('code')}" if error else None,
        }
        if kind == "tool_call":
            args = item.get("arguments")
            if not args and resp is not None:
                args = resp.arguments.get(item_id)
            entry.update(name=item.get("name"), arguments=args, call_id=item.get("call_id"))
        elif kind == "tool_output":
            entry.update(output=item.get("output"), call_id=item.get("call_id"))
        if oob and resp is not None:
            entry["metadata"] = resp.metadata
        return entry

    # -- for tests and debugging -------------------------------------------------------------------
    def stats(self) -> dict[str, Any]:
        return {"views": sorted(self.views), "owner": self.owner, "mic_chunks": self.mic_chunks,
                "mic_samples": self.mic_samples, "audio_messages": self.audio_messages,
                "received": dict(self.received), "forwarded": dict(self.forwarded),
                "interrupts": self.interrupts, "truncates": list(self.truncates), "links": sorted(self.links),
                "link_messages": {v: {"sent": k.sent, "received": k.received} for v, k in self.links.items()}}


def run_on_loop(fn: Callable[[], Any]) -> Any:
    """Call ``fn`` on the loop thread and return its result (directly when already there)."""
    if _loop.in_loop_thread():
        return fn()

    async def call() -> Any:
        return fn()

    return _loop.run_sync(call(), 10)
