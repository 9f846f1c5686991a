"""Which pending call a server reply or error belongs to (loop thread only; no I/O).

- every event we send carries a client ``event_id``; an ``error`` naming it fails that call;
- items we create carry ids we chose, so ``conversation.item.added`` / ``deleted`` / ``truncated`` /
  ``retrieved`` are matched by item id;
- ``session.updated``, ``input_audio_buffer.committed`` / ``cleared`` are matched first-in first-out
  (the server handles client events in order and answers each with its reply or an error); a commit
  completes when its item has been added, so ``s.items`` shows it when ``commit()`` returns. A commit the
  server made by itself is announced first (``speech_stopped`` or ``timeout_triggered`` with the same
  ``item_id``, docs/protocol.md §4c), so it never completes a ``commit()`` we sent;
- ``response.created`` answers the ``response.create`` whose tag it carries: we put our ``event_id`` in
  the request's ``metadata`` under ``TAG_KEY`` and the server echoes the metadata. Once the server has
  echoed a tag in a conversation (``auto`` / ``none``), a ``response.created`` there without one was
  started by the server (VAD) and never takes a pending request. Before that (a server that does not
  echo metadata) they are matched first-in first-out per conversation, an out-of-band one preferring the
  request with equal ``metadata``. Either way a request is only a candidate once the items sent with it
  were added: the server handles ``conversation.item.create`` before the ``response.create`` behind it,
  so a ``response.created`` that arrives earlier answers something else.
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
# The metadata key of our tag on response.create (its value: the request's event_id). It is taken out
# of what the server echoes before anything else sees the event.
TAG_KEY = "realtime_nb_request"
# Server events announcing the item id of a commit the server is about to make by itself.
AUTO_COMMIT_ANNOUNCEMENTS = ("input_audio_buffer.speech_stopped", "input_audio_buffer.timeout_triggered")
_MAX_ANNOUNCED = 64
_MAX_METADATA_KEYS = 16
_MAX_METADATA_VALUE = 512


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
    tag: str | None = None        # response.create: the TAG_KEY value we sent (None: not tagged)
    after: tuple[Op, ...] = ()    # response.create: the item ops sent with it, answered before it
    resend: Event | None = None   # response.create: sent again if a server-started response was in the way
    attempt: int = 1
    etype: str = ""               # the type of the event sent (for messages)
    settled: bool = False         # answered, failed or given up on (Pending.forget)

    def ready(self) -> bool:
        """Whether a ``response.created`` can answer this request yet (its items were answered)."""
        return all(o.settled for o in self.after)


def tag_request(event: Event, event_id: str) -> tuple[Event, str | None]:
    """``event`` (a ``response.create``) with our tag merged into its metadata, and the tag; unchanged
    and ``None`` when the metadata has no room for it (or is not a dict: the server will say so)."""
    params = event.get("response")
    params = {} if params is None else params
    meta = params.get("metadata") if isinstance(params, dict) else None
    meta = {} if meta is None else meta
    if (not isinstance(params, dict) or not isinstance(meta, dict) or TAG_KEY in meta
            or len(meta) >= _MAX_METADATA_KEYS or len(event_id) > _MAX_METADATA_VALUE):
        return event, None
    return {**event, "response": {**params, "metadata": {**meta, TAG_KEY: event_id}}}, event_id


def untag(event: Event) -> str | None:
    """Take our tag out of a received ``response.created`` / ``response.done`` (in place); returns it.
    Metadata that held only the tag becomes ``None`` again, as the server would have echoed."""
    obj = event.get("response")
    if not isinstance(obj, dict):
        return None
    meta = obj.get("metadata")
    if not isinstance(meta, dict) or TAG_KEY not in meta:
        return None
    obj["metadata"] = {k: v for k, v in meta.items() if k != TAG_KEY} or None
    tag = meta[TAG_KEY]
    return tag if isinstance(tag, str) else None


class Pending:
    """The calls waiting for replies, and the rules that match replies to them."""

    def __init__(self) -> None:
        self.by_event_id: dict[str, Op] = {}
        self._fifo: dict[str, deque[Op]] = {reply: deque() for reply in FIFO_REPLIES.values()}
        self._keyed: dict[tuple[str, str], Op] = {}
        self._creates: dict[str, deque[Op]] = {"auto": deque(), "none": deque()}
        self._after_added: dict[str, tuple[Op, Event]] = {}   # commits waiting for their item
        self.echoes: dict[str, bool] = {"auto": False, "none": False}  # the server echoed a tag there
        self._announced: deque[str] = deque(maxlen=_MAX_ANNOUNCED)  # item ids of commits the server makes

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
        op.settled = True
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
    def on_auto_commit_announced(self, event: Event) -> None:
        """``speech_stopped`` / ``timeout_triggered``: the ``committed`` for this item is the server's own."""
        item_id = event.get("item_id")
        if isinstance(item_id, str):
            self._announced.append(item_id)

    def on_fifo_reply(self, event: Event) -> None:
        if event["type"] == "input_audio_buffer.committed":
            item_id = str(event.get("item_id"))
            if item_id in self._announced:  # the server committed by itself (VAD, idle timeout)
                self._announced.remove(item_id)
                return
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

    def take_create(self, out_of_band: bool, metadata: Any, tag: str | None = None) -> Op | None:
        """The request a ``response.created`` answers (``tag``: ours, taken out of its metadata), or
        ``None`` when the server started it by itself. The request stays findable by event id (an error
        for it may still come, when the server had in fact started that response by itself).

        A tagged reply may name a request that was already matched by order to an earlier reply (before
        the server had shown that it echoes tags): that request is returned again, for the caller to
        move its ``Response`` over."""
        band = "none" if out_of_band else "auto"
        queue = self._creates[band]
        if tag is not None:
            self.echoes[band] = True
            op = self.by_event_id.get(tag)
            if op is None or op.reply != "response.created":
                return None  # a request we stopped waiting for
            if op in queue:
                self.resolve(op, op.response)
                self.by_event_id[op.event_id] = op
            return op
        candidates = [o for o in queue if o.ready() and (o.tag is None or not self.echoes[band])]
        if not candidates:
            return None
        op = next((o for o in candidates if out_of_band and o.metadata == metadata), candidates[0])
        self.resolve(op, op.response)
        self.by_event_id[op.event_id] = op
        return op

    def idle(self) -> bool:
        """True when no call waits for a reply."""
        return not self.by_event_id and not self._after_added

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
