"""Beta ⇄ GA dialect translation (docs/protocol.md §6): pure functions over plain JSON dicts.

The wire speaks GA. Users may write the beta shapes of the old guide, and the local server can serve a
client that connected with the beta header; this module translates both ways. Every function returns
new objects and never mutates its argument.

Field moves are tables (beta key → GA path); events are renamed through ``BETA_TO_GA_EVENT``.

>>> session_to_ga({"voice": "ash", "modalities": ["text", "audio"], "temperature": 0.7})
{'type': 'realtime', 'audio': {'output': {'voice': 'ash'}}, 'output_modalities': ['audio']}
>>> ga_event_type("response.text.delta")
'response.output_text.delta'

Rules worth knowing:

- **Mixed input.** When a beta key and its GA counterpart are both present (``voice`` and
  ``audio.output.voice``), the GA value wins: it is the wire's own shape, so it is the deliberate one.
  The beta key is then reported in ``Translation.dropped``.
- **Unknown values pass through.** A format string we do not know, or modalities such as ``[]``, are
  copied unchanged so the server's validation reports them with the right ``param``.
- **Lossy cases.** GA → beta → GA keeps everything the server reports except: ``conversation.item.done``
  (beta has no such event, so it is dropped); ``object:"realtime.item"`` on a GA item (dropped by
  ``item_to_ga``); a format object ``{type:"audio/pcm"}`` without ``rate`` comes back with
  ``rate:24000``. Beta → GA → beta loses ``temperature`` (GA has none; response objects come back with
  the beta default 0.8, sessions without it) and normalises ``modalities`` (``["audio","text"]`` →
  ``["text","audio"]``; beta ``["audio"]`` alone also becomes ``["text","audio"]``).
- **Sessions in beta carry no ``temperature``** here: the beta recording we have shows ``temperature``
  only on response objects, so ``session_to_beta`` does not invent one.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ._moves import Move, Translation, _insert_after, _moves_to_beta, _moves_to_ga
from .codec import clone

__all__ = [
    "BETA_TO_GA_EVENT",
    "GA_TO_BETA_EVENT",
    "Translation",
    "client_event_to_ga",
    "ga_event_type",
    "is_beta_response_params",
    "is_beta_session",
    "item_to_beta",
    "item_to_ga",
    "response_object_to_beta",
    "response_object_to_ga",
    "response_params_to_beta",
    "response_params_to_ga",
    "server_event_to_beta",
    "server_event_to_ga",
    "session_to_beta",
    "session_to_ga",
    "translate_response_params",
    "translate_session",
]

Obj = dict[str, Any]

# -- event names -----------------------------------------------------------------------------------

BETA_TO_GA_EVENT: dict[str, str] = {
    "response.text.delta": "response.output_text.delta",
    "response.text.done": "response.output_text.done",
    "response.audio.delta": "response.output_audio.delta",
    "response.audio.done": "response.output_audio.done",
    "response.audio_transcript.delta": "response.output_audio_transcript.delta",
    "response.audio_transcript.done": "response.output_audio_transcript.done",
    "conversation.item.created": "conversation.item.added",
    "transcription_session.update": "session.update",
    "transcription_session.updated": "session.updated",
}
"""Every event the GA protocol renamed, beta name → GA name (client and server events)."""

# Server events a beta client expects under its old name. Not simply the inverse of the table above:
# ``session.updated`` is only ``transcription_session.updated`` for transcription sessions.
GA_TO_BETA_EVENT: dict[str, str] = {
    ga: beta for beta, ga in BETA_TO_GA_EVENT.items() if not beta.startswith("transcription_session.")
}
"""GA server event name → the name a beta client listens for (session events are decided by content)."""

# Names a user may have copied from the guides that never existed on the wire (PROTOCOL §9.7).
_ALIASES: dict[str, str] = {"response.output_item.created": "response.output_item.added"}


def ga_event_type(name: str) -> str:
    """The GA name for an event or handler name written in either dialect (GA names are unchanged).

    >>> ga_event_type("conversation.item.created"), ga_event_type("response.done")
    ('conversation.item.added', 'response.done')
    """
    return BETA_TO_GA_EVENT.get(name, _ALIASES.get(name, name))


# -- value converters ------------------------------------------------------------------------------

_FORMAT_TO_GA: dict[str, Obj] = {
    "pcm16": {"type": "audio/pcm", "rate": 24000},
    "g711_ulaw": {"type": "audio/pcmu"},
    "g711_alaw": {"type": "audio/pcma"},
}
_FORMAT_TO_BETA: dict[str, str] = {"audio/pcm": "pcm16", "audio/pcmu": "g711_ulaw", "audio/pcma": "g711_alaw"}


def _format_to_ga(value: Any) -> Any:
    if isinstance(value, str) and value in _FORMAT_TO_GA:
        return clone(_FORMAT_TO_GA[value])
    return clone(value)


def _format_to_beta(value: Any) -> Any:
    if isinstance(value, dict) and isinstance(value.get("type"), str) and value["type"] in _FORMAT_TO_BETA:
        extra = set(value) - {"type", "rate"}
        rate_ok = value.get("rate", 24000) == 24000 if value["type"] == "audio/pcm" else "rate" not in value
        if not extra and rate_ok:
            return _FORMAT_TO_BETA[value["type"]]
    return clone(value)  # no beta spelling (e.g. another rate): keep the object


def _modalities_to_ga(value: Any) -> Any:
    # Beta allowed text+audio together; GA's audio mode always carries a transcript, so that is "audio".
    if isinstance(value, list) and value and all(m in ("text", "audio") for m in value):
        return ["audio"] if "audio" in value else ["text"]
    return clone(value)


def _modalities_to_beta(value: Any) -> Any:
    if value == ["audio"]:
        return ["text", "audio"]
    return clone(value)


def _same(value: Any) -> Any:
    return clone(value)


# -- field tables: beta key -> (GA path, to GA, to beta) -------------------------------------------

_SESSION_MOVES: dict[str, Move] = {
    "modalities": (("output_modalities",), _modalities_to_ga, _modalities_to_beta),
    "voice": (("audio", "output", "voice"), _same, _same),
    "input_audio_format": (("audio", "input", "format"), _format_to_ga, _format_to_beta),
    "output_audio_format": (("audio", "output", "format"), _format_to_ga, _format_to_beta),
    "input_audio_transcription": (("audio", "input", "transcription"), _same, _same),
    "input_audio_noise_reduction": (("audio", "input", "noise_reduction"), _same, _same),
    "turn_detection": (("audio", "input", "turn_detection"), _same, _same),
    "speed": (("audio", "output", "speed"), _same, _same),
    "max_response_output_tokens": (("max_output_tokens",), _same, _same),
}
# ``client_secret`` configured the REST-minted key in beta session.update; GA has its own endpoint.
_SESSION_DROPS: tuple[str, ...] = ("temperature", "client_secret")

_RESPONSE_PARAM_MOVES: dict[str, Move] = {
    "modalities": (("output_modalities",), _modalities_to_ga, _modalities_to_beta),
    "voice": (("audio", "output", "voice"), _same, _same),
    "output_audio_format": (("audio", "output", "format"), _format_to_ga, _format_to_beta),
    "max_response_output_tokens": (("max_output_tokens",), _same, _same),
}
# ``input_audio_format`` in response.create appears only in the seed guide; it never existed.
_RESPONSE_PARAM_DROPS: tuple[str, ...] = ("temperature", "input_audio_format")

# The beta response *object* already said ``max_output_tokens`` (see the beta recording).
_RESPONSE_OBJECT_MOVES: dict[str, Move] = {
    k: v for k, v in _RESPONSE_PARAM_MOVES.items() if k != "max_response_output_tokens"
}
_RESPONSE_OBJECT_DROPS: tuple[str, ...] = ("temperature",)
BETA_DEFAULT_TEMPERATURE = 0.8


# -- sessions --------------------------------------------------------------------------------------


def translate_session(session: Obj) -> Translation:
    """Translate a session object (the ``session`` of ``session.update``) to GA and report the changes.

    Adds ``type`` when missing: ``"transcription"`` for a beta transcription session object, else
    ``"realtime"``. GA input comes back equal (idempotent).
    """
    t = _moves_to_ga(session, _SESSION_MOVES, _SESSION_DROPS)
    value = t.value
    if "type" not in value:
        kind = "transcription" if value.get("object") == "realtime.transcription_session" else "realtime"
        value = {"type": kind, **value}
    return Translation(value, t.renamed, t.dropped)


def session_to_ga(beta_or_ga: Obj) -> Obj:
    """The GA form of a session object written in beta, GA or mixed shape (see ``translate_session``)."""
    return translate_session(beta_or_ga).value


def session_to_beta(ga: Obj) -> Obj:
    """The beta form of a GA session object as the server reports it (for beta-dialect clients).

    ``type`` becomes ``object`` (``realtime.session`` or ``realtime.transcription_session``). GA-only
    fields (``truncation``, ``prompt``, …) stay: beta clients ignore fields they do not know.
    """
    out = _moves_to_beta(ga, _SESSION_MOVES)
    kind = out.pop("type", "realtime")
    obj = "realtime.transcription_session" if kind == "transcription" else "realtime.session"
    return {"object": obj, **{k: v for k, v in out.items() if k != "object"}}


def is_beta_session(obj: Any) -> bool:
    """True if a session object uses any beta-only field (a missing ``type`` alone does not count)."""
    return isinstance(obj, dict) and any(k in obj for k in (*_SESSION_MOVES, *_SESSION_DROPS))


# -- items -----------------------------------------------------------------------------------------

_CONTENT_TO_GA = {"text": "output_text", "audio": "output_audio"}
_CONTENT_TO_BETA = {v: k for k, v in _CONTENT_TO_GA.items()}


def _retype_content(item: Obj, table: dict[str, str]) -> Obj:
    out = clone(item)
    content = out.get("content")
    if out.get("role") == "assistant" and isinstance(content, list):
        for part in content:
            if isinstance(part, dict) and isinstance(part.get("type"), str) and part["type"] in table:
                part["type"] = table[part["type"]]
    return out


def item_to_ga(item: Obj) -> Obj:
    """GA form of a conversation item: assistant ``text``/``audio`` content become ``output_text`` /
    ``output_audio``; ``object:"realtime.item"`` is dropped (live GA items omit it)."""
    out = _retype_content(item, _CONTENT_TO_GA)
    if out.get("object") == "realtime.item":
        del out["object"]
    return out


def item_to_beta(item: Obj) -> Obj:
    """Beta form of a conversation item: ``object:"realtime.item"`` first, assistant content typed
    ``text``/``audio``. An ``item_reference`` (only valid in ``response.input``) gets no ``object``."""
    out = _retype_content(item, _CONTENT_TO_BETA)
    if out.get("type") == "item_reference":
        return out
    out.pop("object", None)
    return _insert_after(out, ("id",), "object", "realtime.item")


def _is_beta_item(item: Any) -> bool:
    return isinstance(item, dict) and (
        item.get("object") == "realtime.item" or _retype_content(item, _CONTENT_TO_GA) != item
    )


def _items(value: Any, convert: Callable[[Obj], Obj]) -> Any:
    if not isinstance(value, list):
        return clone(value)
    return [convert(i) if isinstance(i, dict) else clone(i) for i in value]


# -- response.create params ------------------------------------------------------------------------


def translate_response_params(params: Obj) -> Translation:
    """Translate the ``response`` of ``response.create`` to GA and report the changes.

    ``conversation``, ``metadata``, ``instructions``, ``tools`` and ``tool_choice`` are unchanged;
    items in ``input`` go through ``item_to_ga``.
    """
    t = _moves_to_ga(params, _RESPONSE_PARAM_MOVES, _RESPONSE_PARAM_DROPS)
    value = t.value
    if "input" in value:
        value = {**value, "input": _items(value["input"], item_to_ga)}
    return Translation(value, t.renamed, t.dropped)


def response_params_to_ga(params: Obj) -> Obj:
    """The GA form of ``response.create``'s ``response`` (see ``translate_response_params``)."""
    return translate_response_params(params).value


