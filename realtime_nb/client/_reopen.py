"""``Session.reconnect()``: connect a closed session again, on demand, with its config and conversation.

The automatic reconnect (``_resume``) gives up after its delays (``resume_failed``), and does nothing with
``rt.connect(reconnect=False)``, after ``close()`` or after ``SessionExpired``. Then the user (or the
widget's Reconnect button) calls ``s.reconnect()``: the same machinery opens a new connection to the same
target (``_resume.open_replica``: the config every accepted ``session.update`` set, then the conversation
replayed with the same item ids) and the session adopts it. The session object, its handlers, event log,
items and responses carry on; only calls that were running when it closed stay failed.

Bounded: the whole of it (handshake, ``session.created``, the config, the replay) within ``timeout``
seconds, else ``RealtimeTimeout``; a server that refuses or is not there raises ``ConnectionClosed``
saying so. The session stays closed after a failure, and ``reconnect()`` may be called again.

Input audio that was appended but not committed before the session closed is *not* sent again (it may
be minutes old); the new connection's input buffer starts empty.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

from .. import errors
from . import _loop, _resume, _target
from ._connection import Client

RECONNECT_TIMEOUT_S = 20.0


async def reopen(client: Client, timeout: float) -> dict[str, Any] | None:
    """Connect ``client`` (closed) again; returns what the ``reconnected`` notice reports, or ``None``
    when it is open (nothing to do)."""
    if client.closed is None:
        return None
    if client.home_url is not None:  # it had joined a call (the widget's webrtc): back to its own URL
        client.url, client.call_id, client.home_url = client.home_url, None, None
    if "call_id" in parse_qs(urlsplit(client.url).query):
        raise RuntimeError("the sideband of a WebRTC call cannot reconnect: its conversation lived on the call; "
                           "start a new call")
    started = time.monotonic()
    where = urlsplit(client.url)._replace(query="").geturl()
    client.notice("reconnecting", f"connecting again to {where} (asked)", attempt=1, attempts=1, delay=0.0,
                  code=client.closed.code, reason=client.closed.reason, connection=client.connection,
                  cause="asked")
    try:
        aux, skipped = await asyncio.wait_for(_resume.open_replica(client), timeout)
    except (TimeoutError, asyncio.TimeoutError) as exc:
        if isinstance(exc, errors.RealtimeTimeout):  # the handshake's own bound, shorter than ours
            raise
        raise errors.RealtimeTimeout(f"reconnecting to {where}", timeout,
                                     hint="the session is still closed; is the server up? Call reconnect() "
                                          "again, or with a larger timeout") from None
    except errors.RealtimeNBError:  # refused by the server (ConnectionClosed saying why), or a reply timed out
        raise
    except Exception as exc:  # refused at the TCP or HTTP level, unreachable
        raise errors.ConnectionClosed(None, f"could not reconnect to {where}: {type(exc).__name__}: {exc}; the "
                                      "session is still closed (call reconnect() again once the server is up)") from exc
    if client.closed is None:  # reopened by a concurrent call meanwhile
        await aux.close()
        return None
    # From here no await until the new socket is adopted: nothing sees a half-open session.
    client.closed = None
    client.user_closed = False
    client.drop_times = []
    client.gap_audio.clear()
    client.gap_samples = client.gap_dropped = 0
    items = len(client.state.conversation)
    old, _stale = await client.adopt(aux)  # the uncommitted input audio of before the close is dropped
    client.adopted_at = client.now()
    client.open_gate()
    if old is not None:
        client.spawn(_resume._close_quietly(old))
    _resume.schedule_handover(client)
    stats = {"items": items, "audio_resent_ms": 0, "audio_dropped_ms": 0}
    client.notice("reconnected", f"reconnected as connection {client.connection}; {items} items replayed",
                  connection=client.connection, attempts=1, not_replayed=skipped,
                  downtime_s=round(time.monotonic() - started, 4), cause="asked", **stats)
    return {"connection": client.connection, "not_replayed": skipped, **stats}


class Reconnect:
    """``Session.reconnect`` / ``areconnect`` (``Session`` inherits them)."""

    _client: Client
    _uses_local: bool
    _released: bool

    @property
    def can_reconnect(self) -> bool:
        """Whether ``reconnect()`` can bring this session back (not the sideband of a WebRTC call)."""
        client = self._client
        return client.home_url is not None or "call_id" not in parse_qs(urlsplit(client.url).query)

    def reconnect(self, timeout: float = RECONNECT_TIMEOUT_S) -> dict[str, Any] | None:
        """Connect a closed session again — after ``resume_failed``, a drop with ``reconnect=False``,
        ``SessionExpired`` or ``close()`` — restoring its config and replaying its conversation (same item
        ids). Returns ``{"connection", "items", "not_replayed", ...}``, or ``None`` if it was open.

        Bounded by ``timeout`` seconds (``RealtimeTimeout``); a server that is not there raises
        ``ConnectionClosed``. Either way the session stays closed and you may call it again.

        >>> s.reconnect()        # doctest: +SKIP
        {'connection': 2, 'not_replayed': [], 'items': 4, 'audio_resent_ms': 0, 'audio_dropped_ms': 0}
        """
        _loop.check_not_loop_thread("Session.reconnect()")
        took = self._reacquire()
        try:
            return _loop.run_sync(reopen(self._client, timeout), timeout + 5, what="Session.reconnect()")
        except BaseException:
            self._give_back(took)
            raise

    async def areconnect(self, timeout: float = RECONNECT_TIMEOUT_S) -> dict[str, Any] | None:
        """The async ``reconnect`` (what the widget's Reconnect button calls)."""
        took = await asyncio.to_thread(self._reacquire)
        try:
            return await _loop.run_async(reopen(self._client, timeout))
        except BaseException:
            await asyncio.to_thread(self._give_back, took)
            raise

    def _reacquire(self) -> bool:
        """A session of the embedded server gave it up when it was closed (``close()``): take it again (it
        may have stopped, and start again on another port). True when taken."""
        if not (self._uses_local and self._released and self._client.closed is not None):
            return False
        base = _target.acquire_local()
        client = self._client
        client.target = _target.Target(base, "local", client.target.api_key)
        client.url = client.target.realtime_url(client.model)
        self._released = False
        return True

    def _give_back(self, took: bool) -> None:
        """The reconnect failed: give up the embedded server again if this call took it."""
        if took and self._client.closed is not None:
            self._released = True
            _target.release_local()
