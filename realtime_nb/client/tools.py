"""Python callables as Realtime function tools: a JSON schema from type hints and the docstring, and
execution with argument conversion, a timeout, and errors turned into outputs the model can read.

>>> from typing import Literal
>>> def generate_horoscope(sign: Literal["Aries", "Taurus"]) -> dict:
...     '''Give today's horoscope for an astrological sign.
...
...     Args:
...         sign: The sign for the horoscope.
...     '''
...     return {"horoscope": "You will soon meet a new friend."}
>>> function_schema(generate_horoscope)["parameters"]["properties"]["sign"]["enum"]
['Aries', 'Taurus']

Decisions a tool author meets:

- A parameter without an annotation accepts any JSON value (schema ``{}``), without a warning: the
  docstring still describes it. Annotate it when the model should know the type.
- ``Optional[T]`` / ``T | None`` and parameters with a default are not required. An omitted optional
  parameter without a default is called with ``None``.
- A ``str`` result is sent as-is (models read text); anything else is JSON-encoded (dataclasses,
  pydantic models, numpy values, Enums, sets, dates; any other object falls back to ``str(obj)``).
- A sync tool runs in a worker thread. When it times out, the model gets the error at once, but the
  thread runs on to its end (Python threads cannot be killed).
"""

from __future__ import annotations

import asyncio
import collections.abc as cabc
import copy
import dataclasses
import datetime
import enum
import functools
import inspect
import json
import re
import threading
import types
import typing
from collections.abc import Callable
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from ..errors import ToolError

__all__ = ["Tool", "ToolRegistry", "encode_result", "function_schema", "parse_docstring"]

_NONE = type(None)
_EMPTY = inspect.Parameter.empty
_UNIONS = (Union, types.UnionType)
_SCALARS = {str: "string", int: "integer", float: "number", bool: "boolean"}
_LISTS = {list: list, cabc.Sequence: list, cabc.MutableSequence: list, cabc.Iterable: list,
          cabc.Collection: list, set: set, cabc.Set: set, cabc.MutableSet: set, frozenset: frozenset}
_MAPS = (dict, cabc.Mapping, cabc.MutableMapping)
_NAME_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_SUPPORTED = ("str, int, float, bool, Literal, Enum, list[T], tuple, dict[str, T], Optional[T], "
              "a TypedDict, a dataclass or a pydantic model (optionally in Annotated[T, 'description'])")


# -- docstrings ------------------------------------------------------------------------------------------

_GOOGLE = re.compile(r"^(Args|Arguments|Parameters|Params|Keyword Args|Keyword Arguments|Attributes"
                     r"|Other Parameters):\s*$")
_GOOGLE_ENTRY = re.compile(r"^\*{0,2}(\w+)\s*(?:\([^)]*\))?\s*:\s*(.*)$")
_NUMPY = ("Parameters", "Other Parameters", "Attributes", "Keyword Arguments")
_NUMPY_ENTRY = re.compile(r"^\*{0,2}(\w+)\s*(?::.*)?$")
_REST = re.compile(r"^:(?:param|parameter|arg|argument|key|keyword)\s+(?:[^:]*\s)?\*{0,2}(\w+)\s*:\s*(.*)$")
_RULE = re.compile(r"^-{3,}\s*$")


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def _is_section(lines: list[str], i: int) -> bool:
    s = lines[i].strip()
    return bool(_GOOGLE.match(s) or _REST.match(s) or s.startswith(":return")
                or (i + 1 < len(lines) and _RULE.match(lines[i + 1].strip()) and s != ""))


