"""Turning what users write into GA wire shapes: session fields, response parameters, classification.

Users may write the seed guide's beta names (``voice=``, ``modalities=``, ``turn_detection=``,
``input_audio_format=`` …). They are translated once, here, by ``protocol.dialect``; each renaming is
logged once per process (``logging``, logger ``realtime_nb``) and a field GA no longer has (e.g.
``temperature``) triggers a ``UserWarning`` naming it.
"""

from __future__ import annotations

import logging
import re
import threading
import warnings
from collections.abc import Iterable
from typing import Any

from ..protocol import dialect

log = logging.getLogger("realtime_nb")

_logged: set[tuple[str, str]] = set()
_logged_lock = threading.Lock()


def _report(t: dialect.Translation, where: str) -> None:
    with _logged_lock:
        fresh = [(beta, ga) for beta, ga in t.renamed if (where, beta) not in _logged]
        _logged.update((where, beta) for beta, _ in fresh)
    if fresh:
        names = ", ".join(f"{beta} → {ga}" for beta, ga in fresh)
        log.info("realtime-nb: translated beta %s fields to GA: %s", where, names)
    if t.dropped:
        warnings.warn(f"realtime-nb: the GA Realtime API has no {where} field(s) {', '.join(t.dropped)}; "
                      "they were not sent", UserWarning, stacklevel=4)


# GA leaf names of ``audio.input`` fields accepted at the top level (``voice``, ``speed`` and
# ``turn_detection`` are placed by the dialect table, as their beta spellings are the same).
_INPUT_LEAVES = ("noise_reduction", "transcription")


def place_audio_leaves(fields: dict[str, Any]) -> dict[str, Any]:
    """``noise_reduction=`` / ``transcription=`` moved into ``audio.input`` (beside a nested ``audio={…}``).

    ``format=`` is refused: it names ``audio.input.format`` as much as ``audio.output.format``.

    >>> place_audio_leaves({"transcription": {"model": "whisper-1"}, "audio": {"output": {"voice": "ash"}}})
    {'audio': {'output': {'voice': 'ash'}, 'input': {'transcription': {'model': 'whisper-1'}}}}
    """
    if "format" in fields:
        raise TypeError("format= is ambiguous: it names audio.input.format and audio.output.format. Write "
                        "input_audio_format=... and/or output_audio_format=... (e.g. {'type': 'audio/pcmu'} "
                        "or 'g711_ulaw'), or audio={'input': {'format': ...}, 'output': {'format': ...}}")
    leaves = {k: fields[k] for k in _INPUT_LEAVES if k in fields}
    if not leaves:
        return fields
    out = {k: v for k, v in fields.items() if k not in leaves}
    audio = out.get("audio", {})
    if not isinstance(audio, dict) or not isinstance(audio.get("input", {}), dict):
        raise TypeError(f"audio= must be a dict like {{'input': {{...}}, 'output': {{...}}}}, not {audio!r}")
    side = dict(audio.get("input", {}))
    for name, value in leaves.items():
        if name in side:
            raise TypeError(f"{name}= and audio={{'input': {{'{name}': ...}}}} were both given; pass one of them")
        side[name] = value
    out["audio"] = {**audio, "input": side}
    return out


def session_update(fields: dict[str, Any]) -> dict[str, Any]:
    """GA ``session`` object for ``session.update`` from keyword fields in GA, GA leaf or beta names."""
    fields = place_audio_leaves(fields)
    if "type" not in fields:
        fields = {"type": "realtime", **fields}
    t = dialect.translate_session(fields)
    _report(t, "session")
    return t.value


def user_message(text: str, item_id: str | None = None) -> dict[str, Any]:
    """A user text message item."""
    item: dict[str, Any] = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}
    if item_id is not None:
        item = {"id": item_id, **item}
    return item


def input_items(values: Iterable[Any]) -> list[dict[str, Any]]:
    """``respond(input=[...])`` entries: ``ref(id)`` dicts and item dicts as given, strings as user text."""
    if isinstance(values, (str, dict)):
        raise TypeError("input= takes a list: e.g. input=[rt.ref(item_id), 'a question']")
    out: list[dict[str, Any]] = []
    for v in values:
        if isinstance(v, str):
            out.append(user_message(v))
        elif isinstance(v, dict):
            out.append(dict(v))
        else:
            raise TypeError(f"input= entries are rt.ref(item_id), item dicts or strings, not {type(v).__name__}")
    return out


# Keyword arguments of respond()/say() and where they go in GA's ``response`` object.
RESPONSE_KEYS = frozenset({
    "output_modalities", "instructions", "audio", "tools", "tool_choice", "conversation", "metadata",
    "input", "max_output_tokens", "prompt", "parallel_tool_calls", "reasoning",
    # beta spellings (translated by the dialect layer)
    "modalities", "voice", "output_audio_format", "max_response_output_tokens", "temperature",
    "input_audio_format",
})


def response_params(params: dict[str, Any]) -> dict[str, Any]:
    """GA ``response`` object for ``response.create`` from keyword parameters (GA or beta names)."""
    unknown = set(params) - RESPONSE_KEYS
    if unknown:
        raise TypeError(f"unknown response parameter(s): {', '.join(sorted(unknown))}; "
                        f"expected some of: {', '.join(sorted(RESPONSE_KEYS))}")
    params = {k: v for k, v in params.items() if v is not None or k == "input"}
    if "input" in params:
        if params["input"] is None:
            del params["input"]
        else:
            params["input"] = input_items(params["input"])
    t = dialect.translate_response_params(params)
    _report(t, "response")
    return t.value


# -- classification ----------------------------------------------------------------------------------

def classify_instructions(labels: list[str]) -> str:
    """Instructions that list the labels (a ``Labels:`` line and a quoted list) and ask for one."""
    quoted = ", ".join(f'"{label}"' for label in labels)
    return (
        "You are a classifier. Read the conversation items given as context and the final request, "
        "then answer with exactly one of the allowed labels and nothing else: no explanation, no "
        f"punctuation, no quotes. Allowed labels: {quoted}.\n"
        f"Labels: {', '.join(labels)}"
    )


def _norm(s: str) -> str:
    s = s.strip().strip("\"'`“”‘’.,;:!?()[]{}*_ \t\n")
    return re.sub(r"\s+", " ", s).casefold()


def match_label(text: str, labels: list[str]) -> str | None:
    """The label ``text`` names, ignoring case, surrounding spaces, quotes and punctuation (or None)."""
    wanted = _norm(text)
    for label in labels:
        if _norm(label) == wanted:
            return label
    # "Label: sales": the value after the last colon of the last non-empty line
    lines = [line for line in text.splitlines() if line.strip()]
    tail = _norm(lines[-1].rsplit(":", 1)[-1]) if lines else ""
    for label in labels:
        if _norm(label) == tail:
            return label
    return None
