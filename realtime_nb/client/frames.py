"""Read-only pandas views of a session: conversation items, logged events and responses.

Each builder takes a snapshot, so a frame never changes under the user's feet. Columns are built as
lists in one pass and handed to pandas with fixed dtypes, so an empty session gives an empty frame with
the same columns and dtypes as a busy one: strings are ``object`` columns with ``None`` for missing
values, token counts nullable ``Int64``, times ``float64`` with NaN. Times are seconds on the session
clock (since connect).

>>> from realtime_nb.protocol.reducer import ConversationState
>>> list(items_frame(ConversationState()).columns)[:4]
['item_id', 'previous_item_id', 'type', 'role']
"""

from __future__ import annotations

import bisect
import math
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ._eventlog import COLUMNS as EVENT_COLUMNS
from ._eventlog import EventLog

if TYPE_CHECKING:
    from ..protocol.reducer import ConversationState, ResponseState

__all__ = ["EVENT_COLUMNS", "ITEM_COLUMNS", "RESPONSE_COLUMNS", "events_frame", "items_frame",
           "responses_frame"]

_OBJ, _F64, _INT, _I64 = "object", "float64", "Int64", "int64"
_NAN = math.nan
SAMPLE_RATE = 24000

ITEM_DTYPES: dict[str, str] = {
    "item_id": _OBJ, "previous_item_id": _OBJ, "type": _OBJ, "role": _OBJ, "status": _OBJ, "text": _OBJ,
    "audio_ms": _F64, "truncated_at_ms": _F64, "call_id": _OBJ, "name": _OBJ, "arguments": _OBJ,
    "output": _OBJ, "response_id": _OBJ, "created_at": _F64, "connection": _INT,
}
ITEM_COLUMNS = tuple(ITEM_DTYPES)

EVENT_DTYPES: dict[str, str] = {
    "t": _F64, "direction": _OBJ, "type": _OBJ, "event_id": _OBJ, "response_id": _OBJ, "item_id": _OBJ,
    "bytes": _I64, "error_code": _OBJ,
}
assert tuple(EVENT_DTYPES) == EVENT_COLUMNS

_TOKENS = {  # column -> path in usage
    "input_tokens": ("input_tokens",),
    "output_tokens": ("output_tokens",),
    "input_text_tokens": ("input_token_details", "text_tokens"),
    "input_audio_tokens": ("input_token_details", "audio_tokens"),
    "output_text_tokens": ("output_token_details", "text_tokens"),
    "output_audio_tokens": ("output_token_details", "audio_tokens"),
    "cached_tokens": ("input_token_details", "cached_tokens"),
}
RESPONSE_DTYPES: dict[str, str] = {
    "response_id": _OBJ, "status": _OBJ, "reason": _OBJ, "conversation": _OBJ, "metadata": _OBJ,
    "output_modalities": _OBJ, "text": _OBJ, **dict.fromkeys(_TOKENS, _INT),
    "time_to_first_delta": _F64, "time_to_done": _F64, "speech_to_first_audio": _F64,
}
RESPONSE_COLUMNS = tuple(RESPONSE_DTYPES)


def _frame(columns: dict[str, list[Any]], dtypes: dict[str, str]) -> pd.DataFrame:
    data = {}
    for name, dtype in dtypes.items():
        values = columns[name]
        if dtype == _OBJ:
            # Element by element (a list stays one cell) and explicitly object, not pandas 3's inferred
            # "str": the same dtype on pandas 2 and 3, and missing ids stay None.
            data[name] = pd.Series(np.fromiter(values, dtype=object, count=len(values)), dtype=object)
        else:
            data[name] = pd.array(values, dtype=dtype) if dtype == _INT else np.asarray(values, dtype=dtype)
    return pd.DataFrame(data, columns=list(dtypes))


def _text_from_content(item: dict[str, Any]) -> str | None:
    for part in item.get("content") or ():
        if isinstance(part, dict):
            if isinstance(part.get("text"), str):
                return str(part["text"])
            if isinstance(part.get("transcript"), str):
                return str(part["transcript"])
    return None