def parse_docstring(doc: str | None) -> tuple[str, dict[str, str]]:
    """``(first paragraph, {parameter: description})`` from a Google, NumPy or reST docstring.

    >>> parse_docstring('''Add two numbers.
    ...
    ... :param a: The first.
    ... :param b: The second.''')
    ('Add two numbers.', {'a': 'The first.', 'b': 'The second.'})
    """
    if not doc:
        return "", {}
    lines = inspect.cleandoc(doc).splitlines()
    n, i, summary = len(lines), 0, []
    while i < n and lines[i].strip() and not _is_section(lines, i):
        summary.append(lines[i].strip())
        i += 1
    params: dict[str, str] = {}

    def add(name: str | None, text: str) -> None:
        if name is not None and text.strip():
            params[name] = f"{params.get(name, '')} {text.strip()}".strip()

    while i < n:
        line, s = lines[i], lines[i].strip()
        if _GOOGLE.match(s):  # Google: "Args:" then indented "name (type): text"
            base, entry_indent, cur, i = _indent(line), None, None, i + 1
            while i < n and (not lines[i].strip() or _indent(lines[i]) > base):
                ln = lines[i]
                m = _GOOGLE_ENTRY.match(ln.strip()) if ln.strip() else None
                if m and entry_indent in (None, _indent(ln)):
                    entry_indent, cur = _indent(ln), m.group(1)
                    add(cur, m.group(2))
                elif ln.strip():
                    add(cur, ln)
                i += 1
        elif s in _NUMPY and i + 1 < n and _RULE.match(lines[i + 1].strip()):  # NumPy: "name : type"
            base, cur, i = _indent(line), None, i + 2
            while i < n and not (i + 1 < n and _RULE.match(lines[i + 1].strip()) and lines[i].strip()):
                ln = lines[i]
                if ln.strip() and _indent(ln) <= base:
                    m = _NUMPY_ENTRY.match(ln.strip())
                    cur = m.group(1) if m else None
                elif ln.strip():
                    add(cur, ln)
                i += 1
        elif m := _REST.match(s):  # reST: ":param name: text" with indented continuation lines
            cur, i = m.group(1), i + 1
            add(cur, m.group(2))
            while i < n and lines[i].strip() and _indent(lines[i]) > _indent(line):
                add(cur, lines[i])
                i += 1
        else:
            i += 1
    return " ".join(summary), params


# -- type analysis ---------------------------------------------------------------------------------------

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


# -- argument conversion ---------------------------------------------------------------------------------

class _ArgError(ValueError):
    pass


def _show(v: Any) -> str:
    text = json.dumps(v, default=str)
    return text if len(text) <= 60 else text[:57] + "..."


def _convert(tp: Any, v: Any, path: str) -> Any:
    """JSON value ``v`` → the Python value annotated by ``tp``; ``_ArgError`` names ``path``."""
    at = f"argument {path!r}"
    if tp is Any or tp is _EMPTY:
        return v
    origin, args = get_origin(tp), get_args(tp)
    base = origin if origin is not None else tp
    if origin is Annotated:
        return _convert(args[0], v, path)
    if origin in _UNIONS:
        if v is None and _NONE in args:
            return None
        errors = []
        for a in args:
            if a is not _NONE:
                try:
                    return _convert(a, v, path)
                except _ArgError as exc:
                    errors.append(str(exc))
        raise _ArgError(errors[0] if len(errors) == 1 else f"{at}: {_show(v)} matches none of {tp}")
    want = _SCALARS.get(tp) or ("null" if tp is _NONE else None)
    if want is not None:
        if tp is float and isinstance(v, int) and not isinstance(v, bool):
            return float(v)
        if tp is int and isinstance(v, float) and v.is_integer():
            return int(v)
        if _json_type(v) == want:
            return v
        raise _ArgError(f"{at}: expected {want}, got {_show(v)}")
    if origin is Literal:
        for a in args:
            val = a.value if isinstance(a, enum.Enum) else a
            if val == v and _json_type(val) == _json_type(v):
                return a
        allowed = ", ".join(_show(a.value if isinstance(a, enum.Enum) else a) for a in args)
        raise _ArgError(f"{at}: {_show(v)} is not one of {allowed}")
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        try:
            return tp(v)
        except ValueError:
            if isinstance(v, str) and v in tp.__members__:
                return tp[v]
            allowed = ", ".join(_show(m.value) for m in tp)
            raise _ArgError(f"{at}: {_show(v)} is not one of {allowed}") from None
    if base is tuple or base in _LISTS:
        if not isinstance(v, list):
            raise _ArgError(f"{at}: expected an array, got {_show(v)}")
        if base is tuple and args and not (len(args) == 2 and args[1] is Ellipsis):
            if len(v) != len(args):
                raise _ArgError(f"{at}: expected {len(args)} items, got {len(v)}")
            return tuple(_convert(a, x, f"{path}[{k}]") for k, (a, x) in enumerate(zip(args, v, strict=True)))
        items = [_convert(args[0] if args else Any, x, f"{path}[{k}]") for k, x in enumerate(v)]
        return tuple(items) if base is tuple else _LISTS[base](items)
    if not isinstance(v, dict):
        raise _ArgError(f"{at}: expected an object, got {_show(v)}")
    if base in _MAPS:
        return {k: _convert(args[1] if args else Any, x, f"{path}.{k}") for k, x in v.items()}
    if _is_pydantic(tp):
        try:
            return tp.model_validate(v)
        except Exception as exc:  # pydantic.ValidationError, without importing pydantic
            listing = getattr(exc, "errors", None)
            errs = listing() if callable(listing) else None
            detail = "; ".join(f"{'.'.join(map(str, e['loc'])) or '(object)'}: {e['msg']}" for e in errs) \
                if errs else " ".join(str(exc).split())
            raise _ArgError(f"{at}: {detail}") from None
    kwargs = _bind(_fields_of(tp, path), v, path)
    return kwargs if _is_typeddict(tp) else tp(**kwargs)


