"""The bridge's transcript and event-log updates to the views (a layer of ``Bridge``, see ``_bridge_base``).

Transcript entries (built from the session's reducer) and event-log rows go as ``update`` messages, at
most every 40 ms, at a wakeup the loop has anyway when it can; a view that becomes ready gets a
``snapshot`` of both.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from typing import TYPE_CHECKING, Any

from ._bridge_base import SAMPLE_RATE, BridgeBase, WidgetLike

if TYPE_CHECKING:
    from ..client.session import Session

FLUSH_S = 0.04                          # transcript/event-log updates at most this often
STREAM_FLUSH_S = 0.25                   # when only the mic's appends are new (a counter in the event log)
STREAM_SLACK_S = 0.1                    # while the mic streams, its next chunk (not a timer) sends the update
STREAM_TYPES = ("input_audio_buffer.append",)


def compact_rows(rows: Any, start: int | None = None) -> list[list[Any]]:
    """Event-log rows (sent and received) as ``[t, dir, type, item_id, response_id, error_code, count]``,
    the rows of one stream (deltas, appends) merged while only stream rows come between them: the mic's
    appends interleave with a reply's deltas, and one row each would push the other events out of the
    browser's bounded list. With ``start`` (the log index of the first row), each row ends with the log
    index of its (latest) event, which a view may ask the payload of (``event`` request)."""
    out: list[list[Any]] = []
    for k, r in enumerate(rows):
        row = _stream_row(out, r.type, r.direction, r.item_id) if _is_stream(r.type) else None
        if row is not None:
            row[0] = round(r.t, 3)
            row[6] += 1
            if start is not None:
                row[7] = start + k
        else:
            out.append([round(r.t, 3), r.direction, r.type, r.item_id, r.response_id, r.error_code, 1])
            if start is not None:
                out[-1].append(start + k)
    return out


def elide_audio(value: Any, key: str = "") -> Any:
    """A copy of an event for a person to read: base64 audio replaced by its size."""
    if isinstance(value, dict):
        return {k: elide_audio(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [elide_audio(v, key) for v in value]
    if isinstance(value, str) and key in ("audio", "delta") and len(value) > 64 and " " not in value:
        return f"<{len(value) * 3 // 4} bytes of audio>"
    return value


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


class Updates(BridgeBase):
    """Transcript entries and event-log rows for the views."""

    def __init__(self, widget: WidgetLike, session: Session) -> None:
        super().__init__(widget, session)
        self.dirty: set[str] = set()
        self.deleted: set[str] = set()
        self.order_changed = False
        self.log_pos = len(self.client.log)
        # the last received events by log index (audio elided when asked for), for the event log's rows
        self.payloads: OrderedDict[int, dict[str, Any]] = OrderedDict()
        self.payloads_max = 4 * int(widget.event_log_size)   # read again when reached
        self.flush_handle: asyncio.TimerHandle | None = None   # the fallback timer of a wanted flush
        self.flush_due: float | None = None      # when the pending update may go (None: nothing wanted)
        self.flush_soon = False                  # a flush is queued for the end of this wakeup
        self.flushed_at = float("-inf")
        self.mic_at = float("-inf")              # when the last mic chunk came (loop time)
        # per-turn latency, speech end -> first audio, as the kernel sees it (loop time)
        self.speech_stopped_at: float | None = None
        self.turn_start: dict[str, float] = {}   # response id -> the speech_stopped it answers
        self.latency: dict[str, float] = {}      # response id -> seconds to its first audio

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
        start = self.log_pos
        rows = self.client.log.rows_since(start)
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
            msg["events"] = compact_rows(rows, start)
        if len(msg) > 1:
            self.send(msg)

    def keep_payload(self, event: dict[str, Any]) -> None:
        """Remember a received event under its event-log index, as it is (its audio is elided when a view
        asks for it, ``payload``): the client says which row it just logged for this very event; else
        (a client without ``last_received``) the row is looked for among the last few, as only what the
        session sent may have come after it (replies sent by the client's routing)."""
        last = getattr(self.client, "last_received", None)
        if last is not None and last[1] is event:
            self.payloads[last[0]] = event
        else:
            log = self.client.log
            n = len(log)
            etype = event.get("type")
            for k, row in enumerate(reversed(log.rows_since(max(0, n - 4)))):
                if row.direction == "received" and row.type == etype:
                    self.payloads[n - 1 - k] = event
                    break
        if len(self.payloads) > self.payloads_max:
            while len(self.payloads) > self.payloads_max:
                self.payloads.popitem(last=False)
            self.payloads_max = 4 * int(self.widget.event_log_size)

    def payload(self, index: Any) -> dict[str, Any] | None:
        """An event-log row's event for a person to read (audio elided), if the bridge still has it."""
        if not isinstance(index, int):
            return None
        kept = self.payloads.get(index)
        if kept is not None:
            elided: dict[str, Any] = elide_audio(kept)
            return elided
        return self.client.sent_copies.get(index)

    def snapshot(self) -> dict[str, Any]:
        state = self.client.state
        ids = state.conversation.ids()
        oob_ids = [i for rid in self.oob_ids_in_order() for i in state.responses[rid].output_item_ids]
        entries = [e for e in (self.entry(i) for i in ids + oob_ids) if e is not None]
        size = int(self.widget.event_log_size)
        n = len(self.client.log)
        start = max(0, n - 8 * size)
        rows = compact_rows(self.client.log.rows_since(start), start)[-size:]
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
            "transcribed": state.transcript_final(item_id),  # the caption view's final (not streaming) text
        }
        if rid in self.latency:
            entry["latency_ms"] = round(self.latency[rid] * 1000)
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
