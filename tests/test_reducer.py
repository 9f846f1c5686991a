"""The conversation reducer: canonical turns (docs/protocol.md §4), client input audio, out-of-band
responses, out-of-order tolerance, recorded fixtures and property tests."""

from __future__ import annotations

import copy
import itertools
from typing import Any

import numpy as np
import pytest
from fixtures_util import fixtures_dir, load_beta_events, load_ga_events
from hypothesis import given, settings
from hypothesis import strategies as st

from realtime_nb.audio import b64encode_pcm16
from realtime_nb.protocol.reducer import ConversationState, ResponseState

Event = dict[str, Any]
needs_fixtures = pytest.mark.skipif(fixtures_dir() is None, reason="recorded fixtures not found")

USAGE = {"total_tokens": 127, "input_tokens": 120, "output_tokens": 7,
         "input_token_details": {"text_tokens": 120, "audio_tokens": 0, "cached_tokens": 64},
         "output_token_details": {"text_tokens": 7, "audio_tokens": 0}}


def ramp(n: int, start: int = 0) -> np.ndarray:
    """Distinct, recognisable int16 samples."""
    return ((np.arange(start, start + n) % 30000) - 15000).astype(np.int16)


def run(state: ConversationState, events: list[Event], t0: float = 100.0) -> None:
    for i, ev in enumerate(events):
        state.apply(ev, now=t0 + i * 0.01)


# -- event builders (GA shapes) --------------------------------------------------------------------------

def user_text(item_id: str, text: str, prev: str | None = None) -> list[Event]:
    item = {"id": item_id, "type": "message", "status": "completed", "role": "user",
            "content": [{"type": "input_text", "text": text}]}
    return [{"type": t, "event_id": f"e_{t}_{item_id}", "previous_item_id": prev, "item": item}
            for t in ("conversation.item.added", "conversation.item.done")]


def response_obj(rid: str, *, conv: str | None = "conv_1", status: str = "in_progress",
                 output: list[Event] | None = None, usage: Any = None, metadata: Any = None,
                 modalities: tuple[str, ...] = ("text",)) -> Event:
    return {"object": "realtime.response", "id": rid, "status": status, "status_details": None,
            "output": output or [], "conversation_id": conv, "output_modalities": list(modalities),
            "max_output_tokens": "inf", "usage": usage, "metadata": metadata}


def assistant(item_id: str, status: str, content: list[Event]) -> Event:
    return {"id": item_id, "type": "message", "status": status, "role": "assistant", "content": content}


def text_response(rid: str, item_id: str, deltas: list[str], *, conv: str | None = "conv_1",
                  prev: str | None = None, metadata: Any = None) -> list[Event]:
    """docs/protocol.md §4(b) from response.created on (in-band), or §4(f) when ``conv`` is None."""
    text = "".join(deltas)
    loc = {"response_id": rid, "item_id": item_id, "output_index": 0, "content_index": 0}
    final = assistant(item_id, "completed", [{"type": "output_text", "text": text}])
    evs: list[Event] = [
        {"type": "response.created", "response": response_obj(rid, conv=conv, metadata=metadata)},
        {"type": "response.output_item.added", "response_id": rid, "output_index": 0,
         "item": assistant(item_id, "in_progress", [])},
    ]
    if conv is not None:
        evs.append({"type": "conversation.item.added", "previous_item_id": prev,
                    "item": assistant(item_id, "in_progress", [])})
    evs.append({"type": "response.content_part.added", **loc, "part": {"type": "text", "text": ""}})
    evs += [{"type": "response.output_text.delta", **loc, "delta": d, "obfuscation": "x"} for d in deltas]
    evs += [{"type": "response.output_text.done", **loc, "text": text},
            {"type": "response.content_part.done", **loc, "part": {"type": "text", "text": text}}]
    if conv is not None:
        evs.append({"type": "conversation.item.done", "previous_item_id": prev, "item": final})
    evs += [{"type": "response.output_item.done", "response_id": rid, "output_index": 0, "item": final},
            {"type": "response.done", "response": response_obj(rid, conv=conv, status="completed",
                                                               output=[final], usage=USAGE,
                                                               metadata=metadata)}]
    return evs


