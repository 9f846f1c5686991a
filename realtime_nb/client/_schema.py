"""Type annotations → JSON schema for tool parameters: the ``_Field`` of a parameter or structured key,
``_Schemas`` for the annotation forms tools accept, and the type tests conversion shares."""

from __future__ import annotations

import collections.abc as cabc
import copy
import dataclasses
import enum
import inspect
import json
import types
import typing
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from ..errors import ToolError
from ._docstrings import parse_docstring

_NONE = type(None)
_EMPTY = inspect.Parameter.empty
_UNIONS = (Union, types.UnionType)
_SCALARS = {str: "string", int: "integer", float: "number", bool: "boolean"}
_LISTS = {list: list, cabc.Sequence: list, cabc.MutableSequence: list, cabc.Iterable: list,
          cabc.Collection: list, set: set, cabc.Set: set, cabc.MutableSet: set, frozenset: frozenset}
_MAPS = (dict, cabc.Mapping, cabc.MutableMapping)
_SUPPORTED = ("str, int, float, bool, Literal, Enum, list[T], tuple, dict[str, T], Optional[T], "
              "a TypedDict, a dataclass or a pydantic model (optionally in Annotated[T, 'description'])")


@dataclasses.dataclass(frozen=True)
class _Field:
    """A parameter of a tool, or a key of a structured argument (TypedDict / dataclass)."""

    name: str
    tp: Any
    required: bool
    optional: bool  # Optional[T]: omitted means None
    default: Any = _EMPTY
    description: str | None = None
    positional_only: bool = False


def _type_name(tp: Any) -> str:
    if isinstance(tp, type):
        mod = tp.__module__
        return tp.__qualname__ if mod == "builtins" else f"{mod}.{tp.__qualname__}"
    return repr(tp)


def _hashable(tp: Any) -> bool:
    try:
        hash(tp)
    except TypeError:
        return False
    return True


def _is_optional(tp: Any) -> bool:
    while get_origin(tp) is Annotated:
        tp = get_args(tp)[0]
    return get_origin(tp) in _UNIONS and _NONE in get_args(tp)


def _is_typeddict(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, dict) and hasattr(tp, "__required_keys__")


def _is_pydantic(tp: Any) -> bool:
    return isinstance(tp, type) and hasattr(tp, "model_json_schema") and hasattr(tp, "model_validate")


def _json_default_value(value: Any) -> tuple[bool, Any]:
    """(usable, JSON form) of a default value."""
    value = value.value if isinstance(value, enum.Enum) else value
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return False, None
    return True, value


def _fields_of(tp: Any, where: str) -> list[_Field]:
    """The keys of a TypedDict or dataclass, with requiredness and descriptions."""
    try:
        hints = typing.get_type_hints(tp, include_extras=True)
    except Exception as exc:
        raise ToolError(f"{where}: cannot resolve the annotations of {_type_name(tp)} ({exc})") from exc
    _, docs = parse_docstring(tp.__doc__)
    out = []
    if _is_typeddict(tp):
        for name, ftp in hints.items():
            opt = _is_optional(ftp)
            out.append(_Field(name, ftp, name in tp.__required_keys__ and not opt, opt,
                              description=docs.get(name)))
        return out
    for f in dataclasses.fields(tp):
        if not f.init:
            continue
        ftp = hints.get(f.name, Any)
        has_default = f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING
        opt = _is_optional(ftp)
        default = f.default if f.default is not dataclasses.MISSING else _EMPTY
        desc = f.metadata.get("description") if f.metadata else None
        out.append(_Field(f.name, ftp, not has_default and not opt, opt, default, desc or docs.get(f.name)))
    return out


