"""Write one websocket message now, from synchronous code on the loop, when nothing stands in the way.

``websockets``' ``Connection.send`` is a coroutine: a frame handed to a task (the widget's link writer)
or awaited behind other work reaches the socket one loop iteration later, ~0.2 ms with a session's
traffic on a loaded machine (``bench/bench_relay.py``). When the connection is open, no fragmented
message is being sent and the transport has nothing buffered, ``write_now`` writes the frame at once
through the connection's Sans-I/O protocol object — what ``send`` itself does inside its
``send_context`` — and returns True. Otherwise it returns False and the caller awaits ``send``, which
stays the path for every other case (a closing connection raises ``ConnectionClosed`` there; a full
buffer waits for the peer there). Frames keep their order: a fast write only happens when no earlier
frame is still on its way through ``send``.
"""

from __future__ import annotations

from typing import Any

from websockets.protocol import State

__all__ = ["can_write_now", "write", "write_now"]


def can_write_now(ws: Any) -> bool:
    """True when ``write_now`` would write (until the loop next runs something else)."""
    proto = getattr(ws, "protocol", None)
    transport = getattr(ws, "transport", None)
    if proto is None or transport is None or proto.state is not State.OPEN:
        return False
    # a fragmented message in progress (the attribute's name differs between websockets versions)
    if getattr(ws, "send_in_progress", None) is not None or getattr(ws, "fragmented_send_waiter", None) is not None:
        return False
    return not (transport.is_closing() or transport.get_write_buffer_size())


def write_now(ws: Any, frame: str | bytes) -> bool:
    """Write ``frame`` (text when ``str``) to the asyncio ``websockets`` connection ``ws`` now, or
    return False (nothing written) when ``ws.send`` must do it."""
    if not can_write_now(ws):
        return False
    write(ws, frame)
    return True


def write(ws: Any, frame: str | bytes) -> None:
    """Write ``frame`` now; only right after ``can_write_now(ws)`` was True."""
    proto, transport = ws.protocol, ws.transport
    if isinstance(frame, str):
        proto.send_text(frame.encode())
    else:
        proto.send_binary(frame)
    for data in proto.data_to_send():
        if data:
            transport.write(data)
