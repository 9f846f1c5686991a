"""The session's append-only event log: extracted columns, nothing else, thread-safe appends."""

from __future__ import annotations

import threading
import tracemalloc
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from realtime_nb.audio import b64encode_pcm16
from realtime_nb.client._eventlog import COLUMNS, EventLog, EventRow


def test_columns_are_extracted() -> None:
    log = EventLog()
    log.record(0.0, "received", {"type": "session.created", "event_id": "event_1", "session": {}}, 900)
    log.record(0.1, "sent", {"type": "conversation.item.create", "event_id": "c1",
                             "item": {"id": "item_u", "type": "message"}}, 150)
    log.record(0.2, "received", {"type": "response.created", "event_id": "event_2",
                                 "response": {"id": "resp_1", "output": []}}, 300)
    log.record(0.3, "received", {"type": "response.output_text.delta", "event_id": "event_3",
                                 "response_id": "resp_1", "item_id": "item_a", "delta": "Hi"}, 120)
    log.record(0.4, "received", {"type": "response.output_item.added", "event_id": "event_4",
                                 "response_id": "resp_1", "item": {"id": "item_b"}}, 200)
    assert len(log) == 5
    assert list(log.rows()) == [
        EventRow(0.0, "received", "session.created", "event_1", None, None, 900, None),
        EventRow(0.1, "sent", "conversation.item.create", "c1", None, "item_u", 150, None),
        EventRow(0.2, "received", "response.created", "event_2", "resp_1", None, 300, None),
        EventRow(0.3, "received", "response.output_text.delta", "event_3", "resp_1", "item_a", 120, None),
        EventRow(0.4, "received", "response.output_item.added", "event_4", "resp_1", "item_b", 200, None),
    ]
    assert tuple(log.columns()) == COLUMNS == EventRow._fields
    # created_at for items comes from received events only
    assert log.first_seen_items() == {"item_a": 0.3, "item_b": 0.4}
    assert log.first_seen("item_u") is None and log.first_seen_responses() == {"resp_1": 0.2}


def test_errors_keep_server_event_id_and_code() -> None:
    log = EventLog()
    row = log.record(1.0, "received", {
        "type": "error", "event_id": "event_srv",
        "error": {"type": "invalid_request_error", "code": "input_audio_buffer_commit_empty",
                  "message": "buffer too small", "param": None, "event_id": "my_commit"}}, 200)
    log.record(1.1, "received", {"type": "error", "event_id": "event_srv2",
                                 "error": {"type": "server_error", "code": None, "message": "x"}})
    log.record(1.2, "received", {"type": "conversation.item.input_audio_transcription.failed",
                                 "event_id": "e3", "item_id": "item_u",
                                 "error": {"type": "transcription_error", "code": "audio_unintelligible"}})
    log.record(1.3, "received", {"type": "response.done", "event_id": "e4", "response": {
        "id": "resp_9", "status": "failed",
        "status_details": {"type": "failed", "error": {"type": "server_error", "code": "rate_limit"}}}})
    rows = list(log.rows())
    assert rows[0].event_id == "event_srv" and rows[0].error_code == "input_audio_buffer_commit_empty"
    assert log.error_event_ids == {row: "my_commit"}
    assert rows[1].error_code == "server_error"  # no code: the error type
    assert rows[2].error_code == "audio_unintelligible" and rows[2].item_id == "item_u"
    assert rows[3].error_code == "rate_limit" and rows[3].response_id == "resp_9"


def test_notes() -> None:
    log = EventLog()
    row = log.note(2.0, "handler_error", "ValueError: boom in on_delta", code="ValueError")
    assert list(log.rows()) == [EventRow(2.0, "local", "handler_error", None, None, None, 0, "ValueError")]
    assert log.messages == {row: "ValueError: boom in on_delta"}
    with pytest.raises(ValueError, match="direction"):
        log.record(0, "inbound", {"type": "x"})


def test_only_named_columns_are_stored() -> None:
    """Audio, base64 and stray secrets in unexpected fields never reach the log."""
    secret = "sk-proj-" + "A1b2C3d4" * 6
    audio = b64encode_pcm16([1000] * 4800)
    log = EventLog()
    log.record(0.0, "sent", {"type": "input_audio_buffer.append", "event_id": "c1", "audio": audio},
               len(audio) + 50)
    log.record(0.1, "received", {"type": "response.output_audio.delta", "event_id": "e1", "response_id": "r",
                                 "item_id": "i", "delta": audio, "authorization": f"Bearer {secret}"}, 9000)
    log.record(0.2, "sent", {"type": "session.update", "session": {"api_key": secret,
                                                                   "instructions": secret}}, 10)
    stored = [v for col in log.columns().values() for v in col]
    stored += list(log.messages.values()) + list(log.error_event_ids.values())
    for value in stored:
        assert not (isinstance(value, str) and (secret in value or "sk-" in value or len(value) > 64))
    assert audio not in stored


