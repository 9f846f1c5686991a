"""What the reducer knows about each response, and the handlers of the response-scoped events.

``ResponseState`` collects one response: its status and usage, its output items in ``output_index``
order, the streamed text, transcripts, arguments and (for out-of-band responses) audio, and the timings
of its first deltas. ``_ResponseHandlers`` is the half of ``ConversationState`` that fills it in from
``response.*`` events, which may arrive before ``response.created`` or out of order (docs/protocol.md §4).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from .codec import clone
from .conversation import PCM, Conversation
from .events import Event
from .items import _clean_item, _decode, _empty

_UNSET_INDEX = 1 << 30  # items whose output_index we have not seen sort last, in arrival order


@dataclass
class ResponseState:
    """Everything known about one response, filled in as its events arrive (in any order)."""

    id: str
    status: str = "in_progress"
    status_details: dict[str, Any] | None = None
    conversation_id: str | None = None
    metadata: dict[str, Any] | None = None
    output_modalities: list[str] | None = None
    output_item_ids: list[str] = field(default_factory=list)
    items: dict[str, dict[str, Any]] = field(default_factory=dict)
    text: dict[str, str] = field(default_factory=dict)
    transcript: dict[str, str] = field(default_factory=dict)
    arguments: dict[str, str] = field(default_factory=dict)
    audio: dict[str, list[PCM]] = field(default_factory=dict)
    usage: dict[str, Any] | None = None
    created_at: float | None = None
    first_delta_at: float | None = None
    first_audio_at: float | None = None
    done_at: float | None = None
    raw: dict[str, Any] | None = None
    # Whether a response object told us its conversation_id (only then can it be called out-of-band).
    band_known: bool = field(default=False, repr=False)
    _index: dict[str, int] = field(default_factory=dict, repr=False)
    _final: set[tuple[str, str]] = field(default_factory=set, repr=False)

    @property
    def out_of_band(self) -> bool:
        """True when a response object said ``conversation_id: null`` (``conversation: "none"``)."""
        return self.band_known and self.conversation_id is None

    @property
    def done(self) -> bool:
        """True once ``response.done`` (or any final status) has been seen."""
        return self.done_at is not None or self.status != "in_progress"

    def full_text(self) -> str:
        """All ``output_text`` of the response, in output order."""
        return "".join(self.text.get(i, "") for i in self.output_item_ids)

    def full_transcript(self) -> str:
        """All output audio transcripts of the response, in output order."""
        return "".join(self.transcript.get(i, "") for i in self.output_item_ids)

    def audio_pcm(self, conversation: Conversation | None = None) -> PCM:
        """The response's output audio (int16, 24 kHz): its own chunks for out-of-band items, else the
        conversation's audio for each output item."""
        parts: list[PCM] = []
        for item_id in self.output_item_ids:
            if item_id in self.audio:
                parts.extend(self.audio[item_id])
            elif conversation is not None:
                parts.extend(conversation.audio_chunks(item_id))
        return np.concatenate(parts) if parts else _empty()  # always a new array, never a view of state

    def _register(self, item_id: str, output_index: Any) -> None:
        """Place ``item_id`` in ``output_item_ids`` (sorted by output_index)."""
        idx = output_index if isinstance(output_index, int) else None
        old = self._index.get(item_id)
        if old is not None and (idx is None or idx == old):
            return
        self._index[item_id] = idx if idx is not None else _UNSET_INDEX
        self.output_item_ids = sorted(self._index, key=self._index.__getitem__)