def _bind(fields: list[_Field], given: dict[str, Any], path: str) -> dict[str, Any]:
    """Convert the values of ``given`` for ``fields``; all problems in one message."""
    def at(key: str) -> str:
        return f"{path}.{key}" if path else key

    known = {f.name for f in fields}
    problems = [f"unknown argument {at(k)!r}" for k in given if k not in known]
    out: dict[str, Any] = {}
    for f in fields:
        if f.name in given:
            try:
                out[f.name] = _convert(f.tp, given[f.name], at(f.name))
            except _ArgError as exc:
                problems.append(str(exc))
        elif f.required:
            problems.append(f"missing required argument {at(f.name)!r}")
        elif f.optional and f.default is _EMPTY:
            out[f.name] = None
    if problems:
        raise _ArgError("; ".join(problems))
    return out


# -- tools -----------------------------------------------------------------------------------------------

def _target(fn: Callable[..., Any]) -> Any:
    """The object whose annotations and docstring describe ``fn``."""
    if isinstance(fn, functools.partial):
        return fn.func
    if isinstance(fn, type):
        return fn.__init__  # type: ignore[misc]
    if not (inspect.isfunction(fn) or inspect.ismethod(fn) or inspect.isbuiltin(fn)):
        return type(fn).__call__
    return fn


def _doc(fn: Any, target: Any) -> str | None:
    """The docstring: the function's; for a callable object its own ``__call__`` doc, else its class's."""
    if isinstance(fn, functools.partial):
        return inspect.getdoc(fn.func)
    if isinstance(fn, type) or target is fn or inspect.ismethod(fn):
        return inspect.getdoc(fn)
    own = getattr(target, "__doc__", None)  # not inspect.getdoc: it would inherit object.__call__'s doc
    return inspect.cleandoc(own) if own else inspect.getdoc(type(fn))


