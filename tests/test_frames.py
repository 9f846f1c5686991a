"""DataFrame views built from a reducer state and an event log fed a realistic GA session: a text turn,
a VAD audio turn with base64 PCM (cancelled, then truncated), an out-of-band classification, a
function-call turn and an audio answer after it."""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pandas as pd
import pytest

from realtime_nb.audio import b64encode_pcm16
from realtime_nb.client._eventlog import EventLog
from realtime_nb.client.frames import (
    EVENT_COLUMNS,
    ITEM_COLUMNS,
    RESPONSE_COLUMNS,
    events_frame,
    items_frame,
    responses_frame,
)
from realtime_nb.protocol.reducer import ConversationState

Event = dict[str, Any]
NAN = math.nan
USAGE_TEXT = {"total_tokens": 127, "input_tokens": 120, "output_tokens": 7,
              "input_token_details": {"text_tokens": 120, "audio_tokens": 0, "image_tokens": 0, "cached_tokens": 64,
                                      "cached_tokens_details": {"text_tokens": 64, "audio_tokens": 0}},
              "output_token_details": {"text_tokens": 7, "audio_tokens": 0}}
USAGE_AUDIO = {"total_tokens": 400, "input_tokens": 250, "output_tokens": 150,
               "input_token_details": {"text_tokens": 130, "audio_tokens": 120, "cached_tokens": 0},
               "output_token_details": {"text_tokens": 20, "audio_tokens": 130}}


class Session:
    """Feeds events to a reducer and a log on one clock, the way the Session does."""

    def __init__(self) -> None:
        self.state, self.log = ConversationState(strict=True), EventLog()

    def recv(self, t: float, *events: Event) -> None:
        for ev in events:
            self.log.record(t, "received", ev, len(json.dumps(ev)))
            self.state.apply(ev, now=t)
            t = round(t + 0.001, 6)

    def send(self, t: float, ev: Event) -> None:
        self.log.record(t, "sent", ev, len(json.dumps(ev)))
        self.state.apply_client(ev)


def message(iid: str, role: str, status: str, content: list[Event]) -> Event:
    return {"id": iid, "type": "message", "status": status, "role": role, "content": content}


def response(rid: str, status: str = "in_progress", *, conv: str | None = "conv_1", output: Any = (),
             usage: Any = None, metadata: Any = None, modalities: tuple[str, ...] = ("text",),
             details: Any = None) -> Event:
    return {"type": "response.created" if status == "in_progress" else "response.done",
            "response": {"object": "realtime.response", "id": rid, "status": status, "status_details": details,
                         "output": list(output), "conversation_id": conv, "output_modalities": list(modalities),
                         "usage": usage, "metadata": metadata}}


def added(item: Event, prev: str | None, done: bool = False) -> Event:
    return {"type": "conversation.item.done" if done else "conversation.item.added", "previous_item_id": prev,
            "item": item}


def out_item(rid: str, item: Event, done: bool = False) -> Event:
    return {"type": "response.output_item.done" if done else "response.output_item.added", "response_id": rid,
            "output_index": 0, "item": item}


def ramp(n: int) -> np.ndarray:
    return ((np.arange(n) % 2000) - 1000).astype(np.int16)


