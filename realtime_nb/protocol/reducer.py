"""Reduce Realtime server events (and the client's own sent events) into conversation state.

Sans-I/O: feed every received event to ``ConversationState.apply`` and every sent client event to
``apply_client``; read ``conversation``, ``responses``, ``transcripts`` … at any time.

The reducer is one dispatch table keyed by event ``type`` (``_DISPATCH``). It never mutates the events
it is given (items are copied and stripped of base64 audio before they are stored), unknown types are
counted in ``unknown_types`` rather than raised, and events that arrive out of the canonical order
(docs/protocol.md §4) are kept: deltas are keyed by response and item id and attach when the item shows
up, a response event before ``response.created`` creates the response on the fly, a transcript before
its item is patched in when the item arrives. Anything unexpected is noted in ``anomalies``.

Its parts live beside it: ``responses`` (``ResponseState`` and the handlers of response-scoped events),
``timeline`` (the client's input audio), ``items`` (item and audio payload helpers) and ``ga_shapes``
(which events need the beta → GA translation).

>>> state = ConversationState()
>>> state.apply({"type": "response.output_text.delta", "response_id": "resp_1", "item_id": "item_1",
...              "output_index": 0, "delta": "Hi"})
>>> state.responses["resp_1"].full_text()
'Hi'
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np

from .codec import clone
from .conversation import PCM, Conversation
from .dialect import server_event_to_ga
from .ga_shapes import _DIALECT_SHAPED, _RENAMED, _already_ga
from .items import _DEFAULT_FORMAT, _as_format, _clean_item, _decode, _pcm
from .responses import ResponseState, _ResponseHandlers
from .timeline import _InputTimeline

__all__ = ["ConversationState", "ResponseState"]

Event = dict[str, Any]
SAMPLES_PER_MS = 24  # everything inside is int16 at 24 kHz
_TEXT_PART_TYPES = ("output_text", "input_text", "text")
_I16 = np.dtype(np.int16)  # ``apply`` takes over int16 arrays by dtype identity (``pcm.dtype is _I16``)


Handler = Callable[["ConversationState", Event, "float | None", "PCM | None"], None]


class ConversationState(_ResponseHandlers):
    """Reduces GA server events (and the client's own sent events) into conversation state.

    Beta events (names and shapes) are accepted and mapped through ``dialect``; ``conversation.item.created``
    arrives as ``conversation.item.added``. ``strict=True`` re-raises errors from
    malformed events (tests); by default they are noted in ``anomalies``.
    """

    def __init__(self, *, strict: bool = False) -> None:
        self.strict = strict
        self.conversation = Conversation()
        self.conversation_id: str | None = None
        self.responses: dict[str, ResponseState] = {}
        self.session: dict[str, Any] | None = None
        self.rate_limits: list[dict[str, Any]] | None = None
        self.unknown_types: Counter[str] = Counter()
        self.errors: list[dict[str, Any]] = []
        self.anomalies: list[str] = []
        self.truncated_at_ms: dict[str, int] = {}
        self.transcripts: dict[str, str] = {}
        self.transcription_errors: dict[str, dict[str, Any]] = {}
        self.speech_ms: dict[str, dict[str, int]] = {}  # item_id -> audio_start_ms / audio_end_ms
        self._input = _InputTimeline()
        self._pending_clears = 0
        self._pending_audio_by_id: dict[str, PCM] = {}
        self._pending_audio_anon: deque[PCM] = deque()
        self._committed: set[str] = set()
        self._final_items: set[str] = set()
        self._deleted: set[str] = set()
        self._transcript_done: set[str] = set()
        self._item_response: dict[str, str] = {}

    # -- public ------------------------------------------------------------------------------------
    def apply(self, event: Event, *, now: float | None = None, pcm: PCM | None = None,
              take_pcm: bool = False) -> None:
        """Apply one server event. ``now`` (caller's clock, seconds) stamps response timings; ``pcm``
        is the already-decoded audio of a ``response.output_audio.delta``, of which the state keeps a
        copy, or the array itself with ``take_pcm=True`` (the caller hands it over and must not change it)."""
        etype = event.get("type")
        if not isinstance(etype, str):
            self.unknown_types[repr(etype)] += 1
            return
        if pcm is not None and not (take_pcm and type(pcm) is np.ndarray and pcm.dtype is _I16 and pcm.ndim == 1):
            pcm = _pcm(pcm)
        try:
            if etype in _RENAMED or (etype in _DIALECT_SHAPED and not _already_ga(event, etype)):
                event = server_event_to_ga(event)  # a new dict: beta names and shapes become GA
            handler = self._DISPATCH.get(event.get("type", ""))
            if handler is None:
                self.unknown_types[etype] += 1
                return
            handler(self, event, now, pcm)
        except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
            if self.strict:
                raise
            self.anomalies.append(f"malformed {etype}: {exc!r}")

    def apply_client(self, event: Event, *, pcm: PCM | None = None) -> None:
        """Apply one client event this side sent (input audio and audio items are tracked)."""
        etype = event.get("type")
        if etype in ("input_audio_buffer.append", "session.input_audio_buffer.append"):
            chunk = _pcm(pcm) if pcm is not None else _decode(event["audio"], self._format("input"))
            self._input.append(chunk)
        elif etype == "input_audio_buffer.clear":
            self._input.clear()
            self._pending_clears += 1  # the server's ``cleared`` for it must not drop newer audio
        elif etype == "conversation.item.create":
            item = event.get("item") or {}
            if pcm is not None:
                chunk = _pcm(pcm)
            else:
                fmt = self._format("input")
                parts = [_decode(p["audio"], fmt) for p in item.get("content") or []
                         if isinstance(p, dict) and p.get("type") == "input_audio"
                         and isinstance(p.get("audio"), str)]
                if not parts:
                    return
                chunk = np.concatenate(parts)
            if isinstance(item.get("id"), str):
                self._pending_audio_by_id[item["id"]] = chunk
            else:
                self._pending_audio_anon.append(chunk)

    def item_audio(self, item_id: str) -> PCM:
        """The item's audio, int16 24 kHz (in-band items from the conversation, OOB from responses)."""
        rid = self._item_response.get(item_id)
        chunks = self.responses[rid].audio.get(item_id) if rid is not None else None
        if chunks:
            return np.concatenate(chunks)
        return self.conversation.audio(item_id)

    def transcript_final(self, item_id: str) -> bool:
        """Whether the item's input audio transcription has completed (its text will not change)."""
        return item_id in self._transcript_done

    def item_text(self, item_id: str) -> str | None:
        """Output text, else output transcript, else input transcription, else text in the item."""
        rid = self._item_response.get(item_id)
        if rid is not None:
            resp = self.responses[rid]
            for source in (resp.text, resp.transcript):
                if item_id in source:
                    return source[item_id]
        if item_id in self.transcripts:
            return self.transcripts[item_id]
        item = self.conversation.get(item_id) if item_id in self.conversation else None
        if item is None and rid is not None:
            item = self.responses[rid].items.get(item_id)
        for part in (item or {}).get("content") or []:
            if part.get("type") in _TEXT_PART_TYPES and isinstance(part.get("text"), str):
                return str(part["text"])
            if isinstance(part.get("transcript"), str):
                return str(part["transcript"])
        return None

    # -- helpers -----------------------------------------------------------------------------------
    def output_format(self, response_id: Any = None) -> dict[str, Any]:
        """The format of a response's output audio: its own when it set one, else the session's."""
        return self._format("output", self.responses.get(str(response_id)) if response_id is not None else None)

    def _format(self, direction: str, resp: ResponseState | None = None) -> dict[str, Any]:
        if resp is not None and resp.raw is not None:
            fmt = ((resp.raw.get("audio") or {}).get("output") or {}).get("format")
            if fmt is not None:
                return _as_format(fmt)
        s = self.session or {}
        fmt = ((s.get("audio") or {}).get(direction) or {}).get("format")
        return _as_format(fmt if fmt is not None else s.get(f"{direction}_audio_format"))

    def _upsert(self, item: dict[str, Any], prev: Any, *, final: bool) -> None:
        """Insert or update an item in the conversation, honouring ``previous_item_id`` if known."""
        iid, conv = item["id"], self.conversation
        if iid in self._deleted:
            self.anomalies.append(f"item {iid} seen after conversation.item.deleted")
            return
        if iid in conv:
            if not final and iid in self._final_items:
                return  # a late ``added`` must not overwrite the ``done`` item
            want = None if prev == "root" else prev
            if isinstance(prev, str) and prev != iid and (prev == "root" or prev in conv) \
                    and conv.previous_id(iid) != want:
                kept = conv.audio(iid) if conv.audio_samples(iid) else None
                conv.delete(iid)
                conv.insert(item, prev)
                if kept is not None:
                    conv.set_audio(iid, kept)
            else:
                conv.insert(item)
        elif isinstance(prev, str) and prev != "root" and prev not in conv:
            self.anomalies.append(f"item {iid}: unknown previous_item_id {prev}; appended")
            conv.insert(item)
        else:
            conv.insert(item, prev if isinstance(prev, str) else None)
        if final:
            self._final_items.add(iid)
        self._patch_transcript(iid)

    def _patch_transcript(self, iid: str) -> None:
        """Put a completed input transcription into the user item's ``input_audio`` part."""
        if iid not in self._transcript_done or iid not in self.conversation:
            return
        text = self.transcripts[iid]
        content = list(self.conversation.get(iid).get("content") or [])
        for i, part in enumerate(content):
            if isinstance(part, dict) and part.get("type") == "input_audio":
                if part.get("transcript") != text:
                    content[i] = {**part, "transcript": text}
                    self.conversation.update(iid, content=content)
                return

    # -- handlers (see _DISPATCH; the response-scoped ones are in responses._ResponseHandlers) -----
    def _on_error(self, ev: Event, now: float | None, pcm: PCM | None) -> None:
        self.errors.append(clone(ev.get("error") or {}))

    def _on_session(self, ev: Event, now: float | None, pcm: PCM | None) -> None:
        self.session = clone(ev["session"])

    def _on_conversation_created(self, ev: Event, now: float | None, pcm: PCM | None) -> None:
        self.conversation_id = (ev.get("conversation") or {}).get("id")

    def _on_item(self, ev: Event, now: float | None, pcm: PCM | None) -> None:
        item, found = _clean_item(ev["item"])
        iid = item["id"]
        final = ev["type"] in ("conversation.item.done", "conversation.item.retrieved")
        is_new = iid not in self.conversation
        prev = ev.get("previous_item_id")
        if prev is None and "previous_item_id" in ev and ev["type"] != "conversation.item.retrieved":
            prev = "root"  # an explicit null means "first in the conversation", not "append"
        self._upsert(item, prev, final=final)
        if iid not in self.conversation:
            return
        if found:  # only ``retrieved`` should carry bytes; store them decoded
            fmts = {"input_audio": self._format("input"), "output_audio": self._format("output")}
            decoded = [_decode(b64, fmts.get(kind, _DEFAULT_FORMAT)) for kind, b64 in found]
            self.conversation.set_audio(iid, np.concatenate(decoded))
        elif iid in self._pending_audio_by_id:
            self.conversation.set_audio(iid, self._pending_audio_by_id.pop(iid))
        elif (is_new and self._pending_audio_anon and iid not in self._committed
              and item.get("role") == "user"
              and any(p.get("type") == "input_audio" for p in item.get("content") or [])):
            self.conversation.set_audio(iid, self._pending_audio_anon.popleft())
        self._committed.discard(iid)
        rid = self._item_response.get(iid)
        if rid is not None:
            self.responses[rid].items[iid] = item

    def _on_item_truncated(self, ev: Event, now: float | None, pcm: PCM | None) -> None:
        iid, end_ms = ev["item_id"], int(ev["audio_end_ms"])
        if iid not in self.conversation:
            self.anomalies.append(f"truncated unknown item {iid}")
        self.conversation.truncate_audio(iid, end_ms * SAMPLES_PER_MS)
        self.truncated_at_ms[iid] = end_ms

    def _on_item_deleted(self, ev: Event, now: float | None, pcm: PCM | None) -> None:
        iid = ev["item_id"]
        self._deleted.add(iid)
        self._final_items.discard(iid)
        if iid in self.conversation:
            self.conversation.delete(iid)
        else:
            self.anomalies.append(f"deleted unknown item {iid}")

    def _on_transcription(self, ev: Event, now: float | None, pcm: PCM | None) -> None:
        iid, etype = ev["item_id"], ev["type"]
        if etype.endswith(".delta"):
            if iid not in self._transcript_done:
                self.transcripts[iid] = self.transcripts.get(iid, "") + str(ev.get("delta") or "")
        elif etype.endswith(".completed"):
            self.transcripts[iid] = str(ev.get("transcript") or "")
            self._transcript_done.add(iid)
            self._patch_transcript(iid)
        elif etype.endswith(".failed"):
            self.transcription_errors[iid] = clone(ev.get("error") or {})

    def _on_speech(self, ev: Event, now: float | None, pcm: PCM | None) -> None:
        marks = self.speech_ms.setdefault(ev["item_id"], {})
        for key in ("audio_start_ms", "audio_end_ms"):
            if isinstance(ev.get(key), int):
                marks[key] = ev[key]

    def _on_committed(self, ev: Event, now: float | None, pcm: PCM | None) -> None:
        iid = ev["item_id"]
        marks = self.speech_ms.get(iid, {})
        start, end = marks.get("audio_start_ms"), marks.get("audio_end_ms")
        taken = self._input.take(None if start is None else start * SAMPLES_PER_MS,
                                 None if end is None else end * SAMPLES_PER_MS)
        self._committed.add(iid)
        if len(taken):
            self.conversation.set_audio(iid, taken)

    def _on_cleared(self, ev: Event, now: float | None, pcm: PCM | None) -> None:
        if self._pending_clears:
            self._pending_clears -= 1  # already cleared when the client sent it
        else:
            self._input.clear()

    def _on_rate_limits(self, ev: Event, now: float | None, pcm: PCM | None) -> None:
        self.rate_limits = clone(ev.get("rate_limits"))

    def _ignore(self, ev: Event, now: float | None, pcm: PCM | None) -> None:
        """Known events that change no conversation state."""

    _DISPATCH: ClassVar[dict[str, Handler]] = {
        "error": _on_error,
        "session.created": _on_session,
        "session.updated": _on_session,
        "conversation.created": _on_conversation_created,
        "conversation.item.added": _on_item,
        "conversation.item.done": _on_item,
        "conversation.item.retrieved": _on_item,
        "conversation.item.truncated": _on_item_truncated,
        "conversation.item.deleted": _on_item_deleted,
        "conversation.item.input_audio_transcription.delta": _on_transcription,
        "conversation.item.input_audio_transcription.completed": _on_transcription,
        "conversation.item.input_audio_transcription.failed": _on_transcription,
        "conversation.item.input_audio_transcription.segment": _ignore,
        "input_audio_buffer.speech_started": _on_speech,
        "input_audio_buffer.speech_stopped": _on_speech,
        "input_audio_buffer.timeout_triggered": _on_speech,
        "input_audio_buffer.committed": _on_committed,
        "input_audio_buffer.cleared": _on_cleared,
        "input_audio_buffer.dtmf_event_received": _ignore,
        "output_audio_buffer.started": _ignore,
        "output_audio_buffer.stopped": _ignore,
        "output_audio_buffer.cleared": _ignore,
        "response.created": _ResponseHandlers._on_response_created,
        "response.done": _ResponseHandlers._on_response_done,
        "response.output_item.added": _ResponseHandlers._on_output_item,
        "response.output_item.done": _ResponseHandlers._on_output_item,
        "response.content_part.added": _ResponseHandlers._on_part,
        "response.content_part.done": _ResponseHandlers._on_part,
        **dict.fromkeys(_ResponseHandlers._STREAMS, _ResponseHandlers._on_stream),
        "response.output_audio.delta": _ResponseHandlers._on_audio_delta,
        "response.output_audio.done": _ResponseHandlers._on_response_event,
        "response.mcp_call.in_progress": _ResponseHandlers._on_response_event,
        "response.mcp_call.completed": _ResponseHandlers._on_response_event,
        "response.mcp_call.failed": _ResponseHandlers._on_response_event,
        "mcp_list_tools.in_progress": _ignore,
        "mcp_list_tools.completed": _ignore,
        "mcp_list_tools.failed": _ignore,
        "rate_limits.updated": _on_rate_limits,
    }