@dataclasses.dataclass(frozen=True)
class Tool:
    """A registered function tool. ``schema`` is what goes into ``session.tools``."""

    name: str
    description: str
    parameters: dict[str, Any]
    fn: Callable[..., Any]
    is_async: bool
    _fields: tuple[_Field, ...] = dataclasses.field(default=(), repr=False, compare=False)

    @classmethod
    def from_function(cls, fn: Callable[..., Any], name: str | None = None,
                      description: str | None = None) -> Tool:
        """Inspect ``fn`` (see the module docstring); raise ``ToolError`` when it cannot be a tool."""
        if not callable(fn):
            raise ToolError(f"a tool must be callable, got {fn!r}")
        target = _target(fn)
        name = name or getattr(fn, "__name__", None) or getattr(target, "__name__", None)
        if not name or not _NAME_RE.match(name):
            raise ToolError(f"tool name {name!r} is invalid: use 1-64 letters, digits, '_' or '-' "
                            f"(pass name=... for lambdas and callables)")
        try:
            sig = inspect.signature(fn)
            hints = typing.get_type_hints(target, include_extras=True)
        except Exception as exc:
            raise ToolError(f"tool {name!r}: cannot read the signature or resolve the type hints "
                            f"({type(exc).__name__}: {exc}); make annotations importable at module level") \
                from exc
        summary, docs = parse_docstring(_doc(fn, target))
        fields = []
        for p in sig.parameters.values():
            if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
                star = "*" if p.kind is p.VAR_POSITIONAL else "**"
                raise ToolError(f"tool {name!r}: parameter {star}{p.name} is not supported; the model "
                                f"passes named arguments, so declare each one")
            tp = hints.get(p.name, _EMPTY)
            opt = _is_optional(tp)
            fields.append(_Field(p.name, tp, p.default is _EMPTY and not opt, opt, p.default,
                                 docs.get(p.name), p.kind is p.POSITIONAL_ONLY))
        schemas = _Schemas(f"tool {name!r}, parameter")
        parameters = schemas.object(fields)
        if schemas.defs:
            parameters["$defs"] = schemas.defs
        is_async = inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(target)
        desc = summary if description is None else description
        return cls(name, desc, parameters, fn, is_async, tuple(fields))

    @property
    def schema(self) -> dict[str, Any]:
        """The GA function tool: ``{"type": "function", "name", "description", "parameters"}``."""
        out: dict[str, Any] = {"type": "function", "name": self.name}
        if self.description:
            out["description"] = self.description
        out["parameters"] = copy.deepcopy(self.parameters)
        return out

    def bind(self, arguments: str | dict[str, Any]) -> tuple[list[Any], dict[str, Any]]:
        """``(args, kwargs)`` for ``fn`` from the model's JSON arguments; ``ToolError`` explains what is
        wrong (invalid JSON, missing or unknown arguments, wrong types)."""
        if isinstance(arguments, str):
            try:
                arguments = json.loads(arguments) if arguments.strip() else {}
            except json.JSONDecodeError as exc:
                raise ToolError(f"tool {self.name!r}: arguments are not valid JSON ({exc})") from None
        if not isinstance(arguments, dict):
            raise ToolError(f"tool {self.name!r}: arguments must be a JSON object, got {_show(arguments)}")
        try:
            values = _bind(list(self._fields), arguments, "")
        except _ArgError as exc:
            raise ToolError(f"invalid arguments for tool {self.name!r}: {exc}") from None
        positional = [f for f in self._fields if f.positional_only]
        given = [k for k, f in enumerate(positional) if f.name in values]
        # up to the last one given; an omitted one before it is passed its default to keep the order
        args = [values.pop(f.name, f.default) for f in positional[:given[-1] + 1]] if given else []
        return args, values


def function_schema(fn: Callable[..., Any], name: str | None = None,
                    description: str | None = None) -> dict[str, Any]:
    """The GA function tool schema of ``fn`` (from its type hints and docstring)."""
    return Tool.from_function(fn, name, description).schema


def _json_default(o: Any) -> Any:
    if isinstance(o, enum.Enum):
        return o.value
    if dataclasses.is_dataclass(o) and not isinstance(o, type):
        return dataclasses.asdict(o)
    if hasattr(o, "model_dump") and not isinstance(o, type):
        return o.model_dump(mode="json")
    if isinstance(o, (set, frozenset)):
        try:
            return sorted(o)
        except TypeError:
            return list(o)
    if type(o).__module__ == "numpy" and hasattr(o, "tolist"):
        return o.tolist()
    if isinstance(o, (datetime.date, datetime.time)):
        return o.isoformat()
    if isinstance(o, (bytes, bytearray)):
        return bytes(o).decode("utf-8", errors="replace")
    return str(o)