RATE_LIMITS = {"type": "rate_limits.updated",
               "rate_limits": [{"name": "tokens", "limit": 40000, "remaining": 38490, "reset_seconds": 2.2}]}


# -- canonical turns ------------------------------------------------------------------------------------

def test_text_turn() -> None:
    s = ConversationState(strict=True)
    events = [*user_text("item_u", "Hello?"),
              *text_response("resp_1", "item_a", ["Hi", " there", "!"], prev="item_u"), RATE_LIMITS]
    frozen = copy.deepcopy(events)
    run(s, events)
    assert events == frozen
    assert s.conversation.ids() == ["item_u", "item_a"]
    assert [it["role"] for it in s.conversation] == ["user", "assistant"]
    assert s.item_text("item_u") == "Hello?"
    assert s.item_text("item_a") == "Hi there!"
    assert s.conversation.get("item_a")["content"][0]["text"] == "Hi there!"
    r = s.responses["resp_1"]
    assert (r.status, r.usage, r.output_item_ids) == ("completed", USAGE, ["item_a"])
    assert r.full_text() == "Hi there!" and not r.out_of_band
    assert r.created_at is not None and r.first_delta_at is not None and r.done_at is not None
    assert r.created_at < r.first_delta_at < r.done_at and r.first_audio_at is None
    assert s.rate_limits == RATE_LIMITS["rate_limits"]
    assert s.anomalies == [] and not s.unknown_types


def audio_turn(chunks: list[np.ndarray], words: list[str]) -> list[Event]:
    """docs/protocol.md §4(c) from the VAD events to response.done, with real base64 PCM deltas."""
    rid, u, a = "resp_a", "item_u", "item_a"
    loc = {"response_id": rid, "item_id": a, "output_index": 0, "content_index": 0}
    user = {"id": u, "type": "message", "status": "completed", "role": "user",
            "content": [{"type": "input_audio", "transcript": None}]}
    final = assistant(a, "completed", [{"type": "output_audio", "transcript": "".join(words)}])
    evs: list[Event] = [
        {"type": "input_audio_buffer.speech_started", "audio_start_ms": 0, "item_id": u},
        {"type": "input_audio_buffer.speech_stopped", "audio_end_ms": 900, "item_id": u},
        {"type": "input_audio_buffer.committed", "item_id": u, "previous_item_id": None},
        {"type": "conversation.item.added", "previous_item_id": None, "item": user},
        {"type": "conversation.item.done", "previous_item_id": None, "item": user},
        {"type": "response.created", "response": response_obj(rid, modalities=("audio",))},
        {"type": "response.output_item.added", "response_id": rid, "output_index": 0,
         "item": assistant(a, "in_progress", [])},
        {"type": "conversation.item.added", "previous_item_id": u, "item": assistant(a, "in_progress", [])},
        {"type": "response.content_part.added", **loc, "part": {"type": "audio", "transcript": ""}},
    ]
    for chunk, word in itertools.zip_longest(chunks, words):
        if word is not None:
            evs.append({"type": "response.output_audio_transcript.delta", **loc, "delta": word})
        if chunk is not None:
            evs.append({"type": "response.output_audio.delta", **loc, "delta": b64encode_pcm16(chunk)})
    evs += [
        {"type": "response.output_audio.done", **loc},
        {"type": "response.output_audio_transcript.done", **loc, "transcript": "".join(words)},
        {"type": "response.content_part.done", **loc,
         "part": {"type": "audio", "transcript": "".join(words)}},
        {"type": "conversation.item.done", "previous_item_id": u, "item": final},
        {"type": "response.output_item.done", "response_id": rid, "output_index": 0, "item": final},
        {"type": "response.done", "response": response_obj(rid, status="completed", output=[final],
                                                           usage=USAGE, modalities=("audio",))},
        {"type": "conversation.item.input_audio_transcription.delta", "item_id": u, "delta": "Tell me"},
        {"type": "conversation.item.input_audio_transcription.completed", "item_id": u,
         "content_index": 0, "transcript": "Tell me a story.",
         "usage": {"type": "duration", "seconds": 1}},
    ]
    return evs