def items_frame(state: ConversationState, log: EventLog | None = None,
                connections: dict[str, int] | None = None) -> pd.DataFrame:
    """One row per conversation item, in conversation order.

    Columns: item_id, previous_item_id, type, role, status, text (text, assistant transcript or user
    input transcription), audio_ms (0 when none), truncated_at_ms (NaN unless truncated), call_id, name,
    arguments, output, response_id (the response that produced the item; None for user items),
    created_at (first received event carrying the item id, NaN without a log), connection (which of the
    session's connections the item was first added on: 1, then 2 … after a reconnect or hand-over; its
    later connections got it replayed).

    A truncated item keeps the text that was streamed (the server drops its transcript); its audio_ms is
    what is left after the cut.
    """
    conv = state.conversation
    producer: dict[str, ResponseState] = {}
    for r in state.responses.values():
        for out_id in r.output_item_ids:
            producer[out_id] = r
    transcripts, truncated = state.transcripts, state.truncated_at_ms
    first_seen = log.first_seen_items() if log is not None else {}
    cols: dict[str, list[Any]] = {name: [] for name in ITEM_COLUMNS}
    prev: str | None = None
    samples: list[int] = []
    for item in conv:
        iid: str = item["id"]
        resp = producer.get(iid)
        text: str | None = None
        arguments = item.get("arguments")
        if resp is not None:
            text = resp.text.get(iid) if iid in resp.text else resp.transcript.get(iid)
            if not arguments:
                arguments = resp.arguments.get(iid, arguments)
        if text is None:
            text = transcripts.get(iid) if iid in transcripts else _text_from_content(item)
        cols["item_id"].append(iid)
        cols["previous_item_id"].append(prev)
        cols["type"].append(item.get("type"))
        cols["role"].append(item.get("role"))
        cols["status"].append(item.get("status"))
        cols["text"].append(text)
        samples.append(conv.audio_samples(iid))
        cols["truncated_at_ms"].append(truncated.get(iid, _NAN))
        cols["call_id"].append(item.get("call_id"))
        cols["name"].append(item.get("name"))
        cols["arguments"].append(arguments)
        cols["output"].append(item.get("output"))
        cols["response_id"].append(resp.id if resp is not None else None)
        cols["created_at"].append(first_seen.get(iid, _NAN))
        cols["connection"].append((connections or {}).get(iid))
        prev = iid
    cols["audio_ms"] = (np.asarray(samples, dtype=np.float64) * (1000.0 / SAMPLE_RATE)).tolist()
    return _frame(cols, ITEM_DTYPES)


def events_frame(log: EventLog) -> pd.DataFrame:
    """One row per logged event: t, direction, type, event_id, response_id, item_id, bytes, error_code."""
    return _frame(log.columns(), EVENT_DTYPES)


def _usage(usage: Any, path: tuple[str, ...]) -> int | None:
    value = usage
    for key in path:
        value = value.get(key) if isinstance(value, dict) else None
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _since(end: float | None, start: float | None) -> float:
    return end - start if end is not None and start is not None else _NAN


def responses_frame(state: ConversationState, log: EventLog | None = None) -> pd.DataFrame:
    """One row per response, in the order they were created.

    Columns: response_id, status, reason (``status_details.reason``), conversation ("auto" / "none",
    None if no response object said), metadata, output_modalities, text (text or transcript), token
    counts from ``usage`` (nullable integers), time_to_first_delta and time_to_done (seconds from
    ``response.created``), speech_to_first_audio (seconds from the last received
    ``input_audio_buffer.speech_stopped`` before ``response.created`` to the first audio delta; NaN when
    the response was not started by speech, i.e. another in-conversation response was created in
    between, or without a log).
    """
    responses = list(state.responses.values())
    in_band = sorted(r.created_at for r in responses
                     if r.created_at is not None and not r.out_of_band)
    cols: dict[str, list[Any]] = {name: [] for name in RESPONSE_COLUMNS}
    for r in responses:
        cols["response_id"].append(r.id)
        cols["status"].append(r.status)
        cols["reason"].append((r.status_details or {}).get("reason"))
        cols["conversation"].append(("none" if r.out_of_band else "auto") if r.band_known else None)
        cols["metadata"].append(r.metadata)
        cols["output_modalities"].append(r.output_modalities)
        cols["text"].append(r.full_text() or r.full_transcript())
        for name, path in _TOKENS.items():
            cols[name].append(_usage(r.usage, path))
        cols["time_to_first_delta"].append(_since(r.first_delta_at, r.created_at))
        cols["time_to_done"].append(_since(r.done_at, r.created_at))
        cols["speech_to_first_audio"].append(_speech_to_audio(r, log, in_band))
    return _frame(cols, RESPONSE_DTYPES)


def _speech_to_audio(r: ResponseState, log: EventLog | None, in_band: list[float]) -> float:
    if log is None or r.created_at is None or r.first_audio_at is None:
        return _NAN
    stopped = log.last_time("input_audio_buffer.speech_stopped", before=r.created_at)
    if stopped is None:
        return _NAN
    # Another conversation response created after the speech means this one answers something else.
    k = bisect.bisect_right(in_band, stopped)
    if k < len(in_band) and in_band[k] < r.created_at:
        return _NAN
    return r.first_audio_at - stopped
