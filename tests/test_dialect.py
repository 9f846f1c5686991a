"""Beta ⇄ GA dialect translation (``realtime_nb.protocol.dialect``), checked against docs/protocol.md §6,
the seed guide's own payloads, the beta recording, the GA frames, and the openai SDK as schema oracle.

§6.1 rows that are transport, not payload (the ``OpenAI-Beta`` header, the subprotocol, the 30 → 60 min
session length, the REST and WebRTC endpoints) are not this module's job; the local server tests cover
the header and the session length. Every other row of §6.1 and §6.2 has an assertion below.
"""

from __future__ import annotations

import copy
import doctest
from typing import Any

import pytest
from fixtures_util import fixtures_dir, load_beta_events, load_ga_events
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, TypeAdapter

from realtime_nb.protocol import dialect as d
from realtime_nb.protocol.events import SERVER_TYPES, VOICES

needs_fixtures = pytest.mark.skipif(fixtures_dir() is None, reason="recorded fixtures not found")
PCM = {"type": "audio/pcm", "rate": 24000}

# -- the SDK as schema oracle ----------------------------------------------------------------------

rt = pytest.importorskip("openai.types.realtime")
beta_rt = pytest.importorskip("openai.types.beta.realtime")
GA_CLIENT = TypeAdapter(rt.RealtimeClientEvent)
GA_SERVER = TypeAdapter(rt.RealtimeServerEvent)
GA_SESSION = TypeAdapter(rt.RealtimeSessionCreateRequest)
BETA_SERVER = TypeAdapter(beta_rt.RealtimeServerEvent)


def extras(value: Any, path: str = "") -> list[str]:
    """Every field the SDK model kept as an unmodelled extra: our translation invented or left it."""
    found: list[str] = []
    if isinstance(value, BaseModel):
        found += [f"{path}.{k}" for k in (value.model_extra or {})]
        for name in type(value).model_fields:
            found += extras(getattr(value, name), f"{path}.{name}")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            found += extras(v, f"{path}[{i}]")
    return found


def test_oracle_notices_unknown_fields() -> None:
    assert extras(GA_SESSION.validate_python({"type": "realtime", "voice": "ash"})) == [".voice"]
    nested = {"type": "realtime", "audio": {"output": {"voice": "ash", "temperature": 1}}}
    assert extras(GA_SESSION.validate_python(nested)) == [".audio.output.temperature"]


def assert_ga_client_event(event: dict[str, Any]) -> None:
    """Valid GA client event with no unknown fields (item references are checked on their own: the
    SDK's pydantic model for response.create leaves them out)."""
    event = copy.deepcopy(event)
    items = (event.get("response") or {}).get("input")
    if isinstance(items, list):
        for ref in [i for i in items if i.get("type") == "item_reference"]:
            assert extras(rt.ResponseItemReference.model_validate(ref)) == []
        event["response"]["input"] = [i for i in items if i.get("type") != "item_reference"]
    assert extras(GA_CLIENT.validate_python(event)) == []


def assert_ga_session(session: dict[str, Any]) -> None:
    assert extras(GA_SESSION.validate_python(session)) == []


# -- §6.1 sessions ---------------------------------------------------------------------------------

VAD = {"type": "server_vad", "threshold": 0.5, "prefix_padding_ms": 300, "silence_duration_ms": 500,
       "create_response": False, "interrupt_response": False}