def test_audio_turn_truncate_delete() -> None:
    s = ConversationState(strict=True)
    chunks = [ramp(n, start=k * 1000) for k, n in enumerate([2400, 4800, 1200, 3600])]
    run(s, audio_turn(chunks, ["Once", " upon", " a time."]))
    pcm = s.item_audio("item_a")
    assert len(pcm) == sum(map(len, chunks)) == s.conversation.audio_samples("item_a")
    np.testing.assert_array_equal(pcm, np.concatenate(chunks))
    np.testing.assert_array_equal(s.responses["resp_a"].audio_pcm(s.conversation), pcm)
    r = s.responses["resp_a"]
    assert r.full_transcript() == "Once upon a time." == s.item_text("item_a")
    assert r.first_audio_at is not None and r.first_delta_at is not None
    assert s.transcripts["item_u"] == "Tell me a story." == s.item_text("item_u")
    assert s.conversation.get("item_u")["content"][0]["transcript"] == "Tell me a story."

    s.apply({"type": "conversation.item.truncated", "item_id": "item_a", "content_index": 0,
             "audio_end_ms": 150})
    assert len(s.item_audio("item_a")) == 150 * 24 and s.truncated_at_ms == {"item_a": 150}
    np.testing.assert_array_equal(s.item_audio("item_a"), np.concatenate(chunks)[:3600])

    s.apply({"type": "conversation.item.deleted", "item_id": "item_u"})
    assert s.conversation.ids() == ["item_a"]
    assert len(s.item_audio("item_u")) == 0


def test_audio_delta_with_predecoded_pcm_and_pcmu_session() -> None:
    s = ConversationState(strict=True)
    s.apply({"type": "session.created", "session": {"type": "realtime", "audio": {
        "output": {"format": {"type": "audio/pcmu"}}}}})
    loc = {"response_id": "r", "item_id": "i", "output_index": 0, "content_index": 0}
    given_pcm = ramp(480)
    s.apply({"type": "response.output_audio.delta", **loc, "delta": "!!not base64!!"}, pcm=given_pcm)
    s.apply({"type": "response.output_audio.delta", **loc, "delta": "//////////8="})  # 8 µ-law bytes
    assert len(s.item_audio("i")) == 480 + 8 * 3  # 8 kHz G.711 upsampled to 24 kHz
    np.testing.assert_array_equal(s.item_audio("i")[:480], given_pcm)



def test_state_shares_nothing_with_the_events_or_pcm_it_was_given() -> None:
    """Handlers get the event after the reducer; whatever they change must not reach the stored state."""
    s = ConversationState(strict=True)
    events = [*user_text("item_u", "Hello?"),
              *text_response("resp_1", "item_a", ["Hi"], prev="item_u", metadata={"topic": ["a"]}), RATE_LIMITS]
    s.apply({"type": "session.created", "session": {"type": "realtime", "audio": {"output": {"voice": "alloy"}}}})
    run(s, events)
    loc = {"response_id": "resp_1", "item_id": "item_a", "output_index": 0, "content_index": 0}
    given_pcm = ramp(480)
    s.apply({"type": "response.output_audio.delta", **loc, "delta": ""}, pcm=given_pcm)
    before = (s.conversation.snapshot(), copy.deepcopy(s.responses["resp_1"].raw), s.rate_limits,
              s.responses["resp_1"].metadata, s.responses["resp_1"].usage, s.item_audio("item_a").copy())
    def wreck(value: Any) -> None:  # what a careless handler might do, all the way down
        for v in list(value.values() if isinstance(value, dict) else value):
            if isinstance(v, (dict, list)):
                wreck(v)
        value.clear()

    for ev in events:
        wreck({k: v for k, v in ev.items() if k != "type"})
    given_pcm[:] = 0
    after = (s.conversation.snapshot(), s.responses["resp_1"].raw, s.rate_limits,
             s.responses["resp_1"].metadata, s.responses["resp_1"].usage, s.item_audio("item_a"))
    assert after[:5] == before[:5] and after[0][1]["content"][0]["text"] == "Hi"
    np.testing.assert_array_equal(after[5], before[5])
    assert after[5].any()


