"""Which pending call a server reply or error belongs to (loop thread only; no I/O).

- every event we send carries a client ``event_id``; an ``error`` naming it fails that call;
- items we create carry ids we chose, so ``conversation.item.added`` / ``deleted`` / ``truncated`` /
  ``retrieved`` are matched by item id;
- ``session.updated``, ``input_audio_buffer.committed`` / ``cleared`` are matched first-in first-out
  (the server handles client events in order and answers each with its reply or an error); a commit
  completes when its item has been added, so ``s.items`` shows it when ``commit()`` returns;
- ``response.created`` is matched first-in first-out per conversation (``auto`` / ``none``), an
  out-of-band one preferring the request with equal ``metadata``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .response import Response

Event = dict[str, Any]

# Replies matched first-in first-out: client event type -> reply type.
FIFO_REPLIES = {
    "session.update": "session.updated",
    "input_audio_buffer.commit": "input_audio_buffer.committed",
    "input_audio_buffer.clear": "input_audio_buffer.cleared",
}
# Replies matched by item id: client event type -> reply type.
KEYED_REPLIES = {
    "conversation.item.create": "conversation.item.added",
    "conversation.item.delete": "conversation.item.deleted",
    "conversation.item.truncate": "conversation.item.truncated",
    "conversation.item.retrieve": "conversation.item.retrieved",
}


@dataclass(eq=False)
class Op:
    """A sent event waiting for its reply (or its error)."""

    event_id: str
    future: asyncio.Future[Any]
    reply: str | None = None      # a reply type above, "response.created", or "error" (only an error answers)
    key: str | None = None        # the item id, for replies matched by item
    response: Response | None = None
    metadata: Any = None
    detached: bool = False        # nobody awaits it (raw send without wait): errors are also reported


class Pending:
    """The calls waiting for replies, and the rules that match replies to them."""

    def __init__(self) -> None:
        self.by_event_id: dict[str, Op] = {}
        self._fifo: dict[str, deque[Op]] = {reply: deque() for reply in FIFO_REPLIES.values()}
        self._keyed: dict[tuple[str, str], Op] = {}
        self._creates: dict[str, deque[Op]] = {"auto": deque(), "none": deque()}
        self._after_added: dict[str, tuple[Op, Event]] = {}   # commits waiting for their item

    def add(self, op: Op, band: str) -> None:
        """Track ``op``; ``band`` is the conversation of a ``response.create`` ("auto"/"none")."""
        self.by_event_id[op.event_id] = op
        if op.reply in self._fifo:
            self._fifo[op.reply].append(op)
        elif op.key is not None and op.reply is not None:
            self._keyed[(op.reply, op.key)] = op
        elif op.reply == "response.created":
            self._creates[band].append(op)

    def forget(self, op: Op | None) -> None:
        if op is None:
            return
        self.by_event_id.pop(op.event_id, None)
        if op.reply in self._fifo:
            with contextlib.suppress(ValueError):
                self._fifo[op.reply].remove(op)
        elif op.key is not None:
            if self._keyed.get((op.reply or "", op.key)) is op:
                del self._keyed[(op.reply or "", op.key)]
        for queue in self._creates.values():
            with contextlib.suppress(ValueError):
                queue.remove(op)

    def resolve(self, op: Op, value: Any) -> None:
        self.forget(op)
        if not op.future.done():
            op.future.set_result(value)

    def fail(self, op: Op, exc: BaseException) -> None:
        self.forget(op)
        if not op.future.done():
            op.future.set_exception(exc)
            op.future.exception()  # retrieved: a detached op must not warn when collected

    # -- matching replies -------------------------------------------------------------------------
    def on_fifo_reply(self, event: Event) -> None:
        queue = self._fifo[event["type"]]
        if not queue:
            return
        if event["type"] == "input_audio_buffer.committed":
            op = queue.popleft()
            self._after_added[str(event.get("item_id"))] = (op, event)
        else:
            self.resolve(queue[0], event)

    def on_item_reply(self, event: Event, item_id: str, seq: int) -> None:
        """``conversation.item.*`` about ``item_id`` (``seq``: its receive order, for tool follow-ups)."""
        op = self._keyed.get((event["type"], item_id))
        if op is not None:
            self.resolve(op, (event, seq))
        if self._after_added and event["type"] == "conversation.item.added":
            waiting = self._after_added.pop(item_id, None)
            if waiting is not None:
                self.resolve(*waiting)

    def take_create(self, out_of_band: bool, metadata: Any) -> Op | None:
        """The request a ``response.created`` answers; it stays findable by event id (an error for it
        may still come, when the server had in fact started that response by itself)."""
        queue = self._creates["none" if out_of_band else "auto"]
        if not queue:
            return None
        op = next((o for o in queue if out_of_band and o.metadata == metadata), queue[0])
        self.resolve(op, op.response)
        self.by_event_id[op.event_id] = op
        return op

    def forget_response(self, resp: Response) -> None:
        for op in [o for o in self.by_event_id.values() if o.response is resp]:
            self.forget(op)

    def fail_all(self, exc: BaseException) -> list[Op]:
        """The connection is gone: fail every pending call; returns them."""
        ops = list(self.by_event_id.values()) + [op for op, _ in self._after_added.values()]
        for op in ops:
            self.fail(op, exc)
        self.by_event_id.clear()
        for queue in (*self._fifo.values(), *self._creates.values()):
            queue.clear()
        self._keyed.clear()
        self._after_added.clear()
        return ops
