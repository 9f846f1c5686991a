"""The bridge's WebRTC transport: the owner view's SDP offer in, the call's answer out, and the session
moved onto the call's sideband (a layer of ``Bridge``, see ``_bridge_base``).

With ``transport="webrtc"`` (or ``"auto"`` on a target that speaks it) the owner view's Start talking
builds an ``RTCPeerConnection`` (``js/rtc_transport.js``) and sends its offer here (``call`` request).
The kernel posts it to ``/v1/realtime/calls`` with the key it holds (``client.calls``; the ``session``
part is the session's config as it is now), moves the ``Session`` onto the call's sideband
(``client._resume.join_call``: the conversation replayed into the call, as in a reconnect) and replies
the answer. From then on the mic and the voice never pass through the kernel; events, tools,
``s.items`` and the magics work as before, on the sideband. Barge-in is the server's own
(``output_audio_buffer.cleared`` and its truncation); "Stop reply" sends ``output_audio_buffer.clear``.

The end of a call — the view's ``hangup`` request (mic off, fallback, the view going away), the
session or widget closing — hangs it up; the sideband's close then brings the session back to its own
``?model=`` connection with the conversation replayed (``join_call``'s docstring).
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
from typing import Any
from urllib.parse import urlsplit

from ..client import _resume
from ..client.calls import acreate_call, ahangup_call
from ._bridge_base import log
from ._input import Input

TRANSPORTS = ["auto", "webrtc", "relay"]
HOME_TIMEOUT_S = 15.0               # back on the session's own connection after a hang-up, at most


def webrtc_support(target: Any) -> tuple[bool, str]:
    """Whether ``transport="auto"`` makes a call on this target, and why not.

    OpenAI: yes. The embedded local server: no, although it answers calls (with the ``webrtc`` extra):
    it listens on 127.0.0.1 only, and a browser offers loopback ICE candidates only when started to
    (Chromium: ``--allow-loopback-in-peer-connection``), so a normal browser's call could only fail and
    fall back; and the server runs inside the kernel, so its Opus work would be the kernel's — the relay
    costs the kernel less there. Another URL is unknown. ``transport="webrtc"`` tries a call anyway (and
    falls back to the relay when it fails)."""
    host = urlsplit(getattr(target, "base_url", "") or "").hostname or ""
    if host == "api.openai.com" or host.endswith(".openai.com"):
        return True, ""
    if getattr(target, "kind", None) == "local":
        missing = [m for m in ("aiortc", "av") if importlib.util.find_spec(m) is None]
        if missing:
            return False, (f"the local server needs {' and '.join(missing)} for WebRTC: "
                           "pip install 'realtime-nb[webrtc]'")
        return False, ("the embedded local server answers calls on 127.0.0.1 only, which a browser reaches "
                       "only when allowed to (Chromium: --allow-loopback-in-peer-connection), and it runs in "
                       "the kernel, so the relay costs the kernel less (transport='webrtc' makes the call)")
    return False, "the kernel cannot tell whether this server speaks WebRTC (transport='webrtc' tries it)"


def unreachable(offer: str, target: Any) -> str | None:
    """Why a loopback server cannot connect to this offer, or None: it answers 127.0.0.1 only, and a
    browser offers loopback candidates only when allowed to (Chromium:
    ``--allow-loopback-in-peer-connection``). Refusing at once lets the view fall back without waiting
    for ICE to fail."""
    host = urlsplit(getattr(target, "base_url", "") or "").hostname or ""
    if host not in ("127.0.0.1", "localhost", "::1"):
        return None
    for line in offer.splitlines():
        fields = line.split()
        if line.startswith("a=candidate:") and len(fields) > 4 and (fields[4].startswith("127.") or fields[4] == "::1"):
            return None
    return ("the browser offers no loopback ICE candidates, and the local server answers on 127.0.0.1 only "
            "(Chromium: --allow-loopback-in-peer-connection)")


class CallSignalling(Input):
    """The owner view's WebRTC call: offer → answer, the session on its sideband, hang-up."""

    def __init__(self, widget: Any, session: Any) -> None:
        super().__init__(widget, session)
        self.call_id: str | None = None
        self.call_view: str | None = None
        self.calls_made = 0

    def transport_info(self) -> dict[str, Any]:
        """For the ``ready`` reply: whether ``auto`` means webrtc here (``supported``), and why not."""
        supported, reason = webrtc_support(getattr(self.client, "target", None))
        if getattr(self.widget, "captions", False):
            supported, reason = False, "caption mode plays nothing: the relay carries the mic"
        return {"setting": self.widget.transport, "supported": supported, "reason": reason}

    async def on_call(self, view: str, rid: Any, sdp: Any) -> None:
        """A ``call`` request: reply ``{sdp, call_id}`` once the session is the call's sideband."""
        try:
            if view != self.owner:
                raise RuntimeError("only the view that owns audio starts a call")
            if not isinstance(sdp, str) or not sdp.strip():
                raise ValueError("the call request has no SDP offer")
            reason = unreachable(sdp, self.client.target)
            if reason is not None:
                raise RuntimeError(reason)
            if self.call_id is not None:  # a view that reloaded: its old call goes first
                await self.leave_call()
            self.client.check_open()
            target = self.client.target
            answer = await acreate_call(sdp, self.client.model, url=target.base_url, api_key=target.api_key,
                                        **self.client.sent_config)
            try:
                await _resume.join_call(self.client, answer.call_id)
            except BaseException:
                await self._hangup(answer.call_id)
                raise
        except Exception as exc:
            log.info("realtime-nb widget: no WebRTC call (%s); the view falls back to the relay", exc)
            self.reply(view, rid, error=f"{type(exc).__name__}: {exc}")
            return
        self.call_id, self.call_view = answer.call_id, view
        self.calls_made += 1
        self.reply(view, rid, {"sdp": answer.sdp, "call_id": answer.call_id})

    async def on_hangup(self, view: str, rid: Any) -> None:
        """A ``hangup`` request: end the call; reply once the session is back on its own connection."""
        if self.call_id is not None and view == self.call_view:
            await self.leave_call()
        self.reply(view, rid, {"call_id": None})

    async def leave_call(self) -> None:
        call_id, self.call_id, self.call_view = self.call_id, None, None
        if call_id is None:
            return
        await self._hangup(call_id)
        client = self.client
        deadline = asyncio.get_running_loop().time() + HOME_TIMEOUT_S
        # the sideband's close moves the session home (a reconnect of cause "call_ended"): wait for it
        while client.call_id == call_id and client.closed is None and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.02)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(client.wait_gate(), max(0.0, deadline - asyncio.get_running_loop().time()))

    def call_lost(self) -> None:
        """The call ended without the view asking (the server hung up, the peer never connected): the view
        stops its peer connection and uses the relay (``call_ended``); the session is on its way home."""
        view, self.call_id, self.call_view = self.call_view, None, None
        if view is not None:
            self.send({"type": "call_ended", "view": view, "reason": "the call ended"})

    def end_call(self) -> None:
        """The session or the widget ends: hang the call up (the views stop their peer connections)."""
        call_id, self.call_id, self.call_view = self.call_id, None, None
        if call_id is not None:
            self.loop.create_task(self._hangup(call_id))

    async def _hangup(self, call_id: str) -> None:
        target = self.client.target
        try:
            await ahangup_call(call_id, url=target.base_url, api_key=target.api_key)
        except Exception as exc:  # already over (the peer left): nothing to end
            log.debug("realtime-nb widget: hang-up of %s: %s", call_id, exc)

    # -- barge-in on a call is the server's ------------------------------------------------------------
    async def barge_in(self, reason: str, *, cancel: bool) -> None:
        """On a call the server cuts its voice track itself when the user speaks (``interrupt_response``)
        and truncates at what it sent; "Stop reply" (and manual mode) ask for that cut explicitly."""
        if self.call_id is None:
            await super().barge_in(reason, cancel=cancel)
            return
        self.interrupts += 1
        if not cancel:
            return
        try:
            await self.client.send({"type": "output_audio_buffer.clear"})
        except Exception as exc:
            log.debug("realtime-nb widget: output_audio_buffer.clear: %s", exc)
        active = self.client.active_inband
        if active is not None and not active.done:
            await self._cancel(active.id)

    def call_stats(self) -> dict[str, Any]:
        return {"call_id": self.call_id, "calls": self.calls_made}