def test_take_pcm_keeps_the_given_array_else_a_copy() -> None:
    s = ConversationState(strict=True)
    loc = {"response_id": "r", "item_id": "i", "output_index": 0, "content_index": 0}
    s.apply({"type": "response.created", "response": response_obj("r")})
    kept, copied, odd = ramp(240), ramp(240, 240), ramp(240, 480).astype(np.int32)
    s.apply({"type": "response.output_audio.delta", **loc, "delta": ""}, pcm=kept, take_pcm=True)
    s.apply({"type": "response.output_audio.delta", **loc, "delta": ""}, pcm=copied)
    s.apply({"type": "response.output_audio.delta", **loc, "delta": ""}, pcm=odd, take_pcm=True)  # converted
    stored = s.conversation.audio_chunks("i")
    assert stored[0] is kept and not np.shares_memory(stored[1], copied) and stored[2].dtype == np.int16
    np.testing.assert_array_equal(s.item_audio("i"), ramp(720))


def test_response_audio_is_a_new_array() -> None:
    s = ConversationState(strict=True)
    loc = {"response_id": "r", "item_id": "i", "output_index": 0, "content_index": 0}
    s.apply({"type": "response.created", "response": response_obj("r")})
    for k in range(3):
        s.apply({"type": "response.output_audio.delta", **loc, "delta": b64encode_pcm16(ramp(240, k * 240))})
    pcm = s.responses["r"].audio_pcm(s.conversation)
    np.testing.assert_array_equal(pcm, ramp(720))
    pcm[:] = 0  # the caller's to change
    np.testing.assert_array_equal(s.item_audio("i"), ramp(720))
    assert not np.shares_memory(s.responses["r"].audio_pcm(s.conversation), s.item_audio("i"))


# -- client input audio ---------------------------------------------------------------------------------

def test_input_buffer_vad_slice_manual_commit_and_clear() -> None:
    s = ConversationState(strict=True)
    appended = ramp(48000)
    for part in np.split(appended, [10000, 30000]):  # three chunks, cuts not on the VAD marks
        s.apply_client({"type": "input_audio_buffer.append", "audio": b64encode_pcm16(part)})
    s.apply({"type": "input_audio_buffer.speech_started", "audio_start_ms": 500, "item_id": "u1"})
    s.apply({"type": "input_audio_buffer.speech_stopped", "audio_end_ms": 1500, "item_id": "u1"})
    s.apply({"type": "input_audio_buffer.committed", "item_id": "u1", "previous_item_id": None})
    s.apply({"type": "conversation.item.added", "previous_item_id": None, "item": {
        "id": "u1", "type": "message", "role": "user", "content": [{"type": "input_audio"}]}})
    np.testing.assert_array_equal(s.item_audio("u1"), appended[12000:36000])

    # manual commit, no VAD: what was left after the cut plus what comes next
    more = ramp(2400, start=5)
    s.apply_client({"type": "input_audio_buffer.append"}, pcm=more)
    s.apply_client({"type": "input_audio_buffer.commit"})
    s.apply({"type": "input_audio_buffer.committed", "item_id": "u2", "previous_item_id": "u1"})
    np.testing.assert_array_equal(s.item_audio("u2"), np.concatenate([appended[36000:], more]))

    # clear drops the buffer; the server's ``cleared`` must not drop audio appended after it
    s.apply_client({"type": "input_audio_buffer.append"}, pcm=ramp(1000))
    s.apply_client({"type": "input_audio_buffer.clear"})
    after = ramp(2400, start=77)
    s.apply_client({"type": "input_audio_buffer.append"}, pcm=after)
    s.apply({"type": "input_audio_buffer.cleared"})
    s.apply({"type": "input_audio_buffer.committed", "item_id": "u3", "previous_item_id": "u2"})
    np.testing.assert_array_equal(s.item_audio("u3"), after)

    # a server-side clear the client did not send drops everything too
    s.apply_client({"type": "input_audio_buffer.append"}, pcm=ramp(1000))
    s.apply({"type": "input_audio_buffer.cleared"})
    s.apply({"type": "input_audio_buffer.committed", "item_id": "u4"})
    assert len(s.item_audio("u4")) == 0
    assert len(s._input._chunks) == 0  # consumed chunks are dropped