def encode_result(result: Any) -> str:
    """The ``function_call_output.output`` string for a tool's return value."""
    if isinstance(result, str):
        return result
    return json.dumps(result, default=_json_default, ensure_ascii=False)


def _error(message: str) -> str:
    return json.dumps({"error": message}, ensure_ascii=False)


class ToolRegistry:
    """Named tools, safe to use from any thread. Adding a name again replaces the tool (re-run cells).

    >>> reg = ToolRegistry()
    >>> def add(a: int, b: int) -> int:
    ...     "Add two integers."
    ...     return a + b
    >>> reg.add(add).name, len(reg), "add" in reg
    ('add', 1, True)
    >>> asyncio.run(reg.call("add", '{"a": 2, "b": 3}'))
    ('5', True)
    """

    def __init__(self) -> None:
        self._tools: dict[str, Tool] = {}
        self._lock = threading.Lock()

    def add(self, fn: Callable[..., Any], name: str | None = None, description: str | None = None) -> Tool:
        """Register ``fn`` (``ToolError`` if it cannot be a tool) and return its ``Tool``."""
        tool = Tool.from_function(fn, name, description)
        with self._lock:
            self._tools[tool.name] = tool
        return tool

    def remove(self, name: str) -> Tool:
        """Unregister and return the tool called ``name`` (``KeyError`` if there is none)."""
        with self._lock:
            return self._tools.pop(name)

    def get(self, name: str) -> Tool | None:
        """The tool called ``name``, or ``None``."""
        with self._lock:
            return self._tools.get(name)

    def names(self) -> list[str]:
        """Registered names, in registration order."""
        with self._lock:
            return list(self._tools)

    def schemas(self) -> list[dict[str, Any]]:
        """The GA tool schemas, for ``session.update`` ``{"tools": ...}``."""
        with self._lock:
            tools = list(self._tools.values())
        return [t.schema for t in tools]

    def __contains__(self, name: object) -> bool:
        with self._lock:
            return name in self._tools

    def __len__(self) -> int:
        with self._lock:
            return len(self._tools)

    async def call(self, name: str, arguments: str, *, timeout: float | None = 30.0) -> tuple[str, bool]:
        """Run tool ``name`` with the model's JSON ``arguments``; return ``(output, ok)``.

        Never raises for tool problems: an unknown name, bad arguments, an exception in the tool
        (``{"error": "ValueError: ..."}``) or a timeout all become an error output with ``ok=False``.
        Sync tools run in a worker thread, async ones on the running loop. Cancellation propagates.
        """
        tool = self.get(name)
        if tool is None:
            available = ", ".join(self.names()) or "none"
            return _error(f"unknown tool {name!r}; available tools: {available}"), False
        try:
            args, kwargs = tool.bind(arguments)
        except ToolError as exc:
            return _error(f"ToolError: {exc}"), False

        async def run() -> Any:
            if tool.is_async:
                result = await tool.fn(*args, **kwargs)
            else:
                result = await asyncio.to_thread(tool.fn, *args, **kwargs)
            while inspect.isawaitable(result):  # a sync callable that returned a coroutine
                result = await result
            return encode_result(result)

        # A task plus asyncio.wait (not wait_for), so a TimeoutError raised by the tool itself is
        # reported as the tool's error, not as our timeout.
        task = asyncio.ensure_future(run())
        try:
            done, _ = await asyncio.wait({task}, timeout=timeout)
        except asyncio.CancelledError:
            task.cancel()
            raise
        if not done:
            task.cancel()
            return _error(f"tool {name!r} timed out after {timeout:g}s"), False
        failure = task.exception()
        if failure is not None:
            return _error(f"{type(failure).__name__}: {failure}"), False
        return task.result(), True