SESSION_ROWS = [
    ({"modalities": ["text", "audio"]}, {"output_modalities": ["audio"]}),
    ({"modalities": ["audio", "text"]}, {"output_modalities": ["audio"]}),
    ({"modalities": ["text"]}, {"output_modalities": ["text"]}),
    ({"voice": "verse"}, {"audio": {"output": {"voice": "verse"}}}),
    ({"input_audio_format": "pcm16"}, {"audio": {"input": {"format": PCM}}}),
    ({"input_audio_format": "g711_ulaw"}, {"audio": {"input": {"format": {"type": "audio/pcmu"}}}}),
    ({"input_audio_format": "g711_alaw"}, {"audio": {"input": {"format": {"type": "audio/pcma"}}}}),
    ({"output_audio_format": "pcm16"}, {"audio": {"output": {"format": PCM}}}),
    ({"output_audio_format": "g711_ulaw"}, {"audio": {"output": {"format": {"type": "audio/pcmu"}}}}),
    ({"output_audio_format": "g711_alaw"}, {"audio": {"output": {"format": {"type": "audio/pcma"}}}}),
    ({"turn_detection": None}, {"audio": {"input": {"turn_detection": None}}}),
    ({"turn_detection": VAD}, {"audio": {"input": {"turn_detection": VAD}}}),
    (
        {"turn_detection": {"type": "semantic_vad", "eagerness": "low"}},
        {"audio": {"input": {"turn_detection": {"type": "semantic_vad", "eagerness": "low"}}}},
    ),
    (
        {"input_audio_transcription": {"model": "whisper-1", "language": "en", "prompt": "names"}},
        {"audio": {"input": {"transcription": {"model": "whisper-1", "language": "en", "prompt": "names"}}}},
    ),
    ({"input_audio_noise_reduction": {"type": "far_field"}},
     {"audio": {"input": {"noise_reduction": {"type": "far_field"}}}}),
    ({"speed": 1.25}, {"audio": {"output": {"speed": 1.25}}}),
    ({"max_response_output_tokens": 512}, {"max_output_tokens": 512}),
    ({"max_response_output_tokens": "inf"}, {"max_output_tokens": "inf"}),
    ({"temperature": 0.6}, {}),
    ({"tools": [], "tool_choice": "required"}, {"tools": [], "tool_choice": "required"}),
    ({"tracing": "auto"}, {"tracing": "auto"}),
    # GA-only fields pass through untouched.
    ({"truncation": "disabled", "include": ["item.input_audio_transcription.logprobs"]},
     {"truncation": "disabled", "include": ["item.input_audio_transcription.logprobs"]}),
]


@pytest.mark.parametrize(("beta", "ga"), SESSION_ROWS)
def test_session_row(beta: dict[str, Any], ga: dict[str, Any]) -> None:
    out = d.session_to_ga(beta)
    assert out == {"type": "realtime", **ga}
    assert_ga_session(out)


def test_session_row_reverse() -> None:
    """§6.1 read backwards: a GA session as the server reports it, in beta shape."""
    ga = {
        "type": "realtime", "object": "realtime.session", "id": "sess_1", "output_modalities": ["audio"],
        "max_output_tokens": 100,
        "audio": {
            "input": {"format": {"type": "audio/pcmu"}, "transcription": {"model": "whisper-1"},
                      "noise_reduction": {"type": "near_field"}, "turn_detection": None},
            "output": {"format": {"type": "audio/pcma"}, "voice": "marin", "speed": 0.9},
        },
    }
    assert d.session_to_beta(ga) == {
        "object": "realtime.session", "id": "sess_1", "modalities": ["text", "audio"],
        "max_response_output_tokens": 100, "voice": "marin", "input_audio_format": "g711_ulaw",
        "output_audio_format": "g711_alaw", "input_audio_transcription": {"model": "whisper-1"},
        "input_audio_noise_reduction": {"type": "near_field"}, "turn_detection": None, "speed": 0.9,
    }
    assert d.session_to_beta({"output_modalities": ["text"]})["modalities"] == ["text"]
    assert "temperature" not in d.session_to_beta(ga)  # no beta session recording shows it


def test_temperature_is_reported_as_dropped() -> None:
    t = d.translate_session({"voice": "ash", "temperature": 0.7, "instructions": "x"})
    assert t.value == {"type": "realtime", "audio": {"output": {"voice": "ash"}}, "instructions": "x"}
    assert t.renamed == (("voice", "audio.output.voice"),)
    assert t.dropped == ("temperature",)
    with pytest.raises(AttributeError):
        t.value = {}  # type: ignore[misc]  # frozen


def test_mixed_session_ga_wins_and_merges() -> None:
    mixed = {
        "voice": "ash",  # loses to the GA value below
        "input_audio_format": "g711_ulaw",  # merges into the GA audio object
        "modalities": ["text"],
        "output_modalities": ["audio"],  # wins
        "audio": {"output": {"voice": "cedar"}},
        "type": "realtime",
    }
    t = d.translate_session(mixed)
    assert t.value == {
        "type": "realtime", "output_modalities": ["audio"],
        "audio": {"output": {"voice": "cedar"}, "input": {"format": {"type": "audio/pcmu"}}},
    }
    assert set(t.dropped) == {"voice", "modalities"}
    assert t.renamed == (("input_audio_format", "audio.input.format"),)
    assert d.session_to_ga(t.value) == t.value


def test_unknown_values_pass_through_for_the_server_to_reject() -> None:
    out = d.session_to_ga({"input_audio_format": "mp3", "modalities": []})
    assert out == {"type": "realtime", "audio": {"input": {"format": "mp3"}}, "output_modalities": []}
    assert d.session_to_beta({"audio": {"output": {"format": {"type": "audio/pcm", "rate": 16000}}}})[
        "output_audio_format"] == {"type": "audio/pcm", "rate": 16000}