def response_params_to_beta(params: Obj) -> Obj:
    """The beta form of ``response.create``'s ``response`` (no ``temperature`` is invented)."""
    out = _moves_to_beta(params, _RESPONSE_PARAM_MOVES)
    if "input" in out:
        out["input"] = _items(out["input"], item_to_beta)
    return out


def is_beta_response_params(obj: Any) -> bool:
    """True if response.create params use a beta-only field or a beta-shaped ``input`` item."""
    if not isinstance(obj, dict):
        return False
    if any(k in obj for k in (*_RESPONSE_PARAM_MOVES, *_RESPONSE_PARAM_DROPS)):
        return True
    items = obj.get("input")
    return isinstance(items, list) and any(_is_beta_item(i) for i in items)


# -- response objects (response.created / response.done) -------------------------------------------


def response_object_to_beta(resp: Obj) -> Obj:
    """Beta form of a GA response object: ``modalities``, ``voice``, ``output_audio_format`` (string),
    ``temperature: 0.8`` (the beta default every beta response object carried); items via
    ``item_to_beta``. ``max_output_tokens`` keeps its name (beta response objects used it too)."""
    out = _moves_to_beta(resp, _RESPONSE_OBJECT_MOVES)
    if "output" in out:
        out["output"] = _items(out["output"], item_to_beta)
    if "temperature" not in out:
        anchors = ("output_audio_format", "voice", "modalities")
        out = _insert_after(out, anchors, "temperature", BETA_DEFAULT_TEMPERATURE)
    return out


