"""Validation of client events, producing the error codes a live GA server sends.

``validate_client_event(event)`` checks the envelope and the fields of one decoded client event and
raises ``EventError`` (with the client's ``event_id`` copied into it) on the first problem. Semantics
that need state (unknown item ids, an active response …) are the engine's business, not this module's.
"""

from __future__ import annotations

from typing import Any

from . import session_config as sc
from .errors import EventError, invalid_type, invalid_value, missing_parameter, unknown_parameter
from .events import ACCEPTED_CLIENT_TYPES
from .params import check_prompt, check_reasoning

_STR, _INT, _DICT, _LIST = "a string", "an integer", "an object", "an array"

# type -> {field: (required, expected kind)}; "event_id" and "type" are allowed everywhere.
CLIENT_FIELDS: dict[str, dict[str, tuple[bool, str]]] = {
    "session.update": {"session": (True, _DICT)},
    "session.close": {},
    "input_audio_buffer.append": {"audio": (True, _STR)},
    "session.input_audio_buffer.append": {"audio": (True, _STR)},
    "input_audio_buffer.commit": {},
    "input_audio_buffer.clear": {},
    "conversation.item.create": {"item": (True, _DICT), "previous_item_id": (False, _STR)},
    "conversation.item.truncate": {"item_id": (True, _STR), "content_index": (True, _INT),
                                   "audio_end_ms": (True, _INT)},
    "conversation.item.delete": {"item_id": (True, _STR)},
    "conversation.item.retrieve": {"item_id": (True, _STR)},
    "response.create": {"response": (False, _DICT)},
    "response.cancel": {"response_id": (False, _STR)},
}

_RESPONSE_KEYS = (
    "conversation", "input", "instructions", "output_modalities", "audio", "tools", "tool_choice",
    "max_output_tokens", "metadata", "prompt", "parallel_tool_calls", "reasoning",
)
_ITEM_COMMON = ("id", "object", "type", "status")
_CONTENT_FIELDS = {
    "input_text": ("type", "text"),
    "input_audio": ("type", "audio", "transcript"),
    "input_image": ("type", "image_url", "detail"),
    "output_text": ("type", "text"),
    "output_audio": ("type", "audio", "transcript"),
}
_STATUSES = ("completed", "incomplete", "in_progress")
_ROLE_CONTENT = {
    "system": ("input_text",),
    "user": ("input_text", "input_audio", "input_image"),
    "assistant": ("output_text", "output_audio"),
}


def _kind_ok(value: Any, kind: str) -> bool:
    if kind == _STR:
        return isinstance(value, str)
    if kind == _INT:
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == _DICT:
        return isinstance(value, dict)
    return isinstance(value, list)


def validate_client_event(event: dict[str, Any]) -> dict[str, Any]:
    """Validate one decoded client event; return it unchanged or raise ``EventError``."""
    raw_id = event.get("event_id")
    eid = raw_id if isinstance(raw_id, str) else None
    try:
        _validate(event)
    except EventError as err:
        raise err.with_event_id(eid) from None
    return event


def _validate(event: dict[str, Any]) -> None:
    if "type" not in event:
        raise missing_parameter("type")
    etype = event["type"]
    if not isinstance(etype, str):
        raise invalid_type("type", _STR, etype)
    if etype not in CLIENT_FIELDS:
        raise invalid_value("type", etype, list(ACCEPTED_CLIENT_TYPES))
    if "event_id" in event and not isinstance(event["event_id"], str):
        raise invalid_type("event_id", _STR, event["event_id"])
    fields = CLIENT_FIELDS[etype]
    for key in event:
        if key not in fields and key not in ("type", "event_id"):
            raise unknown_parameter(key)
    for key, (required, kind) in fields.items():
        if key not in event:
            if required:
                raise missing_parameter(key)
            continue
        value = event[key]
        if key == "previous_item_id" and value is None:
            continue
        if not _kind_ok(value, kind):
            raise invalid_type(key, kind, value)
    if etype == "conversation.item.create":
        validate_item(event["item"], "item")
    elif etype == "conversation.item.truncate":
        if event["content_index"] != 0:
            raise invalid_value("content_index", event["content_index"], ["0"])
        if event["audio_end_ms"] < 0:
            raise EventError("integer_below_min_value",
                             "Invalid 'audio_end_ms': integer below minimum value. Expected a value >= 0, "
                             f"but got {event['audio_end_ms']} instead.", "audio_end_ms")
    elif etype == "response.create" and "response" in event:
        validate_response_params(event["response"], "response")