class _ResponseHandlers:
    """The response half of ``ConversationState``: the handlers of ``response.*`` events and their helpers.

    A mixin: the state it works on is ``ConversationState``'s (set in its ``__init__``, declared here for
    the type checker), and ``ConversationState._DISPATCH`` routes the events to these handlers.
    """

    conversation: Conversation
    responses: dict[str, ResponseState]
    anomalies: list[str]
    truncated_at_ms: dict[str, int]
    _deleted: set[str]
    _item_response: dict[str, str]

    if TYPE_CHECKING:  # defined by ConversationState
        def _upsert(self, item: dict[str, Any], prev: Any, *, final: bool) -> None: ...
        def _format(self, direction: str, resp: ResponseState | None = None) -> dict[str, Any]: ...

    def _response(self, rid: Any, etype: str, now: float | None) -> ResponseState:
        rid = str(rid)
        resp = self.responses.get(rid)
        if resp is None:
            resp = self.responses[rid] = ResponseState(rid, created_at=now)
            if etype != "response.created":
                self.anomalies.append(f"{etype} for {rid} before response.created")
        return resp

    def _register(self, resp: ResponseState, item_id: str, output_index: Any) -> None:
        resp._register(item_id, output_index)
        self._item_response[item_id] = resp.id

    def _fill_from_item(self, resp: ResponseState, item: dict[str, Any]) -> None:
        """Take text the server reports in a final item where no stream supplied it."""
        iid = item["id"]
        if item.get("type") in ("function_call", "mcp_call") and isinstance(item.get("arguments"), str):
            resp.arguments.setdefault(iid, item["arguments"])
        for part in item.get("content") or []:
            if part.get("type") in ("output_text", "text") and isinstance(part.get("text"), str):
                resp.text.setdefault(iid, part["text"])
            elif part.get("type") in ("output_audio", "audio") and isinstance(part.get("transcript"), str):
                resp.transcript.setdefault(iid, part["transcript"])

    def _absorb(self, resp: ResponseState, obj: dict[str, Any], *, final: bool, now: float | None) -> None:
        """Merge a response object (``response.created`` / ``response.done``) into ``resp``."""
        if "conversation_id" in obj:
            resp.conversation_id = obj["conversation_id"]
            resp.band_known = True
            if resp.out_of_band:  # audio that raced ahead of response.created was put in the conversation
                for iid in resp.output_item_ids:
                    if iid not in self.conversation and self.conversation.audio_samples(iid):
                        resp.audio.setdefault(iid, []).insert(0, self.conversation.audio(iid))
                        self.conversation.set_audio(iid, _empty())
        if obj.get("metadata") is not None or resp.metadata is None:
            resp.metadata = clone(obj.get("metadata"))
        modalities = obj.get("output_modalities", obj.get("modalities"))
        if modalities is not None:
            resp.output_modalities = list(modalities)
        if final or not resp.done:
            resp.status = str(obj.get("status", resp.status))
            resp.status_details = clone(obj.get("status_details"))
            resp.usage = clone(obj.get("usage")) or resp.usage
            output = []
            for idx, item in enumerate(obj.get("output") or []):
                if isinstance(item, dict) and isinstance(item.get("id"), str):
                    clean, _ = _clean_item(item)
                    output.append(clean)
                    self._output_item(resp, clean, idx, final=final, now=now)
            resp.raw = {**clone({k: v for k, v in obj.items() if k != "output"}), "output": output}
        if final and resp.done_at is None:
            resp.done_at = now

    def _output_item(self, resp: ResponseState, item: dict[str, Any], idx: Any, *, final: bool,
                     now: float | None) -> None:
        iid = item["id"]
        self._register(resp, iid, idx)
        resp.items[iid] = item
        if final:
            self._fill_from_item(resp, item)
        if not resp.out_of_band and resp.band_known:
            self._upsert(item, None, final=final)

    def _stamp_delta(self, resp: ResponseState, now: float | None, *, audio: bool = False) -> None:
        if now is None:
            return
        if resp.first_delta_at is None:
            resp.first_delta_at = now
        if audio and resp.first_audio_at is None:
            resp.first_audio_at = now

    def _on_response_created(self, ev: Event, now: float | None, pcm: PCM | None) -> None:
        obj = ev["response"]
        resp = self._response(obj["id"], ev["type"], now)
        if resp.created_at is None:
            resp.created_at = now
        self._absorb(resp, obj, final=False, now=now)

    def _on_response_done(self, ev: Event, now: float | None, pcm: PCM | None) -> None:
        obj = ev["response"]
        self._absorb(self._response(obj["id"], ev["type"], now), obj, final=True, now=now)

    def _on_output_item(self, ev: Event, now: float | None, pcm: PCM | None) -> None:
        resp = self._response(ev["response_id"], ev["type"], now)
        item, _ = _clean_item(ev["item"])
        final = ev["type"] == "response.output_item.done"
        if not final and item["id"] in resp.items and resp.items[item["id"]].get("status") != "in_progress":
            self._register(resp, item["id"], ev.get("output_index"))
            return  # a late ``added`` after ``done``
        self._output_item(resp, item, ev.get("output_index"), final=final, now=now)

    def _on_part(self, ev: Event, now: float | None, pcm: PCM | None) -> None:
        resp = self._response(ev["response_id"], ev["type"], now)
        iid = ev["item_id"]
        self._register(resp, iid, ev.get("output_index"))
        part = ev.get("part") or {}
        if ev["type"].endswith(".done"):
            if isinstance(part.get("text"), str):
                self._set_final(resp, "text", iid, part["text"])
            if isinstance(part.get("transcript"), str):
                self._set_final(resp, "transcript", iid, part["transcript"])

    def _set_final(self, resp: ResponseState, kind: str, iid: str, value: str) -> None:
        getattr(resp, kind)[iid] = value
        resp._final.add((kind, iid))

    # event type -> (ResponseState attribute, payload key, is done)
    _STREAMS: ClassVar[dict[str, tuple[str, str, bool]]] = {
        "response.output_text.delta": ("text", "delta", False),
        "response.output_text.done": ("text", "text", True),
        "response.output_audio_transcript.delta": ("transcript", "delta", False),
        "response.output_audio_transcript.done": ("transcript", "transcript", True),
        "response.function_call_arguments.delta": ("arguments", "delta", False),
        "response.function_call_arguments.done": ("arguments", "arguments", True),
        "response.mcp_call_arguments.delta": ("arguments", "delta", False),
        "response.mcp_call_arguments.done": ("arguments", "arguments", True),
    }

    def _on_stream(self, ev: Event, now: float | None, pcm: PCM | None) -> None:
        kind, key, is_done = self._STREAMS[ev["type"]]
        resp = self._response(ev["response_id"], ev["type"], now)
        iid = ev["item_id"]
        self._register(resp, iid, ev.get("output_index"))
        if is_done:
            self._set_final(resp, kind, iid, str(ev.get(key) or ""))
            return
        self._stamp_delta(resp, now)
        if (kind, iid) in resp._final:
            self.anomalies.append(f"{ev['type']} for {iid} after its done event; ignored")
            return
        acc: dict[str, str] = getattr(resp, kind)
        acc[iid] = acc.get(iid, "") + str(ev.get(key) or "")

    def _on_audio_delta(self, ev: Event, now: float | None, pcm: PCM | None) -> None:
        resp = self._response(ev["response_id"], ev["type"], now)
        iid = ev["item_id"]
        self._register(resp, iid, ev.get("output_index"))
        chunk = pcm if pcm is not None else _decode(ev["delta"], self._format("output", resp))  # pcm: ours (apply)
        if resp.first_audio_at is None:  # (first_delta_at is set by then too)
            self._stamp_delta(resp, now, audio=True)
        if iid in self.truncated_at_ms or iid in self._deleted:
            self.anomalies.append(f"audio for truncated/deleted item {iid}; ignored")
        elif resp.out_of_band:
            resp.audio.setdefault(iid, []).append(chunk)
        else:  # in-band, or not yet known: keyed by item id, the item may come later
            self.conversation.append_audio(iid, chunk)

    def _on_response_event(self, ev: Event, now: float | None, pcm: PCM | None) -> None:
        """Other response-scoped events: only place their item in the response."""
        if "response_id" in ev:
            resp = self._response(ev["response_id"], ev["type"], now)
            if isinstance(ev.get("item_id"), str):
                self._register(resp, ev["item_id"], ev.get("output_index"))