def test_is_beta_helpers() -> None:
    assert d.is_beta_session({"voice": "alloy"}) and d.is_beta_session({"temperature": 1})
    assert not d.is_beta_session({"instructions": "x"})  # valid in both; only ``type`` is added
    assert not d.is_beta_session({"type": "realtime", "audio": {"output": {"voice": "alloy"}}})
    assert not d.is_beta_session(None)
    assert d.is_beta_response_params({"modalities": ["text"]})
    assert d.is_beta_response_params({"input": [{"type": "message", "role": "assistant",
                                                  "content": [{"type": "text", "text": "x"}]}]})
    assert not d.is_beta_response_params({"output_modalities": ["text"], "conversation": "none"})
    assert not d.is_beta_response_params([])


# -- §6.1 client events ----------------------------------------------------------------------------


def test_transcription_session_update_becomes_session_update() -> None:
    beta = {"event_id": "e1", "type": "transcription_session.update", "session": {
        "input_audio_format": "pcm16", "input_audio_transcription": {"model": "gpt-4o-transcribe"},
        "turn_detection": None, "input_audio_noise_reduction": {"type": "near_field"}}}
    out = d.client_event_to_ga(beta)
    assert out == {"event_id": "e1", "type": "session.update", "session": {
        "type": "transcription", "audio": {"input": {
            "format": PCM, "transcription": {"model": "gpt-4o-transcribe"}, "turn_detection": None,
            "noise_reduction": {"type": "near_field"}}}}}
    assert_ga_client_event(out)


RESPONSE_ROWS = [
    ({"modalities": ["text"]}, {"output_modalities": ["text"]}),
    ({"modalities": ["text", "audio"]}, {"output_modalities": ["audio"]}),
    ({"voice": "sage"}, {"audio": {"output": {"voice": "sage"}}}),
    ({"output_audio_format": "g711_ulaw"}, {"audio": {"output": {"format": {"type": "audio/pcmu"}}}}),
    ({"temperature": 0.9}, {}),
    ({"max_response_output_tokens": 64}, {"max_output_tokens": 64}),
    ({"input_audio_format": "pcm16"}, {}),  # the seed's field that never existed
    ({"conversation": "none", "metadata": {"k": "v"}, "instructions": "hi", "tool_choice": "none",
      "tools": [{"type": "function", "name": "f", "description": "d", "parameters": {"type": "object"}}]},
     {"conversation": "none", "metadata": {"k": "v"}, "instructions": "hi", "tool_choice": "none",
      "tools": [{"type": "function", "name": "f", "description": "d", "parameters": {"type": "object"}}]}),
]


@pytest.mark.parametrize(("beta", "ga"), RESPONSE_ROWS)
def test_response_params_row(beta: dict[str, Any], ga: dict[str, Any]) -> None:
    assert d.response_params_to_ga(beta) == ga
    assert_ga_client_event({"type": "response.create", "response": d.response_params_to_ga(beta)})


def test_response_params_report_and_reverse() -> None:
    t = d.translate_response_params({"modalities": ["text"], "temperature": 1, "input_audio_format": "pcm16"})
    assert t.renamed == (("modalities", "output_modalities"),)
    assert t.dropped == ("temperature", "input_audio_format")
    ga = {"output_modalities": ["audio"], "audio": {"output": {"voice": "ash", "format": PCM}},
          "max_output_tokens": 10,
          "input": [{"type": "message", "role": "assistant",
                     "content": [{"type": "output_text", "text": "x"}]}]}
    beta = d.response_params_to_beta(ga)
    assert beta == {"modalities": ["text", "audio"], "voice": "ash", "output_audio_format": "pcm16",
                    "max_response_output_tokens": 10,
                    "input": [{"object": "realtime.item", "type": "message", "role": "assistant",
                               "content": [{"type": "text", "text": "x"}]}]}
    assert d.response_params_to_ga(beta) == ga


# -- the seed guide's own payloads -----------------------------------------------------------------

OOB_PROMPT = 'Analyze the conversation so far. If it is related to support, output "support".'
HOROSCOPE_TOOL = {
    "type": "function", "name": "generate_horoscope",
    "description": "Give today's horoscope for an astrological sign.",
    "parameters": {"type": "object", "properties": {"sign": {
        "type": "string", "description": "The sign for the horoscope.",
        "enum": ["Aries", "Taurus", "Gemini", "Cancer", "Leo", "Virgo", "Libra", "Scorpio",
                 "Sagittarius", "Capricorn", "Aquarius", "Pisces"]}}, "required": ["sign"]},
}
PINEAPPLE = {"type": "message", "role": "user",
             "content": [{"type": "input_text", "text": "Is it okay to put pineapple on pizza?"}]}
