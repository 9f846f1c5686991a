"""The bottom layer of the widget's ``Bridge``: what it uses of its widget, the state all its parts
share, and sending to views.

``Bridge`` (``_bridge.py``) is built in layers, each a subclass of the one below and using only what is
below it: this base → ``_updates`` (transcript and event log) → ``_playback`` (assistant audio,
barge-in, truncation) → ``_input`` (mic, push-to-talk, settings) → ``_webrtc`` (a WebRTC call) →
``_views`` (views, the audio owner, the link) → ``_bridge`` (lifecycle, the session's events). All of it
runs on the session's loop thread.

The bridge knows its widget only as ``WidgetLike`` (the comm's ``send`` and a few traits), so it needs
neither ``widget.py`` nor ``RealtimeWidget``: the widget imports the bridge, never the other way.
"""

from __future__ import annotations

import asyncio
import logging
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, Protocol

from ..errors import RealtimeError
from . import _link

if TYPE_CHECKING:
    from ..client.session import Session

log = logging.getLogger("realtime_nb")

SAMPLE_RATE = 24000
BENIGN_ERRORS = frozenset({"response_cancel_not_active"})  # races of barge-in, not the user's problem


class WidgetLike(Protocol):
    """What the bridge uses of its widget (``RealtimeWidget``): the comm and these traits."""

    status: str
    last_error: str
    voice_locked: bool
    expires_at: float
    mode: str
    vad: str
    voice: str
    barge_in: bool
    transcribe: bool
    event_log_size: int
    transport: str

    def send(self, content: dict[str, Any], buffers: list[bytes] | None = None) -> None:
        """A custom message (and binary buffers) to every view, over the comm."""

    def _from_kernel(self) -> AbstractContextManager[None]:
        """A context in which trait changes reflect the session and send no ``session.update``."""


class BridgeBase:
    """State every part of the bridge uses, and sending to views. Create it on the loop thread only."""

    def __init__(self, widget: WidgetLike, session: Session) -> None:
        self.widget = widget
        self.session = session
        self.client = session._client
        self.loop = asyncio.get_running_loop()
        self.attached = False
        self.views: dict[str, float] = {}          # ready views -> when they last sent something
        self.owner: str | None = None
        # output audio, per item (24 kHz samples)
        self.received: dict[str, int] = {}
        # samples received of an item when it was cut (the tooltip's "heard X of Y": Y is what had come)
        self.received_at_cut: dict[str, int] = {}
        self.item_response: dict[str, str] = {}
        self.oob: set[str] = set()                 # out-of-band response ids
        # requests to views
        self.requests: dict[int, asyncio.Future[Any]] = {}
        self.next_id = 0
        # the fast path (``_link``): views whose loopback websocket is up get every message over it
        self.links: dict[str, _link.Link] = {}
        # what the views' players last reported (with their pings): underruns, adaptive pre-buffer
        self.player_stats: dict[str, dict[str, Any]] = {}
        self.link_token: str | None = None

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

    def report(self, exc: RealtimeError) -> None:
        if exc.code not in BENIGN_ERRORS:
            self.set_error(f"{exc.code or exc.type}: {exc.message}")
