"""Checks of the parameter objects that ``session.update`` and ``response.create`` share.

Tools, tool choice, prompt, reasoning, truncation and tracing, each as strict as the openai SDK's
schema (``openai.types.realtime``): what the schema forbids raises ``EventError`` naming the exact
param, so everything accepted can be echoed back valid. Each ``check_*`` returns a normalized copy.
"""

from __future__ import annotations

from typing import Any

from .errors import EventError, invalid_type, invalid_value, json_type, missing_parameter, unknown_parameter

REASONING_EFFORTS = ["minimal", "low", "medium", "high", "xhigh"]
_MCP_CONNECTORS = [
    "connector_dropbox", "connector_gmail", "connector_googlecalendar", "connector_googledrive",
    "connector_microsoftteams", "connector_outlookcalendar", "connector_outlookemail", "connector_sharepoint",
]
_MCP_KEYS = ("type", "server_label", "allowed_callers", "allowed_tools", "authorization", "connector_id",
             "defer_loading", "headers", "require_approval", "server_description", "server_url", "tunnel_id")


def need(cond: bool, err: EventError) -> None:
    """Raise ``err`` unless ``cond``."""
    if not cond:
        raise err


def known(obj: dict[str, Any], allowed: tuple[str, ...], path: str) -> None:
    """``unknown_parameter`` for the first key of ``obj`` not in ``allowed``."""
    for key in obj:
        if key not in allowed:
            raise unknown_parameter(f"{path}.{key}")


def is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def is_num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _obj(value: Any, path: str, allowed: tuple[str, ...]) -> dict[str, Any]:
    need(isinstance(value, dict), invalid_type(path, "an object", value))
    known(value, allowed, path)
    return dict(value)


def _str(obj: dict[str, Any], key: str, path: str, *, required: bool = False) -> None:
    if key not in obj:
        need(not required, missing_parameter(f"{path}.{key}"))
        return
    need(isinstance(obj[key], str), invalid_type(f"{path}.{key}", "a string", obj[key]))


def _bool(obj: dict[str, Any], key: str, path: str) -> None:
    if key in obj:
        need(isinstance(obj[key], bool), invalid_type(f"{path}.{key}", "a boolean", obj[key]))


def _enum(obj: dict[str, Any], key: str, path: str, allowed: list[str]) -> None:
    if key in obj:
        need(isinstance(obj[key], str), invalid_type(f"{path}.{key}", "a string", obj[key]))
        need(obj[key] in allowed, invalid_value(f"{path}.{key}", obj[key], allowed))


def _str_list(value: Any, path: str) -> None:
    need(isinstance(value, list), invalid_type(path, "an array", value))
    for i, v in enumerate(value):
        need(isinstance(v, str), invalid_type(f"{path}[{i}]", "a string", v))


# -- tools -------------------------------------------------------------------------------------------
def check_tools(value: Any, path: str) -> list[dict[str, Any]]:
    """A list of function and MCP tools (``session.tools`` / ``response.tools``)."""
    need(isinstance(value, list), invalid_type(path, "an array", value))
    out = []
    for i, tool in enumerate(value):
        p = f"{path}[{i}]"
        need(isinstance(tool, dict), invalid_type(p, "an object", tool))
        need("type" in tool, missing_parameter(f"{p}.type"))
        need(tool["type"] in ("function", "mcp"), invalid_value(f"{p}.type", tool["type"], ["function", "mcp"]))
        out.append(_check_function_tool(tool, p) if tool["type"] == "function" else _check_mcp_tool(tool, p))
    return out


def _check_function_tool(tool: dict[str, Any], p: str) -> dict[str, Any]:
    known(tool, ("type", "name", "description", "parameters"), p)
    _str(tool, "name", p, required=True)
    _str(tool, "description", p)
    if "parameters" in tool:
        check_parameters_schema(tool["parameters"], f"{p}.parameters")
    return dict(tool)