HOROSCOPE_OUTPUT = {"type": "function_call_output", "call_id": "call_sHlR7iaFwQ2YQOqm",
                    "output": '{"horoscope": "You will soon meet a new friend."}'}

SEED_PAYLOADS = [
    ({"type": "session.update", "session": {"instructions": "Never use the word 'moist' in your responses!"}},
     {"type": "session.update",
      "session": {"type": "realtime", "instructions": "Never use the word 'moist' in your responses!"}}),
    ({"type": "response.create", "response": {"modalities": ["text"]}},
     {"type": "response.create", "response": {"output_modalities": ["text"]}}),
    ({"type": "response.create", "response": {"conversation": "none", "metadata": {"topic": "classification"},
                                              "modalities": ["text"], "instructions": OOB_PROMPT}},
     {"type": "response.create", "response": {"conversation": "none", "metadata": {"topic": "classification"},
                                              "output_modalities": ["text"], "instructions": OOB_PROMPT}}),
    ({"type": "response.create", "response": {
        "conversation": "none", "metadata": {"topic": "pizza"}, "modalities": ["text"],
        "input": [{"type": "item_reference", "id": "some_conversation_item_id"}, PINEAPPLE]}},
     {"type": "response.create", "response": {
         "conversation": "none", "metadata": {"topic": "pizza"}, "output_modalities": ["text"],
         "input": [{"type": "item_reference", "id": "some_conversation_item_id"}, PINEAPPLE]}}),
    ({"type": "response.create", "response": {"input": [], "instructions": "Say exactly: teapot"}},
     {"type": "response.create", "response": {"input": [], "instructions": "Say exactly: teapot"}}),
    ({"type": "session.update", "session": {"tools": [HOROSCOPE_TOOL], "tool_choice": "auto"}},
     {"type": "session.update",
      "session": {"type": "realtime", "tools": [HOROSCOPE_TOOL], "tool_choice": "auto"}}),
    ({"type": "conversation.item.create", "item": PINEAPPLE},
     {"type": "conversation.item.create", "item": PINEAPPLE}),
    ({"type": "conversation.item.create", "item": HOROSCOPE_OUTPUT},
     {"type": "conversation.item.create", "item": HOROSCOPE_OUTPUT}),
    ({"type": "response.create"}, {"type": "response.create"}),
    ({"event_id": "my_awesome_event", "type": "scooby.dooby.doo"},
     {"event_id": "my_awesome_event", "type": "scooby.dooby.doo"}),
]


@pytest.mark.parametrize(("beta", "ga"), SEED_PAYLOADS)
def test_seed_payloads_translate_to_ga(beta: dict[str, Any], ga: dict[str, Any]) -> None:
    assert d.client_event_to_ga(beta) == ga
    if ga["type"] != "scooby.dooby.doo":
        assert_ga_client_event(ga)


def test_client_events_keep_event_id_and_translate_items() -> None:
    beta = {"event_id": "evt_9", "type": "conversation.item.create", "previous_item_id": "root",
            "item": {"object": "realtime.item", "type": "message", "role": "assistant",
                     "content": [{"type": "text", "text": "earlier answer"}]}}
    out = d.client_event_to_ga(beta)
    assert out == {"event_id": "evt_9", "type": "conversation.item.create", "previous_item_id": "root",
                   "item": {"type": "message", "role": "assistant",
                            "content": [{"type": "output_text", "text": "earlier answer"}]}}
    assert_ga_client_event(out)
    full = {"event_id": "evt_1", "type": "session.update", "session": {
        "modalities": ["text", "audio"], "voice": "coral", "input_audio_format": "pcm16",
        "output_audio_format": "pcm16", "turn_detection": None, "temperature": 0.8,
        "input_audio_transcription": {"model": "whisper-1"}, "max_response_output_tokens": "inf"}}
    out = d.client_event_to_ga(full)
    assert out["event_id"] == "evt_1"
    assert_ga_client_event(out)
    # Payloads that are not objects are left for the validator to reject.
    assert d.client_event_to_ga({"type": "session.update", "session": "nope"})["session"] == "nope"


# -- §6.2 server events ----------------------------------------------------------------------------


