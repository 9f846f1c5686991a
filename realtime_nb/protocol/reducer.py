"""Reduce Realtime server events (and the client's own sent events) into conversation state.

Sans-I/O: feed every received event to ``ConversationState.apply`` and every sent client event to
``apply_client``; read ``conversation``, ``responses``, ``transcripts`` … at any time.

The reducer is one dispatch table keyed by event ``type`` (``_DISPATCH``). It never mutates the events
it is given (items are copied and stripped of base64 audio before they are stored), unknown types are
counted in ``unknown_types`` rather than raised, and events that arrive out of the canonical order
(§4 of PROTOCOL.md) are kept: deltas are keyed by response and item id and attach when the item shows
up, a response event before ``response.created`` creates the response on the fly, a transcript before
its item is patched in when the item arrives. Anything unexpected is noted in ``anomalies``.

>>> state = ConversationState()
>>> state.apply({"type": "response.output_text.delta", "response_id": "resp_1", "item_id": "item_1",
...              "output_index": 0, "delta": "Hi"})
>>> state.responses["resp_1"].full_text()
'Hi'
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from realtime_nb import audio as _audio

from .codec import clone
from .conversation import PCM, Conversation
from .dialect import (
    _ALIASES,
    _CONTENT_TO_GA,
    _RESPONSE_OBJECT_DROPS,
    _RESPONSE_OBJECT_MOVES,
    BETA_TO_GA_EVENT,
    ga_event_type,
    server_event_to_ga,
)

__all__ = ["ConversationState", "ResponseState"]

Event = dict[str, Any]
SAMPLES_PER_MS = 24  # everything inside is int16 at 24 kHz
_DEFAULT_FORMAT: dict[str, Any] = {"type": "audio/pcm", "rate": 24000}
# Beta sessions name formats with strings; GA uses format objects.
_BETA_FORMATS: dict[str, dict[str, Any]] = {
    "pcm16": _DEFAULT_FORMAT,
    "g711_ulaw": {"type": "audio/pcmu"},
    "g711_alaw": {"type": "audio/pcma"},
}
_TEXT_PART_TYPES = ("output_text", "input_text", "text")
# Events whose names beta and GA share but whose items / session / response objects differ; these go
# through ``dialect.server_event_to_ga`` (which leaves GA shapes unchanged) unless ``_already_ga`` says
# the translation would change nothing.
_DIALECT_SHAPED = frozenset({
    "session.created", "session.updated", "response.created", "response.done",
    "conversation.item.added", "conversation.item.done", "conversation.item.retrieved",
    "response.output_item.added", "response.output_item.done",
})
_ITEM_SHAPED = frozenset({
    "conversation.item.added", "conversation.item.done", "conversation.item.retrieved",
    "response.output_item.added", "response.output_item.done",
})
_BETA_RESPONSE_KEYS = (*_RESPONSE_OBJECT_MOVES, *_RESPONSE_OBJECT_DROPS)
# The names ``ga_event_type`` changes (beta names, aliases): one set lookup per event instead of a call.
_RENAMED = frozenset(name for name in (*BETA_TO_GA_EVENT, *_ALIASES) if ga_event_type(name) != name)
_UNSET_INDEX = 1 << 30
_I16 = np.dtype(np.int16)  # items whose output_index we have not seen sort last, in arrival order


def _ga_item(item: Any) -> bool:
    """True when ``dialect.item_to_ga`` would return an equal item (or the value is no item at all)."""
    if not isinstance(item, dict):
        return True
    if item.get("object") == "realtime.item":
        return False
    content = item.get("content")
    return not (item.get("role") == "assistant" and isinstance(content, list)
                and any(isinstance(p, dict) and p.get("type") in _CONTENT_TO_GA for p in content))


def _already_ga(event: Event, etype: str) -> bool:
    """True when ``server_event_to_ga(event)`` would equal ``event``, for the frequent response and item
    events: they then skip the translation's deep copies (the handlers copy whatever they keep).
    Session events (two per session) always take the translation."""
    if etype in ("response.created", "response.done"):
        obj = event.get("response")
        if not isinstance(obj, dict):
            return True
        if any(key in obj for key in _BETA_RESPONSE_KEYS):
            return False
        output = obj.get("output")
        return not isinstance(output, list) or all(_ga_item(item) for item in output)
    if etype in _ITEM_SHAPED:
        return _ga_item(event.get("item"))
    return False


def _empty() -> PCM:
    return np.zeros(0, dtype=np.int16)


def _pcm(chunk: Any) -> PCM:
    """A private int16 copy, so later changes to the caller's buffer cannot reach our state."""
    return np.array(chunk, dtype=np.int16).reshape(-1)


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