@pytest.fixture(scope="module")
def session() -> Session:
    s = Session()
    s.recv(0.0, {"type": "session.created", "event_id": "event_0", "session": {"type": "realtime"}})

    # (b) text turn
    u1 = message("item_u1", "user", "completed", [{"type": "input_text", "text": "What Prince album sold most?"}])
    s.send(1.00, {"type": "conversation.item.create", "event_id": "c1", "item": {k: v for k, v in u1.items()
                                                                              if k != "id"}})
    s.send(1.01, {"type": "response.create", "event_id": "c2"})
    s.recv(1.10, added(u1, None), added(u1, None, done=True))
    a1_loc = {"response_id": "resp_1", "item_id": "item_a1", "output_index": 0, "content_index": 0}
    a1 = message("item_a1", "assistant", "completed", [{"type": "output_text", "text": "Purple Rain."}])
    s.recv(1.20, response("resp_1"), out_item("resp_1", message("item_a1", "assistant", "in_progress", [])),
           added(message("item_a1", "assistant", "in_progress", []), "item_u1"),
           {"type": "response.content_part.added", **a1_loc, "part": {"type": "text", "text": ""}})
    s.recv(1.50, {"type": "response.output_text.delta", **a1_loc, "delta": "Purple", "obfuscation": "ab"})
    s.recv(1.60, {"type": "response.output_text.delta", **a1_loc, "delta": " Rain.", "obfuscation": "cd"})
    s.recv(1.70, {"type": "response.output_text.done", **a1_loc, "text": "Purple Rain."},
           {"type": "response.content_part.done", **a1_loc, "part": {"type": "text", "text": "Purple Rain."}},
           added(a1, "item_u1", done=True), out_item("resp_1", a1, done=True))
    s.recv(2.00, response("resp_1", "completed", output=[a1], usage=USAGE_TEXT))
    s.recv(2.04, {"type": "rate_limits.updated", "rate_limits": [{"name": "tokens", "limit": 40000,
                                                                   "remaining": 38000, "reset_seconds": 2.1}]})

    # (c) VAD audio turn: 3 s of mic audio, speech from 1000 to 2000 ms
    s.send(2.50, {"type": "input_audio_buffer.append", "event_id": "c3", "audio": b64encode_pcm16(ramp(72000))})
    s.recv(3.00, {"type": "input_audio_buffer.speech_started", "audio_start_ms": 1000, "item_id": "item_u2"})
    s.recv(4.00, {"type": "input_audio_buffer.speech_stopped", "audio_end_ms": 2000, "item_id": "item_u2"})
    u2 = message("item_u2", "user", "completed", [{"type": "input_audio", "transcript": None}])
    s.recv(4.05, {"type": "input_audio_buffer.committed", "item_id": "item_u2", "previous_item_id": "item_a1"},
           added(u2, "item_a1"), added(u2, "item_a1", done=True))
    a2_loc = {"response_id": "resp_2", "item_id": "item_a2", "output_index": 0, "content_index": 0}
    s.recv(4.10, response("resp_2", modalities=("audio",)),
           out_item("resp_2", message("item_a2", "assistant", "in_progress", [])),
           added(message("item_a2", "assistant", "in_progress", []), "item_u2"),
           {"type": "response.content_part.added", **a2_loc, "part": {"type": "audio", "transcript": ""}})
    s.recv(4.40, {"type": "response.output_audio_transcript.delta", **a2_loc, "delta": "Once"})
    s.recv(4.50, {"type": "response.output_audio.delta", **a2_loc, "delta": b64encode_pcm16(ramp(2400))})
    s.recv(4.60, {"type": "response.output_audio.delta", **a2_loc, "delta": b64encode_pcm16(ramp(4800))},
           {"type": "response.output_audio_transcript.delta", **a2_loc, "delta": " upon a time."})
    # the user stops playback after 150 ms: cancel, then truncate what was not heard
    s.send(4.70, {"type": "response.cancel", "event_id": "c4"})
    a2 = message("item_a2", "assistant", "incomplete", [{"type": "output_audio", "transcript": "Once upon a time."}])
    s.recv(4.71, {"type": "response.output_audio.done", **a2_loc},
           {"type": "response.output_audio_transcript.done", **a2_loc, "transcript": "Once upon a time."},
           {"type": "response.content_part.done", **a2_loc,
            "part": {"type": "audio", "transcript": "Once upon a time."}},
           added(a2, "item_u2", done=True), out_item("resp_2", a2, done=True))
    s.recv(4.80, response("resp_2", "cancelled", output=[a2], usage=USAGE_AUDIO, modalities=("audio",),
                          details={"type": "cancelled", "reason": "client_cancelled"}))
    s.recv(4.90, {"type": "conversation.item.input_audio_transcription.completed", "item_id": "item_u2",
                  "content_index": 0, "transcript": "Tell me a story.", "usage": {"type": "duration", "seconds": 1}})
    s.send(5.00, {"type": "conversation.item.truncate", "event_id": "c5", "item_id": "item_a2",
                  "content_index": 0, "audio_end_ms": 150})
    s.recv(5.05, {"type": "conversation.item.truncated", "item_id": "item_a2", "content_index": 0,
                  "audio_end_ms": 150})

    # (f) out-of-band classification
    s.send(6.00, {"type": "response.create", "event_id": "c6", "response": {
        "conversation": "none", "metadata": {"topic": "classification"}, "output_modalities": ["text"]}})
    oob_loc = {"response_id": "resp_oob", "item_id": "item_oob", "output_index": 0, "content_index": 0}
    oob = message("item_oob", "assistant", "completed", [{"type": "output_text", "text": "support"}])
    s.recv(6.10, response("resp_oob", conv=None, metadata={"topic": "classification"}),
           out_item("resp_oob", message("item_oob", "assistant", "in_progress", [])))
    s.recv(6.30, {"type": "response.output_text.delta", **oob_loc, "delta": "support"},
           {"type": "response.output_text.done", **oob_loc, "text": "support"}, out_item("resp_oob", oob, True))
    s.recv(6.50, response("resp_oob", "completed", conv=None, output=[oob], metadata={"topic": "classification"},
                          usage={"input_tokens": 300, "output_tokens": 1}))

    # (e) function call, its output, and a spoken answer
    u3 = message("item_u3", "user", "completed", [{"type": "input_text", "text": "Horoscope for Aquarius?"}])
    s.recv(7.00, added(u3, "item_a2"), added(u3, "item_a2", done=True))
    fc_loc = {"response_id": "resp_fc", "item_id": "item_fc", "output_index": 0, "call_id": "call_1"}
    fc0 = {"id": "item_fc", "type": "function_call", "status": "in_progress", "name": "generate_horoscope",
           "call_id": "call_1", "arguments": ""}
    fc = {**fc0, "status": "completed", "arguments": '{"sign":"Aquarius"}'}
    s.recv(7.10, response("resp_fc"), out_item("resp_fc", fc0), added(fc0, "item_u3"))
    s.recv(7.20, {"type": "response.function_call_arguments.delta", **fc_loc, "delta": '{"sign":'},
           {"type": "response.function_call_arguments.delta", **fc_loc, "delta": '"Aquarius"}'})
    s.recv(7.22, {"type": "response.function_call_arguments.done", **fc_loc, "name": "generate_horoscope",
                  "arguments": '{"sign":"Aquarius"}'}, added(fc, "item_u3", done=True),
           out_item("resp_fc", fc, done=True))
    s.recv(7.30, response("resp_fc", "completed", output=[fc], usage=USAGE_TEXT))
    out = {"id": "item_out", "type": "function_call_output", "call_id": "call_1",
           "output": '{"horoscope": "A new friend."}'}
    s.send(7.35, {"type": "conversation.item.create", "event_id": "c7", "item": out})
    s.recv(7.40, added(out, "item_fc"), added(out, "item_fc", done=True))
    a4_loc = {"response_id": "resp_4", "item_id": "item_a4", "output_index": 0, "content_index": 0}
    a4 = message("item_a4", "assistant", "completed", [{"type": "output_audio", "transcript": "A new friend."}])
    s.recv(7.50, response("resp_4", modalities=("audio",)),
           out_item("resp_4", message("item_a4", "assistant", "in_progress", [])),
           added(message("item_a4", "assistant", "in_progress", []), "item_out"))
    s.recv(7.70, {"type": "response.output_audio.delta", **a4_loc, "delta": b64encode_pcm16(ramp(2400))},
           {"type": "response.output_audio_transcript.delta", **a4_loc, "delta": "A new friend."})
    s.recv(7.80, added(a4, "item_out", done=True), out_item("resp_4", a4, done=True))
    s.recv(8.00, response("resp_4", "completed", output=[a4], usage=USAGE_AUDIO, modalities=("audio",)))
    assert s.state.anomalies == []
    return s