@pytest.mark.parametrize(("beta", "ga"), [
    ("response.text.delta", "response.output_text.delta"),
    ("response.text.done", "response.output_text.done"),
    ("response.audio.delta", "response.output_audio.delta"),
    ("response.audio.done", "response.output_audio.done"),
    ("response.audio_transcript.delta", "response.output_audio_transcript.delta"),
    ("response.audio_transcript.done", "response.output_audio_transcript.done"),
])
def test_event_renames(beta: str, ga: str) -> None:
    assert d.ga_event_type(beta) == ga and d.BETA_TO_GA_EVENT[beta] == ga
    event = {"type": ga, "event_id": "event_1", "response_id": "resp_1", "item_id": "item_1",
             "output_index": 0, "content_index": 0, "delta": "x", "obfuscation": "abc"}
    assert d.server_event_to_beta(event) == [{**event, "type": beta}]  # obfuscation stays
    assert d.server_event_to_ga({**event, "type": beta}) == event


def test_event_name_tables() -> None:
    assert d.ga_event_type("conversation.item.created") == "conversation.item.added"
    assert d.ga_event_type("response.output_item.created") == "response.output_item.added"  # the guides' typo
    assert d.ga_event_type("transcription_session.updated") == "session.updated"
    assert d.ga_event_type("transcription_session.update") == "session.update"
    for ga in SERVER_TYPES:  # the legacy ``conversation.item.created`` is still in the SDK union
        assert d.ga_event_type(ga) == ga or ga == "conversation.item.created"
    assert set(d.BETA_TO_GA_EVENT.values()) <= {*SERVER_TYPES, "session.update"}
    assert "response.output_item.added" not in d.GA_TO_BETA_EVENT


def _item(content: list[dict[str, Any]], **kw: Any) -> dict[str, Any]:
    return {"id": "item_1", "type": "message", "status": "completed", "role": "assistant",
            "content": content, **kw}


def test_conversation_item_added_created_and_done() -> None:
    ga_item = _item([{"type": "output_text", "text": "hi"}])
    added = {"type": "conversation.item.added", "event_id": "e", "previous_item_id": None, "item": ga_item}
    (created,) = d.server_event_to_beta(added)
    assert created == {"type": "conversation.item.created", "event_id": "e", "previous_item_id": None,
                       "item": {"id": "item_1", "object": "realtime.item", "type": "message",
                                "status": "completed", "role": "assistant",
                                "content": [{"type": "text", "text": "hi"}]}}
    assert d.server_event_to_beta({**added, "type": "conversation.item.done"}) == []
    assert d.server_event_to_ga(created) == added
    assert BETA_SERVER.validate_python(created)


def test_item_content_types() -> None:
    audio = _item([{"type": "output_audio", "transcript": "hey"}])
    assert d.item_to_beta(audio)["content"] == [{"type": "audio", "transcript": "hey"}]
    assert d.item_to_ga(d.item_to_beta(audio)) == audio
    user = {"type": "message", "role": "user", "content": [{"type": "input_audio", "transcript": None},
                                                          {"type": "input_text", "text": "t"}]}
    assert d.item_to_beta(user) == {"object": "realtime.item", **user}
    assert d.item_to_ga({"object": "realtime.item", **user}) == user
    ref = {"type": "item_reference", "id": "item_0"}
    assert d.item_to_beta(ref) == ref == d.item_to_ga(ref)


def test_function_call_output_status_is_kept_either_way() -> None:
    bare = {"type": "function_call_output", "call_id": "c", "output": "{}"}
    assert d.item_to_ga(bare) == bare
    assert d.item_to_ga({**bare, "status": "completed"}) == {**bare, "status": "completed"}


def test_content_part_type_unchanged() -> None:
    for part in ({"type": "text", "text": ""}, {"type": "audio", "transcript": ""}):
        ev = {"type": "response.content_part.added", "event_id": "e", "response_id": "r", "item_id": "i",
              "output_index": 0, "content_index": 0, "part": part}
        assert d.server_event_to_beta(ev) == [ev] and d.server_event_to_ga(ev) == ev


GA_RESPONSE = {
    "object": "realtime.response", "id": "resp_1", "status": "completed", "status_details": None,
    "output": [_item([{"type": "output_audio", "transcript": "hi"}])], "conversation_id": "conv_1",
    "output_modalities": ["audio"], "max_output_tokens": "inf",
    "audio": {"output": {"format": {"type": "audio/pcmu"}, "voice": "ash"}},
    "usage": {"total_tokens": 3, "input_tokens": 2, "output_tokens": 1,
              "input_token_details": {"text_tokens": 2, "audio_tokens": 0, "image_tokens": 0,
                                      "cached_tokens": 0, "cached_tokens_details": {
                                          "text_tokens": 0, "audio_tokens": 0, "image_tokens": 0}},
              "output_token_details": {"text_tokens": 1, "audio_tokens": 0}},
    "metadata": None,
}