def test_client_created_audio_items_get_their_audio() -> None:
    s = ConversationState(strict=True)
    a, b = ramp(2400), ramp(4800, start=9)
    s.apply_client({"type": "conversation.item.create", "item": {
        "type": "message", "role": "user",
        "content": [{"type": "input_audio", "audio": b64encode_pcm16(a)}]}})
    s.apply_client({"type": "conversation.item.create", "item": {
        "id": "mine", "type": "message", "role": "user", "content": [{"type": "input_audio", "audio": "x"}]}},
        pcm=b)
    wire = {"type": "message", "role": "user", "status": "completed",
            "content": [{"type": "input_audio", "transcript": None}]}
    s.apply({"type": "conversation.item.added", "item": {**wire, "id": "item_srv"}})
    s.apply({"type": "conversation.item.added", "item": {**wire, "id": "mine"}})
    np.testing.assert_array_equal(s.item_audio("item_srv"), a)
    np.testing.assert_array_equal(s.item_audio("mine"), b)


def test_retrieved_item_audio_is_decoded_and_stripped() -> None:
    s = ConversationState(strict=True)
    pcm = ramp(1200)
    ev = {"type": "conversation.item.retrieved", "item": {
        "id": "i1", "type": "message", "role": "assistant", "status": "completed",
        "content": [{"type": "output_audio", "audio": b64encode_pcm16(pcm), "transcript": "hey"}]}}
    frozen = copy.deepcopy(ev)
    s.apply(ev)
    assert ev == frozen
    np.testing.assert_array_equal(s.item_audio("i1"), pcm)
    assert "audio" not in s.conversation.get("i1")["content"][0]
    assert s.item_text("i1") == "hey"


# -- out-of-band ----------------------------------------------------------------------------------------

def test_out_of_band_response_stays_out_of_the_conversation() -> None:
    s = ConversationState(strict=True)
    run(s, user_text("item_u", "hi"))
    run(s, text_response("resp_oob", "item_x", ["sum", "mary"], conv=None, metadata={"topic": "x"}))
    assert s.conversation.ids() == ["item_u"]
    r = s.responses["resp_oob"]
    assert r.out_of_band and r.metadata == {"topic": "x"} and r.status == "completed"
    assert r.full_text() == "summary" == s.item_text("item_x")
    assert r.items["item_x"]["content"][0]["text"] == "summary"


def test_concurrent_out_of_band_responses_are_routed_by_response_id() -> None:
    s = ConversationState(strict=True)
    one = text_response("r1", "i1", ["a", "b", "c"], conv=None, metadata={"n": "1"})
    two = text_response("r2", "i2", ["x", "y"], conv=None, metadata={"n": "2"})
    mixed = [ev for pair in itertools.zip_longest(one, two) for ev in pair if ev is not None]
    loc = {"output_index": 0, "content_index": 0}
    mixed += [{"type": "response.output_audio.delta", "response_id": "r1", "item_id": "i1", **loc,
               "delta": b64encode_pcm16(ramp(240))}]
    run(s, mixed)
    assert len(s.conversation) == 0
    assert (s.responses["r1"].full_text(), s.responses["r2"].full_text()) == ("abc", "xy")
    assert s.responses["r1"].metadata == {"n": "1"} and s.responses["r2"].metadata == {"n": "2"}
    assert len(s.item_audio("i1")) == 240 and len(s.responses["r1"].audio_pcm()) == 240