def response_object_to_ga(resp: Obj) -> Obj:
    """GA form of a beta response object (``temperature`` dropped; items via ``item_to_ga``)."""
    out = _moves_to_ga(resp, _RESPONSE_OBJECT_MOVES, _RESPONSE_OBJECT_DROPS).value
    if "output" in out:
        out["output"] = _items(out["output"], item_to_ga)
    return out


# -- whole events ----------------------------------------------------------------------------------


def _with(event: Obj, key: str, convert: Callable[[Obj], Obj]) -> Obj:
    """A deep copy of ``event`` with ``event[key]`` converted, when it is a dict."""
    return {k: convert(v) if k == key and isinstance(v, dict) else clone(v) for k, v in event.items()}


def client_event_to_ga(event: Obj) -> Obj:
    """The GA form of a client event a user wrote in either dialect; ``event_id`` is preserved.

    ``transcription_session.update`` becomes ``session.update`` with ``session.type:"transcription"``
    (PROTOCOL §6.1) even though a realtime session rejects it: the server reports that, not us.
    """
    etype = event.get("type")
    if etype == "session.update":
        return _with(event, "session", session_to_ga)
    if etype == "transcription_session.update":
        def transcription(s: Obj) -> Obj:
            return session_to_ga({"type": "transcription", **s})

        return {**_with(event, "session", transcription), "type": "session.update"}
    if etype == "response.create":
        return _with(event, "response", response_params_to_ga)
    if etype == "conversation.item.create":
        return _with(event, "item", item_to_ga)
    return clone(event)