def test_response_object_row() -> None:
    beta = d.response_object_to_beta(GA_RESPONSE)
    assert beta["modalities"] == ["text", "audio"] and beta["voice"] == "ash"
    assert beta["output_audio_format"] == "g711_ulaw" and beta["temperature"] == 0.8
    assert beta["max_output_tokens"] == "inf" and "audio" not in beta and "output_modalities" not in beta
    assert beta["usage"] == GA_RESPONSE["usage"]  # image_tokens kept: beta clients ignore them
    assert beta["output"][0]["object"] == "realtime.item"
    assert beta["output"][0]["content"] == [{"type": "audio", "transcript": "hi"}]
    assert d.response_object_to_ga(beta) == GA_RESPONSE
    done = {"type": "response.done", "event_id": "e", "response": GA_RESPONSE}
    assert BETA_SERVER.validate_python(d.server_event_to_beta(done)[0])


def test_session_events_and_transcription_sessions() -> None:
    ga = {"type": "session.updated", "event_id": "e",
          "session": {"type": "transcription", "audio": {"input": {"format": PCM}}}}
    (beta,) = d.server_event_to_beta(ga)
    assert beta == {"type": "transcription_session.updated", "event_id": "e",
                    "session": {"object": "realtime.transcription_session", "input_audio_format": "pcm16"}}
    # Back to GA with the ``object`` the server would report for such a session.
    assert d.server_event_to_ga(beta) == {**ga, "session": {**ga["session"],
                                                            "object": "realtime.transcription_session"}}


@pytest.mark.parametrize("etype", [
    "input_audio_buffer.timeout_triggered", "conversation.item.input_audio_transcription.segment",
    "response.mcp_call.completed", "mcp_list_tools.in_progress", "rate_limits.updated", "error",
    "input_audio_buffer.committed", "conversation.item.truncated", "conversation.item.deleted",
    "response.function_call_arguments.done", "conversation.item.input_audio_transcription.completed",
])
def test_unchanged_and_ga_only_events_pass_through(etype: str) -> None:
    ev = {"type": etype, "event_id": "e", "item_id": "item_1",
          "error": {"type": "invalid_request_error", "code": "x", "message": "m", "param": None,
                    "event_id": None}}
    assert d.server_event_to_beta(ev) == [ev]
    assert d.server_event_to_ga(ev) == ev


# -- recordings ------------------------------------------------------------------------------------


@needs_fixtures
def test_beta_recording_response_object_to_ga_and_back() -> None:
    events = load_beta_events()
    created = next(e for e in events if e["type"] == "response.created")
    ga = d.server_event_to_ga(created)
    assert ga["response"]["output_modalities"] == ["text"]
    assert ga["response"]["audio"] == {"output": {"voice": "alloy", "format": PCM}}
    assert "temperature" not in ga["response"] and "modalities" not in ga["response"]
    assert extras(GA_SERVER.validate_python(ga)) == []
    assert d.server_event_to_beta(ga) == [created]


@needs_fixtures
def test_beta_recording_replays_as_ga() -> None:
    """Every event of the beta text response becomes a valid GA event with the same ids and text."""
    events = load_beta_events()
    ga = [d.server_event_to_ga(e) for e in events]
    names = [e["type"] for e in ga]
    assert "response.output_text.delta" in names and "conversation.item.added" in names
    assert not {"response.text.delta", "response.text.done", "conversation.item.created"} & set(names)
    for before, after in zip(events, ga, strict=True):
        assert after["event_id"] == before["event_id"]
        if before["type"] != "response.done":  # util.inspect cut its output item to ``[Object]``
            assert GA_SERVER.validate_python(after)
            assert d.server_event_to_beta(after) == [before]
    text = "".join(e["delta"] for e in ga if e["type"] == "response.output_text.delta")
    assert text == next(e["text"] for e in ga if e["type"] == "response.output_text.done")
    done = next(e for e in ga if e["type"] == "response.done")["response"]
    assert done["usage"]["total_tokens"] == 151 and done["output_modalities"] == ["text"]


@needs_fixtures
def test_ga_frames_survive_beta_and_back() -> None:
    """GA → beta → GA keeps every recorded frame intact. Lossy: ``conversation.item.done`` has no beta
    event and is dropped (beta clients learn the final item from ``response.output_item.done``)."""
    for frame in load_ga_events():
        beta = d.server_event_to_beta(frame)
        if frame["type"] == "conversation.item.done":
            assert beta == []
            continue
        (one,) = beta
        assert BETA_SERVER.validate_python(one)
        assert not one["type"].startswith(("response.output_text", "response.output_audio"))
        assert d.server_event_to_ga(one) == frame
        if "session" in one:
            assert one["session"]["modalities"] == ["text", "audio"] and one["session"]["voice"] == "alloy"
            assert_ga_session({k: v for k, v in d.session_to_ga(one["session"]).items()
                               if k not in ("object", "id", "expires_at", "model")})