def test_audio_before_response_created_moves_to_the_oob_response() -> None:
    s = ConversationState()
    loc = {"response_id": "r", "item_id": "i", "output_index": 0, "content_index": 0}
    s.apply({"type": "response.output_audio.delta", **loc, "delta": b64encode_pcm16(ramp(100))})
    s.apply({"type": "response.created", "response": response_obj("r", conv=None)})
    s.apply({"type": "response.output_audio.delta", **loc, "delta": b64encode_pcm16(ramp(50, 100))})
    np.testing.assert_array_equal(s.item_audio("i"), ramp(150))
    assert s.conversation.audio_samples("i") == 0 and s.anomalies


# -- function calls -------------------------------------------------------------------------------------

def test_function_call_turn() -> None:
    s = ConversationState(strict=True)
    rid, fc = "resp_f", "item_fc"
    loc = {"response_id": rid, "item_id": fc, "output_index": 0, "call_id": "call_1"}
    started = {"id": fc, "type": "function_call", "status": "in_progress", "name": "weather",
               "call_id": "call_1", "arguments": ""}
    args = '{"city": "Paris"}'
    done = {**started, "status": "completed", "arguments": args}
    run(s, [*user_text("item_u", "weather?"),
            {"type": "response.created", "response": response_obj(rid)},
            {"type": "response.output_item.added", "response_id": rid, "output_index": 0, "item": started},
            {"type": "conversation.item.added", "previous_item_id": "item_u", "item": started},
            *[{"type": "response.function_call_arguments.delta", **loc, "delta": d}
              for d in ['{"ci', 'ty": ', '"Par']]])
    assert s.responses[rid].arguments[fc] == '{"city": "Par'
    assert s.responses[rid].first_delta_at is not None
    run(s, [{"type": "response.function_call_arguments.done", **loc, "name": "weather", "arguments": args},
            {"type": "conversation.item.done", "previous_item_id": "item_u", "item": done},
            {"type": "response.output_item.done", "response_id": rid, "output_index": 0, "item": done},
            {"type": "response.done", "response": response_obj(rid, status="completed", output=[done])}])
    assert s.responses[rid].arguments[fc] == args
    assert s.conversation.get(fc)["arguments"] == args and s.conversation.ids() == ["item_u", fc]


# -- out-of-order tolerance -----------------------------------------------------------------------------

def test_out_of_order_events_are_kept() -> None:
    s = ConversationState(strict=True)
    loc = {"response_id": "r", "item_id": "a", "output_index": 0, "content_index": 0}
    s.apply({"type": "conversation.item.input_audio_transcription.completed", "item_id": "u",
             "content_index": 0, "transcript": "early"})
    s.apply({"type": "response.output_text.delta", **loc, "delta": "He"})
    s.apply({"type": "response.output_text.delta", **loc, "delta": "y"})
    user = {"id": "u", "type": "message", "role": "user",
            "content": [{"type": "input_audio", "transcript": None}]}
    s.apply({"type": "conversation.item.done", "item": user})  # done before added
    s.apply({"type": "conversation.item.added", "item": {**user, "status": "in_progress"}})
    assert s.conversation.get("u")["content"][0]["transcript"] == "early"
    assert "status" not in s.conversation.get("u")  # the late ``added`` did not overwrite ``done``
    s.apply({"type": "conversation.item.added", "previous_item_id": "nowhere",
             "item": assistant("a", "in_progress", [])})
    assert s.conversation.ids() == ["u", "a"] and s.item_text("a") == "Hey"
    s.apply({"type": "response.created", "response": response_obj("r")})
    assert s.responses["r"].output_item_ids == ["a"] and s.responses["r"].full_text() == "Hey"
    assert any("before response.created" in a for a in s.anomalies)
    assert any("nowhere" in a for a in s.anomalies)
    # a repeated item with a known previous_item_id moves into place, keeping its audio
    s.conversation.set_audio("a", ramp(10))
    s.apply({"type": "conversation.item.done", "previous_item_id": "root",
             "item": assistant("a", "completed", [])})
    assert s.conversation.ids() == ["a", "u"] and len(s.item_audio("a")) == 10


