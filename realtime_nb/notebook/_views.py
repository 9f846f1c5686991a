"""The bridge's views: messages from the browser, which view owns audio, and the fast-path link (a
layer of ``Bridge``, see ``_bridge_base``).

A view becomes known with its ``ready`` request (nothing is streamed to a view before it). The first
ready view owns audio; a later one takes over only if the owner does not answer a ``probe`` (a reloaded
page leaves a dead owner behind), or when asked explicitly (``claim`` with ``force``).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from . import _link
from ._bridge_base import log
from ._webrtc import CallSignalling

PROBE_TIMEOUT_S = 1.0                   # an owner view that does not answer a probe is gone


class Views(CallSignalling):
    """The views of the widget: their messages, the audio owner, their links."""

    # -- messages from the browser (already copied by the widget) ----------------------------------
    def handle(self, content: dict[str, Any], buffers: list[bytes]) -> None:
        view = content.get("view")
        mtype = content.get("type")
        if not isinstance(view, str) or not self.attached:
            return
        if view in self.views:
            self.views[view] = time.monotonic()
        if mtype == "link":
            self.loop.create_task(self.on_link_request(view, content.get("id"), content.get("origin")))
        elif mtype == "ready" or mtype == "claim":
            self.loop.create_task(self.on_claim(view, content.get("id"), mtype == "ready",
                                                bool(content.get("force"))))
        elif mtype == "ping":  # a view checks that the kernel still answers (it ends itself if not)
            if isinstance(content.get("underruns"), int):   # the owner's player counters, for stats()
                self.player_stats[view] = {"underruns": content["underruns"],
                                           "prebuffer_ms": content.get("prebuffer_ms")}
            if content.get("id") is not None:
                self.reply(view, content.get("id"), {"closed": self.session.closed})
        elif mtype == "event":  # the event log's row was clicked: its payload, if the kernel has it
            self.reply(view, content.get("id"), self.payload(content.get("index")))
        elif mtype == "reconnect":
            self.loop.create_task(self.on_reconnect(view, content.get("id")))
        elif mtype == "call":  # the owner's WebRTC offer (_webrtc)
            self.loop.create_task(self.on_call(view, content.get("id"), content.get("sdp")))
        elif mtype == "hangup":
            self.loop.create_task(self.on_hangup(view, content.get("id")))
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
        elif mtype == "text":
            if isinstance(content.get("text"), str):
                self.on_text(content["text"])
        elif mtype == "stop":  # any view may stop the reply; the owner reports what it played
            if not self.session.closed:
                self.loop.create_task(self.barge_in("stop", cancel=True))
        elif mtype == "release":
            self.views.pop(view, None)
            if self.owner == view:
                self.set_owner(None)
        elif mtype == "client_error":
            self.set_error(f"browser: {content.get('message')}")

    def end_state(self) -> dict[str, Any] | None:
        """The session's end state for the views (``Bridge`` knows it)."""
        return None

    async def on_reconnect(self, view: str, rid: Any) -> None:
        """A view's Reconnect button (``Bridge`` implements it)."""
        self.reply(view, rid, error="cannot reconnect")

    # -- the audio owner ---------------------------------------------------------------------------
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
            result["closed"] = self.end_state() if self.session.closed else None
            result["transport"] = self.transport_info()
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

    # -- the fast path ---------------------------------------------------------------------------
    async def on_link_request(self, view: str, rid: Any, origin: Any = None) -> None:
        """Reply ``{port, token}`` for the view to connect to (``None``: no link, use the comm).

        ``origin`` is the page's own (``location.origin``, sent over the comm, which the notebook server
        authenticated): only a socket whose ``Origin`` header is that may use the token."""
        if not _link.link_enabled() or not _link.valid_origin(origin):
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
        _link.server().allow(self.link_token, origin)
        self.reply(view, rid, {"port": port, "token": self.link_token})

    def link_opened(self, link: _link.Link) -> None:
        old = self.links.get(link.view)
        if old is not None:
            old.close()
        self.links[link.view] = link

    def link_closed(self, link: _link.Link) -> None:
        if self.links.get(link.view) is link:
            del self.links[link.view]