# -- properties ------------------------------------------------------------------------------------

FORMATS = st.sampled_from([PCM, {"type": "audio/pcmu"}, {"type": "audio/pcma"}])
VOICE = st.sampled_from(VOICES) | st.builds(lambda s: {"id": f"voice_{s}"}, st.text("abc123", min_size=1))
TURN = st.none() | st.fixed_dictionaries(
    {"type": st.just("server_vad")},
    optional={"threshold": st.floats(0, 1), "prefix_padding_ms": st.integers(0, 1000),
              "silence_duration_ms": st.integers(0, 2000),
              "idle_timeout_ms": st.none() | st.integers(5000, 30000),
              "create_response": st.booleans(), "interrupt_response": st.booleans()},
) | st.fixed_dictionaries({"type": st.just("semantic_vad")},
                          optional={"eagerness": st.sampled_from(["low", "medium", "high", "auto"])})
TRANSCRIPTION = st.none() | st.fixed_dictionaries(
    {"model": st.sampled_from(["whisper-1", "gpt-4o-transcribe", "gpt-4o-mini-transcribe"])},
    optional={"language": st.sampled_from(["en", "fr"]), "prompt": st.text(max_size=10)})
NOISE = st.none() | st.fixed_dictionaries({"type": st.sampled_from(["near_field", "far_field"])})
AUDIO_IN = st.fixed_dictionaries({}, optional={"format": FORMATS, "transcription": TRANSCRIPTION,
                                               "noise_reduction": NOISE, "turn_detection": TURN})
AUDIO_OUT = st.fixed_dictionaries({}, optional={"format": FORMATS, "voice": VOICE,
                                                "speed": st.floats(0.25, 1.5)})


def _prune(obj: dict[str, Any]) -> dict[str, Any]:
    """Drop empty ``audio`` sub-objects: beta has nowhere to keep an empty container."""
    return {k: v for k, v in obj.items() if v != {}}


GA_SESSIONS = st.fixed_dictionaries(
    {"type": st.just("realtime")},
    optional={
        "output_modalities": st.sampled_from([["audio"], ["text"]]),
        "instructions": st.text(max_size=20),
        "max_output_tokens": st.integers(1, 4096) | st.just("inf"),
        "tool_choice": st.sampled_from(["auto", "none", "required"]),
        "tools": st.just([HOROSCOPE_TOOL]),
        "tracing": st.none() | st.just("auto"),
        "audio": st.fixed_dictionaries({}, optional={"input": AUDIO_IN.map(_prune),
                                                     "output": AUDIO_OUT.map(_prune)}).map(_prune),
    },
).map(_prune)

BETA_FORMAT = st.sampled_from(["pcm16", "g711_ulaw", "g711_alaw"])
BETA_SESSIONS = st.fixed_dictionaries({}, optional={
    "modalities": st.sampled_from([["text", "audio"], ["audio", "text"], ["text"]]),
    "voice": VOICE, "input_audio_format": BETA_FORMAT, "output_audio_format": BETA_FORMAT,
    "turn_detection": TURN, "input_audio_transcription": TRANSCRIPTION,
    "input_audio_noise_reduction": NOISE, "speed": st.floats(0.25, 1.5),
    "max_response_output_tokens": st.integers(1, 4096) | st.just("inf"),
    "temperature": st.floats(0.6, 1.2), "instructions": st.text(max_size=20),
})
MIXED_SESSIONS = st.builds(lambda b, g: {**g, **b}, BETA_SESSIONS, GA_SESSIONS)


@settings(max_examples=200, deadline=None)
@given(GA_SESSIONS)
def test_ga_session_round_trips_through_beta(s: dict[str, Any]) -> None:
    snapshot = copy.deepcopy(s)
    beta = d.session_to_beta(s)
    assert beta["object"] == "realtime.session" and "audio" not in beta and "type" not in beta
    back = d.session_to_ga(beta)
    back.pop("object")
    assert back == s
    assert s == snapshot
    assert_ga_session(s)