def test_unknown_and_malformed_events_do_not_raise() -> None:
    s = ConversationState()
    s.apply({"type": "scooby.dooby.doo"})
    s.apply({"no": "type"})
    s.apply({"type": "response.output_text.delta"})  # missing ids
    s.apply({"type": "error", "error": {"type": "invalid_request_error", "code": "invalid_value",
                                        "message": "nope"}})
    assert s.unknown_types["scooby.dooby.doo"] == 1 and sum(s.unknown_types.values()) == 2
    assert any("malformed" in a for a in s.anomalies)
    assert s.errors[0]["code"] == "invalid_value"


# -- recorded fixtures ----------------------------------------------------------------------------------

@needs_fixtures
def test_ga_fixture_replay() -> None:
    events = load_ga_events()
    frozen = copy.deepcopy(events)
    s = ConversationState()
    run(s, events)
    assert events == frozen
    assert s.session is not None and s.session["audio"]["output"]["voice"] == "alloy"
    assert s.session["instructions"].startswith("You are a polite AI assistant")  # the later update
    user = "item_Ct1OXLqYLre7VW2Bz9Eoy"
    assert user in s.conversation and s.conversation.get(user)["role"] == "user"
    assert s.speech_ms[user] == {"audio_start_ms": 1236, "audio_end_ms": 3808}
    # two assistant items, from two runs: one reaches the conversation through response.done
    assert "item_CsZyLdZ3sHZ2DniSNrTKs" in s.conversation
    assert s.conversation.get("item_CsZyLdZ3sHZ2DniSNrTKs")["role"] == "assistant"
    assert "item_Ct1OZd4ZkrcbhoRueeC2O" in s.responses["resp_Ct1OZ5ukpGEZNeUWx1iOH"].items
    assert s.conversation.ids()[0] == user and "item_Ct1OZd4ZkrcbhoRueeC2O" in s.conversation
    done = s.responses["resp_CsZyL5IuqSgPEut0cI82K"]
    assert done.status == "completed" and done.usage is not None and done.usage["total_tokens"] > 0
    assert s.item_text("item_CsZyLdZ3sHZ2DniSNrTKs").startswith("Sure! I'd be happy")
    assert s.rate_limits == [{"name": "tokens", "limit": 40000, "remaining": 38490, "reset_seconds": 2.265}]
    assert not s.unknown_types and not s.errors
    assert all("malformed" not in a for a in s.anomalies)
    for item in s.conversation.snapshot():
        assert all("audio" not in p for p in item.get("content", []))


@needs_fixtures
def test_beta_recording_replay() -> None:
    events = load_beta_events()
    assert events[0]["type"] == "response.created" and events[-1]["type"] == "response.done"
    s = ConversationState()
    run(s, events)
    deltas = "".join(e["delta"] for e in events if e["type"] == "response.text.delta")
    rid, iid = "resp_C1PSbsyhar4EpjNZg9fkB", "item_C1PSbur7hgTONg4H8lKhl"
    r = s.responses[rid]
    assert r.full_text() == deltas == s.item_text(iid)
    assert deltas.startswith("{\n") and '"word": "pending"' in deltas
    assert r.status == "completed" and r.usage is not None and r.usage["total_tokens"] == 151
    assert r.output_modalities == ["text"] and r.metadata is not None
    assert s.conversation.ids() == [iid] and not s.unknown_types
    assert all("malformed" not in a for a in s.anomalies)