def test_items_frame(session: Session) -> None:
    df = items_frame(session.state, session.log)
    assert tuple(df.columns) == ITEM_COLUMNS
    expected = {
        "item_id": ["item_u1", "item_a1", "item_u2", "item_a2", "item_u3", "item_fc", "item_out", "item_a4"],
        "previous_item_id": [None, "item_u1", "item_a1", "item_u2", "item_a2", "item_u3", "item_fc", "item_out"],
        "type": ["message"] * 5 + ["function_call", "function_call_output", "message"],
        "role": ["user", "assistant", "user", "assistant", "user", None, None, "assistant"],
        "status": ["completed", "completed", "completed", "incomplete", "completed", "completed", None,
                   "completed"],
        "text": ["What Prince album sold most?", "Purple Rain.", "Tell me a story.", "Once upon a time.",
                 "Horoscope for Aquarius?", None, None, "A new friend."],
        "audio_ms": [0.0, 0.0, 1000.0, 150.0, 0.0, 0.0, 0.0, 100.0],
        "truncated_at_ms": [NAN, NAN, NAN, 150.0, NAN, NAN, NAN, NAN],
        "call_id": [None] * 5 + ["call_1", "call_1", None],
        "name": [None] * 5 + ["generate_horoscope", None, None],
        "arguments": [None] * 5 + ['{"sign":"Aquarius"}', None, None],
        "output": [None] * 6 + ['{"horoscope": "A new friend."}', None],
        "response_id": [None, "resp_1", None, "resp_2", None, "resp_fc", None, "resp_4"],
        # first received event carrying the id: item.added, output_item.added, or speech_started
        "created_at": [1.10, 1.201, 3.00, 4.101, 7.00, 7.101, 7.40, 7.501],
    }
    floats = {"audio_ms", "truncated_at_ms", "created_at"}
    assert df["connection"].dtype == "Int64" and df["connection"].isna().all()  # no connections given
    pd.testing.assert_frame_equal(df.drop(columns=["connection"]), pd.DataFrame(
        {k: pd.Series(v, dtype=float if k in floats else object) for k, v in expected.items()}))
    assert "item_oob" not in set(df["item_id"])  # out-of-band output is not a conversation item


