"""The field-move engine of the dialect translation (``dialect.py``): paths in nested JSON dicts.

A *move* says where a beta key lives in GA (a path of keys) and how its value converts each way. The
functions here apply a table of moves to an object, keep the key order a reader expects, and report what
was renamed or dropped. Pure functions over plain JSON; nothing is mutated in place but the copies they make.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .codec import clone

Obj = dict[str, Any]
Path = tuple[str, ...]
Convert = Callable[[Any], Any]
Move = tuple[Path, Convert, Convert]
"""(GA path, beta value -> GA value, GA value -> beta value)"""


@dataclass(frozen=True)
class Translation:
    """A translated object and what changed: ``renamed`` pairs (beta name, GA path) and the ``dropped``
    beta fields (GA has no such field, or its GA counterpart was also given and won)."""

    value: Obj
    renamed: tuple[tuple[str, str], ...] = ()
    dropped: tuple[str, ...] = ()


_MISSING = object()


def _get(obj: Obj, path: Path) -> Any:
    cur: Any = obj
    for key in path:
        if not isinstance(cur, dict) or key not in cur:
            return _MISSING
        cur = cur[key]
    return cur


def _blocked(obj: Obj, path: Path) -> bool:
    """True when ``path`` is set in ``obj`` or a container on the way is not a dict (GA wins)."""
    cur: Any = obj
    for key in path:
        if not isinstance(cur, dict):
            return True
        if key not in cur:
            return False
        cur = cur[key]
    return True


def _put(obj: Obj, path: Path, value: Any) -> None:
    cur = obj
    for key in path[:-1]:
        cur = cur.setdefault(key, {})
    cur[path[-1]] = value


def _pop(obj: Obj, path: Path) -> Any:
    """Remove and return the value at ``path``; containers emptied by the removal go too."""
    value = _get(obj, path)
    if value is _MISSING:
        return _MISSING
    parents = [obj]
    for key in path[:-1]:
        parents.append(parents[-1][key])
    del parents[-1][path[-1]]
    for depth in range(len(path) - 1, 0, -1):
        if parents[depth]:
            break
        del parents[depth - 1][path[depth - 1]]
    return value


def _insert_after(obj: Obj, anchors: tuple[str, ...], key: str, value: Any) -> Obj:
    """A copy of ``obj`` with ``key`` placed after the first present anchor (else first)."""
    keys = list(obj)
    anchor = next((a for a in anchors if a in obj), None)
    at = keys.index(anchor) + 1 if anchor is not None else 0
    return {**{k: obj[k] for k in keys[:at]}, key: value, **{k: obj[k] for k in keys[at:]}}


def _reorder(out: Obj, order: list[str]) -> Obj:
    keys = [k for k in dict.fromkeys(order) if k in out]
    return {k: out[k] for k in [*keys, *(k for k in out if k not in keys)]}


def _moves_to_ga(obj: Obj, moves: dict[str, Move], drops: tuple[str, ...]) -> Translation:
    out = {k: clone(v) for k, v in obj.items() if k not in moves and k not in drops}
    renamed: list[tuple[str, str]] = []
    dropped = [k for k in obj if k in drops]
    order: list[str] = []
    for key, value in obj.items():
        if key not in moves:
            order.append(key)
            continue
        path, to_ga, _ = moves[key]
        order.append(path[0])
        if _blocked(obj, path):
            dropped.append(key)
        else:
            _put(out, path, to_ga(value))
            renamed.append((key, ".".join(path)))
    return Translation(_reorder(out, order), tuple(renamed), tuple(dropped))


def _moves_to_beta(obj: Obj, moves: dict[str, Move]) -> Obj:
    out = clone(obj)
    derived: dict[str, list[str]] = {}  # GA top-level key -> beta keys derived from it, in table order
    for key, (path, _, to_beta) in moves.items():
        value = _pop(out, path)
        if value is not _MISSING:
            out[key] = to_beta(value)
            derived.setdefault(path[0], []).append(key)
    order: list[str] = []
    for key in obj:
        order.extend(derived.get(key, []))
        order.append(key)
    return _reorder(out, order)