# -- properties -----------------------------------------------------------------------------------------

texts = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=40)


@st.composite
def split(draw: st.DrawFn, text: str) -> list[str]:
    cuts = sorted(draw(st.lists(st.integers(0, len(text)), max_size=6)))
    bounds = [0, *cuts, len(text)]
    return [text[a:b] for a, b in itertools.pairwise(bounds)]


@st.composite
def two_oob_streams(draw: st.DrawFn) -> tuple[dict[str, str], list[Event]]:
    """Two out-of-band text responses (one with a second, function-call item), interleaved at random,
    with random repeats of their ``.done`` events."""
    sources: dict[str, str] = {}
    streams: list[list[Event]] = []
    for n in (1, 2):
        text = draw(texts)
        sources[f"i{n}"] = text
        streams.append(text_response(f"r{n}", f"i{n}", draw(split(text)), conv=None))
    args = draw(texts)
    sources["f2"] = args
    loc = {"response_id": "r2", "item_id": "f2", "output_index": 1, "call_id": "c"}
    streams[1][-1:-1] = [{"type": "response.function_call_arguments.delta", **loc, "delta": d}
                         for d in draw(split(args))]
    streams[1][-1:-1] = [{"type": "response.function_call_arguments.done", **loc, "arguments": args}]
    merged: list[Event] = []
    queues = [list(s) for s in streams]
    while any(queues):
        q = draw(st.sampled_from([q for q in queues if q]))
        ev = q.pop(0)
        merged.append(ev)
        if ev["type"].endswith(".done") and draw(st.booleans()):
            merged.append(copy.deepcopy(ev))
    return sources, merged


@settings(max_examples=150, deadline=None)
@given(two_oob_streams())
def test_property_interleaved_oob_text_matches_source(case: tuple[dict[str, str], list[Event]]) -> None:
    sources, events = case
    frozen = copy.deepcopy(events)
    s = ConversationState(strict=True)
    run(s, events)
    assert events == frozen
    assert s.responses["r1"].text["i1"] == sources["i1"] == s.item_text("i1")
    assert s.responses["r2"].text["i2"] == sources["i2"]
    assert s.responses["r2"].arguments["f2"] == sources["f2"]
    assert s.responses["r2"].output_item_ids == ["i2", "f2"]
    assert len(s.conversation) == 0 and all(r.status == "completed" for r in s.responses.values())


@settings(max_examples=150, deadline=None)
@given(st.data(), texts, st.booleans())
def test_property_any_permutation_does_not_crash(data: st.DataObject, text: str, oob: bool) -> None:
    events = text_response("r", "i", data.draw(split(text)), conv=None if oob else "conv_1")
    events.insert(0, user_text("u", "q")[0])
    events = data.draw(st.permutations(events))
    frozen = copy.deepcopy(events)
    s = ConversationState(strict=True)
    for ev in events:
        s.apply(ev)
    assert events == frozen
    r = s.responses["r"]
    assert r.status == "completed" and r.out_of_band == oob
    # the done event is authoritative, whatever the order of the deltas around it
    assert r.text["i"] == text and ("i" in s.conversation) != oob


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=30), st.dictionaries(st.text(max_size=8), st.integers() | st.text(max_size=8),
                                             max_size=4))
def test_property_unknown_types_never_raise(etype: str, payload: dict[str, Any]) -> None:
    s = ConversationState()
    ev = {**payload, "type": etype}
    frozen = copy.deepcopy(ev)
    s.apply(ev)
    assert ev == frozen
    if etype not in ConversationState._DISPATCH:
        assert sum(s.unknown_types.values()) <= 1


def test_response_state_defaults() -> None:
    r = ResponseState("resp_x")
    assert r.status == "in_progress" and not r.out_of_band and r.full_text() == ""
    assert r.audio_pcm().dtype == np.int16 and len(r.audio_pcm()) == 0