def test_items_frame_is_a_snapshot(session: Session) -> None:
    df = items_frame(session.state)  # without a log: created_at is NaN
    assert df["created_at"].isna().all()
    df.loc[0, "text"] = "changed"
    assert items_frame(session.state).loc[0, "text"] == "What Prince album sold most?"


def test_responses_frame(session: Session) -> None:
    df = responses_frame(session.state, session.log)
    assert tuple(df.columns) == RESPONSE_COLUMNS
    assert list(df["response_id"]) == ["resp_1", "resp_2", "resp_oob", "resp_fc", "resp_4"]
    assert list(df["status"]) == ["completed", "cancelled", "completed", "completed", "completed"]
    assert list(df["reason"]) == [None, "client_cancelled", None, None, None]
    assert list(df["conversation"]) == ["auto", "auto", "none", "auto", "auto"]
    assert list(df["metadata"]) == [None, None, {"topic": "classification"}, None, None]
    assert list(df["output_modalities"]) == [["text"], ["audio"], ["text"], ["text"], ["audio"]]
    assert list(df["text"]) == ["Purple Rain.", "Once upon a time.", "support", "", "A new friend."]
    tokens = df[["input_tokens", "output_tokens", "input_text_tokens", "input_audio_tokens",
                 "output_text_tokens", "output_audio_tokens", "cached_tokens"]]
    assert (tokens.dtypes == "Int64").all()
    assert tokens.iloc[0].tolist() == [120, 7, 120, 0, 7, 0, 64]
    assert tokens.iloc[1].tolist() == [250, 150, 130, 120, 20, 130, 0]
    assert tokens.iloc[2, :2].tolist() == [300, 1] and tokens.iloc[2, 2:].isna().all()
    np.testing.assert_allclose(df["time_to_first_delta"], [0.30, 0.30, 0.20, 0.10, 0.20], atol=1e-9)
    np.testing.assert_allclose(df["time_to_done"], [0.80, 0.70, 0.40, 0.20, 0.50], atol=1e-9)
    # speech_stopped at 4.00 → first audio delta at 4.50; resp_4 answers the tool output, not speech
    np.testing.assert_allclose(df["speech_to_first_audio"], [NAN, 0.50, NAN, NAN, NAN], atol=1e-9)
    assert responses_frame(session.state)["speech_to_first_audio"].isna().all()  # no log, no speech time


def test_events_frame(session: Session) -> None:
    df = events_frame(session.log)
    assert tuple(df.columns) == EVENT_COLUMNS and len(df) == len(session.log)
    assert df["t"].is_monotonic_increasing
    assert df.dtypes.to_dict() == {"t": np.float64, "direction": object, "type": object, "event_id": object,
                                   "response_id": object, "item_id": object, "bytes": np.int64,
                                   "error_code": object}
    sent = df[df["direction"] == "sent"]
    assert list(sent["type"]) == ["conversation.item.create", "response.create", "input_audio_buffer.append",
                                  "response.cancel", "conversation.item.truncate", "response.create",
                                  "conversation.item.create"]
    assert list(sent["event_id"]) == ["c1", "c2", "c3", "c4", "c5", "c6", "c7"]
    append = sent.iloc[2]
    assert append["bytes"] > 144000 and append["item_id"] is None  # its size is kept, its audio is not
    deltas = df[df["type"] == "response.output_audio.delta"]
    assert list(deltas["response_id"]) == ["resp_2", "resp_2", "resp_4"]
    assert set(deltas["item_id"]) == {"item_a2", "item_a4"}
    assert not any(isinstance(v, str) and len(v) > 100 for v in df.to_numpy().ravel())


def test_empty_frames_have_columns_and_dtypes() -> None:
    state, log = ConversationState(), EventLog()
    items, events, responses = items_frame(state, log), events_frame(log), responses_frame(state, log)
    assert items.empty and events.empty and responses.empty
    assert tuple(items.columns) == ITEM_COLUMNS
    assert tuple(events.columns) == EVENT_COLUMNS
    assert tuple(responses.columns) == RESPONSE_COLUMNS
    assert items["audio_ms"].dtype == np.float64 and items["created_at"].dtype == np.float64
    assert items["item_id"].dtype == object
    assert events["t"].dtype == np.float64 and events["bytes"].dtype == np.int64
    assert responses["input_tokens"].dtype == "Int64" and responses["time_to_done"].dtype == np.float64


def test_in_progress_response_has_nan_timings() -> None:
    state = ConversationState()
    state.apply(response("resp_x"), now=1.0)
    row = responses_frame(state).iloc[0]
    assert row["status"] == "in_progress" and row["text"] == ""
    assert math.isnan(row["time_to_first_delta"]) and math.isnan(row["time_to_done"])
    assert pd.isna(row["input_tokens"])