def validate_item(item: Any, path: str, *, allow_reference: bool = False) -> None:
    """Check a conversation item (as sent in ``conversation.item.create`` or ``response.input``)."""
    if not isinstance(item, dict):
        raise invalid_type(path, _DICT, item)
    if "type" not in item:
        raise missing_parameter(f"{path}.type")
    kind = item["type"]
    allowed_types = ["message", "function_call", "function_call_output"]
    if allow_reference:
        allowed_types.append("item_reference")
    if kind not in allowed_types:
        raise invalid_value(f"{path}.type", kind, allowed_types)
    if "id" in item and not isinstance(item["id"], str):
        raise invalid_type(f"{path}.id", _STR, item["id"])
    if "object" in item and item["object"] != "realtime.item":
        raise invalid_value(f"{path}.object", item["object"], ["realtime.item"])
    if "status" in item and item["status"] not in _STATUSES:
        raise invalid_value(f"{path}.status", item["status"], list(_STATUSES))
    if kind == "item_reference":
        _only(item, ("type", "id", "object"), path)
        if not isinstance(item.get("id"), str):
            raise missing_parameter(f"{path}.id")
    elif kind == "message":
        _only(item, (*_ITEM_COMMON, "role", "content"), path)
        role = item.get("role")
        if role is None:
            raise missing_parameter(f"{path}.role")
        if not isinstance(role, str):  # before the table lookup: a list or an object is unhashable
            raise invalid_type(f"{path}.role", _STR, role)
        if role not in _ROLE_CONTENT:
            raise invalid_value(f"{path}.role", role, list(_ROLE_CONTENT))
        content = item.get("content")
        if content is None:
            raise missing_parameter(f"{path}.content")
        if not isinstance(content, list):
            raise invalid_type(f"{path}.content", _LIST, content)
        for i, part in enumerate(content):
            _validate_part(part, role, f"{path}.content[{i}]")
    elif kind == "function_call":
        _only(item, (*_ITEM_COMMON, "name", "arguments", "call_id"), path)
        for key in ("name", "arguments"):
            if key not in item:
                raise missing_parameter(f"{path}.{key}")
            if not isinstance(item[key], str):
                raise invalid_type(f"{path}.{key}", _STR, item[key])
        if "call_id" in item and not isinstance(item["call_id"], str):
            raise invalid_type(f"{path}.call_id", _STR, item["call_id"])
    else:  # function_call_output
        _only(item, (*_ITEM_COMMON, "call_id", "output"), path)
        for key in ("call_id", "output"):
            if key not in item:
                raise missing_parameter(f"{path}.{key}")
            if not isinstance(item[key], str):
                raise invalid_type(f"{path}.{key}", _STR, item[key])


def _validate_part(part: Any, role: str, path: str) -> None:
    if not isinstance(part, dict):
        raise invalid_type(path, _DICT, part)
    ptype = part.get("type")
    if ptype is None:
        raise missing_parameter(f"{path}.type")
    allowed = _ROLE_CONTENT[role]
    if ptype not in allowed:
        raise invalid_value(f"{path}.type", ptype, list(allowed))
    _only(part, _CONTENT_FIELDS[ptype], path)
    if ptype in ("input_text", "output_text"):
        if not isinstance(part.get("text"), str):
            raise missing_parameter(f"{path}.text")
    elif ptype == "input_audio":
        if not isinstance(part.get("audio"), str):
            raise missing_parameter(f"{path}.audio")
        if "transcript" in part and not isinstance(part["transcript"], str):
            raise invalid_type(f"{path}.transcript", _STR, part["transcript"])
    elif ptype == "output_audio":
        raise EventError("invalid_value",
                         "Assistant audio messages cannot be created by the client; use output_text.",
                         f"{path}.type")
    elif ptype == "input_image":
        if not isinstance(part.get("image_url"), str):
            raise missing_parameter(f"{path}.image_url")
        if "detail" in part and part["detail"] not in ("auto", "low", "high"):
            raise invalid_value(f"{path}.detail", part["detail"], ["auto", "low", "high"])


def _only(obj: dict[str, Any], allowed: tuple[str, ...], path: str) -> None:
    for key in obj:
        if key not in allowed:
            raise unknown_parameter(f"{path}.{key}")


def validate_response_params(params: dict[str, Any], path: str = "response") -> None:
    """Check the ``response`` object of ``response.create`` (GA shape)."""
    _only(params, _RESPONSE_KEYS, path)
    for key, value in params.items():
        p = f"{path}.{key}"
        if key == "conversation":
            if value not in ("auto", "none"):
                raise invalid_value(p, value, ["auto", "none"])
        elif key == "input":
            if not isinstance(value, list):
                raise invalid_type(p, _LIST, value)
            for i, item in enumerate(value):
                validate_item(item, f"{p}[{i}]", allow_reference=True)
        elif key == "instructions":
            if not isinstance(value, str):
                raise invalid_type(p, _STR, value)
        elif key == "output_modalities":
            sc.check_output_modalities(value, p)
        elif key == "audio":
            if not isinstance(value, dict):
                raise invalid_type(p, _DICT, value)
            _only(value, ("output",), p)
            out = value.get("output", {})
            if not isinstance(out, dict):
                raise invalid_type(f"{p}.output", _DICT, out)
            _only(out, ("format", "voice"), f"{p}.output")
            if "format" in out:
                sc.check_format(out["format"], f"{p}.output.format")
            if "voice" in out:
                sc.check_voice(out["voice"], f"{p}.output.voice")
        elif key == "tools":
            sc.check_tools(value, p)
        elif key == "tool_choice":
            sc.check_tool_choice(value, p)
        elif key == "max_output_tokens":
            sc.check_max_tokens(value, p)
        elif key == "metadata":
            _check_metadata(value, p)
        elif key == "prompt":
            check_prompt(value, p)
        elif key == "reasoning":
            check_reasoning(value, p)
        elif key == "parallel_tool_calls" and not isinstance(value, bool):
            raise invalid_type(p, "a boolean", value)


def _check_metadata(value: Any, path: str) -> None:
    if value is None:
        return
    if not isinstance(value, dict):
        raise invalid_type(path, _DICT, value)
    if len(value) > 16:
        raise EventError("invalid_value", f"Invalid '{path}': at most 16 keys are allowed.", path)
    for k, v in value.items():
        if len(k) > 64:
            raise EventError("invalid_value", f"Invalid '{path}': keys must be at most 64 characters.",
                             f"{path}.{k}")
        if not isinstance(v, str):
            raise invalid_type(f"{path}.{k}", _STR, v)
        if len(v) > 512:
            raise EventError("string_above_max_length",
                             f"Invalid '{path}.{k}': string too long (at most 512 characters).", f"{path}.{k}")