_ITEM_EVENTS = ("response.output_item.added", "response.output_item.done", "conversation.item.retrieved")


def server_event_to_beta(event: Obj) -> list[Obj]:
    """The beta events a beta client expects for one GA server event (zero or one).

    ``conversation.item.done`` has no beta counterpart and yields ``[]``. Renamed deltas keep every
    field (``obfuscation`` included). GA-only events without a beta name pass through unchanged.
    """
    etype = event.get("type")
    if etype == "conversation.item.done":
        return []
    if etype in ("session.created", "session.updated"):
        out = _with(event, "session", session_to_beta)
        session = out.get("session")
        if etype == "session.updated" and isinstance(session, dict) \
                and session.get("object") == "realtime.transcription_session":
            out["type"] = "transcription_session.updated"
        return [out]
    if etype in ("response.created", "response.done"):
        return [_with(event, "response", response_object_to_beta)]
    if etype == "conversation.item.added" or etype in _ITEM_EVENTS:
        out = _with(event, "item", item_to_beta)
    else:
        out = clone(event)
    if isinstance(etype, str) and etype in GA_TO_BETA_EVENT:
        out["type"] = GA_TO_BETA_EVENT[etype]
    return [out]


def server_event_to_ga(event: Obj) -> Obj:
    """The GA form of one server event in either dialect (used to replay beta recordings).

    ``conversation.item.created`` becomes ``conversation.item.added``; no ``conversation.item.done`` can
    be synthesised from it (the final item state is not in the beta event).
    """
    etype = event.get("type")
    if etype in ("session.created", "session.updated", "transcription_session.updated"):
        def session(s: Obj) -> Obj:
            if etype == "transcription_session.updated" and "type" not in s:
                s = {"type": "transcription", **s}
            return session_to_ga(s)

        out = _with(event, "session", session)
    elif etype in ("response.created", "response.done"):
        out = _with(event, "response", response_object_to_ga)
    elif etype in ("conversation.item.created", "conversation.item.added", "conversation.item.done") \
            or etype in _ITEM_EVENTS:
        out = _with(event, "item", item_to_ga)
    else:
        out = clone(event)
    if isinstance(etype, str):
        out["type"] = ga_event_type(etype)
    return out