def test_last_time() -> None:
    log = EventLog()
    for t in (1.0, 2.0, 3.0):
        log.record(t, "received", {"type": "input_audio_buffer.speech_stopped", "item_id": f"u{t}"})
        log.record(t + 0.5, "received", {"type": "response.created", "response": {"id": f"r{t}"}})
    log.record(9.0, "sent", {"type": "input_audio_buffer.speech_stopped"})  # not a received one
    stopped = "input_audio_buffer.speech_stopped"
    assert log.last_time(stopped) == 3.0
    assert log.last_time(stopped, before=2.5) == 2.0
    assert log.last_time(stopped, before=2.0) == 2.0  # the same clock tick counts as before
    assert log.last_time(stopped, before=0.5) is None
    assert log.last_time(stopped, direction="sent") == 9.0
    assert log.last_time("nothing.like.this") is None
    log.record(1.7, "received", {"type": stopped})  # a clock that went backwards: still correct
    assert log.last_time(stopped, before=1.8) == 1.7 and log.last_time(stopped) == 3.0


def test_thread_safe_appends() -> None:
    log = EventLog()

    def writer(k: int) -> None:
        for j in range(2000):
            log.record(j * 0.001, "received", {"type": f"t{k}", "event_id": f"e{k}_{j}",
                                               "response_id": f"r{j % 7}", "item_id": f"i{j}"}, j)

    threads = [threading.Thread(target=writer, args=(k,)) for k in range(8)]
    for th in threads:
        th.start()
    reads = [len(list(log.rows())) for _ in range(20)]  # reading while writing is fine
    for th in threads:
        th.join()
    assert len(log) == 16000 and all(0 <= n <= 16000 for n in reads)
    cols = log.columns()
    assert all(len(v) == 16000 for v in cols.values())
    assert len(set(cols["event_id"])) == 16000


def test_memory_per_row_is_small() -> None:
    """An hour at 50 events/s is ~180k rows; check the per-row cost on 20k realistic rows."""
    n = 20_000
    events = [{"type": "response.output_audio.delta", "event_id": f"event_{k:020d}", "response_id": "resp_1",
               "item_id": "item_1", "delta": "AAAA"} for k in range(n)]
    log = EventLog()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    for k, ev in enumerate(events):
        log.record(k * 0.02, "received", ev, 4000)
    used = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    # event ids are the events' own strings (shared, not copied); the log adds a few pointers per row
    assert used / n < 120, used / n


# The extraction as first written (helpers per field): the inlined receive-path version must agree with it.
def _ref_str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _ref_nested(event: dict[str, Any], key: str, obj: str) -> str | None:
    found = _ref_str(event.get(key))
    if found is None and isinstance(event.get(obj), dict):
        found = _ref_str(event[obj].get("id"))
    return found


def _ref_code(event: dict[str, Any]) -> str | None:
    err = event.get("error")
    if not isinstance(err, dict):
        resp = event.get("response")
        details = resp.get("status_details") if isinstance(resp, dict) else None
        err = details.get("error") if isinstance(details, dict) else None
    if isinstance(err, dict):
        return _ref_str(err.get("code")) or _ref_str(err.get("type"))
    return None


_odd = st.none() | st.integers() | st.text(max_size=3) | st.sampled_from(["", "x", "resp_1", "item_1"])
_obj = st.none() | st.text(max_size=2) | st.dictionaries(st.sampled_from(["id", "code", "type", "event_id",
                                                                          "status_details", "error"]),
                                                         _odd | st.fixed_dictionaries({}, optional={
                                                             "error": st.dictionaries(st.sampled_from(
                                                                 ["code", "type"]), _odd)}), max_size=4)
_events = st.dictionaries(st.sampled_from(["type", "event_id", "response_id", "item_id", "response", "item",
                                           "error"]), _odd | _obj, max_size=7)


@settings(max_examples=400, deadline=None)
@given(_events)
def test_property_record_extracts_like_the_reference(event: dict[str, Any]) -> None:
    log = EventLog()
    log.record(1.0, "received", event, 10)
    row = next(log.rows())
    etype = event.get("type")
    assert row == EventRow(1.0, "received", etype if isinstance(etype, str) else repr(etype),
                           _ref_str(event.get("event_id")), _ref_nested(event, "response_id", "response"),
                           _ref_nested(event, "item_id", "item"), 10, _ref_code(event))
    err = event.get("error")
    caused_by = err.get("event_id") if isinstance(err, dict) else None
    assert log.error_event_ids == ({0: caused_by} if isinstance(caused_by, str) else {})
