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
import copy
import dataclasses
import datetime
import enum
import functools
import inspect
import json
import re
import threading
import typing
from collections.abc import Callable
from typing import Any

from ..errors import ToolError
from ._convert import _ArgError, _bind, _show
from ._docstrings import parse_docstring
from ._schema import _EMPTY, _Field, _is_optional, _Schemas

__all__ = ["Tool", "ToolRegistry", "encode_result", "function_schema", "parse_docstring"]

_NAME_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


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