def check_parameters_schema(schema: Any, path: str) -> None:
    """A tool's ``parameters``: a JSON Schema object whose structural keywords have their JSON types.

    Only what a server reads is checked (``type``, ``properties``, ``required``, ``enum``, ``items``),
    recursively; anything else in a schema is the user's and kept as given.
    """
    need(isinstance(schema, dict), EventError(
        "invalid_value", f"Invalid schema for '{path}': a JSON Schema must be an object, not "
        f"{json_type(schema)}.", path))
    if "type" in schema:
        kind = schema["type"]
        ok = isinstance(kind, str) or (isinstance(kind, list) and all(isinstance(k, str) for k in kind))
        need(ok, EventError("invalid_value", f"Invalid schema for '{path}': 'type' must be a string or an "
                            "array of strings.", f"{path}.type"))
    if "properties" in schema:
        props = schema["properties"]
        need(isinstance(props, dict), EventError(
            "invalid_value", f"Invalid schema for '{path}': 'properties' must be an object.", f"{path}.properties"))
        for name, sub in props.items():
            check_parameters_schema(sub, f"{path}.properties.{name}")
    if "required" in schema:
        req = schema["required"]
        need(isinstance(req, list) and all(isinstance(r, str) for r in req), EventError(
            "invalid_value", f"Invalid schema for '{path}': 'required' must be an array of strings.",
            f"{path}.required"))
    if "enum" in schema:
        need(isinstance(schema["enum"], list), EventError(
            "invalid_value", f"Invalid schema for '{path}': 'enum' must be an array.", f"{path}.enum"))
    if "items" in schema and isinstance(schema["items"], dict):
        check_parameters_schema(schema["items"], f"{path}.items")


def _check_approval_filter(value: Any, path: str) -> None:
    f = _obj(value, path, ("read_only", "tool_names"))
    _bool(f, "read_only", path)
    if "tool_names" in f:
        _str_list(f["tool_names"], f"{path}.tool_names")


def _check_mcp_tool(tool: dict[str, Any], p: str) -> dict[str, Any]:
    known(tool, _MCP_KEYS, p)
    _str(tool, "server_label", p, required=True)
    for key in ("authorization", "server_description", "server_url", "tunnel_id"):
        _str(tool, key, p)
    _bool(tool, "defer_loading", p)
    _enum(tool, "connector_id", p, _MCP_CONNECTORS)
    if "allowed_callers" in tool:
        callers = tool["allowed_callers"]
        need(isinstance(callers, list), invalid_type(f"{p}.allowed_callers", "an array", callers))
        for i, c in enumerate(callers):
            need(c in ("direct", "programmatic"),
                 invalid_value(f"{p}.allowed_callers[{i}]", c, ["direct", "programmatic"]))
    if tool.get("allowed_tools") is not None:
        allowed = tool["allowed_tools"]
        if isinstance(allowed, list):
            _str_list(allowed, f"{p}.allowed_tools")
        else:
            _check_approval_filter(allowed, f"{p}.allowed_tools")
    if "headers" in tool and tool["headers"] is not None:
        headers = tool["headers"]
        need(isinstance(headers, dict), invalid_type(f"{p}.headers", "an object", headers))
        for k, v in headers.items():
            need(isinstance(v, str), invalid_type(f"{p}.headers.{k}", "a string", v))
    if tool.get("require_approval") is not None:
        ra, rp = tool["require_approval"], f"{p}.require_approval"
        if isinstance(ra, str):
            need(ra in ("always", "never"), invalid_value(rp, ra, ["always", "never"]))
        else:
            f = _obj(ra, rp, ("always", "never"))
            for key in ("always", "never"):
                if f.get(key) is not None:
                    _check_approval_filter(f[key], f"{rp}.{key}")
    return dict(tool)


def check_tool_choice(value: Any, path: str) -> Any:
    """``"auto"``/``"none"``/``"required"``, ``{type: function, name}`` or ``{type: mcp, server_label, name?}``."""
    if isinstance(value, str):
        need(value in ("auto", "none", "required"), invalid_value(path, value, ["auto", "none", "required"]))
        return value
    need(isinstance(value, dict), invalid_type(path, "a string or an object", value))
    need("type" in value, missing_parameter(f"{path}.type"))
    need(value["type"] in ("function", "mcp"), invalid_value(f"{path}.type", value["type"], ["function", "mcp"]))
    if value["type"] == "function":
        known(value, ("type", "name"), path)
        _str(value, "name", path, required=True)
    else:
        known(value, ("type", "server_label", "name"), path)
        _str(value, "server_label", path, required=True)
        _str(value, "name", path)
    return dict(value)