class _InputTimeline:
    """The client's appended input audio on the session timeline (24 kHz samples since the start).

    Chunks before ``cut`` (the last commit/clear) are dropped, so memory stays bounded by the
    uncommitted audio.
    """

    def __init__(self) -> None:
        self._chunks: deque[tuple[int, PCM]] = deque()
        self.end = 0  # samples appended since the session started
        self.cut = 0  # start of the current (uncommitted) buffer

    def append(self, pcm: PCM) -> None:
        if len(pcm):
            self._chunks.append((self.end, pcm))
            self.end += len(pcm)

    def take(self, start: int | None = None, stop: int | None = None) -> PCM:
        """Audio in ``[start, stop)`` (default: the whole buffer); the buffer then starts at ``stop``."""
        lo = max(self.cut if start is None else start, self.cut)
        hi = min(self.end if stop is None else stop, self.end)
        parts = [pcm[max(lo - s, 0): max(hi - s, 0)]
                 for s, pcm in self._chunks if s < hi and s + len(pcm) > lo]
        self.cut = max(self.cut, hi)
        while self._chunks and self._chunks[0][0] + len(self._chunks[0][1]) <= self.cut:
            self._chunks.popleft()
        return np.concatenate(parts) if parts else _empty()

    def clear(self) -> None:
        self.cut = self.end
        self._chunks.clear()


def _clean_item(item: dict[str, Any]) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """A deep copy of ``item`` without base64 audio, plus the removed ``(part type, base64)`` pairs."""
    clean = clone(item)
    found: list[tuple[str, str]] = []
    for part in clean.get("content") or []:
        if isinstance(part, dict) and isinstance(part.get("audio"), str):
            found.append((str(part.get("type")), part.pop("audio")))
    return clean, found


def _as_format(fmt: Any) -> dict[str, Any]:
    if isinstance(fmt, dict) and "type" in fmt:
        return fmt
    if isinstance(fmt, str):
        return _BETA_FORMATS.get(fmt, _DEFAULT_FORMAT)
    return _DEFAULT_FORMAT


def _decode(b64: str, fmt: dict[str, Any]) -> PCM:
    if fmt.get("type") == "audio/pcm":
        return _audio.b64decode_pcm16(b64)
    return _audio.decode_audio(_audio.b64decode(b64), fmt)


Handler = Callable[["ConversationState", Event, "float | None", "PCM | None"], None]


class ConversationState:
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

    # -- handlers (see _DISPATCH) --------------------------------------------------------------------
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

    def _on_rate_limits(self, ev: Event, now: float | None, pcm: PCM | None) -> None:
        self.rate_limits = clone(ev.get("rate_limits"))

    def _on_response_event(self, ev: Event, now: float | None, pcm: PCM | None) -> None:
        """Other response-scoped events: only place their item in the response."""
        if "response_id" in ev:
            resp = self._response(ev["response_id"], ev["type"], now)
            if isinstance(ev.get("item_id"), str):
                self._register(resp, ev["item_id"], ev.get("output_index"))

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
        "response.created": _on_response_created,
        "response.done": _on_response_done,
        "response.output_item.added": _on_output_item,
        "response.output_item.done": _on_output_item,
        "response.content_part.added": _on_part,
        "response.content_part.done": _on_part,
        **dict.fromkeys(_STREAMS, _on_stream),
        "response.output_audio.delta": _on_audio_delta,
        "response.output_audio.done": _on_response_event,
        "response.mcp_call.in_progress": _on_response_event,
        "response.mcp_call.completed": _on_response_event,
        "response.mcp_call.failed": _on_response_event,
        "mcp_list_tools.in_progress": _ignore,
        "mcp_list_tools.completed": _ignore,
        "mcp_list_tools.failed": _ignore,
        "rate_limits.updated": _on_rate_limits,
    }