class _Schemas:
    """Builds JSON schemas for annotations; pydantic ``$defs`` are collected for the root object."""

    def __init__(self, where: str) -> None:
        self.where = where
        self.defs: dict[str, Any] = {}
        self._stack: list[Any] = []

    def fail(self, tp: Any, path: str) -> ToolError:
        return ToolError(f"{self.where}{path}: unsupported annotation {_type_name(tp)}. "
                         f"Supported: {_SUPPORTED}.")

    def __call__(self, tp: Any, path: str = "") -> dict[str, Any]:
        if tp is Any or tp is _EMPTY:
            return {}
        origin, args = get_origin(tp), get_args(tp)
        base = origin if origin is not None else tp
        if origin is not Annotated and not _hashable(tp):
            raise self.fail(tp, path)
        schema: dict[str, Any]
        if origin is Annotated:
            schema = dict(self(args[0], path))
            for meta in args[1:]:
                if isinstance(meta, str):
                    schema["description"] = meta
                elif isinstance(meta, dict):
                    schema.update(meta)
            return schema
        if origin in _UNIONS:
            rest = [a for a in args if a is not _NONE]
            return self(rest[0], path) if len(rest) == 1 else {"anyOf": [self(a, path) for a in rest]}
        if tp is _NONE:
            return {"type": "null"}
        if tp in _SCALARS:
            return {"type": _SCALARS[tp]}
        if origin is Literal:
            return _enum_schema([a.value if isinstance(a, enum.Enum) else a for a in args])
        if isinstance(tp, type) and issubclass(tp, enum.Enum):
            return _enum_schema([m.value for m in tp])
        if base is tuple:
            if not args or (len(args) == 2 and args[1] is Ellipsis):
                return {"type": "array", **({"items": self(args[0], path)} if args else {})}
            return {"type": "array", "prefixItems": [self(a, path) for a in args],
                    "minItems": len(args), "maxItems": len(args)}
        if base in _LISTS:
            schema = {"type": "array"}
            if args:
                schema["items"] = self(args[0], path)
            if _LISTS[base] is not list:
                schema["uniqueItems"] = True
            return schema
        if base in _MAPS:
            if args and args[0] not in (str, Any):
                raise ToolError(f"{self.where}{path}: dict keys must be str (JSON object keys), "
                                f"not {_type_name(args[0])}")
            return {"type": "object", **({"additionalProperties": self(args[1], path)} if args else {})}
        if _is_pydantic(tp):
            schema = copy.deepcopy(tp.model_json_schema())
            self.defs.update(schema.pop("$defs", {}))
            return schema
        if _is_typeddict(tp) or (isinstance(tp, type) and dataclasses.is_dataclass(tp)):
            if tp in self._stack:
                raise ToolError(f"{self.where}{path}: recursive type {_type_name(tp)} is not supported")
            self._stack.append(tp)
            try:
                schema = self.object(_fields_of(tp, f"{self.where}{path}"), f"{path}.")
            finally:
                self._stack.pop()
            doc = (tp.__doc__ or "").strip()
            if doc and not doc.startswith(f"{tp.__name__}("):  # not the dataclass-generated signature
                schema = {"type": "object", "description": parse_docstring(doc)[0], **schema}
            return schema
        raise self.fail(tp, path)

    def object(self, fields: list[_Field], prefix: str = " ") -> dict[str, Any]:
        props: dict[str, Any] = {}
        for f in fields:
            prop = self(f.tp, f"{prefix}{f.name}")
            if f.description and "description" not in prop:
                prop = {**prop, "description": f.description}
            if f.default is not _EMPTY:
                usable, value = _json_default_value(f.default)
                if usable:
                    prop = {**prop, "default": value}
            props[f.name] = prop
        return {"type": "object", "properties": props, "required": [f.name for f in fields if f.required]}


def _json_type(v: Any) -> str | None:
    if v is None:
        return "null"
    for t, name in (bool, "boolean"), (int, "integer"), (float, "number"), (str, "string"):
        if isinstance(v, t):
            return name
    return None


def _enum_schema(values: list[Any]) -> dict[str, Any]:
    kinds = {_json_type(v) for v in values}
    kind = kinds.pop() if len(kinds) == 1 else None
    return {"type": kind, "enum": list(values)} if kind else {"enum": list(values)}
