"""The widget's kernel-side work, all of it on the session's loop thread (``_loop``).

``RealtimeWidget`` (``widget.py``) only copies what the browser sends and hands it here with
``call_soon_threadsafe``: comm handlers may run on the kernel's main thread or on a subshell thread,
and the websocket lives on the loop thread. Everything in this module (and in the layers ``Bridge`` is
built of) runs there, so none of it needs a lock, and audio keeps flowing to the browser while a cell
blocks.

What it does, layer by layer (each a subclass of the one before; ``_bridge_base`` tells more):

- **Base** (``_bridge_base``). What the bridge uses of its widget (``WidgetLike``: the comm's ``send``
  and a few traits, so it needs not the widget's type), the shared state, sending to views.
- **UI state** (``_updates``). Transcript entries (built from the session's reducer) and event-log rows
  go as ``update`` messages at most every 40 ms.
- **Audio out** (``_playback``). Decoded output audio goes to the owner view only, at once over its
  link, else coalesced into messages of >= 40 ms at most one per 20 ms. **Barge-in**: on
  ``input_audio_buffer.speech_started`` (hands-free modes) or a push-to-talk press, audio still
  streaming is no longer forwarded, the owner is asked to stop (``interrupt``), and the item it was
  playing is truncated at ``min(played, received)``.
- **Audio in** (``_input``). Mic chunks of the owner become ``input_audio_buffer.append`` events, in
  order, through one queue of operations (so a push-to-talk release's commit follows its last append);
  mode and voice changes become ``session.update``.
- **WebRTC** (``_webrtc``). The owner's SDP offer becomes a call (``/v1/realtime/calls``, the kernel's
  key) and the session moves onto its sideband; barge-in on a call is the server's own.
- **Views** (``_views``). A view becomes known with its ``ready`` request; the first ready view owns
  audio, a later one takes over only if the owner does not answer a ``probe`` or with ``claim`` +
  ``force``. The fast-path link (``_link``) is set up here.
- **Bridge** (here). Attaching to the session, its events (status pill, last error, barge-in on
  ``speech_started``), housekeeping.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..client import _loop
from ..errors import SessionExpired
from . import _link
from ._bridge_base import BENIGN_ERRORS, SAMPLE_RATE, BridgeBase, WidgetLike
from ._input import MIN_PTT_SAMPLES, mode_from_config, turn_detection_for, voice_from_config
from ._playback import AUDIO_INTERVAL_S, INTERRUPT_TIMEOUT_S, MIN_CHUNK
from ._updates import FLUSH_S, STREAM_FLUSH_S, STREAM_SLACK_S, STREAM_TYPES, compact_rows
from ._views import PROBE_TIMEOUT_S, Views

if TYPE_CHECKING:
    from ..client.session import Session

__all__ = [
    "AUDIO_INTERVAL_S", "BENIGN_ERRORS", "FLUSH_S", "HOUSEKEEPING_S", "INTERRUPT_TIMEOUT_S", "MIN_CHUNK",
    "MIN_PTT_SAMPLES", "PROBE_TIMEOUT_S", "SAMPLE_RATE", "STREAM_FLUSH_S", "STREAM_SLACK_S", "STREAM_TYPES",
    "Bridge", "BridgeBase", "WidgetLike", "compact_rows", "mode_from_config", "run_on_loop",
    "turn_detection_for", "voice_from_config",
]

HOUSEKEEPING_S = 1.0                    # the fallback check for a closed session, for a client without a reader task
WATCHED_HOUSEKEEPING_S = 5.0            # with one (``watch_close``): a wakeup costs ~0.1-0.6 ms of CPU on a VM

_SPEAKING = frozenset({"response.output_audio.delta", "response.output_text.delta",
                       "response.output_audio_transcript.delta"})
_TRANSCRIBING = {"input_audio_buffer.speech_stopped": "transcribing",
                 "conversation.item.input_audio_transcription.completed": "listening",
                 "conversation.item.input_audio_transcription.failed": "listening"}
_ORDER_EVENTS = frozenset({"conversation.item.added", "conversation.item.deleted", "conversation.item.done"})


def _item_id(event: dict[str, Any]) -> str | None:
    iid = event.get("item_id")
    if not isinstance(iid, str):
        item = event.get("item")
        iid = item.get("id") if isinstance(item, dict) else None
    return iid if isinstance(iid, str) else None


class Bridge(Views):
    """The loop-thread half of a ``RealtimeWidget``. Create and use it on the loop thread only."""

    def __init__(self, widget: WidgetLike, session: Session) -> None:
        super().__init__(widget, session)
        self.house_handle: asyncio.TimerHandle | None = None
        self.closed_sent: dict[str, Any] | None = None   # the end state the views were told, once closed

    # -- lifecycle ---------------------------------------------------------------------------------
    def attach(self) -> None:
        self.client.add_handler("*", self.on_event)
        self.client.audio_listeners.append(self.on_audio)
        self.attached = True
        self.sync_from_config()
        if any(r.first_audio_at is not None for r in self.client.state.responses.values()):
            self.widget.voice_locked = True
        self.set_status("closed" if self.session.closed else "listening")
        self.watch_close()
        self.house_handle = self.loop.call_later(self.housekeeping_s(), self.housekeep)

    def housekeeping_s(self) -> float:
        return WATCHED_HOUSEKEEPING_S if isinstance(getattr(self.client, "_reader", None), asyncio.Future) \
            else HOUSEKEEPING_S

    def watch_close(self) -> None:
        """Learn of the session's close the moment its receive loop ends (a done callback costs no
        wakeups); ``housekeep`` is the fallback for a client without one."""
        reader = getattr(self.client, "_reader", None)
        if isinstance(reader, asyncio.Future):
            reader.add_done_callback(lambda _task: self.loop.call_soon(self.check_closed))

    def detach(self) -> None:
        if not self.attached:
            return
        self.attached = False
        self.end_call()
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
        self.check_closed()
        self.house_handle = self.loop.call_later(self.housekeeping_s(), self.housekeep)

    def check_closed(self) -> None:
        """Once the session has closed: tell every view (they stop the mic and playback and show why),
        stop relaying, and reflect it in the status trait."""
        if not self.attached or not self.session.closed or self.closed_sent is not None:
            return
        state = self.closed_sent = self.end_state()
        self.end_call()
        self.ptt_held = False
        self.ops.clear()
        self.flush()
        self.send({"type": "session_closed", **(state or {})})
        self.set_status("closed")

    def on_connection(self, etype: str, event: dict[str, Any]) -> None:
        """The session lost its socket and reconnects by itself: the views say so (the mic may stay on:
        the session keeps what it gets meanwhile and sends it once back), then carry on, or end."""
        quiet = event.get("cause") in ("call", "call_ended")  # onto / off a WebRTC call: not a reconnect to show
        if event.get("cause") == "call_ended":
            self.call_lost()
        if etype == "reconnecting":
            if self.closed_sent is None and not quiet:  # an ended session's asked reconnect: the views wait
                self.send({"type": "reconnecting", "message": str(event.get("message") or "")})
        elif etype == "reconnected":
            self.watch_close()  # the new socket's receive loop
            if self.closed_sent is not None:  # s.reconnect() (a cell, the button) of an ended session
                self.reopened()
            elif not quiet:
                self.send({"type": "reconnected"})
        else:  # resume_failed: the session is closed now
            self.loop.call_soon(self.check_closed)
        self.schedule_flush()

    def end_state(self) -> dict[str, Any] | None:
        if not self.session.closed:
            return None
        return self.closed_sent or end_state(self.client.closed, self.can_resume())

    def can_resume(self) -> bool:
        """Whether the end offers Reconnect (``Session.areconnect``): not after the user's own ``close()``
        (``s.reconnect()`` in a cell still works), nor for a WebRTC call's sideband."""
        if getattr(self.client, "user_closed", False) or not getattr(self.session, "can_reconnect", False):
            return False
        return callable(getattr(self.session, "areconnect", None))

    async def on_reconnect(self, view: str, rid: Any) -> None:
        """The view's Reconnect button: ask the session to connect again, if it can."""
        session: Any = self.session
        try:
            if callable(getattr(session, "areconnect", None)):
                await session.areconnect()
            elif callable(getattr(session, "reconnect", None)):
                await self.loop.run_in_executor(None, session.reconnect)
            else:
                raise RuntimeError("this session cannot reconnect: run the cell that created it again")
        except Exception as exc:
            self.reply(view, rid, error=f"{type(exc).__name__}: {exc}")
            return
        if session._client is not self.client:  # a reconnect may bring a new client: follow it
            self.client.remove_handler("*", self.on_event)
            if self.on_audio in self.client.audio_listeners:
                self.client.audio_listeners.remove(self.on_audio)
            self.client = session._client
            self.client.add_handler("*", self.on_event)
            self.client.audio_listeners.append(self.on_audio)
            self.log_pos = 0
        self.watch_close()
        if self.closed_sent is not None:  # else its ``reconnected`` notice did (on_connection)
            self.reopened()
        self.reply(view, rid, {"ok": True})

    def reopened(self) -> None:
        """The ended session is open again: the views start afresh (the mic closed until asked)."""
        self.closed_sent = None
        self.set_status("listening")
        self.set_error("")
        self.send({"type": "session_open"})

    # -- events from the session -------------------------------------------------------------------
    def on_event(self, event: dict[str, Any]) -> None:
        etype = event.get("type")
        if not isinstance(etype, str):
            return
        if event.get("type") != "response.output_audio.delta":  # 50 a second, audio only: not kept
            self.keep_payload(event)
        iid = _item_id(event)
        rid = event.get("response_id")
        if iid is not None:
            self.dirty.add(iid)
            if isinstance(rid, str):
                self.item_response[iid] = rid
        if etype in _ORDER_EVENTS:
            self.order_changed = True
        if etype in ("reconnecting", "reconnected", "resume_failed"):  # the session's own reconnect
            self.on_connection(etype, event)
            return
        if etype == "input_audio_buffer.speech_stopped":
            self.speech_stopped_at = self.loop.time()
        elif etype == "response.created" and self.speech_stopped_at is not None:
            resp = event.get("response") or {}
            in_band = not ("conversation_id" in resp and resp.get("conversation_id") is None)
            if isinstance(resp.get("id"), str) and in_band:  # the reply to that speech
                self.turn_start[resp["id"]] = self.speech_stopped_at
                self.speech_stopped_at = None
        elif etype == "output_audio_buffer.started" and isinstance(rid, str):  # a call's first audio out
            start = self.turn_start.pop(rid, None)   # (on a call no audio reaches the kernel: on_audio)
            if start is not None:
                self.latency[rid] = self.loop.time() - start
                self.dirty.update(i for i, r in self.item_response.items() if r == rid)
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
        elif self.transcription_only() and etype in _TRANSCRIBING:  # no responses: the transcript is the turn
            if status == "user_speaking" and etype != "input_audio_buffer.speech_stopped":
                return  # an earlier utterance's transcript while the user speaks again
            status = _TRANSCRIBING[etype]
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

    # -- for tests and debugging -------------------------------------------------------------------
    def stats(self) -> dict[str, Any]:
        return {"views": sorted(self.views), "owner": self.owner, "mic_chunks": self.mic_chunks,
                "mic_samples": self.mic_samples, "audio_messages": self.audio_messages,
                "received": dict(self.received), "forwarded": dict(self.forwarded),
                "interrupts": self.interrupts, "truncates": list(self.truncates), "links": sorted(self.links),
                "link_messages": {v: {"sent": k.sent, "received": k.received} for v, k in self.links.items()},
                # the audio owner's player, as of its last ping (every 2 s)
                "underruns": (self.player_stats.get(self.owner or "") or {}).get("underruns", 0),
                "prebuffer_ms": (self.player_stats.get(self.owner or "") or {}).get("prebuffer_ms"),
                **self.call_stats()}


def end_state(exc: Any, can_resume: bool) -> dict[str, Any]:
    """What the views show when the session has closed: ``kind`` (``closed`` by the user, ``expired``,
    ``lost``), a short ``reason`` for the pill, and whether a Reconnect button makes sense."""
    code = getattr(exc, "code", None)
    if isinstance(exc, SessionExpired):
        return {"kind": "expired", "reason": f"Session expired: {exc.reason or 'maximum length reached'}",
                "can_resume": can_resume}
    if code == 1000:
        return {"kind": "closed", "reason": "Session closed", "can_resume": can_resume}
    detail = getattr(exc, "reason", "") or f"code {code}"
    return {"kind": "lost", "reason": f"Connection lost: {detail} (code {code})", "can_resume": can_resume}


def run_on_loop(fn: Callable[[], Any]) -> Any:
    """Call ``fn`` on the loop thread and return its result (directly when already there)."""
    if _loop.in_loop_thread():
        return fn()

    async def call() -> Any:
        return fn()

    return _loop.run_sync(call(), 10)
