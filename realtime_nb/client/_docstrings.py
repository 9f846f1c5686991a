"""Docstring parsing for tool descriptions: the summary and per-parameter text of Google, NumPy and
reST docstrings."""

from __future__ import annotations

import inspect
import re

__all__ = ["parse_docstring"]

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
