"""The model's JSON arguments → Python values for a tool's annotations, with every problem named by its
argument path (``_ArgError``)."""

from __future__ import annotations

import enum
import json
from typing import Annotated, Any, Literal, get_args, get_origin

from ._schema import (
    _EMPTY,
    _LISTS,
    _MAPS,
    _NONE,
    _SCALARS,
    _UNIONS,
    _Field,
    _fields_of,
    _is_pydantic,
    _is_typeddict,
    _json_type,
)


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