# -- prompt, reasoning, truncation, tracing ---------------------------------------------------------
def _check_prompt_variable(value: Any, path: str) -> None:
    if isinstance(value, str):
        return
    need(isinstance(value, dict), invalid_type(path, "a string or an object", value))
    need("type" in value, missing_parameter(f"{path}.type"))
    kind = value["type"]
    kinds = ["input_text", "input_image", "input_file"]
    need(kind in kinds, invalid_value(f"{path}.type", kind, kinds))
    if kind == "input_text":
        known(value, ("type", "text"), path)
        _str(value, "text", path, required=True)
    elif kind == "input_image":
        known(value, ("type", "detail", "file_id", "image_url"), path)
        need("detail" in value, missing_parameter(f"{path}.detail"))
        _enum(value, "detail", path, ["low", "high", "auto", "original"])
        _str(value, "file_id", path)
        _str(value, "image_url", path)
    else:
        known(value, ("type", "detail", "file_data", "file_id", "file_url", "filename"), path)
        _enum(value, "detail", path, ["auto", "low", "high"])
        for key in ("file_data", "file_id", "file_url", "filename"):
            _str(value, key, path)


def check_prompt(value: Any, path: str) -> Any:
    """``{id, version?, variables?}`` (``null`` clears a session's prompt)."""
    if value is None:
        return None
    p = _obj(value, path, ("id", "version", "variables"))
    _str(p, "id", path, required=True)
    _str(p, "version", path)
    if p.get("variables") is not None:
        variables = p["variables"]
        need(isinstance(variables, dict), invalid_type(f"{path}.variables", "an object", variables))
        for k, v in variables.items():
            _check_prompt_variable(v, f"{path}.variables.{k}")
    return p


def check_reasoning(value: Any, path: str) -> dict[str, Any]:
    """``{effort?}`` with one of the SDK's effort levels."""
    r = _obj(value, path, ("effort",))
    _enum(r, "effort", path, REASONING_EFFORTS)
    return r


def check_truncation(value: Any, path: str) -> Any:
    """``"auto"``, ``"disabled"`` or ``{type: retention_ratio, retention_ratio: 0..1, token_limits?}``."""
    if isinstance(value, str):
        need(value in ("auto", "disabled"), invalid_value(path, value, ["auto", "disabled", "retention_ratio"]))
        return value
    need(isinstance(value, dict), invalid_type(path, "a string or an object", value))
    t = _obj(value, path, ("type", "retention_ratio", "token_limits"))
    need("type" in t, missing_parameter(f"{path}.type"))
    need(t["type"] == "retention_ratio", invalid_value(f"{path}.type", t["type"], ["retention_ratio"]))
    need("retention_ratio" in t, missing_parameter(f"{path}.retention_ratio"))
    ratio = t["retention_ratio"]
    need(is_num(ratio), invalid_type(f"{path}.retention_ratio", "a number", ratio))
    need(0.0 <= ratio <= 1.0, invalid_value(f"{path}.retention_ratio", ratio, ["0.0..1.0"]))
    if t.get("token_limits") is not None:
        limits = _obj(t["token_limits"], f"{path}.token_limits", ("post_instructions",))
        if limits.get("post_instructions") is not None:
            v = limits["post_instructions"]
            need(is_int(v), invalid_type(f"{path}.token_limits.post_instructions", "an integer", v))
        t["token_limits"] = limits
    return t


def check_tracing(value: Any, path: str) -> Any:
    """``null`` (off), ``"auto"`` or ``{workflow_name?, group_id?, metadata?}``."""
    if value is None or value == "auto":
        return value
    need(not isinstance(value, str), invalid_value(path, value, ["auto"]))
    t = _obj(value, path, ("workflow_name", "group_id", "metadata"))
    _str(t, "workflow_name", path)
    _str(t, "group_id", path)
    return t


def check_include(value: Any, path: str) -> Any:
    """``null`` or a list of ``"item.input_audio_transcription.logprobs"``."""
    if value is None:
        return None
    allowed = ["item.input_audio_transcription.logprobs"]
    need(isinstance(value, list), invalid_type(path, "an array", value))
    for i, v in enumerate(value):
        need(v in allowed, invalid_value(f"{path}[{i}]", v, allowed))
    return list(value)