@settings(max_examples=200, deadline=None)
@given(MIXED_SESSIONS)
def test_session_to_ga_is_idempotent_valid_and_pure(x: dict[str, Any]) -> None:
    snapshot = copy.deepcopy(x)
    t = d.translate_session(x)
    assert d.session_to_ga(t.value) == t.value
    assert not d.is_beta_session(t.value)
    assert_ga_session(t.value)
    assert x == snapshot
    # GA wins on conflicts, and every beta key is accounted for exactly once.
    moved = {beta for beta, _ in t.renamed}
    assert moved | set(t.dropped) == {k for k in x if d.is_beta_session({k: None})}
    assert not moved & set(t.dropped)
    if "audio" in x and "voice" in x.get("audio", {}).get("output", {}):
        assert t.value["audio"]["output"]["voice"] == x["audio"]["output"]["voice"]


@settings(max_examples=200, deadline=None)
@given(BETA_SESSIONS)
def test_beta_session_round_trips_through_ga(b: dict[str, Any]) -> None:
    expected = {k: v for k, v in b.items() if k != "temperature"}
    if "modalities" in b:
        expected["modalities"] = ["text", "audio"] if "audio" in b["modalities"] else ["text"]
    back = d.session_to_beta(d.session_to_ga(b))
    assert back == {"object": "realtime.session", **expected}


GA_ITEMS = st.one_of(
    st.builds(lambda t: {"type": "message", "role": "user", "content": [{"type": "input_text", "text": t}]},
              st.text(max_size=5)),
    st.builds(lambda t: {"type": "message", "role": "system", "content": [{"type": "input_text", "text": t}]},
              st.text(max_size=5)),
    st.builds(lambda t, i: {"id": i, "type": "message", "role": "assistant", "status": "completed",
                            "content": [{"type": "output_text", "text": t},
                                        {"type": "output_audio", "transcript": t}]},
              st.text(max_size=5), st.sampled_from(["item_a", "item_b"])),
    st.just({"type": "function_call", "name": "f", "call_id": "c", "arguments": "{}"}),
    st.just({"type": "function_call_output", "call_id": "c", "output": "{}"}),
)


@settings(max_examples=100, deadline=None)
@given(GA_ITEMS)
def test_items_round_trip(item: dict[str, Any]) -> None:
    snapshot = copy.deepcopy(item)
    beta = d.item_to_beta(item)
    assert beta["object"] == "realtime.item"
    assert d.item_to_ga(beta) == item == snapshot
    assert d.item_to_beta(beta) == beta and d.item_to_ga(item) == item
    assert extras(GA_CLIENT.validate_python({"type": "conversation.item.create", "item": item})) == []


GA_PARAMS = st.fixed_dictionaries({}, optional={
    "output_modalities": st.sampled_from([["audio"], ["text"]]),
    # response.create's audio.output has no ``speed``
    "audio": st.fixed_dictionaries({"output": AUDIO_OUT.filter(lambda o: "speed" not in o)}).map(_prune),
    "max_output_tokens": st.integers(1, 100) | st.just("inf"),
    "conversation": st.sampled_from(["auto", "none"]),
    "metadata": st.just({"topic": "x"}),
    "instructions": st.text(max_size=10),
    "input": st.lists(GA_ITEMS, max_size=3),
}).map(_prune)


@settings(max_examples=200, deadline=None)
@given(GA_PARAMS)
def test_response_params_round_trip(p: dict[str, Any]) -> None:
    snapshot = copy.deepcopy(p)
    beta = d.response_params_to_beta(p)
    assert d.response_params_to_ga(beta) == p == snapshot
    assert d.response_params_to_ga(p) == p
    assert_ga_client_event({"type": "response.create", "response": p})


@settings(max_examples=100, deadline=None)
@given(GA_SESSIONS, st.sampled_from(["session.created", "session.updated"]))
def test_server_session_events_round_trip(s: dict[str, Any], etype: str) -> None:
    ev = {"type": etype, "event_id": "event_1", "session": {**s, "object": "realtime.session"}}
    snapshot = copy.deepcopy(ev)
    (beta,) = d.server_event_to_beta(ev)
    assert d.server_event_to_ga(beta) == ev == snapshot


# -- module surface --------------------------------------------------------------------------------


def test_public_surface_and_doctests() -> None:
    assert sorted(d.__all__) == sorted([
        "BETA_TO_GA_EVENT", "GA_TO_BETA_EVENT", "Translation", "client_event_to_ga", "ga_event_type",
        "is_beta_response_params", "is_beta_session", "item_to_beta", "item_to_ga",
        "response_object_to_beta", "response_object_to_ga", "response_params_to_beta",
        "response_params_to_ga", "server_event_to_beta", "server_event_to_ga", "session_to_beta",
        "session_to_ga", "translate_response_params", "translate_session",
    ])
    for name in d.__all__:
        assert getattr(d, name).__doc__ or name.isupper(), name
    assert doctest.testmod(d).failed == 0
